"""The student version (``release/``) and the answer key (``solutions/``), made by nbgrader."""

from __future__ import annotations

import shutil
from pathlib import Path

from instructor import ROOT
from instructor.workflow.assignments import assignments
from instructor.workflow.badges import add_badge_cells
from instructor.workflow.gradebook import in_gradebook, sync_gradebook
from instructor.workflow.nbgrader_cli import load_config


def generate(kind: str, names: list[str] | None = None, root: Path = ROOT,
             out: Path | None = None) -> None:
    """Regenerate the student version (``release``) or answer key (``solutions``).

    Runs nbgrader's own converters (``generate_assignment``, ``generate_solution``) in
    this process, one assignment after another. Each output folder is rebuilt from
    scratch. ``out`` writes elsewhere than ``<root>/release`` or ``<root>/solutions``
    (the tests regenerate into a temporary folder this way). ``solutions`` needs the
    assignment in the gradebook, so the gradebook gets its cells first when it lacks
    them (:func:`~instructor.workflow.gradebook.sync_gradebook`). Each released notebook
    starts with its badge cell.
    """
    from nbgrader.converters import GenerateAssignment, GenerateSolution
    from nbgrader.coursedir import CourseDirectory

    names = names or assignments(root)
    folder = Path(out) if out else Path(root) / kind
    setting = {"release": "release_directory", "solutions": "solution_directory"}[kind]
    cfg = load_config(root, **{f"CourseDirectory__{setting}": str(folder)})
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
        if kind == "release":   # the "Open in Colab / Kaggle" badges (badges.py)
            add_badge_cells(folder, [name])
