"""Item analysis and flags (``instructor.analytics``) without grading: failure messages
grouped whatever their numbers, the discrimination's correlation, flags from grading notes."""

from __future__ import annotations

import pytest

from instructor.analytics.items import correlation, normalize_message


def test_failure_messages_are_grouped_whatever_the_numbers():
    a = normalize_message("ValueError: encoder output shape: expected (None, 32), got "
                          "(None, 8, 4)")
    b = normalize_message("ValueError: encoder output shape: expected (None, 784), got "
                          "(None, 28, 28)")
    assert a == b == "ValueError: encoder output shape: expected (…), got (…)"
    c = normalize_message("AssertionError: decoder Dense kernels: expected [784, 128, 64], "
                          "got [784, 64, 128]")
    d = normalize_message("AssertionError: decoder Dense kernels: expected [20, 12], got "
                          "[20, 8, 12]")
    assert c == d
    outside = normalize_message("FailedOutsideKernel: auto's optimizer: expected 'adam', got "
                                "'sgd' (this test passed inside your notebook, but it failed "
                                "when the grader ran it again on what your functions "
                                "returned)")
    assert outside == "FailedOutsideKernel: auto's optimizer: expected 'adam', got 'sgd'"


def test_messages_that_differ_in_words_stay_apart():
    assert normalize_message("AssertionError: auto's loss: expected 'binary_crossentropy', "
                             "got 'mse'") != normalize_message(
        "AssertionError: auto's optimizer: expected 'adam', got 'sgd'")
    assert normalize_message("KeyError: 'a' ()") == "KeyError: 'a' ()"


def test_correlation():
    assert correlation([1, 1, 0, 0], [10, 8, 0, 1]) == pytest.approx(0.98314, abs=1e-4)
    assert correlation([1, 1, 1], [3, 2, 1]) is None  # everyone passed: no figure
    assert correlation([1, 0], [1, 0]) is None        # too few
    assert correlation([0, 1, 0, 1], [10, 0, 9, 1]) < 0  # strong students fail it


def test_flags_from_the_notes_grading_writes(tmp_path):
    """Each kind of flag, from notes made by the grader's own functions."""
    import json

    import nbformat

    from instructor import ROOT
    from instructor.analytics.graded import flags_of
    from instructor.engine.cells import nbgrader_meta
    from instructor.engine.outcomes import OUTCOMES
    from instructor.engine.release import Release
    from instructor.engine.repair import repair_metadata
    from instructor.workflow.submission import check_submission, notes_from_graded

    a = "02_stacked_autoencoders"
    release = nbformat.read(ROOT / "release" / a / f"{a}.ipynb", as_version=4)

    def kinds(notes):
        return {flag for flag, _ in flags_of(notes, {})}

    damaged = nbformat.from_dict(json.loads(nbformat.writes(release)))
    cell = next(c for c in damaged.cells if nbgrader_meta(c).get("grade_id"))
    cell.metadata["nbgrader"] = "damaged"
    assert kinds(repair_metadata(damaged, Release.of(release))) == {"REPAIRED"}

    folder = tmp_path / "truncated"
    folder.mkdir()
    (folder / f"{a}.ipynb").write_text(nbformat.writes(release)[:500])
    assert kinds(check_submission(folder, a, Release.of(release))) == {"UNREADABLE"}

    folder = tmp_path / "invalid"
    folder.mkdir()
    data = json.loads(nbformat.writes(release))
    for c in data["cells"]:
        c.pop("outputs", None)
        c.pop("execution_count", None)
    (folder / f"{a}.ipynb").write_text(json.dumps(data))
    assert kinds(check_submission(folder, a, Release.of(release))) == {"REPAIRED"}

    expected = {"CellTimeoutError": "TIMEOUT", "DeadKernelError": "CRASH",
                "MemoryError": "CRASH", "NeedsReview": "NEEDS REVIEW"}
    for ename, flag in expected.items():
        test = {"nbgrader": {"grade": True, "solution": False, "grade_id": "t", "points": 1}}
        graded = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            "x", metadata=test, outputs=[nbformat.v4.new_output(
                "error", ename=ename, evalue="...", traceback=[])])])
        assert kinds(notes_from_graded(graded)) == {flag}, ename
    assert set(expected) < set(OUTCOMES)
    # written inline by autograde when the grader itself fails
    assert kinds(["The grader could not grade this notebook (an internal error, not your "
                  "code); it scores 0 until the instructor grades it again."]) \
        == {"GRADER FAILED"}
    assert kinds(["The notebook was named 'Untitled1.ipynb'; it was graded as "
                  f"{a}.ipynb."]) == set()


def test_grading_seconds_are_the_graders_never_a_cells_timings():
    """A student's notebook may carry JupyterLab's cell timings; no kernel runs in grading,
    so they are the student's: the report's seconds are the grader's phases alone, and the
    stored notebook keeps no timing."""
    import nbformat

    from instructor.analytics.graded import grading_seconds
    from instructor.engine.inert import cell_metadata

    forged = {"iopub.execute_input": "2020-01-01T00:00:00Z",
              "shell.execute_reply": "2020-01-02T00:00:00Z"}
    cell = nbformat.v4.new_code_cell("x = 1", metadata={"execution": forged})
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert grading_seconds(nb) is None
    nb.metadata["course_grading"] = {"seconds": {"answers": 2.0, "checks": 1.5}}
    assert grading_seconds(nb) == 3.5
    assert "execution" not in cell_metadata(cell.metadata)
