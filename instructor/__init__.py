"""Instructor-side code of the course, built on nbgrader 0.9.6 (``nbgrader_config.py``), in
three rooms, each importing only from those below it (``tests/test_layout.py``)::

    analytics  ->  workflow  ->  engine  ->  helpers

the engine grading *one* notebook safely (docs/grading.md), the workflow what an
instructor drives for a *class*, analytics what its grades say (``python -m instructor``).
"""

from pathlib import Path

#: The repository root (holds nbgrader_config.py, notebooks/, release/, solutions/).
ROOT = Path(__file__).resolve().parents[1]
