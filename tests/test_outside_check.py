"""The outside check's plan and verdicts (instructor/engine/outside.py), without kernels.

The whole path (kernel, records, checking process) is graded end to end by the
bad-submission matrix and the grading tests; here each verdict rule is checked alone.
"""

from __future__ import annotations

import nbformat
import pytest

from instructor.engine.outside import (

    OutsideCheck,
    Sandbox,
    graded_calls,
    results_as_text,
    student_sources,
)

v4 = nbformat.v4


def cell(source, *, task=None, grade=False, solution=False, locked=False, grade_id="c",
         outputs=()):
    meta = {"nbgrader": {"grade": grade, "solution": solution, "locked": locked,
                         "grade_id": grade_id, "points": 1 if grade else 0,
                         "schema_version": 3, "task": False}}
    if task:
        meta["tags"] = [f"task-{task}"]
    c = v4.new_code_cell(source, metadata=meta)
    c.outputs = [nbformat.from_dict(o) for o in outputs]
    return c


ANSWER = "def area(r):\n    return 3.14159 * r * r\n"
TEST = "assert abs(area(2.0) - 12.566) < 1e-2, 'area(2)'"


def release_cells():
    return [v4.new_code_cell("import math", metadata={"tags": ["grade-setup"]}),
            cell("def area(r):\n    raise NotImplementedError", task="area", solution=True,
                 grade_id="area-solution"),
            cell(TEST, task="area", grade=True, locked=True, grade_id="area-tests")]


def submission(answer=ANSWER, test_outputs=(), extra=()):
    cells = release_cells()
    cells[1] = cell(answer, task="area", solution=True, grade_id="area-solution")
    cells[2] = cell(TEST, task="area", grade=True, locked=True, grade_id="area-tests",
                    outputs=test_outputs)
    return [*cells, *[v4.new_code_cell(s) for s in extra]]


def check(tmp_path, cells, course_implementations=None):
    return OutsideCheck(cells, release_cells(), ["import math"], tmp_path, Sandbox(),
                        course_implementations or {})


def test_the_plan_names_each_test_cell_and_the_functions_its_task_defines():
    assert graded_calls(submission(), release_cells()) == {2: ("002-area-tests", "area",
                                                               ["area"])}


@pytest.mark.parametrize("tags", [[], ["task-other"]])
def test_the_plan_reads_which_cells_are_tests_from_the_release(tags):
    cells = submission()
    cells[2].metadata["tags"] = tags               # the task tag removed, or changed
    cells[2].metadata["nbgrader"]["grade"] = False  # and the cell "not graded"
    assert graded_calls(cells, release_cells()) == {2: ("002-area-tests", "area", ["area"])}
    cells[1].metadata["nbgrader"]["grade_id"] = "mine"  # an answer the release lacks
    cells.append(cell(TEST, task="area", grade=True, grade_id="my-test"))
    assert graded_calls(cells, release_cells()) == {2: ("002-area-tests", "area", ["area"])}


def test_records_are_sealed_when_the_test_cell_ends(tmp_path):
    outside = check(tmp_path, submission())
    records = tmp_path / EVIDENCE / "002-area-tests"
    records.mkdir()
    (records / "calls.jsonl").write_text('{"name": "area"}\n')
    (tmp_path / "elsewhere.npy").write_text("kernel's file")
    (records / "linked.npy").symlink_to(tmp_path / "elsewhere.npy")
    outside.seal(2)
    sealed = outside.sealed / "002-area-tests"
    assert sorted(p.name for p in sealed.iterdir()) == ["calls.jsonl"]  # no link followed
    assert not records.exists()
    # a later cell writes the records again: the sealed copy is what the check reads
    records.mkdir()
    (records / "calls.jsonl").write_text('{"name": "area", "not_recordable": "x"}\n')
    assert (sealed / "calls.jsonl").read_text() == '{"name": "area"}\n'
    outside.stop()
    assert not outside.sealed.exists()


def test_a_linked_record_folder_is_not_followed(tmp_path):
    outside = check(tmp_path, submission())
    (tmp_path / "planted").mkdir()
    (tmp_path / "planted" / "calls.jsonl").write_text('{"name": "area"}\n')
    (tmp_path / EVIDENCE / "002-area-tests").symlink_to(tmp_path / "planted")
    outside.seal(2)
    assert list((outside.sealed / "002-area-tests").iterdir()) == []
    assert (tmp_path / "planted" / "calls.jsonl").exists()  # the link went, not its target
    outside.stop()


def test_student_sources_are_answers_and_added_cells_not_instructor_cells():
    own = student_sources(submission(extra=["x = 1"]), release_cells())
    assert own == [ANSWER, "x = 1"]


def test_record_code_wraps_into_the_scratch_folder_and_unwraps(tmp_path):
    outside = check(tmp_path, submission())
    assert (tmp_path / EVIDENCE).is_dir()
    wrap, unwrap = outside.record_code(2, True), outside.record_code(2, False)
    assert f"wrap(globals(), ['area'], '{tmp_path / EVIDENCE / '002-area-tests'}')" in wrap
    assert "unwrap(globals(), ['area'])" in unwrap


def test_a_test_result_becomes_text_never_a_number_nbgrader_would_score():
    cells = submission(test_outputs=[v4.new_output(
        "execute_result", data={"text/plain": "0.5"}, execution_count=1)])
    results_as_text(cells)
    assert cells[2].outputs == [v4.new_output("stream", name="stdout", text="0.5\n")]


def verdict_after(tmp_path, cells, verdicts, **kwargs):
    outside = check(tmp_path, cells, **kwargs)
    outside.process = object()  # as if started: the verdicts below are its answer
    outside._verdicts = lambda job: verdicts
    outside.decide(cells)
    return cells[2].outputs


PASSED = {"002-area-tests": {"replayed": True, "passed": True, "error": None, "reason": None}}
FAILED = {"002-area-tests": {"replayed": True, "passed": False, "reason": None,
                             "error": "AssertionError: area(2)"}}
NOT_REPLAYED = {"002-area-tests": {"replayed": False, "passed": None, "error": None,
                                   "reason": "a model of a class of the student's own"}}


def test_passing_both_times_adds_nothing(tmp_path):
    assert verdict_after(tmp_path, submission(), PASSED) == []


def test_failing_outside_after_passing_inside_scores_0(tmp_path):
    [output] = verdict_after(tmp_path, submission(), FAILED)
    assert output.output_type == "error" and output.ename == "FailedOutsideKernel"
    assert "AssertionError: area(2)" in output.evalue


def test_a_failure_inside_the_kernel_stands_alone(tmp_path):
    failed = [v4.new_output("error", ename="AssertionError", evalue="area(2)", traceback=[])]
    outputs = verdict_after(tmp_path, submission(test_outputs=failed), FAILED)
    assert [o.ename for o in outputs] == ["AssertionError"]


def test_calling_the_course_implementation_scores_0(tmp_path):
    cells = submission(answer="import helpers\ndef area(r):\n    return helpers.area(r)\n")
    [output] = verdict_after(tmp_path, cells, PASSED,
                             course_implementations={"area": "area"})
    assert output.ename == "UsesCourseImplementation" and "helpers.area" in output.evalue


def test_tampering_where_only_the_kernel_checked_needs_review(tmp_path):
    cells = submission(extra=["import sys\nsys.modules['math'] = None"])
    [output] = verdict_after(tmp_path, cells, NOT_REPLAYED)
    assert output.ename == "NeedsReview" and "import" in output.evalue


def test_a_test_checked_in_the_kernel_only_says_so(tmp_path):
    [output] = verdict_after(tmp_path, submission(), NOT_REPLAYED)
    assert output.output_type == "stream"
    assert "checked inside the notebook only: a model of a class" in output.text


@pytest.mark.parametrize("started", [False, True])
def test_without_a_checking_process_no_test_is_silently_trusted(tmp_path, started):
    cells = submission()
    outside = check(tmp_path, cells)
    if started:  # started, but it gave no verdicts: every checked test fails
        outside.process = object()
        outside._verdicts = lambda job: {g: {"replayed": True, "passed": False,
                                             "reason": None, "error": "GraderCheckFailed: x"}
                                         for g, _t, _n in outside.plan.values()}
    outside.decide(cells)
    [output] = cells[2].outputs
    if started:
        assert output.ename == "FailedOutsideKernel"
    else:
        assert "the outside check is switched off" in output.text
