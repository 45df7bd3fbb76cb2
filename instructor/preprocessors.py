"""nbgrader preprocessors of the course (wired up in ``nbgrader_config.py``).

Autograding (``Autograde.sanitize_preprocessors`` / ``autograde_preprocessors``):

- :class:`RestoreMissingCells`: a graded cell the student deleted comes back from the
  release (test cells then get their hidden tests back from the gradebook, through
  nbgrader's ``OverwriteCells``), so deleting a test cannot dodge it.
- :class:`SafeExecute`: nbgrader's ``Execute`` with a sandboxed kernel (memory cap,
  file-system allow-list; :mod:`instructor.sandbox`), run in a scratch folder without
  the notebook file, a clear message on a cell timeout, a time budget per notebook, and
  recovery from a kernel crash or hang: the cell fails, a fresh kernel re-runs the
  ``grade-setup`` cell and the answer and task-context cells before it (not the cell
  that crashed) and grading goes on with the next cell.
- :class:`StderrToStdoutInTests`: nbgrader gives 0 points to a test cell that wrote
  anything to stderr; TensorFlow's C++ threads log there asynchronously, so a correct
  answer could lose points to a library's log line. Stderr of test cells is kept (as
  stdout, marked) but no longer decides the grade: errors do.

Feedback (``GenerateFeedback.preprocessors``):

- :class:`HideHiddenTests`: the student sees each test cell, whether it passed and the
  message of a failing check, never the code of a hidden test (nbgrader #917, #1363).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from nbformat.corpus.words import generate_corpus_id
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Dict, Float, Integer, List, Unicode

from instructor import review

SANDBOX = Path(__file__).resolve().parent / "sandbox.py"
VERIFY = Path(__file__).resolve().parent / "verify.py"
#: The kernel's records of graded calls, inside its scratch folder (helpers.evidence).
EVIDENCE = ".grading-evidence"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
#: Marks stderr text that a test cell wrote, moved to stdout by StderrToStdoutInTests.
STDERR_MARK = "[stderr, not graded] "


def nbgrader_meta(cell) -> dict:
    """A cell's nbgrader metadata; ``{}`` when there is none or it is not a mapping."""
    meta = cell.get("metadata", {})
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


_meta = nbgrader_meta


def is_test_cell(cell) -> bool:
    """An autograded test cell: a code cell with points and no student answer."""
    meta = _meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) \
        and not meta.get("solution")


def task_of(cell) -> str | None:
    """The task a cell belongs to (its ``task-<name>`` tag), if any."""
    tags = cell.get("metadata", {}).get("tags", [])
    tags = tags if isinstance(tags, list) else []
    return next((t[5:] for t in tags if isinstance(t, str) and t.startswith("task-")), None)


def graded_calls(cells, release_cells) -> dict[int, tuple[str, str, list[str]]]:
    """Test cell index -> (key, task, the graded functions it calls).

    The key (``<index>-<grade_id>``) names the cell's records and verdict. The graded
    functions of a task are those its released answer cell defines.
    """
    functions: dict[str, list[str]] = {}
    for cell in release_cells:
        task = task_of(cell)
        if task and cell.cell_type == "code" and nbgrader_meta(cell).get("solution"):
            for name in review.defined_functions(cell.source):
                if name not in functions.setdefault(task, []):
                    functions[task].append(name)
    plan = {}
    for index, cell in enumerate(cells):
        task = task_of(cell)
        if task and is_test_cell(cell) and functions.get(task):
            key = f"{index:03d}-{nbgrader_meta(cell).get('grade_id')}"
            plan[index] = (key, task, functions[task])
    return plan


def student_sources(cells, release_cells) -> list[str]:
    """The code the student wrote or changed: answer cells and every code cell that is
    not one of the released instructor cells."""
    released = {c.source.strip() for c in release_cells if c.cell_type == "code"
                and not nbgrader_meta(c).get("solution")}
    own = []
    for cell in cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or (not meta.get("solution") and (
                meta.get("locked") or is_test_cell(cell)
                or cell.source.strip() in released)):
            continue  # locked and test cells: nbgrader restored them from the gradebook
        own.append(cell.source)
    return own


def error_output(ename: str, evalue: str) -> nbformat.NotebookNode:
    """An error output as a kernel would have produced it (so nbgrader scores it 0)."""
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                  traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


# ====================================================================== kernel sandbox
class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start through :mod:`instructor.sandbox`."""

    memory_limit_gb = Float(0.0, help="Address-space cap of the kernel in GiB (0: none)."
                            ).tag(config=True)
    readable_paths = List(Unicode(), help="Paths the kernel may read.").tag(config=True)
    use_landlock = Bool(True, help="Apply the file-system allow-list.").tag(config=True)
    limits = Dict(help="Further caps: file_mb, cpu_seconds, processes (0: none)."
                  ).tag(config=True)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        cwd = kw.get("cwd") or os.getcwd()
        kw["env"] = sandbox_env(cwd, kw.get("env"))
        readable = list(self.readable_paths)
        if "-f" in kernel_cmd:  # the connection file
            readable.append(kernel_cmd[kernel_cmd.index("-f") + 1])
        command = sandbox_command(kernel_cmd, cwd, readable, self.memory_limit_gb,
                                  self.use_landlock, **self.limits)
        await super()._async_launch_kernel(command, **kw)


def sandbox_env(cwd: str, env: dict | None = None) -> dict:
    """The environment of a sandboxed process working in ``cwd`` (temp files there)."""
    env = dict(env or os.environ)
    tmp = os.path.join(cwd, ".tmp")
    os.makedirs(tmp, exist_ok=True)
    env.update({"TMPDIR": tmp, "IPYTHONDIR": os.path.join(cwd, ".ipython"),
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def sandbox_command(command: list[str], cwd: str, readable: list[str], memory_gb: float,
                    landlock: bool = True, file_mb: float = 0, cpu_seconds: float = 0,
                    processes: int = 0) -> list[str]:
    """``command`` prefixed by :mod:`instructor.sandbox`: read ``readable``, write ``cwd``,
    under the given caps (0: none)."""
    wrapper = [sys.executable, str(SANDBOX), "--memory-gb", str(memory_gb),
               "--file-mb", str(file_mb), "--cpu-seconds", str(cpu_seconds),
               "--processes", str(processes)]
    if not landlock:
        wrapper.append("--no-landlock")
    for path in readable:
        wrapper += ["--ro", path]
    for path in (cwd, "/dev"):
        wrapper += ["--rw", path]
    return [*wrapper, "--", *command]


# ====================================================================== execution
_DYNAMIC = {"globals", "locals", "exec", "eval", "vars", "__import__"}


def names_of(source: str) -> tuple[set[str], set[str]] | None:
    """(names a cell defines, names it uses); ``None`` when it cannot be analysed
    (not Python, a magic, a star import or dynamic access to the namespace)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    defined, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, ast.Store | ast.Del) else used).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    return None
                defined.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    if used & _DYNAMIC:
        return None
    return defined, used


def cells_to_skip(cells, release_cells, setup_tag: str = "grade-setup") -> set[int]:
    """Indices of cells grading does not need: unchanged, untagged instructor cells
    (demos, figures, long training) whose names no needed cell uses.

    Needed: the setup cell, every ``task-*`` cell, every nbgrader cell, every cell the
    student added or changed, and, transitively, every earlier cell that defines a name
    a needed cell uses. If any needed cell cannot be analysed, nothing is skipped.
    """
    demo_sources = {c.source.strip() for c in release_cells if c.cell_type == "code"
                    and not _meta(c) and not c.metadata.get("tags")}
    analysed, demo = [], []
    for cell in cells:
        tags = cell.metadata.get("tags", [])
        is_demo = (cell.cell_type == "code" and not _meta(cell) and setup_tag not in tags
                   and not any(t.startswith("task-") for t in tags)
                   and cell.source.strip() in demo_sources)
        demo.append(is_demo)
        analysed.append(names_of(cell.source) if cell.cell_type == "code" else (set(), set()))
    wanted: set[str] = set()
    skip: set[int] = set()
    for index in reversed(range(len(cells))):
        names = analysed[index]
        if not demo[index]:
            if names is None:
                if cells[index].source.strip():
                    return set()
                continue
            wanted |= names[1]
        elif names is None or names[0] & wanted:
            wanted |= names[1] if names else set()
        else:
            skip.add(index)
    return skip


class SafeExecute(Execute):
    """nbgrader's ``Execute``, hardened for grading untrusted notebooks."""

    notebook_timeout = Integer(900, help="Seconds a whole notebook may run; later cells "
                               "are not run and fail.").tag(config=True)
    memory_limit_gb = Float(8.0, help="Address-space cap of the kernel in GiB (0: none)."
                            ).tag(config=True)
    readable_paths = List(Unicode(), help="Paths the kernel may read besides its "
                          "scratch folder.").tag(config=True)
    use_landlock = Bool(True, help="Restrict the kernel's file access (Linux Landlock)."
                        ).tag(config=True)
    file_limit_mb = Float(0.0, help="Largest file a kernel may write, in MiB (0: none)."
                          ).tag(config=True)
    cpu_limit_seconds = Float(0.0, help="CPU seconds of a kernel, all threads (0: none)."
                              ).tag(config=True)
    process_limit = Integer(0, help="Processes and threads of a kernel (0: none)."
                            ).tag(config=True)
    max_restarts = Integer(3, help="Kernel restarts (after a crash or a timeout) before the "
                           "remaining cells are failed.").tag(config=True)
    setup_tag = Unicode("grade-setup", help="The setup cell's tag: re-run in a fresh kernel "
                        "after a crash, with answer and task-* context cells.").tag(config=True)
    scope = Unicode("notebook", help="'notebook': run every cell, as nbgrader does; "
                    "'tasks': skip cells grading does not need (see cells_to_skip)."
                    ).tag(config=True)
    setup_timeout = Integer(180, help="Timeout of the setup cells (they import TensorFlow), "
                            "if longer than the cell timeout.").tag(config=True)
    check_outside = Bool(True, help="Run each test cell again outside the kernel on what "
                         "the graded functions returned (instructor.verify); a test passes "
                         "only if it passes both times.").tag(config=True)
    verifier_timeout = Integer(600, help="Seconds the outside check of a notebook may take."
                               ).tag(config=True)
    release_notebook = Unicode("", help="The trusted notebook whose setup, context and "
                               "answer cells define what is checked (default: the "
                               "assignment's release).").tag(config=True)
    course_implementations = Dict(Unicode(), help="Task -> comma-separated names of the "
                                  "course's own implementation of it, which an answer may "
                                  "not call.").tag(config=True)

    def create_kernel_manager(self):
        if self.kernel_manager_class is AsyncKernelManager:
            self.kernel_manager_class = SandboxedKernelManager
        km = super().create_kernel_manager()
        if isinstance(km, SandboxedKernelManager):
            km.memory_limit_gb = self.memory_limit_gb
            km.readable_paths = list(self.readable_paths)
            km.use_landlock = self.use_landlock
            km.limits = self._limits()
        return km

    def _limits(self) -> dict:
        return {"file_mb": self.file_limit_mb, "cpu_seconds": self.cpu_limit_seconds,
                "processes": self.process_limit}

    # -------------------------------------------------------------- helpers
    def _fail_rest(self, cells, start: int, ename: str, evalue: str) -> None:
        for cell in cells[start:]:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [error_output(ename, evalue)]

    def _replayable(self, cell) -> bool:
        """Cells re-run in a fresh kernel: setup, answers and task context (not tests)."""
        tags = cell.metadata.get("tags", [])
        return cell.cell_type == "code" and not is_test_cell(cell) and (
            self.setup_tag in tags or bool(_meta(cell).get("solution"))
            or any(t.startswith("task-") for t in tags))

    def _replay(self, cells, upto: int, skip: set[int]) -> None:
        for index, cell in enumerate(cells[:upto]):
            if index not in skip and self._replayable(cell):
                self.execute_cell(copy.deepcopy(cell), index, store_history=False)

    def _skippable(self, cells, resources) -> set[int]:
        info = resources.get("nbgrader", {})
        coursedir = CourseDirectory(config=self.config)
        path = Path(coursedir.format_path(coursedir.release_directory, ".",
                                          info.get("assignment", ""))) / \
            f"{info.get('notebook', '')}.ipynb"
        if not path.is_file():
            self.log.warning("scope 'tasks' needs the release notebook %s; running all", path)
            return set()
        return cells_to_skip(cells, nbformat.read(path, as_version=4).cells, self.setup_tag)

    def _timed_out(self, cell) -> bool:
        ename = self.error_on_timeout.get("ename")
        return any(o.get("output_type") == "error" and o.get("ename") == ename
                   for o in cell.get("outputs", []))

    # -------------------------------------------------------------- the run
    def preprocess(self, nb, resources=None, km=None):
        resources = resources if resources is not None else {}
        source_dir = resources.get("metadata", {}).get("path") or os.getcwd()
        scratch = tempfile.mkdtemp(prefix="grading-kernel-")
        # The kernel runs beside copies of the assignment's data files, not beside the
        # notebook (which holds the hidden tests after nbgrader put them back).
        shutil.copytree(source_dir, scratch, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            "*.ipynb", ".ipynb_checkpoints", "*.unreadable", EVIDENCE))
        resources.setdefault("metadata", {})["path"] = scratch
        release = self._release(resources)
        self._plan = graded_calls(nb.cells, release.cells if release else [])
        self._evidence = Path(scratch) / EVIDENCE
        self._evidence.mkdir(exist_ok=True)
        checker = None
        try:
            if self.check_outside and self._plan:
                checker = self._start_checker(self._setup_sources(release))
            nb, resources = self._run(nb, resources, km)
            self._check(nb, release, checker)
            checker = None
            return nb, resources
        finally:
            if checker is not None:
                checker.kill()
            resources["metadata"]["path"] = source_dir
            shutil.rmtree(scratch, ignore_errors=True)

    def _release(self, resources):
        if self.release_notebook:
            return nbformat.read(self.release_notebook, as_version=4)
        info = resources.get("nbgrader", {})
        coursedir = CourseDirectory(config=self.config)
        path = Path(coursedir.format_path(coursedir.release_directory, ".",
                                          info.get("assignment", ""))) / \
            f"{info.get('notebook', '')}.ipynb"
        if not path.is_file():
            self.log.warning("no release notebook %s: tests are checked in the kernel only",
                             path)
            return None
        return nbformat.read(path, as_version=4)

    # -------------------------------------------------------------- the outside check
    def _setup_sources(self, release) -> list[str]:
        return [c.source for c in (release.cells if release else []) if c.cell_type == "code"
                and self.setup_tag in c.metadata.get("tags", [])]

    def _start_checker(self, setup: list[str]):
        """The checking process, started now: it runs the setup cells (TensorFlow's
        import) while the notebook runs."""
        import json
        import subprocess

        work = tempfile.mkdtemp(prefix="grading-check-")
        readable = [*self.readable_paths, str(VERIFY.parent), str(self._evidence)]
        command = sandbox_command([sys.executable, str(VERIFY), os.path.join(work, "out.json")],
                                  work, readable, self.memory_limit_gb, self.use_landlock,
                                  **self._limits())
        proc = subprocess.Popen(command, cwd=work, env=sandbox_env(work),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        proc.work = work
        try:
            proc.stdin.write(json.dumps(setup) + "\n")
            proc.stdin.flush()
        except OSError:
            pass  # it died at once: no verdicts, every checked test fails
        return proc

    def _record(self, index: int, wrap: bool) -> None:
        """Wrap (or unwrap) the graded functions a test cell calls, in the kernel."""
        grade_id, _task, names = self._plan[index]
        call = (f"wrap(globals(), {names!r}, {str(self._evidence / grade_id)!r})" if wrap
                else f"unwrap(globals(), {names!r})")
        code = f"import helpers.evidence as _e\n_e.{call}\ndel _e"
        try:
            self.wait_for_reply(self.kc.execute(code, silent=True, store_history=False,
                                                allow_stdin=False))
        except Exception as err:  # noqa: BLE001 - no records: the outside check fails it
            self.log.warning("could not %s graded functions: %s",
                             "wrap" if wrap else "unwrap", err)

    def _check(self, nb, release, checker) -> None:
        """Check the test cells outside the kernel and put the verdicts into the notebook."""
        tests = {i: cell for i, cell in enumerate(nb.cells) if is_test_cell(cell)}
        for cell in tests.values():  # nbgrader reads a number there as partial credit
            for output in cell.get("outputs", []):
                if output.get("output_type") == "execute_result":
                    text = output.get("data", {}).get("text/plain", "")
                    output.clear()
                    output.update(nbformat.v4.new_output("stream", name="stdout",
                                                         text=f"{text}\n"))
        if not self._plan:
            return
        release_cells = release.cells if release else []
        setup = self._setup_sources(release)
        contexts = {}
        for cell in release_cells:
            task = task_of(cell)
            if task and cell.cell_type == "code" and not nbgrader_meta(cell):
                contexts.setdefault(task, []).append(cell.source)
        job = {"evidence": str(self._evidence), "cells": [
            {"grade_id": grade_id, "task": task, "names": names,
             "source": nb.cells[i].source, "context": contexts.get(task, [])}
            for i, (grade_id, task, names) in sorted(self._plan.items())]}
        verdicts = self._run_checker(checker, job) if checker else {}
        graded = {name for _g, _t, names in self._plan.values() for name in names}
        trusted = [*setup, *[s for v in contexts.values() for s in v],
                   *[nb.cells[i].source for i in self._plan]]
        own = student_sources(nb.cells, release_cells)
        findings = review.tampering(own, review.free_names(trusted) - graded)
        answers = {}
        for cell in nb.cells:
            if task_of(cell) and nbgrader_meta(cell).get("solution"):
                answers.setdefault(task_of(cell), []).append(cell.source)
        for index, (grade_id, task, _names) in self._plan.items():
            cell = nb.cells[index]
            failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            forbidden = [n.strip() for n in self.course_implementations.get(task, "").split(",")
                         if n.strip()]
            calls = review.course_calls("\n".join(answers.get(task, [])), forbidden)
            verdict = verdicts.get(grade_id) or {
                "replayed": False, "passed": None, "error": None,
                "reason": "the outside check did not run" if checker else
                          "the outside check is switched off"}
            if calls:
                cell.outputs.append(error_output(
                    "UsesCourseImplementation",
                    f"your answer calls {', '.join(calls)}, the course's own implementation "
                    "of this task: write your own (the tests of this task score 0)"))
            elif failed:
                continue
            elif verdict["replayed"] and not verdict["passed"]:
                cell.outputs.append(error_output(
                    "FailedOutsideKernel",
                    f"{verdict['error']} (this test passed inside your notebook, but it "
                    "failed when the grader ran it again on what your functions returned, "
                    "outside your notebook: code in the notebook changed what the tests "
                    "rely on)"))
            elif findings and verdict["replayed"] and not forbidden:
                cell.outputs.append(nbformat.v4.new_output(
                    "stream", name="stdout",
                    text=f"[your notebook has code that can change how tests run "
                         f"({findings[0]}); this test was checked again outside the "
                         "notebook and passed]\n"))
            elif findings:
                # checked in the kernel only, or a task whose course implementation an
                # obfuscated call could reach: the instructor decides
                shown = "; ".join(findings[:5]) + (" ..." if len(findings) > 5 else "")
                cell.outputs.append(error_output(
                    "NeedsReview",
                    f"your notebook has code that can change how tests run ({shown}); "
                    "the instructor will review this test before it counts"))
            elif not verdict["replayed"]:
                cell.outputs.append(nbformat.v4.new_output(
                    "stream", name="stdout",
                    text=f"[checked inside the notebook only: {verdict['reason']}]\n"))

    def _run_checker(self, checker, job) -> dict:
        import json
        import subprocess

        try:
            log, _ = checker.communicate(json.dumps(job), timeout=self.verifier_timeout)
        except subprocess.TimeoutExpired:
            checker.kill()
            checker.communicate()
            log = f"the outside check took longer than {self.verifier_timeout} s"
        out = Path(checker.work) / "out.json"
        try:
            verdicts = json.loads(out.read_text()) if out.is_file() else None
        finally:
            shutil.rmtree(checker.work, ignore_errors=True)
        if not isinstance(verdicts, dict):
            self.log.error("the outside check failed:\n%s", log)
            message = (log or "").strip().splitlines()[-1:] or ["no verdicts"]
            return {grade_id: {"replayed": True, "passed": False, "reason": None,
                               "error": f"GraderCheckFailed: {message[0][:300]}"}
                    for grade_id, _t, _n in self._plan.values()}
        return verdicts

    def _run(self, nb, resources, km):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self.error_on_timeout = {
            "ename": "CellTimeoutError",
            "evalue": f"this cell ran longer than {self.timeout} s and was stopped "
                      "(an infinite loop, or far too much work?)",
            "traceback": [f"\x1b[0;31mCellTimeoutError\x1b[0m: this cell ran longer than "
                          f"{self.timeout} s and was stopped"],
        }
        deadline = time.monotonic() + self.notebook_timeout

        def cell_timeout(cell) -> int:
            limit = self.timeout or self.notebook_timeout
            if self.setup_tag in cell.metadata.get("tags", []):
                limit = max(limit, self.setup_timeout)
            return max(1, min(limit, int(deadline - time.monotonic()) + 1))

        self.timeout_func = cell_timeout
        cells = self.nb.cells
        skip = self._skippable(cells, resources) if self.scope == "tasks" else set()
        position, restarts = 0, 0
        broken: set[int] = set()  # cells that crashed or hung the kernel: not replayed
        while position < len(cells):
            restart = False
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
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
                    recorded = position in self._plan and self.check_outside
                    try:
                        if recorded:
                            self._record(position, wrap=True)
                        self.preprocess_cell(cell, resources, position)
                        if recorded and not self._timed_out(cell):
                            self._record(position, wrap=False)
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


# ====================================================================== stderr
class StderrToStdoutInTests(NbGraderPreprocessor):
    """Keep what a test cell wrote to stderr, as marked stdout, so it cannot zero the cell.

    Why all of it, not only known library patterns: a test cell is locked instructor
    code, and whether it passes is decided by its assertions (an error output). Its
    stderr can only come from libraries (TensorFlow's C++ threads log asynchronously,
    so a line can land in whichever cell runs at that moment) or from the student's
    code it calls (a warning is not a wrong answer). The text stays visible to the
    student and the instructor.
    """

    def preprocess_cell(self, cell, resources, index):
        if is_test_cell(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
                    output["text"] = "".join(STDERR_MARK + line
                                             for line in output["text"].splitlines(True))
        return cell, resources


# ====================================================================== deleted cells
class RestoreMissingCells(NbGraderPreprocessor):
    """Put back graded cells missing from a submission, in their release position.

    A deleted test cell comes back (nbgrader's ``OverwriteCells``, which runs next,
    then restores its full source, hidden tests included, from the gradebook), so it is
    graded like any other; a deleted solution cell comes back as the released stub, so
    the tests fail with the stub's message instead of a NameError.
    """

    release_notebook = Unicode("", help="Release notebook to restore from (default: "
                               "<release>/<assignment>/<notebook>.ipynb).").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        path = Path(self.release_notebook) if self.release_notebook else Path(
            CourseDirectory(config=self.config).format_path(
                CourseDirectory(config=self.config).release_directory, ".",
                info.get("assignment", ""))) / f"{info.get('notebook', '')}.ipynb"
        if not path.is_file():
            self.log.warning("Cannot restore deleted cells: no release notebook %s", path)
            return nb, resources
        release = nbformat.read(path, as_version=4)
        present = {_meta(c).get("grade_id") for c in nb.cells if _meta(c).get("grade_id")}
        wanted = [c for c in release.cells if _meta(c).get("grade_id")]
        restored = []
        order = [_meta(c)["grade_id"] for c in wanted]
        for i, cell in enumerate(wanted):
            grade_id = _meta(cell)["grade_id"]
            if grade_id in present:
                continue
            new = nbformat.from_dict(copy.deepcopy(dict(cell)))
            if "id" in new or nb.get("nbformat_minor", 0) >= 5:
                new["id"] = generate_corpus_id()
            if new.cell_type == "code":
                new.outputs, new.execution_count = [], None
                if _meta(new).get("solution"):
                    new.source = ("# This cell was missing from your submission; the grader "
                                  "put the released version back.\n" + new.source)
            # after the nearest earlier graded cell that is in the notebook
            earlier = [g for g in order[:i] if g in present]
            ids = [_meta(c).get("grade_id") for c in nb.cells]
            if earlier:
                at = ids.index(earlier[-1]) + 1
            else:
                later = [g for g in order[i + 1:] if g in present]
                at = ids.index(later[0]) if later else len(nb.cells)
            nb.cells.insert(at, new)
            present.add(grade_id)
            restored.append(grade_id)
        if restored:
            self.log.warning("Restored deleted cells %s in %s/%s", restored,
                             info.get("student"), info.get("notebook"))
            resources.setdefault("nbgrader", {})["restored_cells"] = restored
        return nb, resources


# ====================================================================== feedback
_HIDDEN_REGION = re.compile(rf"^([ \t]*){re.escape(BEGIN_HIDDEN)}.*?^[ \t]*"
                            rf"{re.escape(END_HIDDEN)}[^\n]*\n?", re.M | re.S)


def hide_hidden_tests(source: str) -> tuple[str, bool]:
    """Replace each hidden-test region of ``source`` by one placeholder line."""
    new, count = _HIDDEN_REGION.subn(
        lambda m: f"{m.group(1)}# (hidden tests: not shown; their result is below)\n", source)
    if BEGIN_HIDDEN in new:  # an unterminated region: hide everything after it
        head = new.split(BEGIN_HIDDEN, 1)[0]
        new, count = head + "# (hidden tests: not shown)\n", count + 1
    return new, bool(count)


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback without hidden-test code: regions replaced, tracebacks cut to the message.

    A traceback quotes the failing source lines, so in a cell that had hidden tests each
    error keeps only its type and message (``AssertionError: decoder weights of ...``).
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.get("cell_type") != "code":
            return cell, resources
        cell.source, had_hidden = hide_hidden_tests(cell.source)
        if had_hidden:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    message = output.get("evalue") or "a hidden test failed (no message)"
                    output["traceback"] = [f"\x1b[0;31m{output.get('ename')}\x1b[0m: {message}"]
        return cell, resources
