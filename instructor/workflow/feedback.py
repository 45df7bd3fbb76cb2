"""Feedback pages for students, and grades for the instructor."""

from __future__ import annotations

import shutil
from pathlib import Path

from instructor import ROOT
from instructor.engine.inert import FEEDBACK_POLICY, policy_tag
from instructor.engine.notes import NOTES_FILE
from instructor.workflow.nbgrader_cli import nbgrader


def feedback(names: list[str] | None = None, students: list[str] | None = None,
             root: Path = ROOT) -> None:
    """``nbgrader generate_feedback`` for ``names`` (default: every graded assignment).

    The HTML comes without hidden-test code (``HideHiddenTests`` in nbgrader_config.py)
    and with what the student controls through allow-lists (``InertContent``), and
    declares a Content-Security-Policy that lets no inline script run (added here:
    nbgrader's template has no place for it); each submission's ``GRADING_NOTES.txt``
    goes beside it, also for a submission that had no notebook to show.
    """
    root = Path(root)
    names = names or sorted({p.name for p in (root / "autograded").glob("*/*") if p.is_dir()})
    for name in names:
        for student in students or [None]:
            extra = [f"--student={student}"] if student else []
            nbgrader("generate_feedback", name, "--force", "--log-level=WARN", *extra,
                     root=root)
        for page in (root / "feedback").glob(f"*/{name}/*.html"):
            if not students or page.parent.parent.name in students:
                declare_policy(page)
        for notes in (root / "autograded").glob(f"*/{name}/{NOTES_FILE}"):
            student = notes.parent.parent.name
            if students and student not in students:
                continue
            dest = root / "feedback" / student / name
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(notes, dest / NOTES_FILE)


def export_grades(to: Path, root: Path = ROOT) -> Path:
    """``nbgrader export`` (``instructor.workflow.export.CourseCsvExport``) to the CSV
    file ``to``."""
    to = Path(to).resolve()
    nbgrader("export", f"--to={to}", "--log-level=WARN", root=root)
    return to


def declare_policy(page: Path) -> None:
    """Put the feedback page's Content-Security-Policy first in its head."""
    text = page.read_text(encoding="utf-8")
    tag = policy_tag(FEEDBACK_POLICY)
    if tag not in text:
        head = text.index("<head>") + len("<head>")
        page.write_text(text[:head] + tag + text[head:], encoding="utf-8")
