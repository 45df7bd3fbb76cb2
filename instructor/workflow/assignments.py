"""The course's assignments: one folder of ``notebooks/`` per notebook."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.utils import is_grade

from instructor import ROOT


def assignments(root: Path = ROOT) -> list[str]:
    """Assignment names: the folders of ``notebooks/`` that hold a same-named notebook."""
    base = Path(root) / "notebooks"
    return sorted(p.name for p in base.iterdir()
                  if p.is_dir() and (p / f"{p.name}.ipynb").is_file())


def graded_assignments(root: Path = ROOT) -> list[str]:
    """Assignments with at least one autograded test cell."""
    found = []
    for name in assignments(root):
        nb = nbformat.read(Path(root) / "notebooks" / name / f"{name}.ipynb", as_version=4)
        if any(is_grade(cell) for cell in nb.cells):
            found.append(name)
    return found
