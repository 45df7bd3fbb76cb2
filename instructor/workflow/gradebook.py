"""The gradebook: which assignments it knows, their current cells, one student's scores,
and what each grade was made from (the release and the hand-in, as digests)."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import shutil
import sys
import warnings
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from instructor import ROOT
from instructor.engine.cells import nbgrader_meta
from instructor.workflow import nbgrader_server
from instructor.workflow.badges import add_badge_cells
from instructor.workflow.nbgrader_cli import nbgrader

#: In each graded folder (``autograded/<student>/<assignment>/``): what was graded.
GRADED_FROM = "graded_from.json"
_NOT_HANDED_IN = ("timestamp.txt", "GRADING_NOTES.txt")  # collect's, not the student's


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def notebook_digest(path: Path) -> str:
    """What grading reads of a notebook: cells' type, source and nbgrader metadata."""
    nb = nbformat.read(path, as_version=4)
    return digest(json.dumps([[c.cell_type, c.source, nbgrader_meta(c)] for c in nb.cells],
                             sort_keys=True))


def files_digest(paths, base: Path) -> str:
    """Each file's path under ``base`` and its content."""
    return digest(*(f"{p.relative_to(base)}:{digest(p.read_bytes())}" for p in sorted(paths)
                    if p.is_file()))


def grader_files(root: Path = ROOT) -> list[Path]:
    """The code a grading runs besides packages: helpers, instructor, nbgrader_config.py."""
    return [*sorted((root / "helpers").rglob("*.py")),
            *sorted((root / "instructor").rglob("*.py")), root / "nbgrader_config.py"]


def installed_packages() -> list[str]:
    """``name==version`` of every installed distribution."""
    return sorted(f"{d.metadata['Name']}=={d.version}"
                  for d in importlib.metadata.distributions())


def release_digest(root: Path, assignment: str) -> str | None:
    """The release a grade is made against: the source notebook's cells, hidden tests
    included; None when the course has no such assignment (any longer)."""
    path = Path(root) / "notebooks" / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        return None
    info = path.stat()
    return _release_digest(str(path), info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=32)
def _release_digest(path: str, *stamp: int) -> str:
    """Read once per version of the file (a class reads it for every student)."""
    return notebook_digest(Path(path))


def handin_digest(folder: Path) -> str:
    """The hand-in in ``folder`` (``submitted/<student>/<assignment>/``): its files."""
    return files_digest((p for p in Path(folder).rglob("*") if p.name not in _NOT_HANDED_IN),
                        Path(folder))


def stale(root: Path, student: str, assignment: str) -> str | None:
    """Why the grade of ``student``'s ``assignment`` may not be the grade of the hand-in
    and the release there now (a note starting ``STALE:``); None when it is."""
    root, again = Path(root), f"grade again: make autograde ASSIGNMENT={assignment} " \
                               f"STUDENT={student}"
    try:
        graded = json.loads((root / "autograded" / student / assignment / GRADED_FROM)
                            .read_text())
    except (OSError, ValueError):
        graded = None
    if not isinstance(graded, dict) or not graded.get("handin"):
        return ("STALE: graded before grades recorded what they graded (unknown release "
                f"and hand-in); {again}")
    if graded["handin"] != handin_digest(root / "submitted" / student / assignment):
        return f"STALE: handed in again (collected) after it was graded; {again}"
    if graded.get("release") != release_digest(root, assignment):
        return f"STALE: graded against an older release (a test changed since); {again}"
    return None


def in_gradebook(assignment: str, root: Path = ROOT) -> bool:
    """Whether the course's gradebook knows ``assignment`` (with its cells)."""
    db = Path(root) / "gradebook.db"
    if not db.exists():
        return False
    with Gradebook(f"sqlite:///{db}") as gb:
        try:
            return bool(gb.find_assignment(assignment).notebooks)
        except MissingEntry:
            return False


def sync_gradebook(names: list[str], root: Path = ROOT, release_dir: Path | None = None,
                   db: bool = True, gradebook: Path | None = None) -> None:
    """Give the gradebook each assignment's current cells, through ``nbgrader
    generate_assignment`` into ``release_dir`` (default: scratch) with its badge cell;
    ``db=False``: the release only; ``gradebook``: not ``<root>``'s."""
    scratch = Path(release_dir) if release_dir else Path(root) / ".release-tmp"
    try:
        # forked from an nbgrader server when the grader runs one (instructor autograde)
        with nbgrader_server.lease() as server:
            for name in names:
                done = nbgrader("generate_assignment", name, "--force", "--log-level=ERROR",
                                *([] if db else ["--no-db"]),
                                f"--CourseDirectory.release_directory={scratch}", root=root,
                                db=gradebook, capture=True, check=False, server=server)
                sys.stderr.write(done.stdout + done.stderr)
                done.check_returncode()
        if release_dir is not None:
            add_badge_cells(scratch, names)
    finally:
        if release_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


def read_submission(db: Path, assignment: str, student: str):
    if not db.exists():
        return None
    with Gradebook(f"sqlite:///{db}") as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        return {
            "timestamp": sub.timestamp,
            "grades": {(nb.notebook.name, g.name): (g.auto_score, g.needs_manual_grade)
                       for nb in sub.notebooks for g in nb.grades},
            "comments": {(nb.notebook.name, c.name): c.auto_comment
                         for nb in sub.notebooks for c in nb.comments},
            "penalties": {nb.notebook.name: nb.late_submission_penalty
                          for nb in sub.notebooks},
        }


def merge_scores(main_db: Path, assignment: str, student: str, found) -> tuple[float, float]:
    """Write one student's automatic scores into the course gradebook; (score, max)."""
    with Gradebook(f"sqlite:///{main_db}") as gb, warnings.catch_warnings():
        # nbgrader's own update_or_create_submission trips SQLAlchemy's autoflush warning
        warnings.filterwarnings("ignore", message=".*not in session.*")
        gb.update_or_create_student(student)
        kwargs = {"timestamp": found["timestamp"]} if found and found["timestamp"] else {}
        sub = gb.update_or_create_submission(assignment, student, **kwargs)
        for nb in sub.notebooks:
            for grade in nb.grades:
                auto, manual = (found or {}).get("grades", {}).get(
                    (nb.notebook.name, grade.name), (0.0, False))
                grade.auto_score, grade.needs_manual_grade = auto, manual
            for comment in nb.comments:
                comment.auto_comment = (found or {}).get("comments", {}).get(
                    (nb.notebook.name, comment.name))
            if found:
                nb.late_submission_penalty = found["penalties"].get(nb.notebook.name)
        gb.db.commit()
        sub = gb.find_submission(assignment, student)
        return float(sub.score), float(sub.max_score)
