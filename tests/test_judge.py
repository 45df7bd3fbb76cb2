"""The test cells' verdicts (instructor/engine/judge.py), without kernels.

The whole path (answer process, checking process) is
graded end to end by the bad-submission matrix and the grading tests; here each verdict
rule is checked alone, and the two processes run for real on a one-task notebook (no
kernel).
"""

from __future__ import annotations

import copy
import os
import re

import nbformat
import pytest
from nbgrader.utils import determine_grade

from instructor.engine.judge import (
    WITHHELD_OUTPUT,
    Judge,
    graded_calls,
    student_sources,
)
from instructor.engine.release import NONE, Release
from instructor.engine.roles import Box
from tests.test_protocol import report_of

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


def release_of(cells) -> Release:
    return Release.of(v4.new_notebook(cells=cells))


def the_release() -> Release:
    return release_of(release_cells())


def submission(answer=ANSWER, test_outputs=(), extra=()):
    cells = release_cells()
    cells[1] = cell(answer, task="area", solution=True, grade_id="area-solution")
    cells[2] = cell(TEST, task="area", grade=True, locked=True, grade_id="area-tests",
                    outputs=test_outputs)
    return [*cells, *[v4.new_code_cell(s) for s in extra]]


def check(tmp_path, cells, course_implementations=None):
    return Judge(cells, the_release(), Box(),
                        course_implementations or {})


def test_the_plan_names_each_test_cell_and_the_functions_its_task_defines():
    assert graded_calls(submission(), the_release()) == {2: ("002-area-tests", "area",
                                                            ["area"])}


@pytest.mark.parametrize("tags", [[], ["task-other"]])
def test_the_plan_reads_which_cells_are_tests_from_the_release(tags):
    cells = submission()
    cells[2].metadata["tags"] = tags               # the task tag removed, or changed
    cells[2].metadata["nbgrader"]["grade"] = False  # and the cell "not graded"
    assert graded_calls(cells, the_release()) == {2: ("002-area-tests", "area", ["area"])}
    cells[1].metadata["nbgrader"]["grade_id"] = "mine"  # an answer the release lacks
    cells.append(cell(TEST, task="area", grade=True, grade_id="my-test"))
    assert graded_calls(cells, the_release()) == {2: ("002-area-tests", "area", ["area"])}


def test_student_sources_are_answers_and_added_cells_not_instructor_cells():
    own = student_sources(submission(extra=["x = 1"]), release_cells())
    assert own == [ANSWER, "x = 1"]


def test_the_test_cells_are_the_releases_whatever_the_submission_says():
    cells = submission(extra=["x = 1"])
    cells[2].metadata["nbgrader"]["grade"] = False     # "not graded"
    cells[3].metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "mine"}
    assert the_release().test_cells(cells) == {2}
    assert NONE.test_cells(cells) == {3}            # no release: their own metadata


def test_a_test_cells_outputs_are_its_verdict_and_nothing_it_brought(tmp_path):
    """Outputs a submission brought (a number nbgrader would read as partial credit, an
    error) are replaced by the verdict: no test cell ran anywhere else."""
    brought = [v4.new_output("execute_result", data={"text/plain": "0.5"}, execution_count=1),
               v4.new_output("error", ename="AssertionError", evalue="area(2)", traceback=[])]
    assert verdict_after(tmp_path, submission(test_outputs=brought), PASSED) == []
    printed = {k: dict(v, output="area OK\n") for k, v in FAILED.items()}
    assert [o.get("text") or o.ename for o in verdict_after(tmp_path, submission(), printed)
            ] == ["area OK\n", "AssertionError"]


def verdict_after(tmp_path, cells, verdicts, **kwargs):
    outside = check(tmp_path, cells, **kwargs)
    outside.process = object()  # as if started: the verdicts below are its answer
    outside._verdicts = lambda job, cells: verdicts
    outside.decide(cells)
    return cells[2].outputs


PASSED = {"002-area-tests": {"checked": True, "passed": True, "error": None, "reason": None}}
FAILED = {"002-area-tests": {"checked": True, "passed": False, "reason": None,
                             "error": "AssertionError: area(2)"}}
NOT_REPLAYED = {"002-area-tests": {"checked": False, "passed": None, "error": None,
                                   "reason": "a model of a class of the student's own"}}


def test_a_pass_shows_nothing(tmp_path):
    assert verdict_after(tmp_path, submission(), PASSED) == []


def test_a_pass_through_the_students_own_model_code_says_so(tmp_path):
    """A verdict that rests on code of the student's own (a proxy) keeps its points,
    and the test cell, the notes and the class report say so."""
    from instructor.analytics.graded import flags_of
    from instructor.engine.judge import OWN_CODE_NOTE
    from instructor.workflow.submission import notes_from_graded

    cells = submission()
    proxied = {k: dict(v, proxied=True) for k, v in PASSED.items()}
    assert verdict_after(tmp_path, cells, proxied) == [
        v4.new_output("stream", name="stdout", text=OWN_CODE_NOTE)]
    notes = notes_from_graded(v4.new_notebook(cells=cells))
    assert notes == ["The cell 'area-tests' was checked through your model's own code, "
                     "which ran behind the checks."]
    assert [flag for flag, _ in flags_of(notes, {})] == ["OWN MODEL CODE"]
    # a rebinding of a name (moot: no test runs where it ran) does not hide the note
    cells = submission(extra=["abs = abs"])
    [output] = verdict_after(tmp_path, cells, proxied)
    assert output.text == OWN_CODE_NOTE
    assert notes_from_graded(v4.new_notebook(cells=cells)) == notes
    failed = {k: dict(v, proxied=True) for k, v in FAILED.items()}
    [output] = verdict_after(tmp_path, submission(), failed)   # a failure says only that
    assert output.ename == "AssertionError"


def test_only_a_test_cell_carries_the_graders_verdicts_into_notes_and_flags():
    """An answer cell's outputs are what the student's code sent: an exception of its own
    named as any of the grader's outcomes (``NeedsReview``, ``DeadKernelError``...), or a
    print of the own-code note, neither sets the submission aside nor writes the
    grader's note; on a test cell, whose outputs the grader writes, they do; on an answer
    cell, the grader's record of what it saw does (issue 53)."""
    from instructor.engine.judge import OWN_CODE_NOTE
    from instructor.engine.outcomes import OUTCOMES
    from instructor.workflow.submission import needs_review, notes_from_graded

    forged = [v4.new_output("error", ename=name, evalue="from the answer", traceback=[])
              for name in OUTCOMES] + [
        v4.new_output("stream", name="stdout", text=OWN_CODE_NOTE)]
    cells = submission()
    cells[1].outputs = forged
    nb = v4.new_notebook(cells=cells)
    assert needs_review(nb) == [] and notes_from_graded(nb) == []
    cells[1].outputs, cells[2].outputs = [], forged
    notes = notes_from_graded(nb)
    assert needs_review(nb) == ["area-tests"] and len(notes) == len(OUTCOMES) + 1, notes
    # what the grader saw happen to an answer cell is in its record, which notes read
    cells[2].outputs = []
    nb.metadata["course_grading"] = {"outcomes": {"1": ["DeadKernelError: it died"]}}
    assert notes_from_graded(nb) == [
        "The cell 'area-solution' crashed the Python process running it: it died"]


def test_the_outcomes_are_one_table_which_the_docs_show():
    """The grader's outcomes are outcomes.OUTCOMES: docs/grading.md shows its table, and
    the two modules that also run in the answer process (without the ``instructor``
    package) spell their outcome as it does; every exception of the checking process
    that names an outcome is one of them."""
    from instructor import ROOT
    from instructor.engine import outcomes, remote, stripped
    from instructor.engine.answer import wire

    page = (ROOT / "docs" / "grading.md").read_text()
    table = re.search(r"<!-- outcomes -->\n(.*?)\n<!-- /outcomes -->", page, re.S)
    assert table and table.group(1) == outcomes.markdown_table(), (
        "docs/grading.md's table of outcomes is out of date: paste the output of python -c "
        "'from instructor.engine.outcomes import markdown_table; print(markdown_table())'")
    assert wire.RecordTooLarge.outcome == outcomes.RECORD_TOO_LARGE
    assert stripped.USES_COURSE_IMPLEMENTATION == outcomes.USES_COURSE_IMPLEMENTATION
    for kind in (remote.AnswerFailed, remote.UsesCourseImplementation):
        assert issubclass(kind, outcomes.GraderOutcome)
        assert outcomes.OUTCOMES[kind.outcome].where == "test" and kind.outcome == kind.__name__


def test_a_patch_of_a_library_needs_review_though_it_passed_outside(tmp_path):
    """The answer cells run again in the answer process: a change to a library's own
    module or class (here the setup's ``math``) reaches the second run too."""
    [output] = verdict_after(tmp_path, submission(extra=["math.pi = 3"]), PASSED)
    assert output.ename == "NeedsReview" and "patches math.pi" in output.evalue


def test_a_failed_check_scores_0_with_its_own_message(tmp_path):
    [output] = verdict_after(tmp_path, submission(), FAILED)
    assert (output.output_type, output.ename, output.evalue) == \
        ("error", "AssertionError", "area(2)")


def test_an_error_class_of_the_students_own_is_not_named(tmp_path):
    own = {k: dict(v, error="Leak_0_1234: x", student=True) for k, v in FAILED.items()}
    [output] = verdict_after(tmp_path, submission(), own)
    assert (output.ename, output.evalue) == ("Exception", "x")


def test_calling_the_course_implementation_scores_0(tmp_path):
    cells = submission(answer="import helpers\ndef area(r):\n    return helpers.area(r)\n")
    [output] = verdict_after(tmp_path, cells, PASSED,
                             course_implementations={"area": "area"})
    assert output.ename == "UsesCourseImplementation" and "helpers.area" in output.evalue


def test_tampering_where_only_the_kernel_checked_needs_review(tmp_path):
    cells = submission(extra=["import sys\nsys.modules['math'] = None"])
    [output] = verdict_after(tmp_path, cells, NOT_REPLAYED)
    assert output.ename == "NeedsReview" and "a model of a class" in output.evalue
    assert "`import sys`" in output.evalue  # the reviewer sees the tampering too


def test_a_test_not_checked_outside_needs_review(tmp_path):
    """Nothing kernel-only is silent: a test the checks could not establish
    scores 0 until the instructor reviews it."""
    [output] = verdict_after(tmp_path, submission(), NOT_REPLAYED)
    assert output.output_type == "error" and output.ename == "NeedsReview"
    assert "could not check this test (a model of a class" in output.evalue


@pytest.mark.parametrize("started", [False, True])
def test_without_a_checking_process_no_test_is_silently_trusted(tmp_path, started):
    cells = submission()
    outside = check(tmp_path, cells)
    if started:  # started, but it gave no verdicts: every checked test fails
        outside.process = object()
        outside._verdicts = lambda job, cells: {g: {"checked": True, "passed": False,
                                             "reason": None, "error": "GraderCheckFailed: x"}
                                         for g, _t, _n in outside.plan.values()}
    outside.decide(cells)
    [output] = cells[2].outputs
    if started:
        assert output.ename == "GraderCheckFailed"
    else:
        assert output.ename == "NeedsReview" and "did not run" in output.evalue


# ------------------------------------------------------------ the two processes, for real
def checked_outside(cells, release=None, setup=None, **kwargs):
    """``cells`` checked by a started Judge (answer and checking processes under
    the grader's sandbox; no kernel): the outputs it adds to each test cell."""
    from instructor.engine import limits

    release = release or release_cells()
    if setup is not None:
        release[0] = v4.new_code_cell(setup, metadata={"tags": ["grade-setup"]})
    outside = Judge(cells, release_of(release), Box(limits.readable_paths(), checks_timeout=120),
                    kwargs.get("course_implementations", {}))
    outside.start()
    try:
        outside.decide(cells)
    finally:
        outside.stop()
    return {i: [(o.get("ename"), o.get("evalue")) for o in cells[i].outputs]
            for i in outside.plan}


def test_a_correct_answer_passes_outside():
    assert checked_outside(submission()) == {2: []}


def test_a_wrong_answer_fails_outside():
    [(ename, evalue)] = checked_outside(submission("def area(r):\n    return 1.0\n"))[2]
    assert (ename, evalue) == ("AssertionError", "area(2)")


def test_what_a_test_cell_prints_is_its_output_but_withheld_with_hidden_tests():
    cells = submission()
    release = release_cells()
    for c in (cells[2], release[2]):   # stderr too (a library's log): never a failure
        c.source = "import sys\nprint('checked area')\nprint('log', file=sys.stderr)\n" + TEST
    assert checked_outside(cells, release) == {2: [(None, None)]}
    assert [(o.name, o.text) for o in cells[2].outputs] == [("stdout", "checked area\nlog\n")]
    assert determine_grade(cells[2])[0] == 1
    for c in (cells[2], release[2]):
        c.source = ("print('visible')\n### BEGIN HIDDEN TESTS\nprint(area(0.5))\n"
                    "### END HIDDEN TESTS\n")
    checked_outside(cells, release)
    assert [o.text for o in cells[2].outputs] == [WITHHELD_OUTPUT]


@pytest.mark.parametrize("name", ["RecordTooLarge", "UsesCourseImplementation",
                                  "AnswerFailed", "GraderCheckFailed"])
def test_an_error_named_like_the_graders_is_the_students_and_shows_no_hidden_input(name):
    """An answer's own exception named like one of the grader's outcomes, its message the
    hidden test's input: the name is a string the student chose, shown as theirs (the
    stripped helpers' own exception is known by its class, not its name), and the
    message is withheld like any the answer process sent (issue 53)."""
    answer = (f"class {name}(Exception):\n    pass\n"
              f"def area(r):\n    raise {name}(f'hidden input {{r!r}}')\n")
    cells, release = submission(answer), release_cells()
    for c in (cells[2], release[2]):
        c.source = "### BEGIN HIDDEN TESTS\nassert area(0.123) > 0\n### END HIDDEN TESTS\n"
    [(ename, evalue)] = checked_outside(cells, release)[2]
    assert "0.123" not in evalue and "hidden input" not in evalue, evalue
    assert ename == "Exception", (ename, evalue)


@pytest.mark.parametrize("answer", [
    "SCALE = PI\ndef area(r):\n    return SCALE * r * r\n",  # the cell itself fails
    "def area(r):\n    return PI * r * r\n"])                 # the call fails
def test_an_answer_using_another_cells_name_fails_saying_answers_run_alone(answer):
    [(ename, evalue)] = checked_outside(submission(answer, extra=["PI = 3.14159"]))[2]
    assert ename == "AnswerFailed" and "NameError: name 'PI' is not defined" in evalue
    assert "your answer cells on their own" in evalue


@pytest.mark.parametrize("hidden", [False, True])
def test_reaching_the_course_implementation_by_an_indirect_route_scores_0(hidden):
    """Caught in the answer process; under hidden tests too, its words are the stripped
    helpers', known to the grader word for word."""
    answer = ("import functools, importlib\nimport numpy as np\n"
              "importlib.import_module('helpers.metrics')\n"
              "def area(r):\n    one = np.ones((2, 2))\n"
              "    return functools.reduce(getattr, ['metrics', 'psnr'], helpers)(one, one)\n")
    cells, release = submission(answer), release_cells()
    if hidden:
        for c in (cells[2], release[2]):
            c.source = f"### BEGIN HIDDEN TESTS\n{TEST}\n### END HIDDEN TESTS\n"
    [(ename, evalue)] = checked_outside(cells, release, setup="import helpers",
                                       course_implementations={"area": "psnr"})[2]
    assert ename == "UsesCourseImplementation", evalue
    assert "psnr is the course's own implementation" in evalue
    assert "your answer calls" not in evalue  # not the source check: the answer process


def two_variants(first, second):
    """A notebook with two variants of the task: each answer cell, then its test cell."""
    release = [*release_cells(),
               cell("def area(r):\n    raise NotImplementedError", task="area",
                    solution=True, grade_id="area-solution-2"),
               cell(TEST, task="area", grade=True, locked=True, grade_id="area-tests-2")]
    cells = copy.deepcopy(release)
    cells[1] = cell(first, task="area", solution=True, grade_id="area-solution")
    cells[3] = cell(second, task="area", solution=True, grade_id="area-solution-2")
    return cells, release


@pytest.mark.parametrize("first, second, failed", [
    (ANSWER, "def area(r):\n    return 1.0\n", [4]),
    ("raise ValueError('a draft')\n", ANSWER, [2])])  # a broken draft, then the answer
def test_each_variant_is_checked_against_its_own_answer(first, second, failed):
    cells, release = two_variants(first, second)
    outputs = checked_outside(cells, release)
    assert sorted(outputs) == [2, 4]
    assert [i for i, found in outputs.items() if found] == failed, outputs
    assert all(ename in ("AssertionError", "AnswerFailed")
               for i in failed for ename, _ in outputs[i]), outputs


def test_the_answer_process_gets_no_hidden_test_key():
    """The checker draws hidden inputs from the submission's key; the answer process,
    which runs no hidden test, never sees it (an answer keyed on it fails outside)."""
    from helpers.grading.hidden import KEY_VARIABLE
    from instructor.engine import limits

    answer = ("import os\ndef area(r):\n"
              f"    return 3.14159 * r * r if os.environ.get({KEY_VARIABLE!r}) else 0.0\n")
    cells = submission(answer)
    test = f"import os\nassert os.environ.get({KEY_VARIABLE!r}) == 'k'\n" + TEST
    cells[2].source = test
    release = release_cells()
    release[2].source = test
    outside = Judge(cells, release_of(release), Box(
        limits.readable_paths(), environment={**os.environ, KEY_VARIABLE: "k"}), {})
    outside.start()
    try:
        outside.decide(cells)
    finally:
        outside.stop()
    [output] = cells[2].outputs
    assert (output.ename, output.evalue) == ("AssertionError", "area(2)")


def test_answer_cells_show_what_the_answer_process_reported(tmp_path):
    """The answer process's report becomes the answer cells' outputs, made inert; a cell
    it started and never ended died there; one it never ran says so."""

    from instructor.engine.judge import DIED, NOT_RUN_ANSWER

    cells = submission()
    cells.insert(2, cell("x = 1", task="area", solution=True, grade_id="area-more"))
    release = [*release_cells()]
    release.insert(2, cell("x = 1", task="area", solution=True, grade_id="area-more"))
    outside = Judge(cells, release_of(release), Box(), {})
    lines = [{"cell": 1}, {"cell": 1, "output": {
        "output_type": "stream", "name": "stdout", "text": "hi\n"}}, {"cell": 1, "output": {
        "output_type": "display_data", "data": {"text/html": "<script>x</script><b>b</b>",
                                                "application/javascript": "alert(1)"},
        "metadata": {}}}, {"cell": 1, "end": True}, {"cell": 2}]
    outside.report = report_of(*lines)
    outside.answer_outputs(cells)
    stream, shown = cells[1].outputs
    assert stream.text == "hi\n" and cells[1].execution_count == 1
    assert "<script" not in shown.data["text/html"] and "application/javascript" not in shown.data
    assert [(o.ename, o.evalue) for o in cells[2].outputs] == [("DeadKernelError", DIED)]
    assert outside.outcomes == {1: [], 2: [("DeadKernelError", DIED)]}
    # an error the process reports under that name is its own, and not recorded
    forged = {"output_type": "error", "ename": "DeadKernelError", "evalue": "x",
              "traceback": []}
    lines[-1:] = [{"cell": 2, "output": forged}, {"cell": 2, "end": True}]
    outside.report = report_of(*lines)
    outside.answer_outputs(cells)
    assert [o.ename for o in cells[2].outputs] == ["DeadKernelError"]
    assert outside.outcomes == {1: [], 2: []}
    outside.report = None
    outside.answer_outputs(cells)
    assert cells[1].outputs[0].text == NOT_RUN_ANSWER and cells[1].execution_count is None


def test_an_answer_cell_the_process_dies_in_keeps_what_it_printed():
    """What an answer cell printed before the process died in it (here killed, as a cap
    kills it) is shown in the cell, before why it stopped; a run of prints is one
    output."""
    from instructor.engine import limits
    from instructor.engine.judge import DIED

    answer = (f"{ANSWER}import os, signal, sys\nfor i in range(500):\n    print(i)\n"
              "sys.stdout.flush()\nos.kill(os.getpid(), signal.SIGKILL)\n")
    cells = submission(answer)
    outside = Judge(cells, the_release(), Box(limits.readable_paths(), checks_timeout=120), {})
    outside.start()
    try:
        outside.decide(cells)
        outside.answer_outputs(cells)
    finally:
        outside.stop()
    printed, died = cells[1].outputs
    assert printed.text == "".join(f"{i}\n" for i in range(500))
    assert (died.ename, died.evalue) == ("DeadKernelError", DIED)


def test_what_an_answer_writes_while_the_tests_call_it_is_never_shown():
    """The report is taken before the tests call the answers: a message the graded
    function writes to it when called with a test's inputs is never an answer cell's
    output (the test passes: the write went through)."""
    from instructor.engine import limits

    leak = ('import json, os, struct\n'
            'REPORT = int(open("/proc/self/cmdline").read().split("\\0")[7])\n'
            'def area(r):\n'
            '    data = json.dumps({"cell": 1, "output": {"output_type": "stream", '
            '"name": "stdout", "text": "LEAK %r" % r}}).encode()\n'
            '    os.write(REPORT, struct.pack(">Q", len(data)) + data)\n'
            '    return 3.14159 * r * r\n')
    cells = submission(leak)
    outside = Judge(cells, the_release(), Box(limits.readable_paths(), checks_timeout=120), {})
    outside.start()
    try:
        outside.decide(cells)
        outside.answer_outputs(cells)
    finally:
        outside.stop()
    assert not any(o.output_type == "error" for o in cells[2].outputs), cells[2].outputs
    shown = [o.get("text", "") for o in cells[1].outputs]
    assert not any("LEAK" in text for text in shown), shown


@pytest.mark.parametrize("forged", ["big", "nested", "not_an_answer"])
def test_a_report_the_students_code_wrote_itself_is_bounded(forged):
    """The report is written by the student's process, which can write it directly
    (tests/test_protocol.py): a cell past its output cap, or a message that is not read,
    shows one OutputTooLarge error, the grader's own outcome; a message of a cell that
    is not an answer cell shows nowhere; the notebook is still graded."""
    import json

    cells = submission()
    outside = Judge(cells, the_release(), Box(output_mb=1024 / 2 ** 20), {})
    forged_message = {
        "big": json.dumps({"cell": 1, "output": {"output_type": "stream", "name": "stdout",
                                                 "text": "x" * 200_000}}).encode(),
        "nested": b'{"cell": 1, "output": ' + b"[" * 300_000 + b"]" * 300_000 + b"}",
        "not_an_answer": json.dumps({"cell": 2, "output": {
            "output_type": "error", "ename": "NeedsReview", "evalue": "x"}}).encode(),
    }[forged]
    cell_1 = [] if forged == "not_an_answer" else [{"cell": 1}]
    outside.report = report_of(*cell_1, forged_message, *cell_1, cell_bytes=1024)
    outside.answer_outputs(cells)
    shown = [(o.output_type, o.get("ename")) for o in cells[1].outputs]
    if forged == "not_an_answer":
        assert cells[1].execution_count is None and shown == [("stream", None)]
    else:
        assert shown[0] == ("error", "OutputTooLarge"), shown
        assert [name for name, _ in outside.outcomes[1]][:1] == ["OutputTooLarge"]
    assert all(o.get("ename") != "NeedsReview" for c in cells for o in c.get("outputs", []))
