"""Hidden tests stay unguessable (instructor/engine/secret.py, helpers/grading/hidden.py).

- the drawing: ``helpers.hidden_rng`` per submission key, the key from the grader's secret,
  the student and the timestamp, the secret kept out of the kernel's environment;
- what a hidden test's verdict shows (``instructor.engine.judge.withheld``), then in a
  real grading (``SafeExecute`` on a tiny numpy notebook) with answers that try to leak
  the hidden test's source, locals and inputs through ``In[-1]``, ``_ih``, frames,
  exceptions and displays.

The bad-submission matrix (tests/test_nbgrader_matrix.py, students s60-s69) grades the
same attempts on notebook 05's task through nbgrader, with feedback.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import nbformat
import numpy as np
import pytest

from helpers import hidden_rng
from helpers.grading.hidden import KEY_VARIABLE, hidden_seed, submission_key
from instructor.engine import secret as grader_secret
from instructor.engine.execute import NOT_RUN, SafeExecute
from instructor.engine.judge import WITHHELD_MESSAGE, WITHHELD_OUTPUT, withheld
from instructor.engine.remote import CHANGED_INPUTS

v4 = nbformat.v4


# ---------------------------------------------------------------- drawing
def test_the_same_key_draws_the_same_inputs_and_another_key_others():
    a = hidden_rng("psnr-tests-hidden", key="k1").random(8)
    assert np.array_equal(a, hidden_rng("psnr-tests-hidden", key="k1").random(8))
    assert not np.allclose(a, hidden_rng("psnr-tests-hidden", key="k2").random(8))
    assert not np.allclose(a, hidden_rng("nearest-tests-hidden", key="k1").random(8))


def test_without_a_key_the_draws_are_public_and_fixed(monkeypatch):
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    public = hidden_rng("psnr-tests-hidden").random(4)
    assert np.array_equal(public, hidden_rng("psnr-tests-hidden", key="").random(4))
    monkeypatch.setenv(KEY_VARIABLE, "abc")
    assert np.array_equal(hidden_rng("x").random(4), hidden_rng("x", key="abc").random(4))
    assert not np.allclose(hidden_rng("psnr-tests-hidden").random(4), public)


def test_the_key_depends_on_secret_student_and_submission():
    key = submission_key(b"secret", "alice", "2026-01-01 10:00:00")
    assert key == submission_key(b"secret", "alice", "2026-01-01 10:00:00")
    others = {submission_key(b"other", "alice", "2026-01-01 10:00:00"),
              submission_key(b"secret", "bob", "2026-01-01 10:00:00"),
              submission_key(b"secret", "alice", "2026-01-02 10:00:00"),
              submission_key(b"secret", "alice")}
    assert key not in others and len(others) == 4
    assert b"secret" not in key.encode() and len(key) == 64
    assert hidden_seed("t", key) != hidden_seed("t", submission_key(b"secret", "bob"))


def test_the_secret_file_is_created_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "course" / ".grader-secret"
    first = grader_secret.read_secret(path)
    assert first == grader_secret.read_secret(path) and len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        grader_secret.read_secret(path)


def test_the_kernel_gets_the_submission_key_never_the_secret(tmp_path, monkeypatch):
    secret = tmp_path / "secret"
    secret.write_text("top secret\n")
    submission = tmp_path / "submitted"
    submission.mkdir()
    (submission / "timestamp.txt").write_text("2026-11-23 10:00:00.000000 UTC\n")
    monkeypatch.setenv("COURSE_HIDDEN_SECRET_FILE", str(secret))
    monkeypatch.setenv(KEY_VARIABLE, "a key the student set")
    ex = SafeExecute(hidden_secret_file=str(secret))
    resources = {"nbgrader": {"student": "alice"}}
    ex._set_hidden_key(resources, str(submission))
    env = ex._environment()
    assert env[KEY_VARIABLE] == submission_key(b"top secret", "alice",
                                               "2026-11-23 10:00:00.000000 UTC")
    assert "COURSE_HIDDEN_SECRET_FILE" not in env
    assert not any("top secret" in value for value in env.values())
    ex._set_hidden_key({"nbgrader": {"student": "bob"}}, str(submission))
    assert ex._environment()[KEY_VARIABLE] != env[KEY_VARIABLE]
    plain = SafeExecute(kernel_environment={"A": "1", KEY_VARIABLE: "stale"})
    plain._set_hidden_key(resources, str(submission))
    assert plain._environment() == {"A": "1"}  # no secret: the public draws


def test_the_course_secret_is_outside_what_a_kernel_reads():
    from traitlets.config.loader import PyFileConfigLoader

    from instructor.engine.limits import readable_paths

    root = Path(__file__).resolve().parents[1]
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    secret = os.path.realpath(config.SafeExecute.hidden_secret_file)
    if not os.environ.get("COURSE_HIDDEN_SECRET_FILE"):
        assert secret == str(root / ".grader-secret")
    assert not any(secret == p or secret.startswith(p + os.sep) for p in readable_paths())


# ---------------------------------------------------------------- what a verdict shows
def test_a_hidden_tests_message_is_shown_only_when_the_checks_raised_it():
    """By origin, never by its words: the checking process marks what came from the
    student's process (``student``), and no text of it is kept, however it begins."""
    checks = {"checked": True, "passed": False, "error": "AssertionError: psnr: wrong values",
              "student": False, "output": "0.4170220047\n"}
    shown = withheld(checks)
    assert shown["error"] == checks["error"] and shown["output"] == WITHHELD_OUTPUT
    for words in ("psnr: wrong values", "[Errno 27] File too large",
                  f"{WITHHELD_MESSAGE} x = [0.41702200]", "x = [0.41702200]"):
        for ename in ("ValueError", "OSError"):
            sent = dict(checks, error=f"{ename}: {words}", student=True)
            assert withheld(sent)["error"] == f"{ename}: {WITHHELD_MESSAGE}", words
    review = {"checked": False, "passed": None, "error": None, "reason": "x = [0.417]"}
    assert withheld(dict(review, student=True))["reason"] == WITHHELD_MESSAGE
    assert withheld(review)["reason"] == review["reason"]   # the checking process's own


# ---------------------------------------------------------------- graded, and previewed
HIDDEN_TEST = '''# Hidden tests: random inputs.
### BEGIN HIDDEN TESTS
x = helpers.hidden_rng("double-tests-hidden").random(6)
marker = "HIDDEN-MARKER-" + "QX7"
with helpers.quiet():
    got = np.asarray(double(x), dtype=float)
assert np.allclose(got, 2 * x), "double of random values: wrong values"
### END HIDDEN TESTS
'''
RIGHT = "    return 2 * np.asarray(x)\n"
LEAKS = {
    "in": "    print(In[-1])\n" + RIGHT,
    "ih": "    print(_ih[-1], _ih)\n" + RIGHT,
    "frames": ("    import inspect\n"
               "    for f in inspect.stack():\n"
               "        print(f.frame.f_locals, f.code_context)\n" + RIGHT),
    "display": "    from IPython.display import display\n    display(x)\n" + RIGHT,
    "exception": ("    import sys\n    caller = sys._getframe(2).f_locals\n"
                  "    raise ValueError(f'{x!r} {caller!r} {In[-1]}')\n"),
    "exception-class": "    raise type('Leak' + str(x[0]).replace('.', '_'), (Exception,), {})()\n",
    "assertion": "    assert False, repr(x) + In[-1]\n",
    # the grader's own withheld sentence, then the inputs
    "graders-words": f"    raise ValueError({WITHHELD_MESSAGE!r} + repr(x))\n",
    "minimal-traceback": ("    get_ipython().run_line_magic('xmode', 'Minimal')\n"
                          "    raise AssertionError(repr(x))\n"),
}


#: A second task after the hidden test, whose test has no hidden part: its messages show.
TRIPLE_STUB = "def triple(x):\n    raise NotImplementedError('exercise not done yet')\n"
TRIPLE_TEST = """# Tests: triple
with helpers.quiet():
    got = np.asarray(triple(np.arange(3.0)))
assert np.allclose(got, [0.0, 3.0, 6.0]), "triple: wrong values"
"""


def _grading_nb(answer: str, after: tuple[str, ...] = (),
                triple: str = TRIPLE_STUB) -> nbformat.NotebookNode:
    def cell(source, grade_id, *, grade=False, solution=False, tags=("task-double",)):
        meta = {"tags": list(tags), "nbgrader": {
            "grade": grade, "solution": solution, "locked": grade, "grade_id": grade_id,
            "schema_version": 3, "task": False, **({"points": 2} if grade else {})}}
        return v4.new_code_cell(source, metadata=meta)

    return v4.new_notebook(cells=[
        cell("import numpy as np\nimport helpers", "setup", tags=("grade-setup",)),
        cell(answer, "double-solution", solution=True),
        cell(HIDDEN_TEST, "double-tests-hidden", grade=True),
        cell(triple, "triple-solution", solution=True, tags=("task-triple",)),
        cell(TRIPLE_TEST, "triple-tests", grade=True, tags=("task-triple",)),
        *[v4.new_code_cell(source) for source in after]])


def _grade(tmp_path: Path, answer: str, student: str = "alice", stamp: str = "t1",
           after: tuple[str, ...] = (), cells: bool = False, files: tuple[str, ...] = (),
           triple: str = TRIPLE_STUB):
    """Grade ``answer`` (with ``after``'s cells behind the test) as ``student`` at
    ``stamp``; the test cell's (with ``cells``: every cell's) outputs, and the hidden
    test's draws."""
    from instructor.engine.limits import readable_paths

    release = tmp_path / "release.ipynb"
    if not release.exists():
        nbformat.write(_grading_nb("def double(x):\n    raise NotImplementedError("
                                   "'exercise not done yet')\n"), release)
        (tmp_path / "secret").write_text("the grader's secret\n")
    work = tmp_path / f"{student}-{stamp}"
    work.mkdir(exist_ok=True)
    (work / "timestamp.txt").write_text(stamp)
    for name in files:   # the assignment's data files, copied beside the kernel
        (work / name).write_text("the assignment's data\n")
    ex = SafeExecute(release_notebook=str(release), hidden_secret_file=str(tmp_path / "secret"),
                     timeout=120, checks_timeout=120, readable_paths=readable_paths())
    nb, _ = ex.preprocess(_grading_nb(answer, after, triple), {"metadata": {"path": str(work)},
                                                "nbgrader": {"student": student}})
    key = submission_key(b"the grader's secret", student, stamp)
    return (nb.cells if cells else nb.cells[2]), hidden_rng("double-tests-hidden",
                                                           key=key).random(6)


def _shown(cell) -> str:
    return "\n".join(str(o.get(k, "")) for o in cell.outputs
                     for k in ("text", "data", "ename", "evalue", "traceback"))


def _digits(values) -> list[str]:
    """Runs of digits each drawn value prints with, whatever the format."""
    return [f"{v:.8f}"[2:8] for v in values]


@pytest.mark.grading
@pytest.mark.parametrize("leak", sorted(LEAKS))
def test_a_leaking_answer_shows_nothing_of_the_hidden_test(tmp_path, leak):
    cell, drawn = _grade(tmp_path, "def double(x):\n" + LEAKS[leak])
    shown = _shown(cell)
    for secret in ["HIDDEN-MARKER", "hidden_rng", "BEGIN HIDDEN",
                   *_digits(drawn), *_digits(2 * drawn)]:
        assert secret not in shown, (leak, secret, shown)
    errors = [o for o in cell.outputs if o.output_type == "error"]
    if leak in ("in", "ih", "frames", "display"):  # correct answers
        # (the review may set code that imports IPython or reads frames aside); the
        # kernel ran no test, and the answer process's prints go nowhere
        assert all(o.ename == "NeedsReview" for o in errors), shown
    else:
        assert errors and errors[0].evalue.startswith(WITHHELD_MESSAGE), shown


@pytest.mark.grading
def test_an_answer_left_as_released_says_so_in_the_graders_words(tmp_path):
    """The stub's message, known from the release's source (the canary looks for it);
    the same words from an answer of the student's are withheld like any."""
    stub = "def double(x):\n    raise NotImplementedError('exercise not done yet')\n"
    cell, _ = _grade(tmp_path, stub)
    assert [(o.ename, o.evalue) for o in cell.outputs if o.output_type == "error"] == [
        ("NotImplementedError", "exercise not done yet")]
    cell, drawn = _grade(tmp_path, stub.replace("')", "' + repr(x))"), stamp="t2")
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert errors[0].evalue == WITHHELD_MESSAGE, errors[0].evalue


@pytest.mark.grading
def test_inputs_a_hidden_test_gave_are_not_shown_by_a_later_cells_message(tmp_path):
    """The answer process serves every test cell: an answer that keeps what a hidden test
    gave it, and a later task's function that raises with it in a test without hidden
    parts, whose messages are shown. The cells without hidden tests run first."""
    stash = ("import os\n\n\ndef double(x):\n"
             "    os.environ['SEEN'] = repr(np.asarray(x).tolist())\n" + RIGHT)
    tell = ("import os\n\n\ndef triple(x):\n    if os.environ.get('SEEN'):\n"
            "        raise ValueError('seen: ' + os.environ['SEEN'])\n"
            "    return 3 * np.asarray(x)\n")
    cells, drawn = _grade(tmp_path, stash, cells=True, triple=tell)
    assert cells[2].outputs == [] and cells[4].outputs == [], _shown(cells[4])


@pytest.mark.grading
def test_a_hidden_test_fails_an_answer_that_changes_its_inputs(tmp_path):
    """Wrong (three times x), but it rewrites its input so that the test's own check,
    computed from that array after the call, agrees: in a cell with hidden tests a call
    that changes what it was given fails, in the grader's words."""
    answer = ("def double(x):\n    y = 3 * np.asarray(x)\n    x[:] = 1.5 * x\n"
              "    return y\n")
    cell, _ = _grade(tmp_path, answer)
    assert [(o.ename, o.evalue) for o in cell.outputs] == [
        ("AssertionError", CHANGED_INPUTS.format(name="double", which=[1]))], _shown(cell)


@pytest.mark.grading
def test_a_correct_answer_passes_a_wrong_one_reads_the_tests_message(tmp_path):
    good, _ = _grade(tmp_path, "def double(x):\n" + RIGHT)
    assert good.outputs == []
    bad, _ = _grade(tmp_path, "def double(x):\n    return 3 * np.asarray(x)\n")
    assert [(o.ename, o.evalue) for o in bad.outputs] == [
        ("AssertionError", "double of random values: wrong values")]


@pytest.mark.grading
def test_an_answer_memorising_another_submissions_inputs_fails(tmp_path):
    """Right on the inputs of one submission (as if leaked), wrong elsewhere: it passes
    only where those inputs are drawn again, i.e. a regrade of that submission."""
    seen = hidden_rng("double-tests-hidden",
                      key=submission_key(b"the grader's secret", "alice", "t1")).random(6)
    memorised = ("def double(x):\n"
                 f"    if np.allclose(x, {seen.tolist()!r}):\n"
                 f"        return np.array({(2 * seen).tolist()!r})\n"
                 "    return np.zeros_like(x)\n")
    again, _ = _grade(tmp_path, memorised, "alice", "t1")
    assert again.outputs == []  # a regrade of the same submission draws the same inputs
    for student, stamp in [("alice", "t2"), ("bob", "t1")]:
        cell, _ = _grade(tmp_path, memorised, student, stamp)
        assert [o.evalue for o in cell.outputs] == ["double of random values: wrong values"]


@pytest.mark.grading
def test_a_key_the_student_changes_in_the_kernel_fails_outside(tmp_path):
    """An answer that swaps the key in the kernel for one whose inputs it knows: the
    kernel runs no hidden test (and has no key), and outside it the test fails."""
    known = hidden_rng("double-tests-hidden", key="known").random(6)
    answer = (f"import os\nos.environ[{KEY_VARIABLE!r}] = 'known'\n\n\n"
              "def double(x):\n"
              f"    if np.allclose(x, {known.tolist()!r}):\n"
              "        return 2 * np.asarray(x)\n"
              "    return np.zeros_like(x)\n")
    cell, _ = _grade(tmp_path, answer)
    names = [o.ename for o in cell.outputs if o.output_type == "error"]
    assert names in (["AssertionError"], ["NeedsReview"]), _shown(cell)


#: Cells a student adds after the tests, looking for what the hidden test left behind.
AFTERWARDS = (
    "print(In, _ih, Out)\n"
    "print([h for h in get_ipython().history_manager.get_range(output=False)])",
    "import linecache\nprint([v for v in linecache.cache.values()])",
    "print({k: v for k, v in globals().items() if k.startswith('_hidden')})",
    "import os\nfor root, _, files in os.walk('.'):\n"
    "    for f in files:\n"
    "        if f.startswith('leak'):\n"
    "            print(f, open(os.path.join(root, f)).read())",
)


@pytest.mark.grading
def test_later_cells_find_no_trace_of_the_hidden_test(tmp_path):
    """Cells after the tests are not run; the answer ran, and wrote its file, in the
    answer process's own folder."""
    answer = ("def double(x):\n"
              "    import inspect\n"
              "    with open('leak.txt', 'w') as out:\n"
              "        out.write(repr(x) + In[-1] + inspect.stack()[2].code_context[0])\n"
              + RIGHT)
    cells, drawn = _grade(tmp_path, answer, after=AFTERWARDS, cells=True)
    later = "\n".join(_shown(c) for c in cells[3:])
    after = cells[-len(AFTERWARDS):]
    assert all([o.get("text") for o in c.outputs] == [NOT_RUN] for c in after), after
    for secret in ["HIDDEN-MARKER", "hidden_rng", "BEGIN HIDDEN", *_digits(drawn)]:
        assert secret not in later, (secret, later)


#: Red team's P1 on notebook 05's psnr: correct in the kernel; in the answer process (the
#: folder with answers.log) it raises with the hidden test's inputs in its message.
LEAK_OUTSIDE = """
import os


def psnr(pred, target):
    if os.path.exists("answers.log") and np.shape(pred) != (2, 4, 4):
        raise ValueError("LEAK shape=%s pred=%s target=%s" % (
            np.shape(pred), np.ravel(pred)[:3].tolist(), np.ravel(target)[:3].tolist()))
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    return 10.0 * np.log10(1.0 / ((pred - target) ** 2).reshape(len(pred), -1).mean(axis=1))
"""


@pytest.mark.grading
def test_an_answer_raising_its_inputs_only_outside_the_kernel_leaks_nothing(tmp_path, data_env):
    from tests import grading

    path = grading.notebook_path("05_denoising_autoencoders.ipynb")
    release = tmp_path / path.name
    nbformat.write(nbformat.read(path, as_version=4), release)
    cells = grading.task_cells(nbformat.read(path, as_version=4), "psnr")
    grading.solution_cell(cells, "psnr").source = LEAK_OUTSIDE
    nb = v4.new_notebook(cells=cells)
    grading.execute(nb, path.parent, {**grading.GRADING_ENV, **data_env}, 300, release=release)
    tests = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("grade")}
    for cell in tests.values():
        for secret in ["LEAK", "shape=", "pred="]:
            assert secret not in _shown(cell), (secret, _shown(cell))
    errors = [o for o in tests["psnr-tests-hidden"].outputs if o.output_type == "error"]
    assert [o.ename for o in errors] == ["ValueError"], _shown(tests["psnr-tests-hidden"])
    assert errors[0].evalue == WITHHELD_MESSAGE, errors[0].evalue

def test_graders_started_at_once_share_one_new_secret(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / ".grader-secret"
    with ThreadPoolExecutor(4) as pool:
        found = set(pool.map(lambda _: grader_secret.read_secret(path), range(8)))
    assert len(found) == 1 and sorted(p.name for p in tmp_path.iterdir()) == [path.name]


# ---------------------------------------------------------------- links a sandbox plants
#: An answer cell that forks a process which, for two minutes, keeps replacing every data
#: file of the kernel's folder by a link to a folder of the grading machine (``{victim}``)
#: while grading goes on: whatever the grader writes or removes there by name could land
#: in that folder (docs/grading.md, "What the grader touches").
PLANTER = '''import os
import time


def double(x):
    return 2 * np.asarray(x)


for _name in ["data%d.txt" % i for i in range(8)] if os.path.exists("data0.txt") else []:
    if os.fork() == 0:   # one process per file, each replacing it as fast as it can
        os.setsid()
        _end = time.time() + 120
        while time.time() < _end:
            try:
                os.unlink(_name)
            except OSError:
                pass
            try:
                os.symlink("{victim}/" + _name, _name)
            except OSError:
                pass
        os._exit(0)
'''


@pytest.mark.grading
def test_links_a_forked_process_plants_in_the_kernels_folder_are_never_followed(tmp_path):
    """A process the answer cell forked plants links while the (hidden) test cell is
    graded: the grader writes nothing through them, and the answer keeps its marks."""
    victim = tmp_path / "victim"
    victim.mkdir()
    cell, _ = _grade(tmp_path, PLANTER.format(victim=victim),
                     files=tuple(f"data{i}.txt" for i in range(8)))
    assert sorted(p.name for p in victim.iterdir()) == []
    assert [o for o in cell.outputs if o.output_type == "error"] == [], _shown(cell)
