"""``SafeExecute``: nbgrader's ``Execute``, hardened for grading untrusted notebooks
(docs/grading.md, "How a verdict is reached", step 5, and "The grading kernel").

The kernel (``SCOPE=notebook`` only, :mod:`instructor.engine.kernel`) runs the student's
cells for their own outputs, in a scratch folder without the notebook file, and decides
nothing: it never runs a test cell, so neither the tests nor their hidden parts enter
it, and it gets neither the grader's secret nor the submission's key.
:class:`instructor.engine.outside.OutsideCheck` runs every test cell; its verdict becomes
the cell's outputs, which nbgrader scores as usual. Nothing the kernel writes is read by it.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import stat
import tempfile
import time

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Bool, Dict, Enum, Float, Integer, List, Unicode

from helpers.grading.hidden import KEY_VARIABLE, submission_key
from instructor.engine import cgroups, hidden, limits, outcomes, roles
from instructor.engine import release as released
from instructor.engine.cells import (
    error_output,
    grading_tags,
    is_setup,
    is_test_cell,
    nbgrader_meta,
)
from instructor.engine.kernel import SandboxedKernelManager
from instructor.engine.outside import OutsideCheck, stdout


@contextlib.contextmanager
def timed(seconds: dict[str, float], phase: str):
    """Add the wall-clock seconds of the block to ``seconds[phase]`` (for the benchmark;
    nothing decides on them)."""
    start = time.monotonic()
    try:
        yield
    finally:
        seconds[phase] = seconds.get(phase, 0.0) + time.monotonic() - start


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


class SafeExecute(released.FromRelease, Execute):
    """nbgrader's ``Execute``, hardened for grading untrusted notebooks: a sandboxed,
    bounded kernel that runs no test cell, and every test cell run by the outside check,
    whose verdict is the cell's output."""

    notebook_timeout = Integer(900, help="Seconds a whole notebook may run; later cells "
                               "are not run and fail.").tag(config=True)
    memory_limit_gb = Float(8.0, help="Address-space cap of the kernel in GiB (0: none)."
                            ).tag(config=True)
    readable_paths = List(Unicode(), help="Paths the kernel may read besides its "
                          "scratch folder.").tag(config=True)
    isolation = Unicode("bubblewrap", help="How kernels and the outside check are isolated: "
                        "'bubblewrap' (namespaces, no network, a built view of the files), "
                        "or 'limits-only' (caps and the environment allow-list only, for a "
                        "machine where bwrap cannot run; every report then says so)."
                        ).tag(config=True)
    file_limit_mb = Float(0.0, help="Largest file a kernel may write, in MiB (0: none)."
                          ).tag(config=True)
    cpu_limit_seconds = Float(0.0, help="CPU seconds of a kernel, all threads (0: none)."
                              ).tag(config=True)
    process_limit = Integer(0, help="Processes and threads of a submission's grading "
                            "together, in its cgroup; of each process where no cgroup "
                            "can be made (0: none).").tag(config=True)
    group_memory_gb = Float(0.0, help="Memory of a submission's grading together (its "
                            "cgroup: every process, its tmpfs folders), GiB (0: none)."
                            ).tag(config=True)
    disk_limit_mb = Float(0.0, help="Size of each sandboxed process's writable folder, "
                          "a tmpfs, MiB (0: the host's folder)").tag(config=True)
    max_restarts = Integer(3, help="Kernel restarts (after a crash or a timeout) before the "
                           "remaining cells are failed.").tag(config=True)
    start_attempts = Integer(3, help="Kernel starts tried when a new kernel dies before it "
                             "replies to kernel_info (it has run no cell).").tag(config=True)
    scope = Unicode("notebook", help="'notebook': every cell runs in a kernel, as nbgrader "
                    "does; 'tasks': no kernel, only the answer process's setup and answer "
                    "cells (SafeExecute).").tag(config=True)
    setup_timeout = Integer(180, help="Timeout of the setup cells (they import TensorFlow), "
                            "if longer than the cell timeout.").tag(config=True)
    shutdown_kernel = Enum(["graceful", "immediate"], "immediate", help="nbclient's "
                           "shutdown: a grading kernel has nothing to save (its sandbox goes "
                           "with it), so it is killed at once; 'graceful' asked it to exit "
                           "and waited up to 5 s (jupyter_client's shutdown_wait_time, "
                           "then SIGTERM, then SIGKILL) after every notebook and restart."
                           ).tag(config=True)
    raise_on_iopub_timeout = Bool(False, help="Stop the whole notebook when a cell's "
                                  "output is still arriving iopub_timeout s after it "
                                  "ended (nbgrader: True). Here the cell keeps what "
                                  "arrived and grading goes on.").tag(config=True)
    output_limit_mb = Float(8.0, help="Output one cell may keep, MiB: past it, output is "
                            "dropped as it arrives and the cell fails (OutputTooLarge)."
                            ).tag(config=True)

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

    #: cells the kernel leaves unexecuted: the test cells, which the outside check runs
    _unexecuted: frozenset[int] = frozenset()

    def create_kernel_manager(self):
        if self.kernel_manager_class is AsyncKernelManager:
            self.kernel_manager_class = SandboxedKernelManager
        km = super().create_kernel_manager()
        if isinstance(km, SandboxedKernelManager):
            km.box = self._box()
        return km

    #: this submission's cgroup (:meth:`_open_group`), None: caps per process
    _group = None

    def _box(self) -> roles.Box:
        """This grading's sandbox, which every process of it starts in."""
        return roles.Box(list(self.readable_paths), self.memory_limit_gb, self.isolation,
                         self.file_limit_mb, self.cpu_limit_seconds, self.process_limit,
                         list(self._group.paths) if self._group else [],
                         self.disk_limit_mb, self._environment())

    def _open_group(self) -> None:
        """This submission's cgroup, which every process of its grading joins; where none
        can be made, the caps are each process's and the notebook's metadata says so."""
        self._close_group()
        try:
            self._group = cgroups.make(int(self.group_memory_gb * limits.MIB * 1024),
                                       self.process_limit)
        except cgroups.Unavailable as why:
            self.log.warning("caps per process: %s", why)

    def _close_group(self, nb=None) -> None:
        """End what is left of the submission's group and remove it; its peak memory
        goes into ``nb``'s grading metadata."""
        group, self._group = self._group, None
        if nb is not None:
            meta = nb.metadata.setdefault("course_grading", {})
            meta["caps"] = "per submission" if group else "per process"
            peak = group.memory_peak() if group else None
            if peak is not None:
                meta["memory_peak_mb"] = round(peak / limits.MIB)
        if group:
            group.remove()

    # -------------------------------------------------------------- output, bounded
    def output(self, outs, msg, display_id, cell_index):
        """nbclient's handling of one output message, with a cap on what a cell keeps:
        once its outputs would pass ``output_limit_mb``, the rest of its output is
        dropped as it arrives and one error says so (the cell fails)."""
        state = getattr(self, "_output_state", None)  # (outs, bytes kept, cut)
        # a new cell, or its output cleared, starts again
        used, cut = state[1:] if state and state[0] is outs and outs else (0, False)
        if cut:
            return None
        limit = int(self.output_limit_mb * limits.MIB)
        size = limits.text_size(msg.get("content", {}))
        if used + size > limit:
            outs.append(error_output(outcomes.OUTPUT_TOO_LARGE, (
                f"this cell's output passed the grader's limit of {self.output_limit_mb:g} "
                "MiB (COURSE_CELL_OUTPUT_MB); the rest of it was dropped, and the cell fails")))
            self._output_state = (outs, used, True)
            return None
        self._output_state = (outs, used + size, False)
        try:
            return super().output(outs, msg, display_id, cell_index)
        except nbformat.ValidationError as error:
            # The kernel runs the student's code, which can send an output message of its
            # own; one that is not a valid output is dropped, and says so, instead of
            # failing the whole notebook.
            outs.append(error_output(outcomes.MALFORMED_OUTPUT, (
                f"the kernel sent a {msg.get('msg_type', 'message')!s:.40} output that is "
                f"not a valid notebook output ({str(error.message)[:200]}); it was dropped")))
            return None

    # -------------------------------------------------------------- restarts
    def _fail_rest(self, cells, start: int, ename: str, evalue: str) -> None:
        for cell in cells[start:]:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [error_output(ename, evalue)]

    def _rerun(self, cells, upto: int, skip: set[int]) -> None:
        """Re-run in a fresh kernel the setup, answer and task-context cells (not tests)."""
        for index, cell in enumerate(cells[:upto]):
            if index not in skip and cell.cell_type == "code" and not is_test_cell(cell) and (
                    grading_tags(cell) or nbgrader_meta(cell).get("solution")):
                self.execute_cell(copy.deepcopy(cell), index, store_history=False)

    def _start_kernel(self, stack: contextlib.ExitStack) -> dict:
        """Enter ``setup_kernel`` on ``stack``; the kernel's ``kernel_info`` reply. A kernel
        that dies before it replies (jupyter_client's ``RuntimeError``; nbclient has then
        shut it down) is started again, ``start_attempts`` times in all: it never ran a
        cell, and without this one unlucky start fails the whole submission."""
        for attempt in range(1, self.start_attempts + 1):
            try:
                with timed(self.seconds, "kernel start"):
                    stack.enter_context(self.setup_kernel(env=self._environment()))
                    info = self.wait_for_reply(self.kc.kernel_info())
            except RuntimeError as err:
                if attempt >= self.start_attempts:
                    raise
                self.log.warning("a new kernel died before it replied (%s); starting "
                                 "another (%d of %d)", err, attempt + 1, self.start_attempts)
            else:
                return info
        raise RuntimeError("no kernel started")  # start_attempts < 1

    def _run(self, nb, resources, km):
        """nbconvert's ``ExecutePreprocessor.preprocess`` (the same public nbclient calls),
        with a time budget per notebook and a fresh kernel after a crash or a hang."""
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self.resources = resources
        timeout = error_output(outcomes.CELL_TIMEOUT,
                               f"this cell ran longer than {self.timeout} s and was stopped "
                               "(an infinite loop, or far too much work?)")
        self.error_on_timeout = {k: v for k, v in timeout.items() if k != "output_type"}
        deadline = time.monotonic() + self.notebook_timeout

        def cell_timeout(cell) -> int:
            limit = self.timeout or self.notebook_timeout
            if is_setup(cell):
                limit = max(limit, self.setup_timeout)
            return max(1, min(limit, int(deadline - time.monotonic()) + 1))

        self.timeout_func = cell_timeout
        cells = self.nb.cells
        position, restarts = 0, 0
        broken: set[int] = set()  # cells that crashed or hung the kernel: not re-run
        while position < len(cells):
            restart = False
            with contextlib.ExitStack() as kernel:
                info = self._start_kernel(kernel)
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                if position:
                    try:
                        with timed(self.seconds, "replay after a restart"):
                            self._rerun(cells, position, broken)
                    except DeadKernelError:
                        pass
                while position < len(cells):
                    if time.monotonic() > deadline:
                        self._fail_rest(cells, position, outcomes.TIME_BUDGET,
                                        f"not run: the notebook used up its grading time "
                                        f"budget ({self.notebook_timeout} s)")
                        position = len(cells)
                        break
                    cell = cells[position]
                    if position in self._unexecuted:
                        cell.outputs, cell.execution_count = [], None
                        position += 1
                        continue
                    try:
                        with timed(self.seconds,
                                   "setup cells" if is_setup(cell) else "other cells"):
                            self.preprocess_cell(cell, resources, position)
                    except CellTimeoutError as err:  # iopub: one cell's, not the notebook's
                        cell.outputs.append(error_output(
                            outcomes.CELL_TIMEOUT, f"{str(err).splitlines()[0]}; grading went on"))
                    except DeadKernelError:
                        cell.outputs.append(error_output(
                            outcomes.DEAD_KERNEL,
                            "the kernel died while running this cell (os._exit, a crash in "
                            "a library, or memory exhausted); grading went on in a fresh "
                            "kernel from the next cell"))
                        restart = True
                    else:
                        restart = any(o.get("output_type") == "error" and o.get("ename") ==
                                      self.error_on_timeout.get("ename")
                                      for o in cell.get("outputs", []))
                    position += 1
                    if restart:
                        broken.add(position - 1)
                        break
            if restart:
                restarts += 1
                if restarts > self.max_restarts:
                    self._fail_rest(cells, position, outcomes.TOO_MANY_RESTARTS,
                                    f"not run: the kernel crashed or hung {restarts} times")
                    break
        self.set_widgets_metadata()
        return self.nb, self.resources

    _hidden_key: str = ""

    def _environment(self) -> dict[str, str]:
        """The environment this grading's sandboxed processes start from:
        ``kernel_environment`` (empty: this process's) with the submission's key (which
        only a role that holds it keeps), without the grader's secret."""
        env = dict(self.kernel_environment) or dict(os.environ)
        env.pop(roles.SECRET, None)
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
        scratch = None
        # before anything parses the student's code (the review)
        for note in limits.refuse_large_sources(nb.cells, self.cell_source_limit_kb):
            self.log.warning("%s", note)
        self.seconds = {}
        self._outside = None
        try:
            self._open_group()  # before the first sandboxed process starts
            release = self.read_release(resources)  # None: no test can be checked
            kernel = self.scope != "tasks" or release is None
            if release is None and self.scope == "tasks":
                self.log.warning("scope 'tasks' needs the release notebook; running all")
            if kernel:
                scratch = tempfile.mkdtemp(prefix="grading-kernel-")
                copy_data_files(source_dir, scratch)
                resources.setdefault("metadata", {})["path"] = scratch
            self._unexecuted = (release or released.NONE).test_cells(nb.cells)
            self._outside = OutsideCheck(
                nb.cells, release or released.NONE, self._box(),
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

