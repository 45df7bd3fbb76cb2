"""Gradescope: one ``autograder.zip`` per assignment (:func:`build`), and the grading of one
hand-in in Gradescope's container (:func:`grade`) through the course's own one-submission
path, :func:`instructor.workflow.submission.grade_one`, into Gradescope's ``results.json``
(docs/instructors.md, "Gradescope"). ``deploy/gradescope/`` holds the zip's scripts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from helpers import settings
from instructor import ROOT
from instructor.engine import check_server, sandbox
from instructor.engine.cells import is_test_cell, nbgrader_meta
from instructor.engine.notes import write_notes
from instructor.engine.release import hide_hidden
from instructor.engine.secret import read_secret
from instructor.workflow import nbgrader_server
from instructor.workflow.canary import needs
from instructor.workflow.collect import choose_notebook, grade_ids
from instructor.workflow.export import task_of
from instructor.workflow.gradebook import sync_gradebook
from instructor.workflow.nbgrader_cli import grading_env
from instructor.workflow.submission import grade_one

SCRIPTS = ROOT / "deploy" / "gradescope"
#: The course's code in the zip (under ``course/``); installed where the grading user reads it.
CODE = ("helpers", "instructor", "pyproject.toml", "requirements.txt", "nbgrader_config.py")
#: Each dataset's files in a data folder (helpers.datasets.STAGING).
DATA = {"mnist": ["mnist.npz"], "fashion_mnist": ["fashion-mnist"], "cifar10": ["cifar10.npz"]}
#: The one student id of a Gradescope grading (the scratch gradebook's only).
STUDENT = "gradescope"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
_TASK = re.compile(r"graded task \(([a-z])\)", re.I)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def build(assignment: str, dest: Path | None = None, data_dir: Path | None = None,
          hidden_visibility: str = "after_published") -> Path:
    """``build/gradescope/<assignment>/autograder.zip``: the scripts at its root; the
    course's code, the assignment's release, weights and data under ``course/``; its
    hidden tests (a gradebook of this assignment alone) and the secret under ``grading/``."""
    dest = Path(dest or ROOT / "build" / "gradescope" / assignment)
    datasets, weights = needs(assignment)
    data_dir = data_dir or settings.path("COURSE_DATA_DIR")
    secret = settings.path("COURSE_HIDDEN_SECRET_FILE") or ROOT / ".grader-secret"
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / "autograder.zip"
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(
            out.with_suffix(".tmp"), "w", zipfile.ZIP_DEFLATED) as z:
        sync_gradebook([assignment], release_dir=Path(tmp) / "release",
                       gradebook=Path(tmp) / "gradebook.db")

        def add(path: Path, name: str) -> None:
            for f in sorted([path] if path.is_file() else path.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    z.write(f, f"{name}/{f.relative_to(path)}" if f != path else name)

        for script in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(script)
            info.external_attr = 0o100755 << 16
            z.writestr(info, (SCRIPTS / script).read_bytes())
        for part in CODE:
            add(ROOT / part, f"course/{part}")
        for name in weights:
            for suffix in (".json", ".weights.npz"):
                add(ROOT / "weights" / f"{name}{suffix}", f"course/weights/{name}{suffix}")
        add(Path(tmp) / "release" / assignment, f"course/release/{assignment}")
        for f in (ROOT / "notebooks" / assignment).iterdir():  # what grading copies beside
            if f.suffix != ".ipynb" and f.name != ".ipynb_checkpoints":
                add(f, f"course/notebooks/{assignment}/{f.name}")
        z.writestr(f"course/notebooks/{assignment}/.keep", "")
        for name in datasets:
            for rel in DATA[name]:
                if data_dir and (Path(data_dir) / rel).exists():
                    add(Path(data_dir) / rel, f"data/{rel}")
        add(Path(tmp) / "gradebook.db", "grading/gradebook.db")
        z.writestr("grading/secret", read_secret(secret).decode() + "\n")
        z.writestr("grading/assignment.json", json.dumps({
            "assignment": assignment, "datasets": datasets,
            "hidden_visibility": hidden_visibility}))
    out.with_suffix(".tmp").replace(out)
    return out


# ---------------------------------------------------------------- one hand-in
def isolation(env: dict) -> tuple[str, str]:
    """The isolation to grade with here, and the flag results.json's output carries:
    bubblewrap where it starts, else the grading user, the caps and the seccomp filter."""
    if env.get("COURSE_GRADING_ISOLATION"):
        chosen = env["COURSE_GRADING_ISOLATION"]
    else:
        chosen = "bubblewrap" if sandbox.unavailable() is None else "grading-user"
    if chosen == "bubblewrap":
        return chosen, ""
    return chosen, (f"Isolation: {chosen} (bubblewrap cannot start in this container): your "
                    "code ran as an unprivileged user under the course's caps and seccomp "
                    "filter, without namespaces. The instructor may review this grade.")


def grade(submission: Path, results: Path, grading: Path, root: Path = ROOT,
          env: dict | None = None, timeout: float = 3600) -> dict:
    """Grade the hand-in in folder ``submission`` with the zip's ``grading/`` folder as
    ``run_autograder`` does; write and return Gradescope's results."""
    start = time.monotonic()
    meta = json.loads((grading / "assignment.json").read_text())
    assignment = meta["assignment"]
    env = {**(env or {}), "COURSE_HIDDEN_SECRET_FILE": str(grading / "secret")}
    env["COURSE_GRADING_ISOLATION"], flag = isolation({**os.environ, **env})
    with tempfile.TemporaryDirectory(prefix="gradescope-") as tmp:
        tmp = Path(tmp)
        run_dir, handin = tmp / "run", tmp / "hand-in"
        shutil.copytree(grading / "release", run_dir / "release") if (
            grading / "release").exists() else shutil.copytree(
            root / "release" / assignment, run_dir / "release" / assignment)
        shutil.copy(grading / "gradebook.db", run_dir / "gradebook.db")
        (run_dir / "gradebook.db").chmod(0o600)  # hidden tests: root's only
        handin.mkdir()
        release_nb = run_dir / "release" / assignment / f"{assignment}.ipynb"
        chosen, notes = choose_notebook(submission, assignment, grade_ids(release_nb))
        if chosen is not None:
            shutil.copyfile(chosen, handin / f"{assignment}.ipynb")
        (handin / "timestamp.txt").write_text(_timestamp(submission))
        write_notes(handin, notes)
        with check_server.running(1, run_dir, grading_env(env)), \
                nbgrader_server.running(1, run_dir):
            result, found, course, _log = grade_one(STUDENT, assignment, root, run_dir, env,
                                                    timeout, source=handin)
        graded = course and course / "autograded" / STUDENT / assignment / f"{assignment}.ipynb"
        nb = nbformat.read(graded if graded and graded.exists() else release_nb, 4)
        with Gradebook(f"sqlite:///{run_dir / 'gradebook.db'}") as gb:  # the tests' source
            hidden = {c.name for c in gb.find_notebook(assignment, assignment).source_cells
                      if hide_hidden(c.source, "")[1]}
    tests = test_results(nb, found, assignment, hidden, meta.get("hidden_visibility"))
    score = sum(t["score"] for t in tests)
    flags = ([flag] if flag else []) + (
        ["NEEDS REVIEW: the instructor grades " + ", ".join(result.review) + " by hand."]
        if result.review else []) + (["GRADER FAILED: " + result.notes[-1]]
                                     if result.failed else [])
    lines = [f"Autoencoders course · {assignment} · {score:g} of "
             f"{sum(t['max_score'] for t in tests):g} points", *flags,
             *([""] + [f"- {n}" for n in result.notes] if result.notes else [])]
    out = {"score": 0.0 if result.failed else score, "output": "\n".join(lines),
           "visibility": "visible", "stdout_visibility": "hidden",
           "execution_time": round(time.monotonic() - start), "tests": tests,
           "extra_data": {"isolation": env["COURSE_GRADING_ISOLATION"],
                          "needs_review": result.review, "grader_failed": result.failed}}
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(out, indent=1))
    return out


def _timestamp(submission: Path) -> str:
    """Gradescope's ``created_at`` (submission_metadata.json beside the hand-in), or now."""
    try:
        meta = json.loads((submission.parent / "submission_metadata.json").read_text())
        return str(meta["created_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def test_results(nb, found: dict | None, assignment: str, hidden: set[str],
                 visibility: str | None) -> list[dict]:
    """One Gradescope test per graded test cell: points from nbgrader's gradebook (0 when
    the grade failed), output as the feedback page shows it (hidden tests' code never);
    ``hidden``: the grade ids of cells with hidden tests, seen at ``visibility``."""
    grades = (found or {}).get("grades", {})
    task, tests = "", []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (m := _TASK.search(cell.source)):
            task = m.group(1)
        if cell.cell_type != "code" or not is_test_cell(cell):
            continue
        meta = nbgrader_meta(cell)
        grade_id, points = meta["grade_id"], float(meta.get("points", 0))
        score, review = grades.get((assignment, grade_id), (0.0, False))
        had_hidden = grade_id in hidden
        cell_name = grade_id.removeprefix(task_of(grade_id) + "-").replace("-", " ")
        tests.append({
            "name": f"({task}) {task_of(grade_id)} · {cell_name}" if task else grade_id,
            "score": float(score or 0), "max_score": points,
            "status": "passed" if (score or 0) >= points else "failed",
            "output": ("Set aside for the instructor's review. " if review else "")
            + _output(cell, had_hidden),
            "visibility": (visibility or "after_published") if had_hidden else "visible"})
    return tests


def _output(cell, had_hidden: bool) -> str:
    """The cell's printed output and errors, as the feedback page shows them."""
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}" if had_hidden
                         else "\n".join(o.get("traceback", [])))
    return _ANSI.sub("", "\n".join(parts)).strip()[:20000]


def grade_zip(zip_path: Path, notebook: Path, results: Path) -> dict:
    """``gradescope-run``: grade ``notebook`` with ``zip_path`` as ``run_autograder``
    would, without a container, with this clone's grader."""
    with tempfile.TemporaryDirectory(prefix="gradescope-run-") as tmp:
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(tmp)
        grading, submission = Path(tmp) / "grading", Path(tmp) / "submission"
        grading.chmod(0o700)
        shutil.copytree(Path(tmp) / "course" / "release", grading / "release")
        submission.mkdir()
        shutil.copy(notebook, submission / Path(notebook).name)
        env = {}
        if (Path(tmp) / "data").is_dir() and not settings.path("COURSE_DATA_DIR"):
            env["COURSE_DATA_DIR"] = str(Path(tmp) / "data")
        return grade(submission, results, grading, env=env)


def main() -> None:
    """``run_autograder``'s grading, in Gradescope's layout; a grader that fails still
    writes a result (0, saying so), never none."""
    results = Path("/autograder/results/results.json")
    try:
        grade(Path("/autograder/submission"), results, Path("/autograder/source/grading"))
    except Exception as err:  # noqa: BLE001 - the student is told, the log has the rest
        results.write_text(json.dumps({"score": 0.0, "output": (
            f"The grader could not grade this hand-in ({type(err).__name__}: {err}); it "
            "scores 0 until the instructor grades it again."), "tests": []}))
        raise


if __name__ == "__main__":
    main()
