"""The gradebook: which assignments it knows, their current cells, one student's scores."""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from instructor import ROOT
from instructor.workflow import nbgrader_server
from instructor.workflow.badges import add_badge_cells
from instructor.workflow.nbgrader_cli import nbgrader


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
