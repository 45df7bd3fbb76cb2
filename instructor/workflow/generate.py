"""The student version (``release/``) and the answer key (``solutions/``), made by nbgrader."""

from __future__ import annotations

import shutil
from pathlib import Path

from nbgrader.converters import GenerateAssignment, GenerateSolution
from nbgrader.coursedir import CourseDirectory

from instructor import ROOT
from instructor.workflow.assignments import assignments
from instructor.workflow.badges import add_badge_cells
from instructor.workflow.gradebook import in_gradebook, sync_gradebook
from instructor.workflow.nbgrader_cli import load_config


def generate(kind: str, names: list[str] | None = None, root: Path = ROOT) -> None:
    """Regenerate ``release`` or ``solutions`` with nbgrader's converters, in this process."""
    names = names or assignments(root)
    folder = Path(root) / kind
    cfg = load_config(root)
    setting = {"release": "release_directory", "solutions": "solution_directory"}[kind]
    cfg.CourseDirectory[setting] = str(folder)
    for name in names:
        if (folder / name).exists():
            shutil.rmtree(folder / name)
        if kind == "solutions" and not in_gradebook(name, root):
            sync_gradebook([name], root)
        coursedir = CourseDirectory(config=cfg)
        coursedir.assignment_id = name
        step = GenerateAssignment if kind == "release" else GenerateSolution
        app = step(coursedir=coursedir, config=cfg)
        app.force = True
        app.start()
        if kind == "release":
            add_badge_cells(folder, [name])
