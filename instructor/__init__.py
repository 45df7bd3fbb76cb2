"""Instructor-side code of the course: collecting, autograding and reporting on submissions.

Everything here wraps nbgrader 0.9.6 (configured in ``nbgrader_config.py`` at the
repository root) and fills the gaps the course needs:

- :mod:`instructor.collect`: files or zips per student -> nbgrader's
  ``submitted/<student>/<assignment>/`` layout, with unreadable or misnamed notebooks
  handled and reported;
- :mod:`instructor.autograde`: autograde a class in parallel, one isolated course folder
  and gradebook copy per student, merged into the course gradebook;
- :mod:`instructor.execute`: a sandboxed, crash- and timeout-proof execute step that
  checks every test again outside the kernel (:mod:`instructor.verify`) and reads the
  student's code for tampering (:mod:`instructor.review`);
- :mod:`instructor.preprocessors`: stderr that does not zero test cells, restored
  deleted cells, feedback without hidden tests;
- :mod:`instructor.cells`, :mod:`instructor.scope`: reading nbgrader cells; the cells
  the ``tasks`` scope skips;
- :mod:`instructor.kernel`, :mod:`instructor.sandbox`: the kernel launcher (memory,
  file-size, CPU and process caps, Landlock file-system rules);
- :mod:`instructor.shards`: a class graded in shards on several machines, and merged;
- :mod:`instructor.assignments`, :mod:`instructor.generate`: the assignments, and their
  student version and answer key;
- :mod:`instructor.nbgrader_cli`, :mod:`instructor.gradebook`: nbgrader's command line
  and configuration; the gradebook's cells and scores;
- :mod:`instructor.notes`, :mod:`instructor.feedback`: grading notes; feedback pages and
  grades;
- :mod:`instructor.export`: grades to CSV, with per-task scores and grading notes;
- :mod:`instructor.sample_class`: synthetic submissions to try all of this on.
- :mod:`instructor.runner`: run a notebook in a fresh kernel with a given environment
  (the scripts, benchmarks and tests that run notebooks outside grading);
- :mod:`instructor.limits`: the grading limits, read through :mod:`helpers.settings`.

Run ``python -m instructor --help`` (or the ``make`` targets in the README).
"""

from pathlib import Path

#: The repository root (holds nbgrader_config.py, notebooks/, release/, solutions/).
ROOT = Path(__file__).resolve().parents[1]
