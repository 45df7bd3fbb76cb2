"""nbgrader configuration of the course (nbgrader 0.9.6).

Folders, relative to this file:

- ``notebooks/<NN_name>/``  the source: one assignment per folder, solutions and hidden
  tests included (``CourseDirectory.source_directory``);
- ``release/<NN_name>/``    the student version (``make release``: ``nbgrader
  generate_assignment``);
- ``solutions/<NN_name>/``  the answer key (``make solutions``: ``nbgrader
  generate_solution``, not executed: see below);
- ``submitted/``, ``autograded/``, ``feedback/``, ``gradebook.db``: the instructor's
  working files (git-ignored).

What this file adds to plain nbgrader, all of it in the ``instructor`` package:

- autograding starts no kernel: each process that runs a student's code runs in a
  sandbox (caps, file and network allow-lists, its own PID and mount namespaces, an
  environment allow-list) with a per-cell timeout, and a crash costs its own cells
  (``instructor.engine.execute``);
- which cells are tests, of which task, with how many points, comes from the release:
  every cell's nbgrader metadata and ``task-*`` / ``grade-setup`` tags are restored from
  it, never read from the submission, and deleted graded cells are put back, in one
  static pass (``RepairSubmission``, in ``instructor.engine.repair``);
- no test cell runs where the student's code runs: each runs in a checking process,
  the graded functions answered by the student's answer cells in another, and its
  verdict and what it printed become its output; the student's own code is read for
  tampering (``instructor.engine.judge``, ``instructor.engine.review``);
- what the student's code printed or displayed, the student's markdown and every
  cell's and the notebook's metadata are stored, and shown in formgrader and the
  feedback page, only as far as allow-lists keep them (``InertContent``, in
  ``instructor.engine.inert``: nh3 and typed metadata);
- feedback shows test results and messages but never hidden-test code.

``COURSE_CELL_TIMEOUT`` (seconds),
``COURSE_SANDBOX_MEMORY_GB``, ``COURSE_SANDBOX_FILE_MB``, ``COURSE_SANDBOX_CPU_SECONDS``,
``COURSE_SANDBOX_PROCESSES``, ``COURSE_SUBMISSION_MEMORY_GB`` and ``COURSE_SANDBOX_DISK_MB``
override the limits below (the test suite uses them);
``COURSE_NBGRADER_DEBUG`` is read here too. All of them are
declared in ``helpers/settings.py``.
"""

import os
import sys
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearMarkScheme,
    ClearOutput,
    GetGrades,
    IgnorePattern,
    IncludeHeaderFooter,
    LimitOutput,
    LockCells,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from helpers import settings
from instructor.engine import limits
from instructor.engine.execute import SafeExecute
from instructor.engine.inert import InertContent
from instructor.engine.preprocessors import GradingNotesInFeedback, HideHiddenTests
from instructor.engine.repair import RepairSubmission
from instructor.workflow.feedback import FeedbackExporter
from instructor.workflow.formgrader import SayWhichGrader

ROOT = Path(__file__).resolve().parent
c = get_config()  # noqa: F821  (nbgrader provides get_config)

# nbgrader runs `alembic` (the gradebook's migrations) from PATH: put this environment's
# own scripts first, so that `.venv/bin/nbgrader ...` works without activating .venv.
os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable),
                                      os.environ.get("PATH", "")])

# ------------------------------------------------------------------ folders
c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "notebooks"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.solution_directory = "solutions"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = f"sqlite:///{ROOT / 'gradebook.db'}"
# GRADING_NOTES.txt is the grader's: one a student submits is neither collected nor
# copied by nbgrader (the course's collect leaves it out too).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                            ".DS_Store", "*.unreadable", "GRADING_NOTES.txt"]

# ------------------------------------------------------------------ exchange
# nbgrader's exchange (release_assignment, fetch_assignment, submit, collect,
# release_feedback, fetch_feedback), used when the course runs on a JupyterHub: the
# exchange is the folder COURSE_EXCHANGE names, shared by every user's server
# (docs/jupyterhub.md; students get the same two settings from
# deploy/jupyterhub/nbgrader_config.py). Without it, exchange/ beside this file
# (git-ignored): nbgrader's student extensions in `make lab` then list an empty course
# instead of showing errors.
c.CourseDirectory.course_id = "autoencoders"
c.Exchange.root = str(settings.path("COURSE_EXCHANGE") or ROOT / "exchange")

# ------------------------------------------------------------------ student version
# The stub left in a solution cell: running it, or a test that calls it, says what to do.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\n"
              "raise NotImplementedError(\"exercise not done yet: replace this line with "
              "your solution\")",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# ------------------------------------------------------------------ answer key
# nbgrader's GenerateSolution also *executes* the notebooks; our answer key is committed,
# so it is kept free of outputs (figures, timings: volatile) and quick to regenerate.
# Run a notebook in notebooks/ to see the outputs.
c.GenerateSolution.preprocessors = [IncludeHeaderFooter, LockCells, ClearOutput, ClearMarkScheme]

# ------------------------------------------------------------------ autograding
# nbgrader sets NBGRADER_EXECUTION while it runs a notebook, and helpers.modes then forces
# fast mode (at most 3 epochs on 6,000 images): the longest cell of a graded notebook
# takes well under a minute on 2 loaded CPU cores, so a cell that runs for
# CELL_TIMEOUT seconds is a runaway (an infinite loop), is stopped and graded as failed.
# The timeout and the caps of the sandboxed processes. No kernel starts: the answer
# process runs the setup and the answer cells, whose outputs it reports, and the other
# cells are not run.
c.SafeExecute.update(limits.safe_execute())  # instructor/engine/limits.py: SAFE_EXECUTE
# Test cells run in the checking process only, with the graded functions answered by the
# student's answer cells in a process of their own (instructor/engine/judge.py). The
# course's own implementations of a task raise there: a test whose call reaches them, by
# any route, scores 0; an answer cell that calls its task's own function by name or
# alias scores 0 on the whole task.
c.SafeExecute.course_implementations = {"psnr": "psnr,mean_psnr", "nearest": "upscale",
                                        "chroma": "mean_chroma", "quantize": "quantize",
                                        "q-sample": "q_sample", "topk": "topk_activation"}
# Only task (d)'s answers need code of their own in a model (a KL layer, train_step): the
# checks ask such models through proxies. Elsewhere a model with code of the
# student's own could tell the probes from real use: its tests need review.
c.SafeExecute.own_class_tasks = ["vae"]
c.SafeExecute.readable_paths = limits.readable_paths()
# Hidden tests draw their inputs per submission from a key the grader derives from this
# secret, the student and the submission's timestamp (instructor/engine/secret.py); the
# file is outside what a sandboxed process may read, and is created on first use.
c.SafeExecute.hidden_secret_file = str(settings.path("COURSE_HIDDEN_SECRET_FILE")
                                       or ROOT / ".grader-secret")

# The one static pass (ours) reads the submission first: cells over the cap refused,
# grading metadata and tags from the release, outputs cleared (ClearOutput's work, before
# nbconvert first validates the notebook), deleted graded cells put back, a note per
# repair; of a copied grade_id one cell keeps it (repair.py says why not nbgrader's own).
c.Autograde.sanitize_preprocessors = [
    RepairSubmission,           # ClearOutput's work included
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadata,
]
c.RepairSubmission.cell_source_limit_kb = settings.integer("COURSE_CELL_SOURCE_KB")
c.Autograde.autograde_preprocessors = [
    SafeExecute,                # ours: no kernel; the tests and answers run outside, sandboxed
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    InertContent,               # ours: stored without anything a browser would run
    AssignLatePenalties,
    SayWhichGrader,             # ours: Formgrader's button says what it leaves out
]

# ------------------------------------------------------------------ feedback
# The grading notes go into the page: nbgrader's exchange sends students the HTML only.
# InertContent again: a notebook graded before it existed is made inert here too.
c.GenerateFeedback.preprocessors = [GetGrades, InertContent, HideHiddenTests,
                                    GradingNotesInFeedback, CSSHTMLHeaderPreprocessor]
# nbgrader's page with the course's Content-Security-Policy, formgrader's button's too.
c.GenerateFeedback.exporter_class = FeedbackExporter

# ------------------------------------------------------------------ grades
c.ExportApp.plugin_class = "instructor.workflow.export.CourseCsvExport"

if settings.flag("COURSE_NBGRADER_DEBUG"):
    c.Application.log_level = "DEBUG"
