"""The benchmarks still run and print their figures (tiny sizes; real runs: docs/results.md)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.notebook


def _run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                            cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_reference_benchmark_prints_a_row_with_a_ratio(data_dir):
    out = _run("benchmarks/reference_results.py", "vanilla", "--scale", "0.01")
    row = next(line for line in out.splitlines() if line.startswith("vanilla"))
    name, source, src_loss, src_s, course_loss, course_s, reach, ratio, *verdict = row.split()
    verdict = " ".join(verdict)
    assert source == "0.0842"  # the source's figure is printed next to ours
    assert float(src_loss) > 0 and float(src_s) >= 0 and float(course_s) >= 0
    if reach == "nan":  # the course recipe never got down to the source recipe's loss
        assert verdict == "never reached" and ratio == "nan", row
        assert float(course_loss) > float(src_loss), row
    else:
        assert float(course_loss) <= float(src_loss) * 1.0005, row
        assert float(ratio) >= 0 and verdict in ("met (<= 1/3)", "not met"), row


def test_notebook_benchmark_reports_time_and_memory(data_dir):
    out = _run("benchmarks/notebook_runs.py", "01_linear")
    row = next(line for line in out.splitlines() if line.startswith("01_linear"))
    _, seconds, gib, status = row.split()[:4]
    assert float(seconds) > 0 and 0.1 < float(gib) < 4 and status == "ok"
    assert "targets: 600 s in total" in out


def test_similarity_benchmark_prints_its_time_and_what_it_found():
    out = _run("benchmarks/similarity_class.py", "-n", "60", "--copies", "3")
    assert "60 answers to task vanilla compared in" in out and "s CPU" in out, out
    assert "planted copies found: " in out and "/3" in out, out
