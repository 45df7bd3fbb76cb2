"""A fresh copy of the course's tracked files, as a clean clone has them."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


#: What ``make setup`` is made from (Makefile: its stamp is named by their content).
SETUP_SOURCES = ("requirements.txt", "pyproject.toml")


def setup_due(root: Path) -> bool:
    """Whether ``make`` in ``root`` would run setup (``make -q setup``: make's own say)."""
    return subprocess.run(["make", "-q", "setup"], cwd=root, capture_output=True).returncode != 0


def fresh_copy(dest: Path) -> Path:
    """Copy the tracked files into ``dest``, with the course's ``.venv`` linked (installing
    it again would take minutes); skip the test outside a git checkout, without .venv, or
    when setup is due: ``make`` in the copy would then run it, and point the linked
    environment's editable install and kernel at the copy, which the test then removes."""
    if not (ROOT / ".venv" / "bin" / "nbgrader").exists():
        pytest.skip("no .venv: run make setup")
    if setup_due(ROOT):
        pytest.skip(f"{' or '.join(SETUP_SOURCES)} changed since the last setup: run make setup")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def gradebook_scores(course: Path) -> dict[str, float]:
    """Each student's total in ``course``'s gradebook (manual scores over automatic ones)."""
    with sqlite3.connect(course / "gradebook.db") as db:
        return dict(db.execute(
            "SELECT student.id, SUM(COALESCE(grade.manual_score, grade.auto_score, 0)) "
            "FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = "
            "submitted_assignment.id JOIN student ON submitted_assignment.student_id = "
            "student.id GROUP BY student.id").fetchall())


def assignment_scores(db: Path) -> dict[tuple[str, str], float]:
    """(student, assignment) -> total in the gradebook ``db`` (manual over automatic)."""
    with sqlite3.connect(db) as conn:
        return {(s, a): t for s, a, t in conn.execute(
            "SELECT student.id, assignment.name, "
            "SUM(COALESCE(grade.manual_score, grade.auto_score, 0)) FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = "
            "submitted_assignment.id JOIN assignment ON submitted_assignment.assignment_id "
            "= assignment.id JOIN student ON submitted_assignment.student_id = student.id "
            "GROUP BY student.id, assignment.name")}
