"""One submission: checked, repaired, and graded by ``nbgrader autograde`` in a scratch
course folder of its own (docs/grading.md, "How a verdict is reached", steps 2-3).

:func:`grade_one` is the path every submission takes, a student's and the canary's
answer key and stub alike.
"""

from __future__ import annotations

import copy
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
from instructor.engine import check_server, limits, outcomes, protocol
from instructor.engine import release as released
from instructor.engine.cells import is_test_cell, nbgrader_meta, restore_from_release
from instructor.engine.judge import OWN_CODE_NOTE
from instructor.engine.notes import read_notes, write_notes
from instructor.engine.release import Release
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
    """Check (and if needed repair or set aside) a submitted notebook; notes for the student.

    Sizes are checked before anything is parsed, with the settings in ``environ`` over
    this process's environment (docs/grading.md, "Bounded input")."""
    env = {**os.environ, **(environ or {})}
    path = Path(folder) / f"{assignment}.ipynb"
    if not path.exists():
        return [f"No {assignment}.ipynb was submitted: 0 points."]
    size, cap = path.stat().st_size, limits.submission_limit(env)
    if size > cap:
        path.rename(path.with_name(path.name + ".unreadable"))
        return [limits.notebook_too_large(path.name, size, cap)]
    raw = path.read_bytes()
    values = protocol.json_values(raw)
    if values > protocol.MAX_JSON_VALUES:  # parsed, it would take GiBs of the grader's memory
        path.rename(path.with_name(path.name + ".unreadable"))
        return [limits.too_many_values(path.name, values)]
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("the file is JSON but not a notebook")
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        path.rename(path.with_name(path.name + ".unreadable"))
        return [f"{path.name} could not be read as a notebook ({err}); it scores 0. Was the "
                "file truncated or edited outside Jupyter? Download it again from Jupyter "
                "(File > Download) and resubmit."]
    notes = []
    if isinstance(data.get("cells"), list):
        notes += limits.refuse_large_sources(
            data["cells"], settings.integer("COURSE_CELL_SOURCE_KB", env))
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

    notes += repair_metadata(nb, release)
    nbformat.write(nb, path)

    submitted = released.by_grade_id(nb.cells)
    for grade_id, cell in release.graded.items():
        meta = nbgrader_meta(cell)
        if grade_id not in submitted:
            what = "answer cell" if meta.get("solution") else "test cell" \
                if meta.get("grade") else "cell"
            notes.append(f"The {what} '{grade_id}' was missing from the notebook; the grader "
                         "put the original back and graded it.")
        elif meta.get("locked") and submitted[grade_id].source.strip() != cell.source.strip():
            notes.append(f"The locked cell '{grade_id}' was edited; the grader used the "
                         "original.")
    return notes


def _well_formed(meta) -> bool:
    """Whether a cell's nbgrader metadata is what nbgrader can read."""
    if not isinstance(meta, dict) or not isinstance(meta.get("grade_id"), str) \
            or not meta["grade_id"]:
        return False
    if any(not isinstance(meta.get(key, False), bool)
           for key in ("grade", "solution", "locked", "task")):
        return False
    points = meta.get("points")
    return not (meta.get("grade") or meta.get("task")) or (
        isinstance(points, int | float) and not isinstance(points, bool) and not points < 0)


def repair_metadata(nb: nbformat.NotebookNode, release: Release) -> list[str]:
    """Give every cell nbgrader metadata that nbgrader can read; notes on what changed.

    Damaged metadata is restored from the released cell that the cell's id, source or
    place identifies, else dropped (``RestoreMissingCells`` then puts a deleted graded
    cell back). Of cells sharing a grade_id (a copied cell), the one the release
    identifies keeps it; the others run as plain cells.
    """
    graded = release.graded.values()
    by_cell_id = {c.get("id"): c for c in graded if c.get("id")}
    by_source = {c.source.strip(): c for c in graded}
    notes, seen = [], {}
    for position, cell in enumerate(nb.cells):
        metadata = cell.get("metadata")
        if not isinstance(metadata, dict):
            cell["metadata"] = metadata = nbformat.NotebookNode()
        if "nbgrader" not in metadata:
            continue
        meta = metadata["nbgrader"]
        if not _well_formed(meta):
            origin = by_cell_id.get(cell.get("id")) or by_source.get(cell.source.strip())
            placed = origin is None and _answer_cell_in_place(nb, position, release)
            origin = origin or placed
            if origin is not None:
                metadata["nbgrader"] = copy.deepcopy(origin.metadata["nbgrader"])
                notes.append(f"The grading metadata of cell '{metadata['nbgrader']['grade_id']}' "
                             "was damaged; the grader restored it from the assignment"
                             + (" (the cell stands where that answer cell stood, and no "
                                "other cell has its grade_id)." if placed else "."))
            else:
                del metadata["nbgrader"]
                notes.append(f"Cell {position + 1} had damaged grading metadata that matches no "
                             "cell of the assignment; it was graded as a plain cell.")
                continue
        grade_id = metadata["nbgrader"]["grade_id"]
        seen.setdefault(grade_id, []).append(cell)
    for grade_id, cells in seen.items():
        if len(cells) < 2:
            continue
        origin = release.graded.get(grade_id)
        keep = next((c for c in cells if origin is not None
                     and c.get("id") == origin.get("id")), cells[0])
        for cell in cells:
            if cell is not keep:
                del cell.metadata["nbgrader"]
        notes.append(f"{len(cells)} cells had the grade_id '{grade_id}' (a copied cell?); "
                     "the grader graded the assignment's own and ran the others as plain "
                     "cells.")
    return notes + _restore_valid_metadata(nb, release)


def _answer_cell_in_place(nb, position: int, release):
    """The released answer cell the damaged cell at ``position`` stands in for, or
    ``None``: an editor that breaks metadata may give a new id, and the student changed
    the source. Its place identifies it when the nearest identified cell above is
    followed, in the release, by an answer cell whose ``grade_id`` the notebook lacks."""
    present = set(released.by_grade_id(nb.cells))
    for above in reversed(nb.cells[:position]):
        origin = release.origin(above)
        if origin is None:
            continue  # a cell the student added: look further up
        index = next(i for i, c in enumerate(release.cells) if c is origin)
        follower = release.cells[index + 1] if index + 1 < len(release.cells) else None
        meta = nbgrader_meta(follower) if follower is not None else {}
        if meta.get("solution") and meta.get("grade_id") not in present:
            return follower
        return None
    return None


def _restore_valid_metadata(nb: nbformat.NotebookNode, release: Release) -> list[str]:
    """Readable metadata that is not the release's (``grade: false`` on a test cell,
    other points, a task tag changed) restored from the release, with notes
    (``OverwriteCellsFromRelease`` does the same again in nbgrader's run)."""
    notes = []
    for position, cell in enumerate(nb.cells):
        grade_id = nbgrader_meta(cell).get("grade_id")
        origin = release.origin(cell)
        changed = restore_from_release(cell, origin)
        if not changed:
            continue
        name = f"cell '{grade_id}'" if origin is not None and grade_id else \
            f"cell {position + 1}"
        notes.append(f"The grading metadata of {name} was not the assignment's "
                     f"({'; '.join(changed)}); the grader used the assignment's.")
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
    """Notes on the cells of a graded notebook that timed out, crashed, ran out of
    memory, failed outside or were set aside for review: read on test cells, whose
    outputs the grader writes, and in the grader's record of the answer cells (an error
    an answer cell shows is the student's process's, whatever its name)."""
    if nb is None:
        return []
    notes, count, recorded = [], 0, _recorded(nb)
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
    """Grade one submission in its own scratch course folder (runs in a worker thread).

    Whatever goes wrong, only this student's result is ``failed``, with a note.
    ``source``: the submission's folder (default ``<root>/submitted/<student>/<assignment>``).
    """
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
    """grade_ids of the test cells the grader set aside for review (``NeedsReview``; on
    any other cell the name is the student's)."""
    if nb is None:
        return []
    return [nbgrader_meta(c).get("grade_id") for c in nb.cells if is_test_cell(c)
            and any(o.get("output_type") == "error" and o.get("ename") == outcomes.NEEDS_REVIEW
                   for o in c.get("outputs", []))]
