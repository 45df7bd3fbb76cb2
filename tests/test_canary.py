"""The canary: no student is graded unless the answer key gets full marks and the stub 0.

In a fresh copy of the course, a small assignment (task (e) of notebook 05, whose
hidden test also loads MNIST) is autograded by ``python -m instructor autograde`` as an
instructor runs it: with the data hidden (stops before any student, with a message that
names the test and where the grader looked), with the data present (grades the class,
and a second run reads the canary from the cache), with a broken hidden test (stops),
and with a checker that accepts anything (the stub's canary stops it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import nbformat
import pytest

from instructor.engine.release import hide_hidden
from instructor.workflow import canary
from instructor.workflow.generate import generate
from instructor.workflow.sample_class import make_notebook
from tests.course_copy import ROOT, fresh_copy

pytestmark = pytest.mark.grading

SOURCE_05 = ROOT / "notebooks" / "05_denoising_autoencoders" / "05_denoising_autoencoders.ipynb"
GOOD, BROKEN = "t_canary", "t_canary_broken"
LOADS_MNIST = """
from helpers.datasets import load_mnist
_x = load_mnist(shape="flat").x_test[:4]
assert np.asarray(psnr(np.clip(_x + 0.1, 0, 1), _x)).shape == (4,)
"""
BROKEN_TEST = '\nassert False, "this hidden test is broken"\n'
#: A checker that accepts anything: every error of a graded cell is dropped before
#: nbgrader scores it.
ACCEPT_ANYTHING = """

from nbgrader.preprocessors import NbGraderPreprocessor as _Preprocessor


class AcceptAnything(_Preprocessor):  # enabled, as nbgrader's preprocessors are
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if o.output_type != "error"]
        return cell, resources


c.Autograde.autograde_preprocessors.insert(1, AcceptAnything)
"""


def _assignment(extra_hidden: str) -> nbformat.NotebookNode:
    """Task (e) of notebook 05 alone, its hidden test extended by ``extra_hidden``."""
    src = nbformat.read(SOURCE_05, as_version=4)
    cells = [c for c in src.cells if {"grade-setup", "task-psnr"}
             & set(c.metadata.get("tags", []))]
    hidden = next(c for c in cells if hide_hidden(c.source)[1])
    hidden.source = hidden.source.replace("### END HIDDEN TESTS",
                                          extra_hidden.strip() + "\n### END HIDDEN TESTS")
    return nbformat.v4.new_notebook(cells=cells, metadata=src.metadata)


@pytest.fixture(scope="module")
def course(tmp_path_factory, data_dir, canary_cache):
    tmp = tmp_path_factory.mktemp("canary")
    root = fresh_copy(tmp / "course")
    for name, extra in [(GOOD, LOADS_MNIST), (BROKEN, LOADS_MNIST + BROKEN_TEST)]:
        (root / "notebooks" / name).mkdir()
        nbformat.write(_assignment(extra), root / "notebooks" / name / f"{name}.ipynb")
    generate("release", [GOOD, BROKEN], root=root)
    for name in (GOOD, BROKEN):
        for student, kind in [("alice", "correct"), ("bob", "stub")]:
            folder = root / "submitted" / student / name
            folder.mkdir(parents=True)
            nbformat.write(make_notebook(name, kind, root), folder / f"{name}.ipynb")
    empty = tmp / "nowhere"
    (empty / "data").mkdir(parents=True)
    (empty / "keras" / "datasets").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "COURSE_DATA_DIR", "KERAS_HOME")}
    env.update(COURSE_MODE="fast", MPLBACKEND="Agg", COURSE_CANARY_CACHE=str(canary_cache))
    return {"root": root, "env": env, "data": dict(env, COURSE_DATA_DIR=str(data_dir)),
            "no_data": dict(env, COURSE_DATA_DIR=str(empty / "data"),
                            KERAS_HOME=str(empty / "keras")), "empty": empty}


def _autograde(course: dict, env: str, *args: str) -> subprocess.CompletedProcess:
    python = str(course["root"] / ".venv" / "bin" / "python")
    return subprocess.run([python, "-m", "instructor", "autograde", *args],
                          cwd=course["root"], env=course[env], capture_output=True,
                          text=True, timeout=900)


def _students(root: Path) -> set[str]:
    if not (root / "gradebook.db").exists():
        return set()
    with sqlite3.connect(root / "gradebook.db") as db:
        return {row[0] for row in db.execute(
            "SELECT DISTINCT student.id FROM student JOIN submitted_assignment "
            "ON submitted_assignment.student_id = student.id")}


def _graded(root: Path) -> set[str]:
    return {p.parent.name for p in (root / "autograded").glob("*/*")}


def test_missing_data_stops_before_any_student(course):
    done = _autograde(course, "no_data", "--assignment", GOOD)
    message = done.stderr
    print(message)  # the message an instructor sees (pytest -s)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no student was graded" in message
    # the hidden test's own error is withheld (instructor.engine.secret); the preflight,
    # run from inside the sandbox, names the missing data set
    assert "hidden test of 'psnr-tests-hidden' failed" in message
    assert "dataset 'mnist': DataNotFoundError" in message
    assert str(course["empty"] / "data") in message  # where the grader looked
    assert str(course["empty"] / "keras" / "datasets") in message
    assert "autograding" not in done.stdout
    assert _students(course["root"]) == set() and _graded(course["root"]) == set()


def test_data_present_grades_the_class_and_a_rerun_reads_the_canary(course):
    first = _autograde(course, "data", "--assignment", GOOD, "--student", "alice")
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"canary {GOOD}: answer key 3/3, stub 0/3, " in first.stdout
    assert _students(course["root"]) == {"alice"} == _graded(course["root"])
    # a re-run (here the canary alone, as before plain nbgrader autograde) reads the cache
    again = _autograde(course, "data", "--assignment", GOOD, "--canary-only")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"canary {GOOD}: answer key 3/3, stub 0/3, cached" in again.stdout
    assert "autograding" not in again.stdout


def test_a_broken_hidden_test_fails_the_canary(course):
    done = _autograde(course, "data", "--assignment", BROKEN)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"the answer key of {BROKEN} scored 1/3" in done.stderr
    assert ("hidden test of 'psnr-tests-hidden' failed: AssertionError: this hidden test "
            "is broken") in done.stderr
    assert not any(p.name == BROKEN for p in (course["root"] / "autograded").glob("*/*"))


def test_the_stub_canary_catches_a_checker_that_accepts_anything(course):
    config = course["root"] / "nbgrader_config.py"
    original = config.read_text()
    config.write_text(original + ACCEPT_ANYTHING)
    try:
        done = _autograde(course, "data", "--assignment", GOOD, "--student", "bob")
    finally:
        config.write_text(original)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"the released stub of {GOOD} scored 3/3 (it must score 0)" in done.stderr


def test_what_an_assignment_loads():
    assert canary.needs("02_stacked_autoencoders") == (["fashion_mnist", "mnist"], [])
    datasets, weights = canary.needs("08_variational_autoencoder")
    assert datasets == ["mnist"] and "08_vae" in weights


def test_one_preflight_tells_each_assignment_what_it_lacks(tmp_path, data_dir):
    """One sandboxed process checks every assignment's data; each assignment is told
    only of what it needs and cannot load."""
    import shutil

    (tmp_path / "data").mkdir()
    (tmp_path / "keras").mkdir()
    shutil.copy(data_dir / "mnist.npz", tmp_path / "data")
    env = {"COURSE_DATA_DIR": str(tmp_path / "data"), "KERAS_HOME": str(tmp_path / "keras")}
    found, looked = canary.preflight(["02_stacked_autoencoders", "08_variational_autoencoder"],
                                     ROOT, tmp_path / "work", env)
    assert [p.split(":")[0] for p in found["02_stacked_autoencoders"]] == [
        "dataset 'fashion_mnist'"]
    assert found["08_variational_autoencoder"] == []  # mnist is there, and its weights
    assert str(tmp_path / "data") in looked


def test_a_preflight_that_dies_hides_no_assignments_missing_data(monkeypatch, tmp_path):
    """When the one process for all dies (a cap, while loading one assignment's data),
    each assignment is checked alone: another's missing dataset is still named, so its
    cached canary is not trusted."""
    wanted = {"a_mnist": (["mnist"], []), "c_cifar": (["cifar10"], []), "none": ([], [])}
    calls = []

    def run(datasets, weights, work, env):
        calls.append(sorted(datasets))
        if "cifar10" in datasets:
            return "the preflight could not run in the sandbox (exit -9): Killed"
        return {"looked": ["/data"], "problems": {n: f"dataset '{n}': missing"
                                                  for n in datasets}}

    monkeypatch.setattr(canary, "needs", lambda name, root: wanted[name])
    monkeypatch.setattr(canary, "_run_preflight", run)
    found, looked = canary.preflight(list(wanted), ROOT, tmp_path)
    assert calls == [["cifar10", "mnist"], ["mnist"], ["cifar10"]]
    assert found["a_mnist"] == ["dataset 'mnist': missing"] and looked == ["/data"]
    assert found["c_cifar"][0].startswith("the preflight could not run")
    assert "none" not in found  # nothing to load, nothing to warn of

def test_the_cache_key_follows_the_release_and_the_settings(tmp_path):
    name = "02_stacked_autoencoders"
    release = tmp_path / "release.ipynb"
    release.write_bytes((ROOT / "release" / name / f"{name}.ipynb").read_bytes())
    key = ROOT / "solutions" / name / f"{name}.ipynb"
    first = canary.cache_key(name, ROOT, release, key, {})
    assert canary.cache_key(name, ROOT, release, key, {}) == first
    assert canary.cache_key(name, ROOT, release, key, {"COURSE_CELL_TIMEOUT": "17"}) != first
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        cell["id"] = cell["id"][::-1]  # rewritten by nbgrader or Jupyter: not graded
    nbformat.write(nb, release)
    assert canary.cache_key(name, ROOT, release, key, {}) == first
    nb.cells[-1].source += "\n# changed"
    nbformat.write(nb, release)
    assert canary.cache_key(name, ROOT, release, key, {}) != first


# ---------------------------------------------------------------- the cache, without grading
class _Graded:
    """What grading the key or the stub returns, as the stand-in for ``_grade_all``
    gives it (``canary.run_all`` judges it as it judges a real run)."""

    def __init__(self, score: float, max_score: float = 3.0):
        self.score, self.max_score, self.failed, self.notes = score, max_score, False, []
        self.seconds = 1.0


@pytest.fixture
def cheap(tmp_path, monkeypatch):
    """A course and a copy of the grader's code in ``tmp_path``, with the canary's two
    gradings replaced by a stand-in that counts its calls and gives ``scores``."""
    from instructor.engine.cells import nbgrader_meta

    course, code = tmp_path / "course", tmp_path / "code"
    for folder in ("helpers", "instructor"):
        (code / folder).mkdir(parents=True)
        (code / folder / "__init__.py").write_text("# the code\n")
    (code / "nbgrader_config.py").write_text("c = get_config()\n")
    nb = _assignment("")
    for folder in ("notebooks", "solutions"):
        (course / folder / GOOD).mkdir(parents=True)
        nbformat.write(nb, course / folder / GOOD / f"{GOOD}.ipynb")
    run_dir = tmp_path / "run"
    (run_dir / "release" / GOOD).mkdir(parents=True)
    nbformat.write(nb, run_dir / "release" / GOOD / f"{GOOD}.ipynb")
    calls, scores, batches = [], {"key": 3.0, "stub": 0.0}, []
    stub_nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "x", outputs=[nbformat.v4.new_output("error", ename="NotImplementedError",
                                             evalue=canary.stub_message(), traceback=[])])])

    def grade_all(todo, root, run_dir, env, timeout, jobs):
        batches.append([(assignment, who) for assignment, who, _ in todo])
        out = {}
        for assignment, who, _folder in todo:
            if who == canary.KEY:
                calls.append(assignment)
                key = nbformat.v4.new_notebook(cells=[c for c in nb.cells
                                                      if nbgrader_meta(c).get("grade")])
                out[assignment, who] = (_Graded(scores["key"]), key, "")
            else:
                out[assignment, who] = (_Graded(scores["stub"]), stub_nb, "")
        return out

    monkeypatch.setattr(canary, "ROOT", code)
    monkeypatch.setattr(canary, "_grade_all", grade_all)
    monkeypatch.setattr(canary, "preflight", lambda *args, **kwargs: ({}, []))
    packages = canary.installed_packages()
    monkeypatch.setattr(canary, "installed_packages", lambda: packages)
    env = {"COURSE_CANARY_CACHE": str(tmp_path / "cache")}

    def run(**kwargs):
        return canary.run_all([GOOD], course, run_dir, env, progress=lambda line: None,
                              **kwargs)[0]

    return {"course": course, "code": code, "run_dir": run_dir, "calls": calls,
            "batches": batches, "nb": nb, "env": env,
            "scores": scores, "run": run, "packages": packages, "cache": tmp_path / "cache"}


def test_a_passed_canary_is_read_from_the_cache(cheap):
    first = cheap["run"]()
    assert first.ok and not first.cached and cheap["calls"] == [GOOD]
    again = cheap["run"]()
    assert again.ok and again.cached and cheap["calls"] == [GOOD]  # not graded again
    assert (again.key_score, again.stub_score, again.max_score) == (3, 0, 3)
    assert "cached" in again.line()


def _edit_notebook(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].source += "\n# changed"
    nbformat.write(nb, path)


CHANGES = {
    "release": lambda c: _edit_notebook(c["run_dir"] / "release" / GOOD / f"{GOOD}.ipynb"),
    "source": lambda c: _edit_notebook(c["course"] / "notebooks" / GOOD / f"{GOOD}.ipynb"),
    "data file of the source": lambda c: (
        c["course"] / "notebooks" / GOOD / "table.csv").write_text("1,2\n"),
    "answer key": lambda c: _edit_notebook(c["course"] / "solutions" / GOOD / f"{GOOD}.ipynb"),
    "helpers": lambda c: (c["code"] / "helpers" / "__init__.py").write_text("# changed\n"),
    "instructor": lambda c: (c["code"] / "instructor" / "report.py").write_text("# new\n"),
    "nbgrader_config.py": lambda c: (c["code"] / "nbgrader_config.py").write_text("c = 1\n"),
    "a package's version": lambda c: c["packages"].append("numpy==0.0.1"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_of_any_input_grades_the_canary_again(cheap, change):
    cheap["run"]()
    CHANGES[change](cheap)
    again = cheap["run"]()
    assert not again.cached and cheap["calls"] == [GOOD, GOOD]


def test_a_failed_canary_is_never_cached(cheap):
    cheap["scores"]["key"] = 2.0
    for _ in range(2):
        failed = cheap["run"]()
        assert not failed.ok and not failed.cached
    assert cheap["calls"] == [GOOD, GOOD]
    assert not list(cheap["cache"].glob("*.json"))
    cheap["scores"]["key"] = 3.0
    assert cheap["run"]().ok and len(cheap["calls"]) == 3


@pytest.mark.parametrize("damage", [b"", b'{"assignment": "t_canary", "key_sc',
                                    b'{"assignment": "t_canary", "unknown": 1}',
                                    b'{"assignment": "t_canary"}', b"[]", b'"\xc3'])
def test_a_damaged_cache_entry_is_graded_again_and_written_whole(cheap, damage):
    """An entry cut short (an older grader stopped while writing it, a full disk, in the
    middle of a character), of another grader's fields or missing one (a missing
    ``problems`` would read as a pass) is not trusted; the new one replaces it in one step."""
    cheap["run"]()
    [entry] = cheap["cache"].glob("*.json")
    entry.write_bytes(damage)
    again = cheap["run"]()
    assert again.ok and not again.cached and cheap["calls"] == [GOOD, GOOD]
    assert json.loads(entry.read_text())["key_score"] == 3
    assert not list(cheap["cache"].glob("*.partial"))
    assert cheap["run"]().cached and len(cheap["calls"]) == 2


def test_an_instructor_can_force_a_rerun(cheap):
    cheap["run"]()
    forced = cheap["run"](rerun=True)
    assert forced.ok and not forced.cached and len(cheap["calls"]) == 2
    assert cheap["run"]().cached and len(cheap["calls"]) == 2


def test_the_keys_and_stubs_of_all_assignments_share_one_pool(cheap):
    """Every key before any stub, in one batch for the pool of graders; a cached
    canary grades nothing."""
    other = "t_canary_other"
    for folder in (cheap["course"] / "notebooks", cheap["course"] / "solutions",
                   cheap["run_dir"] / "release"):
        (folder / other).mkdir(parents=True)
        nbformat.write(cheap["nb"], folder / other / f"{other}.ipynb")
    cheap["run"]()  # GOOD's canary passes and is cached
    done = canary.run_all([other, GOOD], cheap["course"], cheap["run_dir"], cheap["env"],
                          progress=lambda line: None, jobs=2)
    assert [c.assignment for c in done] == [other, GOOD] and all(c.ok for c in done)
    assert done[1].cached and not done[0].cached
    assert cheap["batches"][-1] == [(other, canary.KEY), (other, canary.STUB)]
    canary.run_all([other, GOOD], cheap["course"], cheap["run_dir"], cheap["env"],
                   progress=lambda line: None, rerun=True)
    assert cheap["batches"][-1] == [(GOOD, canary.KEY), (other, canary.KEY),
                                    (GOOD, canary.STUB), (other, canary.STUB)]


def test_the_key_leaves_the_ungraded_exercises_as_released(tmp_path):
    """The key's graded answers are the solutions; its exercise answers are the
    released stubs (they score nothing, and would run every demo they use)."""
    from instructor.engine.cells import is_exercise_answer, nbgrader_meta

    name = "05_denoising_autoencoders"
    release = ROOT / "release" / name / f"{name}.ipynb"
    key = nbformat.read(canary.answer_key(name, ROOT, tmp_path, release), as_version=4)
    released = {nbgrader_meta(c).get("grade_id"): c.source
                for c in nbformat.read(release, as_version=4).cells}
    exercises = [c for c in key.cells if is_exercise_answer(c)]
    answers = [c for c in key.cells if nbgrader_meta(c).get("solution")
               and not is_exercise_answer(c)]
    assert exercises and answers
    assert all(c.source == released[nbgrader_meta(c)["grade_id"]] for c in exercises)
    assert all(c.source != released[nbgrader_meta(c)["grade_id"]] for c in answers)
    assert all(not c.get("outputs") for c in key.cells if c.cell_type == "code")
