"""The proof's self-test (instructor/workflow/proof_check.py): on this installation the
forged models are refused and the honest one proven; with the proof switched off, as a
Keras release that changed what it reads might, grading stops before any student."""

from __future__ import annotations

import pytest

from instructor.engine import remote
from instructor.workflow import canary, proof_check


def test_the_proof_works_here_and_a_pass_is_cached(tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    assert proof_check.check(tmp_path) == []  # in a process of its own
    assert len(list(tmp_path.glob("proof-*.json"))) == 1
    assert not list(scratch.iterdir()), "the self-test's copies stay behind"

    def never(*args, **kwargs):
        raise AssertionError("a cached pass runs nothing")

    monkeypatch.setattr(proof_check.subprocess, "run", never)
    assert proof_check.check(tmp_path) == []


def test_a_proof_switched_off_stops_grading_before_any_student(tmp_path, monkeypatch):
    """The proof reads nothing (every model "equal"): each forged model is named, nothing
    is cached, and the canary's command stops before any student."""
    monkeypatch.setattr(remote.AnswerChannel, "proof", lambda self, entry, model, full=False: None)
    found = proof_check.problems()
    assert len(found) == len(proof_check.FORGED)
    assert all("the proof is not working here" in line for line in found)
    monkeypatch.setattr(proof_check, "check", lambda cache: found)
    # the canaries grade meanwhile (and pass here): the self-test still stops the class
    monkeypatch.setattr(canary, "run_all", lambda *args, **kwargs: [])
    with pytest.raises(canary.CanaryFailed, match="failed its self-test") as stopped:
        canary.check(["02_stacked_autoencoders"], tmp_path, tmp_path / "run",
                     {"COURSE_CANARY_CACHE": str(tmp_path / "cache")})
    assert "borrowed train function" in str(stopped.value)
    assert not list((tmp_path / "cache").glob("proof-*.json"))
