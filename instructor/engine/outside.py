"""The check of every test cell outside the student's kernel, and the verdict it gives.

While the notebook runs, the graded functions a test cell calls are wrapped in the kernel,
so that each call is recorded (:mod:`helpers.grading.evidence`). A checking process,
sandboxed like the kernel and never running the student's code, starts before the
notebook and afterwards runs each test cell's own code again on those records
(:mod:`instructor.engine.verify`). :meth:`OutsideCheck.decide` then puts the verdict into
the test cell's outputs: a failure outside the kernel, a call to the course's own
implementation of the task, or code the instructor must review.

:class:`OutsideCheck` knows nothing of how cells run; :mod:`instructor.engine.execute`
asks it what to run around a test cell (:meth:`~OutsideCheck.record_code`) and hands it
the executed notebook.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from instructor.engine import review
from instructor.engine.cells import error_output, is_test_cell, nbgrader_meta, task_of
from instructor.engine.kernel import sandbox_command, sandbox_env

VERIFY = Path(__file__).resolve().parent / "verify.py"
#: The kernel's records of graded calls, inside its scratch folder (helpers.grading.evidence).
EVIDENCE = ".grading-evidence"


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
        origin = released_cell(cell, release_cells)
        task = task_of(origin) if origin is not None else None
        if task and is_test_cell(origin) and functions.get(task):
            key = f"{index:03d}-{nbgrader_meta(origin)['grade_id']}"
            plan[index] = (key, task, functions[task])
    return plan


def released_cell(cell, release_cells):
    """The released graded cell ``cell`` is, by its ``grade_id`` (``None``: not one).

    Which cells are tests, and of which task, is read from the release, never from the
    submission's own tags or flags (nbgrader restores the source of locked cells by
    ``grade_id``, and :class:`~instructor.engine.preprocessors.OverwriteCellsFromRelease`
    their metadata)."""
    grade_id = nbgrader_meta(cell).get("grade_id")
    if not isinstance(grade_id, str):
        return None
    return next((c for c in release_cells if nbgrader_meta(c).get("grade_id") == grade_id),
                None)


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


def results_as_text(cells) -> None:
    """Turn a test cell's result into printed text: nbgrader reads a number there as
    partial credit, and a test cell's verdict is its assertions, never a value it shows."""
    for cell in cells:
        if not is_test_cell(cell):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "execute_result":
                text = output.get("data", {}).get("text/plain", "")
                output.clear()
                output.update(nbformat.v4.new_output("stream", name="stdout", text=f"{text}\n"))


def stdout(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _copy_regular(path: str, target: Path) -> None:
    """Copy ``path`` to ``target`` if it is a regular file, never through a link (opened
    with ``O_NOFOLLOW``, checked after opening, so a file swapped meanwhile for a link
    or a pipe is skipped, not followed or waited on)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    with os.fdopen(fd, "rb") as source:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            with open(target, "wb") as out:
                shutil.copyfileobj(source, out)


@dataclass
class Sandbox:
    """How the checking process is confined: the kernel's own limits."""

    readable_paths: list[str] = field(default_factory=list)
    memory_limit_gb: float = 8.0
    use_landlock: bool = True
    limits: dict = field(default_factory=dict)
    environment: dict[str, str] | None = None


class OutsideCheck:
    """The outside check of one notebook: plan, records, checking process and verdicts."""

    def __init__(self, cells, release_cells, setup: list[str], scratch: Path,
                 sandbox: Sandbox, course_implementations: dict[str, str],
                 timeout: int = 600, log=None, record_limit: int | None = None):
        self.release_cells = release_cells
        #: bytes the checking process may unpack from one test cell's records
        self.record_limit = record_limit
        self.setup = setup
        self.plan = graded_calls(cells, release_cells)
        self.evidence = Path(scratch) / EVIDENCE
        self.evidence.mkdir(exist_ok=True)
        # each test cell's records, moved out of the kernel's reach as soon as it ends
        # (made by start(), which comes first, or by the first seal())
        self.sealed: Path | None = None
        self.sandbox = sandbox
        self.course_implementations = course_implementations
        self.timeout = timeout
        self.log = log
        self.process: subprocess.Popen | None = None
        self.work: str | None = None

    # -------------------------------------------------------------- the checking process
    def start(self) -> None:
        """Start the checking process now: it runs the setup cells (TensorFlow's import)
        while the notebook runs."""
        self.work = tempfile.mkdtemp(prefix="grading-check-")
        box = self.sandbox
        readable = [*box.readable_paths, str(VERIFY.parent), str(self._sealed())]
        command = sandbox_command(
            [sys.executable, str(VERIFY), os.path.join(self.work, "out.json")],
            self.work, readable, box.memory_limit_gb, box.use_landlock, **box.limits)
        self.process = subprocess.Popen(
            command, cwd=self.work, env=sandbox_env(self.work, box.environment),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            self.process.stdin.write(json.dumps(self.setup) + "\n")
            self.process.stdin.flush()
        except OSError:
            pass  # it died at once: no verdicts, every checked test fails

    def stop(self) -> None:
        """End the checking process if it still runs, and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        if self.work:
            shutil.rmtree(self.work, ignore_errors=True)
        if self.sealed is not None:
            shutil.rmtree(self.sealed, ignore_errors=True)

    def record_code(self, index: int, wrap: bool) -> str:
        """The code that wraps (or unwraps) the graded functions test cell ``index`` calls."""
        grade_id, _task, names = self.plan[index]
        call = (f"wrap(globals(), {names!r}, {str(self.evidence / grade_id)!r})" if wrap
                else f"unwrap(globals(), {names!r})")
        return f"import helpers.grading.evidence as _e\n_e.{call}\ndel _e"

    def _sealed(self) -> Path:
        """The grader's folder of sealed records (outside the kernel's scratch folder:
        the kernel's sandbox can neither write nor read it)."""
        if self.sealed is None:
            self.sealed = Path(tempfile.mkdtemp(prefix="grading-records-"))
        return self.sealed

    def seal(self, index: int) -> None:
        """Move test cell ``index``'s records out of the kernel's scratch folder, right
        after the cell ran: cells that run later (a cell the student added after the
        tests) can no longer change what the outside check reads. Only regular files are
        copied, never through a link, so the copy holds no path back into the kernel's
        folder; what is left in the kernel's folder is removed."""
        key = self.plan[index][0]
        source, target = self.evidence / key, self._sealed() / key
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        if source.is_dir() and not source.is_symlink():
            for entry in os.scandir(source):
                _copy_regular(entry.path, target / entry.name)
        try:
            if source.is_symlink() or source.is_file():
                source.unlink()
            elif source.is_dir():
                shutil.rmtree(source)
        except OSError:
            pass  # the sealed copy is what counts

    def _verdicts(self, job: dict) -> dict:
        """Send the checking process its job; its verdicts, or failures saying why not."""
        try:
            log, _ = self.process.communicate(json.dumps(job), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            log = f"the outside check took longer than {self.timeout} s"
        out = Path(self.work) / "out.json"
        verdicts = json.loads(out.read_text()) if out.is_file() else None
        if isinstance(verdicts, dict):
            return verdicts
        if self.log:
            self.log.error("the outside check failed:\n%s", log)
        message = (log or "").strip().splitlines()[-1:] or ["no verdicts"]
        return {grade_id: {"replayed": True, "passed": False, "reason": None,
                           "error": f"GraderCheckFailed: {message[0][:300]}"}
                for grade_id, _t, _n in self.plan.values()}

    # -------------------------------------------------------------- the verdicts
    def decide(self, cells) -> None:
        """Check the test cells outside the kernel and put the verdicts into ``cells``."""
        if not self.plan:
            return
        contexts: dict[str, list[str]] = {}
        for cell in self.release_cells:
            task = task_of(cell)
            if task and cell.cell_type == "code" and not nbgrader_meta(cell):
                contexts.setdefault(task, []).append(cell.source)
        job = {"evidence": str(self._sealed()), "record_limit": self.record_limit, "cells": [
            {"grade_id": grade_id, "task": task, "names": names,
             "source": cells[i].source, "context": contexts.get(task, [])}
            for i, (grade_id, task, names) in sorted(self.plan.items())]}
        verdicts = self._verdicts(job) if self.process else {}
        graded = {name for _g, _t, names in self.plan.values() for name in names}
        trusted = [*self.setup, *[s for v in contexts.values() for s in v],
                   *[cells[i].source for i in self.plan]]
        findings = review.tampering(student_sources(cells, self.release_cells),
                                    review.free_names(trusted) - graded)
        answers: dict[str, list[str]] = {}
        for cell in cells:
            origin = released_cell(cell, self.release_cells)
            if origin is not None and task_of(origin) and nbgrader_meta(origin).get("solution"):
                answers.setdefault(task_of(origin), []).append(cell.source)
        for index, (grade_id, task, _names) in self.plan.items():
            verdict = verdicts.get(grade_id) or {
                "replayed": False, "passed": None, "error": None,
                "reason": "the outside check did not run" if self.process else
                          "the outside check is switched off"}
            output = self._verdict_output(cells[index], verdict, findings,
                                          "\n".join(answers.get(task, [])), task)
            if output is not None:
                cells[index].outputs.append(output)

    def _verdict_output(self, cell, verdict: dict, findings: list, answer: str, task: str):
        """What a test cell gets added to its outputs, if anything."""
        forbidden = [n.strip() for n in self.course_implementations.get(task, "").split(",")
                     if n.strip()]
        calls = review.course_calls(answer, forbidden)
        if calls:
            return error_output(
                "UsesCourseImplementation",
                f"your answer calls {', '.join(calls)}, the course's own implementation "
                "of this task: write your own (the tests of this task score 0)")
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return None
        if verdict["replayed"] and not verdict["passed"] and \
                str(verdict.get("error")).startswith("RecordTooLarge: "):
            return error_output("RecordTooLarge", verdict["error"].split(": ", 1)[1])
        if verdict["replayed"] and not verdict["passed"]:
            return error_output(
                "FailedOutsideKernel",
                f"{verdict['error']} (this test passed inside your notebook, but it "
                "failed when the grader ran it again on what your functions returned, "
                "outside your notebook: code in the notebook changed what the tests "
                "rely on)")
        if findings and verdict["replayed"] and not forbidden \
                and all(f.kernel_only for f in findings):
            return stdout(f"[your notebook has code that can change how tests run "
                          f"({findings[0]}); this test was checked again outside the "
                          "notebook and passed]\n")
        if findings:
            # checked in the kernel only; a task whose course implementation an obfuscated
            # call could reach; or code that reaches beyond the kernel's names (imports of
            # sys, ctypes..., exec, frames): the instructor decides
            shown = "; ".join(map(str, findings[:5])) + (" ..." if len(findings) > 5 else "")
            return error_output(
                "NeedsReview",
                f"your notebook has code that can change how tests run ({shown}); "
                "the instructor will review this test before it counts")
        if not verdict["replayed"]:
            return stdout(f"[checked inside the notebook only: {verdict['reason']}]\n")
        return None
