"""One submission: checked, repaired, and graded by ``nbgrader autograde`` in a scratch
course folder of its own (docs/grading.md, "How a verdict is reached", steps 2-3), by
:func:`grade_one`, the path of a student's submission and the canary's alike.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from helpers import settings
from instructor.engine import check_server, limits, outcomes
from instructor.engine import release as released
from instructor.engine.cells import is_test_cell, nbgrader_meta
from instructor.engine.judge import OWN_CODE_NOTE
from instructor.engine.notes import read_notes, write_notes
from instructor.engine.release import Release
from instructor.engine.repair import repaired
from instructor.workflow import nbgrader_server
from instructor.workflow.gradebook import read_submission
from instructor.workflow.nbgrader_cli import nbgrader

#: The note on a test that passed outside through a model with code of the student's own.
OWN_CODE = "was checked through your model's own code, which ran behind the checks"


@dataclass
class Result:
    """The outcome of grading one submission."""

    student: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    failed: bool = False      # the grader itself failed (not the student's code)
    review: list[str] = field(default_factory=list)  # test cells set aside for review
    #: where the grading's seconds went (phase -> seconds; the graded notebook's
    #: ``course_grading.seconds``): the benchmark's table, nothing decides on it
    phases: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        flag = "  GRADER FAILED" if self.failed else "  NEEDS REVIEW" if self.review else ""
        return (f"{self.student:<20} {self.assignment:<32} {self.score:5.1f}/"
                f"{self.max_score:<5.1f} {self.seconds:6.1f} s{flag}")


# ---------------------------------------------------------------- checking a submission
def _rebuild(data: dict, release: Release) -> nbformat.NotebookNode:
    """A valid notebook from a damaged one's cells (type, source, metadata)."""
    cells = []
    for raw in data.get("cells", []):
        if not isinstance(raw, dict):
            continue
        source = raw.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
                "raw": nbformat.v4.new_raw_cell}.get(raw.get("cell_type"))
        if make:
            cells.append(make(source=source, metadata=meta))
    nb = nbformat.v4.new_notebook(cells=cells, metadata=dict(release.notebook.metadata))
    nbformat.validate(nb)
    return nb


def check_submission(folder: Path, assignment: str, release: Release,
                     environ: dict | None = None) -> list[str]:
    """Check a submitted notebook before nbgrader parses it: sizes first, with
    ``environ`` over this process's settings; set aside, or rebuilt if damaged; notes for
    the student. Cells and metadata are repaired in nbgrader's run (:mod:`.repair`)."""
    env = {**os.environ, **(environ or {})}
    path = Path(folder) / f"{assignment}.ipynb"
    if not path.exists():
        return [f"No {assignment}.ipynb was submitted: 0 points."]
    try:
        data = limits.read_notebook(path, env)
    except limits.NotebookUnread as err:
        path.rename(path.with_name(path.name + ".unreadable"))
        return [str(err)]
    notes = []
    if isinstance(data.get("cells"), list):
        notes += limits.drop_large_outputs(
            data["cells"], settings.number("COURSE_CELL_OUTPUT_MB", env))
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # noqa: BLE001 - any damage: try to rebuild
        try:
            nb = _rebuild(data, release)
        except Exception:  # noqa: BLE001
            path.rename(path.with_name(path.name + ".unreadable"))
            return [f"{path.name} is not a valid notebook ({type(err).__name__}); it scores "
                    "0. Download it again from Jupyter and resubmit."]
        notes.append(f"{path.name} was damaged ({type(err).__name__}); the grader rebuilt it "
                     "from its cells' code and graded that.")
    nbformat.write(nb, path)
    return notes


def _recorded(nb: nbformat.NotebookNode) -> dict[str, list]:
    """Answer cell position -> the outcomes the grader recorded on it (name, message):
    the graded notebook's ``course_grading.outcomes``, which only the grader writes."""
    found = nb.metadata.get("course_grading", {})
    found = found.get("outcomes") if isinstance(found, dict) else None
    if not isinstance(found, dict):
        return {}
    return {position: [tuple(str(e).partition(": ")[::2]) for e in entries]
            for position, entries in found.items() if isinstance(entries, list)}


def notes_from_graded(nb: nbformat.NotebookNode | None) -> list[str]:
    """Notes on a graded notebook: the static pass's repairs, and the cells that
    timed out, crashed, ran out of memory, failed outside or await review, read on test
    cells and in the grader's record of the answer cells (never a name the student chose)."""
    if nb is None:
        return []
    notes, count, recorded = repaired(nb), 0, _recorded(nb)
    for position, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        count += 1
        grade_id = nbgrader_meta(cell).get("grade_id")
        where = f"cell '{grade_id}'" if grade_id else f"code cell {count}"
        if is_test_cell(cell):
            found = [(o.get("ename"), o.get("evalue", "")) for o in cell.get("outputs", [])
                     if o.get("output_type") == "error"]
            if any(o.get("output_type") == "stream" and OWN_CODE_NOTE in o.get("text", "")
                   for o in cell.get("outputs", [])):
                notes.append(f"The cell '{grade_id}' {OWN_CODE}.")
        else:
            found = recorded.get(str(position), [])
        for name, evalue in (f for f in found if isinstance(f, list | tuple) and len(f) == 2):
            if name in outcomes.OUTCOMES:
                evalue = str(evalue)
                evalue = evalue if len(evalue) <= 500 else evalue[:500] + " [...]"
                notes.append(f"The {where} {outcomes.OUTCOMES[name].note}: {evalue}")
    return notes


# ---------------------------------------------------------------- one submission
def grade_one(student: str, assignment: str, root: Path, run_dir: Path, env: dict,
               timeout: float, source: Path | None = None,
               ) -> tuple[Result, dict | None, Path | None, str]:
    """Grade one submission in its own scratch course folder (in a worker thread):
    whatever goes wrong, only this student's result is ``failed``, with a note. ``source``:
    its folder (default ``<root>/submitted/<student>/<assignment>``)."""
    start = time.monotonic()
    course = None
    try:
        course = Path(tempfile.mkdtemp(prefix=f"grade-{student}-", dir=run_dir))
        result, found, log = _grade_in(course, student, assignment, root, run_dir, env,
                                       timeout, source)
    except Exception as err:  # noqa: BLE001 - one broken submission costs one student
        result, found = Result(student, assignment), None
        result.failed = True
        result.notes.append(f"The grader could not grade this notebook ({type(err).__name__}: "
                            f"{err}); it scores 0 until the instructor grades it again.")
        log = traceback.format_exc()
    result.seconds = time.monotonic() - start
    return result, found, course, log


def _grade_in(course: Path, student: str, assignment: str, root: Path, run_dir: Path,
              env: dict, timeout: float, source: Path | None = None,
              ) -> tuple[Result, dict | None, str]:
    result = Result(student, assignment)
    shutil.copy2(run_dir / "gradebook.db", course / "gradebook.db")
    shutil.copytree(run_dir / "release" / assignment, course / "release" / assignment)
    shutil.copytree(root / "notebooks" / assignment, course / "notebooks" / assignment,
                    ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
    submitted = course / "submitted" / student / assignment
    shutil.copytree(source or root / "submitted" / student / assignment, submitted)
    release = released.load(run_dir / "release" / assignment / f"{assignment}.ipynb")
    result.notes = read_notes(submitted)
    result.notes += check_submission(submitted, assignment, release, env)
    write_notes(submitted, result.notes)
    try:
        # servers' (a check server's, an nbgrader server's), when the run has them
        with check_server.lease(env) as grading_env, nbgrader_server.lease() as server:
            proc = nbgrader("autograde", assignment, f"--student={student}", "--force",
                            root=course, check=False, capture=True, env=grading_env,
                            timeout=timeout, server=server)
        log = proc.stdout + proc.stderr
        graded_ok = proc.returncode == 0
    except Exception as err:  # noqa: BLE001 - a hung nbgrader, a vanished folder...
        log = f"\n{type(err).__name__}: {err}"
        graded_ok = False
    graded_path = course / "autograded" / student / assignment / f"{assignment}.ipynb"
    found = read_submission(course / "gradebook.db", assignment, student)
    if (submitted / f"{assignment}.ipynb").exists() and not (graded_ok and graded_path.exists()):
        result.failed = True
        result.notes.append("The grader could not grade this notebook (an internal error, "
                            "not your code); it scores 0 until the instructor grades it "
                            "again.")
        found = None
    graded = nbformat.read(graded_path, as_version=4) if graded_path.exists() else None
    result.notes += notes_from_graded(graded)  # a set-aside test's note included
    if graded is not None:
        result.phases = dict(graded.metadata.get("course_grading", {}).get("seconds", {}))
    result.review = needs_review(graded)
    if found and result.review:
        for key in list(found["grades"]):
            if key[1] in result.review:
                found["grades"][key] = (0.0, True)
    return result, found, log


def needs_review(nb: nbformat.NotebookNode | None) -> list[str]:
    """grade_ids of the test cells the grader set aside (``NeedsReview``, on tests only)."""
    if nb is None:
        return []
    return [nbgrader_meta(c).get("grade_id") for c in nb.cells if is_test_cell(c)
            and any(o.get("output_type") == "error" and o.get("ename") == outcomes.NEEDS_REVIEW
                   for o in c.get("outputs", []))]
