"""Instructor-side code of the course, built on nbgrader 0.9.6 (``nbgrader_config.py``).

Three rooms, each importing only from the ones below it (``tests/test_layout.py``)::

    analytics  ->  workflow  ->  engine  ->  helpers

- :mod:`instructor.engine`: grade *one* notebook safely (docs/grading.md), and a plain
  notebook runner for scripts, benchmarks and tests.
- :mod:`instructor.workflow`: what an instructor drives for a *class*.
- :mod:`instructor.analytics`: what the grades say once a class is graded.

Run ``python -m instructor --help`` (or the ``make`` targets in docs/instructors.md).
"""

from pathlib import Path

#: The repository root (holds nbgrader_config.py, notebooks/, release/, solutions/).
ROOT = Path(__file__).resolve().parents[1]
