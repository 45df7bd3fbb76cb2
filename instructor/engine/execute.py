"""``SafeExecute``: nbgrader's ``Execute``, hardened for grading untrusted notebooks.

On top of :class:`instructor.engine.sandboxed_run.SandboxedExecute` (a sandboxed kernel,
bounded, recovering from crashes; the ``tasks`` scope), run in a scratch folder without
the notebook file:

- the kernel runs the student's cells for their own outputs and decides nothing: it
  never runs a test cell, so neither the tests nor their hidden parts enter it, and it
  gets neither the grader's secret nor the submission's key;
- :class:`instructor.engine.outside.OutsideCheck` runs every test cell, hidden parts
  included, in a checking process of its own, the student's functions answered by their
  answer cells in an answer process; its verdict, message and what the test printed
  become the test cell's outputs, which nbgrader scores as usual. Nothing the kernel
  writes is read by it.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile

from traitlets import Dict, Float, Integer, List, Unicode

from helpers.grading.hidden import KEY_VARIABLE, submission_key
from instructor.engine import hidden, limits
from instructor.engine import release as released
from instructor.engine.cells import is_setup
from instructor.engine.outside import OutsideCheck, stdout
from instructor.engine.sandboxed_run import SandboxedExecute, timed


def copy_data_files(source: str, dest: str) -> None:
    """The files the kernel runs beside: copies of the assignment's data files, not the
    notebook (which holds the hidden tests after nbgrader put them back). Only regular
    files and folders: a link (a student's files can hold one to a file of the machine)
    is neither followed nor copied."""
    skip = shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "*.unreadable")

    def ignore(folder: str, names: list[str]) -> set[str]:
        modes = {n: os.lstat(os.path.join(folder, n)).st_mode for n in names}
        return set(skip(folder, names)) | {
            n for n, m in modes.items() if not (stat.S_ISREG(m) or stat.S_ISDIR(m))}

    shutil.copytree(source, dest, dirs_exist_ok=True, symlinks=True, ignore=ignore)


#: What a cell the ``tasks`` scope does not run shows.
NOT_RUN = ("[not run while grading: the grader runs only the setup and your answer cells, "
           "in a process of their own, and the tests]\n")
#: What the setup cell shows there: it ran before the answer cells, its output not kept.
SETUP_RUN = "[run while grading before your answer cells; its output is not kept]\n"


class SafeExecute(released.FromRelease, SandboxedExecute):
    """nbgrader's ``Execute``, hardened for grading untrusted notebooks: a sandboxed,
    bounded kernel (:class:`SandboxedExecute`) that runs no test cell, and every test
    cell run by the outside check, whose verdict is the cell's output."""

    verifier_timeout = Integer(600, help="Seconds the outside check of a notebook may take."
                               ).tag(config=True)
    kernel_environment = Dict(Unicode(), help="The environment of the kernels and of the "
                              "outside check (empty: this process's)").tag(config=True)
    cell_source_limit_kb = Integer(128, help="Largest source of one cell, KiB: a larger "
                                   "cell is not run and fails (CellTooLarge).").tag(config=True)
    record_limit_mb = Float(256.0, help="What the outside check reads of one reply of the "
                            "answer process (and what its files unpack to), MiB: more, and "
                            "the test fails unread (RecordTooLarge).").tag(config=True)
    hidden_secret_file = Unicode("", help="File of the grader's secret, from which each "
                                 "submission's hidden-test inputs are drawn (created if "
                                 "missing; empty: no secret, the public draws)."
                                 ).tag(config=True)
    course_implementations = Dict(Unicode(), help="Task -> comma-separated names of the "
                                  "course's own implementation of it, which an answer may "
                                  "not call.").tag(config=True)
    own_class_tasks = List(Unicode(), default_value=None, allow_none=True, help=(
        "Tasks whose answers may return models of the student's own class (custom layers, "
        "train_step), checked through proxies in the answer process; a test of any other "
        "task that gets such a model needs review. None: every task.")).tag(config=True)

    _hidden_key: str = ""

    def _environment(self) -> dict[str, str]:
        """The environment this grading's sandboxed processes start from:
        ``kernel_environment`` (empty: this process's) with the submission's hidden-test
        key (:mod:`instructor.engine.hidden`), which only a role that holds it keeps
        (:mod:`instructor.engine.roles`), without the grader's secret."""
        env = dict(self.kernel_environment) or dict(os.environ)
        env.pop("COURSE_HIDDEN_SECRET_FILE", None)
        env.pop(KEY_VARIABLE, None)
        if self._hidden_key:
            env[KEY_VARIABLE] = self._hidden_key
        return env

    def _set_hidden_key(self, resources: dict, folder: str) -> None:
        """This submission's key: the grader's secret, the student, the timestamp."""
        self._hidden_key = ""
        if self.hidden_secret_file:
            student = str(resources.get("nbgrader", {}).get("student") or "")
            self._hidden_key = submission_key(hidden.read_secret(self.hidden_secret_file),
                                              student, hidden.submission_stamp(folder))

    # -------------------------------------------------------------- the run
    def preprocess(self, nb, resources=None, km=None):
        if self.execute_retries:
            self.log.warning("SafeExecute does not re-run whole notebooks "
                             "(Execute.execute_retries=%d is not used): a crashed or hung "
                             "kernel is restarted at the next cell, up to max_restarts=%d "
                             "times", self.execute_retries, self.max_restarts)
        resources = resources if resources is not None else {}
        source_dir = resources.get("metadata", {}).get("path") or os.getcwd()
        self._set_hidden_key(resources, source_dir)
        self._source_dir = source_dir
        scratch = None
        # before anything parses the student's code (the review)
        for note in limits.refuse_large_sources(nb.cells, self.cell_source_limit_kb):
            self.log.warning("%s", note)
        self.seconds = {}
        self._outside = None
        try:
            self._open_group()  # before the first sandboxed process starts
            release = self.read_release(resources)  # None: no test can be checked
            self._release = release or released.NONE
            kernel = self.scope != "tasks" or release is None
            if release is None and self.scope == "tasks":
                self.log.warning("scope 'tasks' needs the release notebook; running all")
            if kernel:
                scratch = tempfile.mkdtemp(prefix="grading-kernel-")
                copy_data_files(source_dir, scratch)
                resources.setdefault("metadata", {})["path"] = scratch
            self._unexecuted = self._release.test_cells(nb.cells)
            self._outside = OutsideCheck(
                nb.cells, self._release,
                self._box(),
                dict(self.course_implementations), self.verifier_timeout, self.log,
                int(self.record_limit_mb * limits.MIB),
                None if self.own_class_tasks is None else list(self.own_class_tasks),
                (self.timeout or 0, int(self.output_limit_mb * limits.MIB)))
            if self._outside.plan:
                with timed(self.seconds, "outside check start"):
                    self._outside.start()
            if kernel:
                nb, resources = self._run(nb, resources, km)
            else:
                self._not_run(nb.cells)
            nb.metadata["course_grading"] = {}  # the grader's own: never the student's
            meta = nb.metadata["course_grading"]  # (the node stores a copy of the dict)
            meta["isolation"] = self.isolation
            with timed(self.seconds, "outside check (waited for)"):
                self._outside.decide(nb.cells)
            if not kernel:
                self._outside.answer_outputs(nb.cells)
            self._close_group(nb)
            meta["seconds"] = {k: round(v, 2) for k, v in self.seconds.items()}
            return nb, resources
        finally:
            if self._outside is not None:
                self._outside.stop()
            self._close_group()
            resources.setdefault("metadata", {})["path"] = source_dir
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)

    def _not_run(self, cells) -> None:
        """The ``tasks`` scope: no kernel; every code cell but the tests (the outside
        check's) and the answers (the answer process's) says it was not run."""
        for cell in cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
                if cell.source.strip():
                    cell.outputs = [stdout(SETUP_RUN if is_setup(cell) else NOT_RUN)]

