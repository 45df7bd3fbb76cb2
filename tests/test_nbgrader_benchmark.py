"""The class benchmark, reduced: 3 students through the parallel grading path (slow)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _benchmark():
    spec = importlib.util.spec_from_file_location("autograde_class",
                                                  ROOT / "benchmarks" / "autograde_class.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.notebook
def test_reduced_class_is_graded_in_parallel(data_dir):
    lines = []
    # about the parallel path: the canary (graded twice more) is tested in test_canary.py
    summary = _benchmark().run(n=3, jobs=2, names=["05_denoising_autoencoders"],
                               progress=lines.append, canary=False)
    assert summary["students"] == 3 and not summary["failed"]
    scores = {kind: score for kind, score, _ in summary["scores"].values()}
    assert scores["correct"] == 3.0 and scores["stub"] == 0.0 and scores["partial"] < 3.0
    assert any(line.startswith("[  3/3]") for line in lines), lines
    # where the seconds went, read from the graded notebooks: grading starts no
    # kernel, so the phases are the checks' and nbgrader's
    phases = summary["phases"]["05_denoising_autoencoders"]
    for phase in ("checks start", "checks (waited for)", "nbgrader and the rest"):
        assert phases.get(phase, 0) > 0, (phase, phases)
    for phase in ("kernel start", "setup cells", "test cells"):
        assert phase not in phases, (phase, phases)
