"""Feedback pages for students, and grades for the instructor."""

from __future__ import annotations

import shutil
from pathlib import Path

from nbconvert.exporters import HTMLExporter
from nbgrader.server_extensions.formgrader.handlers import template_path

from instructor import ROOT
from instructor.engine import inert
from instructor.engine.notes import NOTES_FILE
from instructor.workflow.nbgrader_cli import nbgrader


def feedback(names: list[str] | None = None, students: list[str] | None = None,
             root: Path = ROOT) -> None:
    """``nbgrader generate_feedback`` (default: every graded assignment), with the notes."""
    root = Path(root)
    names = names or sorted({p.name for p in (root / "autograded").glob("*/*") if p.is_dir()})
    for name in names:
        for student in students or [None]:
            extra = [f"--student={student}"] if student else []
            nbgrader("generate_feedback", name, "--force", "--log-level=WARN", *extra,
                     root=root)
        for notes in (root / "autograded").glob(f"*/{name}/{NOTES_FILE}"):
            student = notes.parent.parent.name
            if students and student not in students:
                continue
            dest = root / "feedback" / student / name
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(notes, dest / NOTES_FILE)


def export_grades(to: Path, root: Path = ROOT) -> Path:
    """``nbgrader export`` (:class:`~instructor.workflow.export.CourseCsvExport`) to ``to``."""
    to = Path(to).resolve()
    nbgrader("export", f"--to={to}", "--log-level=WARN", root=root)
    return to


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback page with the course's policy and hashed MathJax config."""

    def __init__(self, **kwargs):
        # over nbgrader's configuration of HTMLExporter's template: this one's is its own
        super().__init__(**kwargs, template_name="course_feedback",
                         template_file="feedback.html.j2", extra_template_basedirs=[
            str(Path(__file__).parents[1] / "templates"), template_path])

    def _create_environment(self):
        env = super()._create_environment()
        env.globals.update(course_policy_tag=inert.policy_tag(inert.FEEDBACK_POLICY),
                           course_mathjax_config=inert.MATHJAX_CONFIG,
                           course_mathjax_url=inert.MATHJAX_URL)
        return env
