"""``SandboxedExecute``: nbgrader's ``Execute`` in a sandboxed kernel, bounded, recovering.

- the kernel starts through :mod:`instructor.engine.kernel` (bubblewrap, caps), in the
  folder nbclient is given;
- a clear message on a cell timeout, a time budget per notebook, a cap on what a cell's
  output keeps, and recovery from a kernel crash or hang: the cell fails, a fresh kernel
  re-runs the ``grade-setup`` cell and the answer and task-context cells before it (not
  the cell that crashed) and the run goes on with the next cell;
What grading adds on top (the outside check, the ``tasks`` scope, where no kernel
starts) is :class:`instructor.engine.execute.SafeExecute`.
"""

from __future__ import annotations

import contextlib
import copy
import time

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Bool, Enum, Float, Integer, List, Unicode

from instructor.engine import cgroups, limits, roles
from instructor.engine.cells import (
    error_output,
    grading_tags,
    is_setup,
    is_test_cell,
    nbgrader_meta,
)
from instructor.engine.kernel import SandboxedKernelManager


@contextlib.contextmanager
def timed(seconds: dict[str, float], phase: str):
    """Add the wall-clock seconds of the block to ``seconds[phase]`` (the benchmark's
    table of where a submission's time goes; nothing decides on them)."""
    start = time.monotonic()
    try:
        yield
    finally:
        seconds[phase] = seconds.get(phase, 0.0) + time.monotonic() - start


class SandboxedExecute(Execute):
    """nbgrader's ``Execute`` in a sandboxed kernel, with limits and crash recovery."""

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

    #: cells the kernel leaves unexecuted, whatever the scope: the test cells, which
    #: the outside check runs (:mod:`instructor.engine.execute`)
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
        """This grading's sandbox, which every process of it starts in (its role
        decides the rest: :mod:`instructor.engine.roles`)."""
        return roles.Box(list(self.readable_paths), self.memory_limit_gb, self.isolation,
                         self.file_limit_mb, self.cpu_limit_seconds, self.process_limit,
                         list(self._group.paths) if self._group else [],
                         self.disk_limit_mb, self._environment())

    def _open_group(self) -> None:
        """This submission's cgroup (:mod:`instructor.engine.cgroups`), which every
        process of its grading joins; where none can be made, the caps are each
        process's and the notebook's metadata says so."""
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
        state = getattr(self, "_output_state", None)
        used, cut = (state[1], state[2]) if state and state[0] is outs else (0, False)
        if not outs:
            used, cut = 0, False  # a new cell, or its output cleared
        if cut:
            return None
        limit = int(self.output_limit_mb * limits.MIB)
        size = limits.text_size(msg.get("content", {}))
        if used + size > limit:
            outs.append(error_output(limits.OUTPUT_TOO_LARGE, self._output_cap_message()))
            self._output_state = (outs, used, True)
            return None
        self._output_state = (outs, used + size, False)
        try:
            return super().output(outs, msg, display_id, cell_index)
        except nbformat.ValidationError as error:
            # The kernel runs the student's code, which can send an output message of its
            # own; one that is not a valid output is dropped, and says so, instead of
            # failing the whole notebook.
            outs.append(error_output(limits.MALFORMED_OUTPUT, (
                f"the kernel sent a {msg.get('msg_type', 'message')!s:.40} output that is "
                f"not a valid notebook output ({str(error.message)[:200]}); it was dropped")))
            return None

    def _output_cap_message(self) -> str:
        return (f"this cell's output passed the grader's limit of {self.output_limit_mb:g} MiB "
                "(COURSE_CELL_OUTPUT_MB); the rest of it was dropped, and the cell fails")

    # -------------------------------------------------------------- restarts
    def _fail_rest(self, cells, start: int, ename: str, evalue: str) -> None:
        for cell in cells[start:]:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [error_output(ename, evalue)]

    def _reruns(self, cell) -> bool:
        """Cells re-run in a fresh kernel: setup, answers and task context (not tests)."""
        return cell.cell_type == "code" and not is_test_cell(cell) and (
            bool(grading_tags(cell)) or bool(nbgrader_meta(cell).get("solution")))

    def _rerun(self, cells, upto: int, skip: set[int]) -> None:
        for index, cell in enumerate(cells[:upto]):
            if index not in skip and self._reruns(cell):
                self.execute_cell(copy.deepcopy(cell), index, store_history=False)

    def _timed_out(self, cell) -> bool:
        ename = self.error_on_timeout.get("ename")
        return any(o.get("output_type") == "error" and o.get("ename") == ename
                   for o in cell.get("outputs", []))

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
                continue
            return info
        raise RuntimeError("no kernel started")  # start_attempts < 1

    def _run(self, nb, resources, km):
        """nbconvert's ``ExecutePreprocessor.preprocess`` (the same public nbclient calls:
        ``setup_kernel``, ``wait_for_reply``, ``preprocess_cell``), with what grading adds:
        a time budget per notebook, and a fresh kernel after a crash
        or a hang instead of a failed run."""
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self.seconds = getattr(self, "seconds", None) or {}
        self.resources = resources
        timeout = error_output("CellTimeoutError",
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
                        self._fail_rest(cells, position, "GradingTimeBudgetExceeded",
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
                            "CellTimeoutError", f"{str(err).splitlines()[0]}; grading went on"))
                        restart = False
                    except DeadKernelError:
                        cell.outputs.append(error_output(
                            "DeadKernelError",
                            "the kernel died while running this cell (os._exit, a crash in "
                            "a library, or memory exhausted); grading went on in a fresh "
                            "kernel from the next cell"))
                        restart = True
                    else:
                        restart = self._timed_out(cell)
                    if restart:
                        broken.add(position)
                    position += 1
                    if restart:
                        break
            if restart:
                restarts += 1
                if restarts > self.max_restarts:
                    self._fail_rest(cells, position, "TooManyKernelRestarts",
                                    f"not run: the kernel crashed or hung {restarts} times")
                    break
        self.set_widgets_metadata()
        return self.nb, self.resources
