"""The bad-submission matrix, graded end to end by real ``nbgrader autograde`` runs.

A small assignment is built in a scratch course folder from notebook 02's ``grade-setup``
cell and the cells of its ``vanilla`` task (6 points: shapes 2, layers 2, training 2).
One synthetic student per case is collected from a folder (some as zips, one misnamed,
one truncated), the whole class is autograded through the parallel path
(``instructor.autograde``, 2 jobs), then feedback and grades.csv are generated. Each
case must get a deterministic score and a clear message, and everyone else must be
graded normally. The cell timeout is lowered to 20 s here (the course uses 180 s).
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
import zipfile
from pathlib import Path

import nbformat
import pytest

from instructor import course
from instructor.autograde import autograde
from instructor.collect import collect
from instructor.preprocessors import STDERR_MARK
from instructor.sample_class import reference

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks" / "02_stacked_autoencoders" / "02_stacked_autoencoders.ipynb"
A = "m02_vanilla"
ENV = {"COURSE_CELL_TIMEOUT": "20", "COURSE_NOTEBOOK_TIMEOUT": "300",
       "COURSE_KERNEL_MEMORY_GB": "5"}

# ------------------------------------------------------------------ the answers
REF = None  # the reference solution of task vanilla, set by the fixture


def _sub(old: str, new: str, text: str | None = None) -> str:
    text = REF if text is None else text
    assert old in text, f"{old!r} not in the reference solution: update the matrix"
    return text.replace(old, new)


def wrong_arch():       # decoder not mirrored
    return _sub("for units in reversed(hidden_layers):", "for units in hidden_layers:")


def wrong_compile():    # optimizer and loss
    return _sub('auto.compile(optimizer="adam", loss="binary_crossentropy")',
                'auto.compile(optimizer="sgd", loss="mse")')


def hidden_only():      # passes the visible tests, fails a hidden one
    return _sub("for units in reversed(hidden_layers):",
                "for units in reversed(hidden_layers[:2]):",
                _sub("for units in hidden_layers:", "for units in hidden_layers[:2]:"))


def infinite_loop():
    return _sub("    inputs = keras.Input(shape=(input_dims,))",
                "    while True:  # debugging left in\n        pass\n"
                "    inputs = keras.Input(shape=(input_dims,))")


def memory_hog():
    return _sub("    inputs = keras.Input(shape=(input_dims,))",
                "    cache = []\n    while True:  # grows without bound\n"
                "        cache.append(np.ones(10**7))\n"
                "    inputs = keras.Input(shape=(input_dims,))")


def crash():
    return REF + "\nimport os\nos._exit(1)\n"


def library_stderr():
    """Correct, but reading a layer's kernel prints a library-style warning to stderr.

    The warning comes from the layer class the student used, when the *test* cell reads
    the layers' kernels outside ``helpers.quiet()``: stderr inside a graded cell, every
    time, as a TensorFlow or Keras log line would be."""
    return (
        "import warnings\n\n\n"
        "class Dense(keras.layers.Dense):\n"
        "    @property\n"
        "    def kernel(self):\n"
        "        warnings.warn('W0000 00:00:1700000000.000000 4242 cpu_allocator_impl.cc:83]"
        " Allocation of 3211264 exceeds 10% of free system memory.', UserWarning)\n"
        "        return super().kernel\n\n\n"
        + _sub("keras.layers.Dense(", "Dense("))


def snoop(paths: list[str]):
    """Correct, plus attempts to read the hidden tests and to write the gradebook."""
    return REF + f"""
import glob, os, sqlite3
_targets = {paths!r}
_cmd = open(f"/proc/{{os.getppid()}}/cmdline").read().split("\\0")
for _arg in _cmd:
    if _arg.startswith("--CourseDirectory.root="):
        _root = _arg.split("=", 1)[1]
        _targets += [os.path.join(_root, "gradebook.db")]
        _targets += glob.glob(os.path.join(_root, "autograded", "*", "*", "*.ipynb"))
        _targets += [os.path.join(_root, "autograded")]
_targets += glob.glob("*.ipynb") + glob.glob("../*.ipynb")
_targets += [f"/proc/{{os.getppid()}}/cwd/README.md"]
for _path in _targets:
    try:
        _text = open(_path, "rb").read()
        print("READ", _path, "HIDDEN FOUND" if b"BEGIN " + b"HIDDEN" in _text else "")
    except OSError as _err:
        print("blocked read:", type(_err).__name__)
    if _path.endswith(".db"):
        try:
            _db = sqlite3.connect(f"file:{{_path}}?mode=rw", uri=True)
            _db.execute("UPDATE grade SET manual_score = 100")
            _db.commit()
            print("WROTE", _path)
        except sqlite3.Error as _err:
            print("blocked write:", _err)
"""


# case: (how the notebook is made, expected score, words the student must see)
CASES = {
    "s01_correct": (lambda: REF, 6, []),
    "s02_stub": (None, 0, ["exercise not done yet"]),
    "s03_wrong_arch": (wrong_arch, 4, ["decoder Dense kernels"]),
    "s04_wrong_compile": (wrong_compile, 4, ["auto's optimizer: expected 'adam', got 'sgd'"]),
    "s05_hidden_only": (hidden_only, 4, ["encoder weights of autoencoder(20, [12, 8, 6], 3)"]),
    "s06_infinite_loop": (infinite_loop, 0, ["ran longer than 20 s"]),
    "s07_crash": (crash, 0, ["kernel died"]),
    "s08_deleted_answer": ("delete:vanilla-solution", 0, ["exercise not done yet"]),
    "s09_deleted_test": ("delete:vanilla-tests-training", 4, ["auto's optimizer"]),
    "s10_edited_test": ("edit:vanilla-tests-training", 4, ["auto's optimizer"]),
    "s11_truncated": ("truncate", 0, []),
    "s12_damaged": ("damage", 6, []),
    "s13_wrong_name": ("rename", 6, []),
    "s14_zip": ("zip", 6, []),
    "s15_memory": (memory_hog, 0, ["MemoryError"]),
    "s16_library_stderr": (library_stderr, 6, ["[stderr, not graded]"]),
    "s17_snoop": ("snoop", 6, []),
}
NOTES = {
    "s06_infinite_loop": "ran too long",
    "s07_crash": "crashed the Python kernel",
    "s08_deleted_answer": "answer cell 'vanilla-solution' was missing",
    "s09_deleted_test": "test cell 'vanilla-tests-training' was missing",
    "s10_edited_test": "locked cell 'vanilla-tests-training' was edited",
    "s11_truncated": "could not be read as a notebook",
    "s12_damaged": "rebuilt it",
    "s13_wrong_name": "was named 'Untitled1.ipynb'",
    "s15_memory": "ran out of memory",
}
HIDDEN_CODE = ["enc_shapes", "x_check", "BEGIN HIDDEN", "mc.expect_composed"]


def _grade_id(cell):
    return (cell.metadata.get("nbgrader") or {}).get("grade_id")


def _build_course(tmp: Path) -> None:
    src = nbformat.read(SOURCE, as_version=4)
    cells = [nbformat.v4.new_markdown_cell("# Matrix test: task (a) of notebook 02")]
    cells += [c for c in src.cells if {"grade-setup", "task-vanilla"}
              & set(c.metadata.get("tags", []))]
    nb = nbformat.v4.new_notebook(cells=cells, metadata=src.metadata)
    (tmp / "notebooks" / A).mkdir(parents=True)
    nbformat.write(nb, tmp / "notebooks" / A / f"{A}.ipynb")
    course.generate("release", [A], root=tmp)


def _student_notebook(tmp: Path, how) -> nbformat.NotebookNode:
    nb = nbformat.read(tmp / "release" / A / f"{A}.ipynb", as_version=4)
    solution = next(c for c in nb.cells if _grade_id(c) == "vanilla-solution")
    if callable(how):
        solution.source = how()
    elif isinstance(how, str) and how.startswith("delete:"):
        solution.source = REF if how.endswith("solution") else wrong_compile()
        nb.cells = [c for c in nb.cells if _grade_id(c) != how.split(":")[1]]
    elif isinstance(how, str) and how.startswith("edit:"):
        solution.source = wrong_compile()
        test = next(c for c in nb.cells if _grade_id(c) == how.split(":")[1])
        test.source = "pass  # always passes"
    elif how is not None:
        solution.source = REF
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory, data_dir):
    """The matrix class, collected, autograded (2 jobs), with feedback and grades.csv."""
    global REF
    tmp = tmp_path_factory.mktemp("matrix")
    src = nbformat.read(SOURCE, as_version=4)
    REF = reference(next(c.source for c in src.cells if _grade_id(c) == "vanilla-solution"))
    _build_course(tmp)
    incoming = tmp / "incoming"
    incoming.mkdir()
    for student, (how, _, _) in CASES.items():
        if how == "snoop":
            how = lambda: snoop([str(tmp / "gradebook.db"), str(SOURCE),  # noqa: E731
                                 str(tmp / "notebooks" / A / f"{A}.ipynb")])
        nb = _student_notebook(tmp, how)
        text = nbformat.writes(nb)
        folder = incoming / student
        if how == "zip":
            with zipfile.ZipFile(incoming / f"{student}.zip", "w") as zf:
                zf.writestr(f"{A}/{A}.ipynb", text)
                zf.writestr(f"__MACOSX/{A}/._{A}.ipynb", "junk")
            continue
        folder.mkdir()
        name = "Untitled1.ipynb" if how == "rename" else f"{A}.ipynb"
        if how == "truncate":
            text = text[: len(text) // 2]
        elif how == "damage":
            data = json.loads(text)
            for cell in data["cells"]:
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
            text = json.dumps(data)
        (folder / name).write_text(text)
    collect(incoming, A, root=tmp)
    results = autograde([A], root=tmp, jobs=2, env=ENV)
    course.feedback([A], root=tmp)
    csv_path = course.export_grades(tmp / "grades.csv", root=tmp)
    return {"root": tmp, "results": {r.student: r for r in results}, "csv": csv_path}


def _graded_nb(root: Path, student: str):
    path = root / "autograded" / student / A / f"{A}.ipynb"
    return nbformat.read(path, as_version=4) if path.exists() else None


def _student_view(root: Path, student: str) -> str:
    """Everything the student gets back: feedback HTML and notes."""
    folder = root / "feedback" / student / A
    return "\n".join(p.read_text() for p in sorted(folder.glob("*")) if p.is_file())


def _gradebook_scores(root: Path) -> dict[str, float]:
    db = sqlite3.connect(root / "gradebook.db")
    rows = db.execute(
        "SELECT student.id, SUM(COALESCE(grade.manual_score, grade.auto_score, 0)) "
        "FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = "
        "submitted_assignment.id JOIN student ON submitted_assignment.student_id = student.id "
        "GROUP BY student.id").fetchall()
    return dict(rows)


@pytest.mark.parametrize("student", sorted(CASES))
def test_score_is_as_expected(graded, student):
    result = graded["results"][student]
    expected = CASES[student][1]
    assert not result.failed, f"{student}: the grader failed: {result.notes}"
    assert (result.score, result.max_score) == (expected, 6), \
        f"{student}: {result.score}/{result.max_score}, notes {result.notes}"


@pytest.mark.parametrize("student", sorted(CASES))
def test_student_sees_a_clear_message_and_no_hidden_code(graded, student):
    view = _student_view(graded["root"], student)
    text = html.unescape(re.sub(r"<[^>]+>", "", view))
    for words in CASES[student][2]:
        assert words in text, f"{student}'s feedback lacks {words!r}"
    if student in NOTES:
        assert NOTES[student] in text, f"{student}'s feedback lacks the note {NOTES[student]!r}"
    for code in HIDDEN_CODE:
        assert code not in text, f"{student}'s feedback shows hidden-test code {code!r}"


def test_gradebook_holds_everyone_and_was_not_tampered(graded):
    scores = _gradebook_scores(graded["root"])
    assert scores == {s: float(c[1]) for s, c in CASES.items()}


def test_grades_csv(graded):
    import csv

    rows = {r["student_id"]: r for r in csv.DictReader(graded["csv"].open())}
    assert set(rows) == set(CASES)
    assert float(rows["s03_wrong_arch"]["score"]) == 4
    assert rows["s03_wrong_arch"]["tasks"] == "vanilla 4/6"
    assert "could not be read" in rows["s11_truncated"]["notes"]


def test_snooping_was_blocked(graded):
    nb = _graded_nb(graded["root"], "s17_snoop")
    solution = next(c for c in nb.cells if _grade_id(c) == "vanilla-solution")
    out = "".join(o.get("text", "") for o in solution.outputs)
    assert "blocked read" in out and "blocked write" in out, out
    assert "READ" not in out and "WROTE" not in out and "HIDDEN FOUND" not in out, out


def test_library_stderr_did_not_cost_points(graded):
    nb = _graded_nb(graded["root"], "s16_library_stderr")
    tests = [c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("grade")]
    assert not any(o.get("name") == "stderr" for c in tests for o in c.outputs)
    moved = [c for c in tests for o in c.outputs if STDERR_MARK in o.get("text", "")]
    assert moved, "the warning should be in a test cell's output, marked as not graded"


def test_regrading_gives_the_same_score(graded):
    root = graded["root"]
    again = autograde([A], students=["s03_wrong_arch", "s12_damaged"], root=root, jobs=2,
                      env=ENV, progress=lambda *_: None, sync=False)
    for result in again:
        first = graded["results"][result.student]
        assert (result.score, result.max_score) == (first.score, first.max_score)
    assert _gradebook_scores(root) == {s: float(c[1]) for s, c in CASES.items()}
