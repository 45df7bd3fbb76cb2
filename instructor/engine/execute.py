"""``SafeExecute``: nbgrader's ``Execute``, hardened for running untrusted notebooks.

- a sandboxed kernel (:mod:`instructor.engine.kernel`, :mod:`instructor.engine.sandbox`),
  run in a scratch folder without the notebook file;
- a clear message on a cell timeout, a time budget per notebook, and recovery from a
  kernel crash or hang: the cell fails, a fresh kernel re-runs the ``grade-setup`` cell
  and the answer and task-context cells before it (not the cell that crashed) and
  grading goes on with the next cell;
- the ``tasks`` scope: cells grading does not need are not run (:mod:`.scope`).
- hidden tests: the kernels get the submission's key for ``helpers.hidden_rng``, never
  the grader's secret, and what a test cell with hidden tests printed, displayed or
  raised is withheld but the course's own messages (:mod:`.hidden`).

It starts :class:`instructor.engine.outside.OutsideCheck` with the notebook and
afterwards hands it the executed notebook: it checks every test again outside the
kernel, with the student's functions answered by their answer cells in a process of
their own, and gives the verdicts. Nothing the kernel writes is read by it.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import tempfile
import time

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Bool, Dict, Float, Integer, List, Unicode

from helpers.grading.hidden import KEY_VARIABLE, submission_key
from instructor.engine import hidden, limits
from instructor.engine.cells import error_output, is_test_cell, nbgrader_meta, release_path
from instructor.engine.kernel import SandboxedKernelManager
from instructor.engine.outside import OutsideCheck, Sandbox, results_as_text
from instructor.engine.scope import cells_to_skip


class SafeExecute(Execute):
    """nbgrader's ``Execute``, hardened for grading untrusted notebooks."""

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
    process_limit = Integer(0, help="Processes and threads of a kernel (0: none)."
                            ).tag(config=True)
    max_restarts = Integer(3, help="Kernel restarts (after a crash or a timeout) before the "
                           "remaining cells are failed.").tag(config=True)
    start_attempts = Integer(3, help="Kernel starts tried when a new kernel dies before it "
                             "replies to kernel_info (it has run no cell).").tag(config=True)
    setup_tag = Unicode("grade-setup", help="The setup cell's tag: re-run in a fresh kernel "
                        "after a crash, with answer and task-* context cells.").tag(config=True)
    scope = Unicode("notebook", help="'notebook': run every cell, as nbgrader does; "
                    "'tasks': skip cells grading does not need (see cells_to_skip)."
                    ).tag(config=True)
    setup_timeout = Integer(180, help="Timeout of the setup cells (they import TensorFlow), "
                            "if longer than the cell timeout.").tag(config=True)
    check_outside = Bool(True, help="Run each test cell again outside the kernel, the "
                         "graded functions answered by the answer cells in a process of "
                         "their own (instructor.engine.outside); a test passes only if it "
                         "passes both times.").tag(config=True)
    verifier_timeout = Integer(600, help="Seconds the outside check of a notebook may take."
                               ).tag(config=True)
    release_notebook = Unicode("", help="The trusted notebook whose setup, context and "
                               "answer cells define what is checked (default: the "
                               "assignment's release).").tag(config=True)
    kernel_environment = Dict(Unicode(), help="The environment of the kernels and of the "
                              "outside check (empty: this process's)").tag(config=True)
    raise_on_iopub_timeout = Bool(False, help="Stop the whole notebook when a cell's "
                                  "output is still arriving iopub_timeout s after it "
                                  "ended (nbgrader: True). Here the cell keeps what "
                                  "arrived and grading goes on.").tag(config=True)
    cell_source_limit_kb = Integer(128, help="Largest source of one cell, KiB: a larger "
                                   "cell is not run and fails (CellTooLarge).").tag(config=True)
    output_limit_mb = Float(8.0, help="Output one cell may keep, MiB: past it, output is "
                            "dropped as it arrives and the cell fails (OutputTooLarge)."
                            ).tag(config=True)
    record_limit_mb = Float(256.0, help="What the outside check reads of one reply of the "
                            "answer process (and what its files unpack to), MiB: more, and "
                            "the test fails unread (RecordTooLarge).").tag(config=True)
    hidden_secret_file = Unicode("", help="File of the grader's secret, from which each "
                                 "submission's hidden-test inputs are drawn (created if "
                                 "missing; empty: no secret, the public draws)."
                                 ).tag(config=True)
    withhold_hidden_outputs = Bool(True, help="Withhold what a test cell with hidden tests "
                                   "printed, displayed or raised, but the course's own "
                                   "messages (instructor.engine.hidden).").tag(config=True)
    course_implementations = Dict(Unicode(), help="Task -> comma-separated names of the "
                                  "course's own implementation of it, which an answer may "
                                  "not call.").tag(config=True)
    own_class_tasks = List(Unicode(), default_value=None, allow_none=True, help=(
        "Tasks whose answers may return models of the student's own class (custom layers, "
        "train_step), checked through proxies in the answer process; a test of any other "
        "task that gets such a model needs review. None: every task.")).tag(config=True)

    def create_kernel_manager(self):
        if self.kernel_manager_class is AsyncKernelManager:
            self.kernel_manager_class = SandboxedKernelManager
        km = super().create_kernel_manager()
        if isinstance(km, SandboxedKernelManager):
            km.memory_limit_gb = self.memory_limit_gb
            km.readable_paths = list(self.readable_paths)
            km.isolation = self.isolation
            km.limits = self._limits()
        return km

    _hidden_key: str = ""

    def _environment(self) -> dict[str, str]:
        """The environment kernels and the outside check start with: ``kernel_environment``
        (empty: this process's), without the grader's secret, with the submission's
        hidden-test key (:mod:`instructor.engine.hidden`)."""
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

    def _limits(self) -> dict:
        return {"file_mb": self.file_limit_mb, "cpu_seconds": self.cpu_limit_seconds,
                "processes": self.process_limit}

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
        return super().output(outs, msg, display_id, cell_index)

    def _output_cap_message(self) -> str:
        return (f"this cell's output passed the grader's limit of {self.output_limit_mb:g} MiB "
                "(COURSE_CELL_OUTPUT_MB); the rest of it was dropped, and the cell fails")

    # -------------------------------------------------------------- helpers
    def _fail_rest(self, cells, start: int, ename: str, evalue: str) -> None:
        for cell in cells[start:]:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [error_output(ename, evalue)]

    def _replayable(self, cell) -> bool:
        """Cells re-run in a fresh kernel: setup, answers and task context (not tests)."""
        tags = cell.metadata.get("tags", [])
        return cell.cell_type == "code" and not is_test_cell(cell) and (
            self.setup_tag in tags or bool(nbgrader_meta(cell).get("solution"))
            or any(t.startswith("task-") for t in tags))

    def _replay(self, cells, upto: int, skip: set[int]) -> None:
        for index, cell in enumerate(cells[:upto]):
            if index not in skip and self._replayable(cell):
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
                stack.enter_context(self.setup_kernel(env=self._environment()))
            except RuntimeError as err:
                if attempt >= self.start_attempts:
                    raise
                self.log.warning("a new kernel died before it replied (%s); starting "
                                 "another (%d of %d)", err, attempt + 1, self.start_attempts)
                continue
            return self.wait_for_reply(self.kc.kernel_info())
        raise RuntimeError("no kernel started")  # start_attempts < 1

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
        scratch = tempfile.mkdtemp(prefix="grading-kernel-")
        # The kernel runs beside copies of the assignment's data files, not beside the
        # notebook (which holds the hidden tests after nbgrader put them back).
        shutil.copytree(source_dir, scratch, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            "*.ipynb", ".ipynb_checkpoints", "*.unreadable"))
        resources.setdefault("metadata", {})["path"] = scratch
        # before anything parses the student's code (the review, the scope analysis)
        for note in limits.refuse_large_sources(nb.cells, self.cell_source_limit_kb):
            self.log.warning("%s", note)
        self._scratch = scratch
        release = self._release(resources)
        self._release_cells = release.cells if release else None
        self._trusted = hidden.string_constants(
            [c.source for c in (release.cells if release else []) if c.cell_type == "code"])
        self._course_dirs = hidden.course_dirs()
        setup = [c.source for c in (release.cells if release else [])
                 if c.cell_type == "code" and self.setup_tag in c.metadata.get("tags", [])]
        self._outside = OutsideCheck(
            nb.cells, release.cells if release else [], setup, scratch,
            Sandbox(list(self.readable_paths), self.memory_limit_gb, self.isolation,
                    self._limits(), self._environment()),
            dict(self.course_implementations), self.verifier_timeout, self.log,
            int(self.record_limit_mb * limits.MIB),
            None if self.own_class_tasks is None else list(self.own_class_tasks))
        try:
            if self.check_outside and self._outside.plan:
                self._outside.start()
            nb, resources = self._run(nb, resources, km)
            results_as_text(nb.cells)
            self._outside.decide(nb.cells)
            return nb, resources
        finally:
            self._outside.stop()
            resources["metadata"]["path"] = source_dir
            shutil.rmtree(scratch, ignore_errors=True)

    def _release(self, resources):
        if self.release_notebook:
            return nbformat.read(self.release_notebook, as_version=4)
        path = release_path(self.config, resources)
        if not path.is_file():
            self.log.warning("no release notebook %s: tests are checked in the kernel only",
                             path)
            return None
        return nbformat.read(path, as_version=4)

    def _execute(self, cell, resources, index: int) -> None:
        """Run one cell; a test cell with hidden tests without ``store_history`` (so
        ``In``, ``_ih`` and IPython's history never hold its code), then
        :meth:`_after_hidden`."""
        if not (self.withhold_hidden_outputs and hidden.has_hidden_tests(cell)):
            self.preprocess_cell(cell, resources, index)
            return
        self._hidden_before = hidden.snapshot(self._scratch)
        self._check_assign_resources(resources)
        self.execute_cell(cell, index, store_history=False)
        self._after_hidden(cell)

    def _after_hidden(self, cell, kernel: bool = True) -> None:
        """A test cell with hidden tests has run: its outputs withheld but the course's
        own messages, the files written while it ran undone, its source out of the
        kernel's ``linecache`` (:mod:`instructor.engine.hidden`)."""
        if not (self.withhold_hidden_outputs and hidden.has_hidden_tests(cell)):
            return
        trusted = self._trusted | hidden.string_constants([cell.source])
        trusted.add(self.error_on_timeout.get("evalue", ""))
        trusted.add(self._output_cap_message())     # the grader's own, not the student's
        hidden.withhold(cell, trusted, self._course_dirs)
        before = getattr(self, "_hidden_before", None)
        if before is not None:
            hidden.undo_writes(self._scratch, before, self._source_dir)
            self._hidden_before = None
        if kernel and not self._timed_out(cell):
            try:
                self.wait_for_reply(self.kc.execute(hidden.FORGET_SOURCE, silent=True,
                                                    store_history=False, allow_stdin=False))
            except Exception as err:  # noqa: BLE001 - best effort; the cell is graded
                self.log.warning("could not clear a hidden test's source: %s", err)

    def _run(self, nb, resources, km):
        """nbconvert's ``ExecutePreprocessor.preprocess`` (the same public nbclient calls:
        ``setup_kernel``, ``wait_for_reply``, ``preprocess_cell``), with what grading adds:
        a time budget per notebook, the ``tasks`` scope, and a fresh kernel after a crash
        or a hang instead of a failed run."""
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self.resources = resources
        timeout = error_output("CellTimeoutError",
                               f"this cell ran longer than {self.timeout} s and was stopped "
                               "(an infinite loop, or far too much work?)")
        self.error_on_timeout = {k: v for k, v in timeout.items() if k != "output_type"}
        deadline = time.monotonic() + self.notebook_timeout

        def cell_timeout(cell) -> int:
            limit = self.timeout or self.notebook_timeout
            if self.setup_tag in cell.metadata.get("tags", []):
                limit = max(limit, self.setup_timeout)
            return max(1, min(limit, int(deadline - time.monotonic()) + 1))

        self.timeout_func = cell_timeout
        cells = self.nb.cells
        skip = set()
        if self.scope == "tasks":
            if self._release_cells is None:
                self.log.warning("scope 'tasks' needs the release notebook; running all")
            else:
                skip = cells_to_skip(cells, self._release_cells, self.setup_tag)
        position, restarts = 0, 0
        broken: set[int] = set()  # cells that crashed or hung the kernel: not replayed
        while position < len(cells):
            restart = False
            with contextlib.ExitStack() as kernel:
                info = self._start_kernel(kernel)
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                if position:
                    try:
                        self._replay(cells, position, broken)
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
                    if position in skip:
                        cell.outputs = [nbformat.v4.new_output(
                            "stream", name="stdout",
                            text="[not run while grading: the graded tasks do not need it]\n")]
                        position += 1
                        continue
                    try:
                        self._execute(cell, resources, position)
                    except CellTimeoutError as err:  # iopub: one cell's, not the notebook's
                        self._after_hidden(cell, kernel=False)
                        cell.outputs.append(error_output(
                            "CellTimeoutError", f"{str(err).splitlines()[0]}; grading went on"))
                        restart = False
                    except DeadKernelError:
                        self._after_hidden(cell, kernel=False)
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
