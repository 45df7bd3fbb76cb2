"""The course's assignments: one folder of ``notebooks/`` per notebook."""

from __future__ import annotations

from pathlib import Path

import nbformat

from instructor import ROOT
from instructor.engine.cells import nbgrader_meta


def assignments(root: Path = ROOT) -> list[str]:
    """Assignment names: the folders of ``notebooks/`` that hold a same-named notebook."""
    base = Path(root) / "notebooks"
    return sorted(p.name for p in base.iterdir()
                  if p.is_dir() and (p / f"{p.name}.ipynb").is_file())


def graded_assignments(root: Path = ROOT) -> list[str]:
    """Assignments with at least one autograded test cell."""
    base = Path(root) / "notebooks"
    return [name for name in assignments(root)
            if any(nbgrader_meta(c).get("grade") for c in
                   nbformat.read(base / name / f"{name}.ipynb", 4).cells)]
