"""The benchmarks still run and print their figures (tiny sizes; real runs: docs/results.md)."""

import re
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
    fields = row.split()
    assert fields[1] == "0.0842"  # the source's figure is printed next to ours
    assert float(fields[2]) > 0 and float(fields[3]) >= 0
    assert re.search(r"met \(<= 1/3\)|not met|never reached", row)


def test_notebook_benchmark_reports_time_and_memory(data_dir):
    out = _run("benchmarks/notebook_runs.py", "01_linear")
    row = next(line for line in out.splitlines() if line.startswith("01_linear"))
    _, seconds, gib, status = row.split()[:4]
    assert float(seconds) > 0 and 0.1 < float(gib) < 4 and status == "ok"
    assert "targets: 600 s in total" in out
