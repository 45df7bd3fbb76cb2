"""``make preview``: a graded notebook run again in the grading sandbox, for the outputs of
the cells grading does not run (the demos, the figures), for the instructor to look at.

It decides nothing and changes no grade. Each submission's code cells but the tests run
in a sandboxed, bounded kernel (:mod:`instructor.engine.kernel`, one cgroup per
submission), in a scratch folder with copies of the assignment's files and without the
notebook: the kernel never sees a test, hidden or not, nor the grader's secret or a key.
What it prints is stored inert (:class:`instructor.engine.inert.InertContent`), in
``preview/<student>/<assignment>/``.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from traitlets import Bool, Enum, Float, Instance, Integer

from helpers import settings
from instructor import ROOT
from instructor.engine import cgroups, limits, outcomes, roles
from instructor.engine.cells import (
    error_output,
    grading_tags,
    is_setup,
    is_test_cell,
    nbgrader_meta,
)
from instructor.engine.inert import InertContent
from instructor.engine.kernel import SandboxedKernelManager
from instructor.workflow.nbgrader_cli import NBGRADER_DEFAULTS

#: What a test cell shows in a preview.
TEST_NOT_RUN = "[not run in a preview: autograde runs the tests, outside this kernel]\n"


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


class SandboxedRun(NotebookClient):
    """nbclient's run of a notebook in a sandboxed kernel that runs no test cell, with a
    time budget per notebook, a cap on each cell's output, and a fresh kernel after a
    crash or a hang."""

    box = Instance(roles.Box, args=(), help="The sandbox the kernel starts in.")
    notebook_timeout = Integer(900, help="Seconds the whole notebook may run; later cells "
                               "are not run and fail.").tag(config=True)
    setup_timeout = Integer(180, help="Timeout of the setup cells (they import TensorFlow), "
                            "if longer than the cell timeout.").tag(config=True)
    max_restarts = Integer(3, help="Kernel restarts (after a crash or a timeout) before the "
                           "remaining cells are failed.").tag(config=True)
    start_attempts = Integer(3, help="Kernel starts tried when a new kernel dies before it "
                             "replies to kernel_info (it has run no cell).").tag(config=True)
    output_limit_mb = Float(8.0, help="Output one cell may keep, MiB: past it, output is "
                            "dropped as it arrives and the cell fails (OutputTooLarge)."
                            ).tag(config=True)
    allow_errors = Bool(True, help="A cell that raises keeps its error, and the next "
                        "cells run.").tag(config=True)
    shutdown_kernel = Enum(["graceful", "immediate"], "immediate", help="nbclient's "
                           "shutdown: the kernel has nothing to save (its sandbox goes "
                           "with it), so it is killed at once.").tag(config=True)
    raise_on_iopub_timeout = Bool(False, help="Stop the whole notebook when a cell's "
                                  "output is still arriving iopub_timeout s after it "
                                  "ended. Here the cell keeps what arrived.").tag(config=True)

    def create_kernel_manager(self):
        if self.kernel_manager_class is AsyncKernelManager:
            self.kernel_manager_class = SandboxedKernelManager
        km = super().create_kernel_manager()
        if isinstance(km, SandboxedKernelManager):
            km.box = self.box
        return km

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
            # own; one that is not a valid output is dropped, and says so.
            outs.append(error_output(outcomes.MALFORMED_OUTPUT, (
                f"the kernel sent a {msg.get('msg_type', 'message')!s:.40} output that is "
                f"not a valid notebook output ({str(error.message)[:200]}); it was dropped")))
            return None

    # -------------------------------------------------------------- restarts
    def _fail_rest(self, start: int, ename: str, evalue: str) -> None:
        for cell in self.nb.cells[start:]:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [error_output(ename, evalue)]

    def _rerun(self, upto: int, skip: set[int]) -> None:
        """Re-run in a fresh kernel the setup, answer and task-context cells (not tests)."""
        for index, cell in enumerate(self.nb.cells[:upto]):
            if index not in skip and cell.cell_type == "code" and not is_test_cell(cell) and (
                    grading_tags(cell) or nbgrader_meta(cell).get("solution")):
                self.execute_cell(copy.deepcopy(cell), index, store_history=False)

    def _start_kernel(self, stack: contextlib.ExitStack) -> dict:
        """Enter ``setup_kernel`` on ``stack``; the kernel's ``kernel_info`` reply. A kernel
        that dies before it replies (jupyter_client's ``RuntimeError``; nbclient has then
        shut it down) is started again, ``start_attempts`` times in all."""
        for attempt in range(1, self.start_attempts + 1):
            try:
                stack.enter_context(self.setup_kernel(env=self.box.environment))
                return self.wait_for_reply(self.kc.kernel_info())
            except RuntimeError as err:
                if attempt >= self.start_attempts:
                    raise
                self.log.warning("a new kernel died before it replied (%s); starting "
                                 "another (%d of %d)", err, attempt + 1, self.start_attempts)
        raise RuntimeError("no kernel started")  # start_attempts < 1

    def _cell_timeout(self, deadline: float):
        def timeout(cell) -> int:
            limit = self.timeout or self.notebook_timeout
            if is_setup(cell):
                limit = max(limit, self.setup_timeout)
            return max(1, min(limit, int(deadline - time.monotonic()) + 1))
        return timeout

    def execute(self, **kwargs):
        """Every code cell but the tests, in order; a crash or a hang costs that cell, and
        the next cells run in a fresh kernel after the cells they need."""
        self.reset_execution_trackers()
        timeout = error_output(outcomes.CELL_TIMEOUT,
                               f"this cell ran longer than {self.timeout} s and was stopped "
                               "(an infinite loop, or far too much work?)")
        self.error_on_timeout = {k: v for k, v in timeout.items() if k != "output_type"}
        deadline = time.monotonic() + self.notebook_timeout
        self.timeout_func = self._cell_timeout(deadline)
        cells = self.nb.cells
        position, restarts = 0, 0
        broken: set[int] = set()  # cells that crashed or hung the kernel: not re-run
        while position < len(cells):
            restart = False
            with contextlib.ExitStack() as kernel:
                info = self._start_kernel(kernel)
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                if position:
                    with contextlib.suppress(DeadKernelError):
                        self._rerun(position, broken)
                while position < len(cells):
                    if time.monotonic() > deadline:
                        self._fail_rest(position, outcomes.TIME_BUDGET,
                                        f"not run: the notebook used up its time budget "
                                        f"({self.notebook_timeout} s)")
                        position = len(cells)
                        break
                    restart = self._one(cells[position], position)
                    position += 1
                    if restart:
                        broken.add(position - 1)
                        break
            if restart:
                restarts += 1
                if restarts > self.max_restarts:
                    self._fail_rest(position, outcomes.TOO_MANY_RESTARTS,
                                    f"not run: the kernel crashed or hung {restarts} times")
                    break
        self.set_widgets_metadata()
        return self.nb

    def _one(self, cell, position: int) -> bool:
        """Run one cell; whether the kernel must be started again."""
        if cell.cell_type != "code":
            return False
        if is_test_cell(cell):
            cell.execution_count = None
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=TEST_NOT_RUN)]
            return False
        try:
            self.execute_cell(cell, position)
        except CellTimeoutError as err:  # iopub: one cell's, not the notebook's
            cell.outputs.append(error_output(
                outcomes.CELL_TIMEOUT, f"{str(err).splitlines()[0]}; the run went on"))
        except DeadKernelError:
            cell.outputs.append(error_output(
                outcomes.DEAD_KERNEL, "the kernel died while running this cell (os._exit, a "
                "crash in a library, or memory exhausted); the run went on in a fresh "
                "kernel from the next cell"))
            return True
        return any(o.get("output_type") == "error" and
                   o.get("ename") == self.error_on_timeout.get("ename") for o in cell.outputs)


def run_sandboxed(nb, folder: str | os.PathLike, env: dict[str, str] | None = None,
                  **traits) -> nbformat.NotebookNode:
    """Run ``nb`` in place as a preview does, beside copies of ``folder``'s files, under
    the course's settings in ``env`` (default: this process's environment), as grading
    runs a notebook (fast mode unless ``COURSE_MODE`` says otherwise, ``helpers`` as under
    nbgrader), in a cgroup of its own where one can be made; ``traits`` over
    :class:`SandboxedRun`'s."""
    env = {**NBGRADER_DEFAULTS, **(os.environ if env is None else env),
           "NBGRADER_EXECUTION": "autograde"}
    env.pop("MPLBACKEND", None)  # ipykernel's inline figures, whatever the command's
    caps = limits.safe_execute(env)
    group = None
    with contextlib.suppress(cgroups.Unavailable):
        group = cgroups.make(int(float(caps["group_memory_gb"]) * limits.MIB * 1024),
                             int(caps["process_limit"]))
    scratch = tempfile.mkdtemp(prefix="preview-kernel-")
    try:
        copy_data_files(str(folder), scratch)
        box = roles.Box.from_settings(env)
        box.groups = list(group.paths) if group else []
        client = SandboxedRun(nb, box=box, kernel_name="python3",
                              timeout=int(caps["timeout"]),
                              notebook_timeout=settings.integer("COURSE_NOTEBOOK_TIMEOUT", env),
                              output_limit_mb=float(caps["output_limit_mb"]),
                              resources={"metadata": {"path": scratch}}, **traits)
        return client.execute()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if group:
            group.remove()


def preview(assignment: str, students: list[str] | None = None, root: Path = ROOT,
            env: dict[str, str] | None = None, progress=print) -> list[Path]:
    """Run each graded notebook of ``assignment`` (``autograded/<student>/``) in the
    sandbox, and store it inert in ``preview/<student>/<assignment>/``; the paths
    written. A notebook that cannot be run costs its own preview only."""
    written = []
    for folder in sorted((root / "autograded").glob(f"*/{assignment}")):
        student = folder.parent.name
        if students and student not in students:
            continue
        for path in sorted(folder.glob("*.ipynb")):
            out = root / "preview" / student / assignment / path.name
            try:
                nb = nbformat.read(path, as_version=4)
                run_sandboxed(nb, folder, env)
                release = root / "release" / assignment / path.name
                InertContent(release_notebook=str(release)).preprocess(nb, {})
            except Exception as err:  # noqa: BLE001 - one student's, never the class's
                progress(f"{student}/{assignment}: no preview ({type(err).__name__}: {err})")
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out)
            written.append(out)
            progress(f"{student}/{assignment}: {out.relative_to(root)}")
    return written
