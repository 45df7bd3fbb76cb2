"""The judge: every test cell runs outside the student's process, in the checking process,
and its verdict is its output; the answer cells' outputs are the answer process's report
(docs/grading.md, "The processes").
"""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from instructor.engine import check_server, forking, outcomes, review, roles, stripped
from instructor.engine.answer import protocol
from instructor.engine.cells import error_output, is_test_cell, nbgrader_meta
from instructor.engine.limits import HELPERS, MIB
from instructor.engine.release import Release, hide_hidden

#: What the grader reads of the checking process's verdicts, bytes.
VERDICTS_LIMIT = 64 * 2 ** 20
CHECKING = Path(__file__).resolve().parent / "checking.py"
#: All the answer process reads of the grader's: its package, run with ``-m``.
ANSWER = Path(__file__).resolve().parent / "answer"


def graded_calls(cells, release: Release) -> dict[int, tuple[str, str, list[str]]]:
    """Test cell index -> (``<index>-<grade_id>``, task, the graded functions its
    task's released answer cells define): from the release, never the submission."""
    plan = {}
    for index, cell in enumerate(cells):
        task = release.task_of(cell)
        if task and task.names and release.is_test(cell):
            key = f"{index:03d}-{nbgrader_meta(cell)['grade_id']}"
            plan[index] = (key, task.name, list(task.names))
    return plan


def student_sources(cells, release_cells) -> list[str]:
    """The student's code: answer cells and code cells not released as they are."""
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


def answers_key(task: str, test_index: int, answers: dict) -> str:
    """The answers a test cell calls: its task's answer cells above it."""
    above = [i for i, _ in answers.get(task, []) if i < test_index]
    return f"{task}@{above[-1] if above else -1}"


#: The message of a hidden test's error that did not come from the course alone.
WITHHELD_MESSAGE = ("a hidden test failed; the message is withheld, as it came from your "
                    "code, or quotes what your code reported (it could show the hidden "
                    "tests' inputs)")
#: What a test cell with hidden tests shows in place of what it printed.
WITHHELD_OUTPUT = ("[output withheld: what this test cell printed is not shown, as it could "
                   "show the hidden tests' inputs]\n")
#: Why a test cell has no verdict: the checking process gave none, or had nothing to ask.
NOT_RUN = "the checks did not run"
NO_FUNCTION = "this test cell checks no graded function of the release"
def _known_error(name: str) -> bool:
    """A built-in exception's name (the grader's outcomes come as ``outcome``)."""
    return isinstance(getattr(builtins, name, None), type)


_STUB = re.compile(r"NotImplementedError\(\s*[\"'](.+?)[\"']\s*\)")


def stub_message(source: str) -> str | None:
    """The message a released stub's ``source`` raises (``ClearSolutions.code_stub``)."""
    found = _STUB.search(source)
    return found[1] if found else None


def withheld(verdict: dict, course: list[str] = (), stub: str | None = None) -> dict:
    """A hidden test's verdict as shown: its printed output and every message from the
    student's process (``student``, set by the checking process from the exception's class)
    are withheld, as they may carry the hidden inputs; the checks' own words stay, and the
    grader says when the ``course`` implementation was reached or the answer is the ``stub``."""
    verdict = dict(verdict)
    if verdict.get("output"):
        verdict["output"] = WITHHELD_OUTPUT
    if verdict.get("student"):
        ename = str(verdict.get("error") or "").partition(": ")[0]
        message = stub or WITHHELD_MESSAGE
        if verdict.get("outcome") == outcomes.USES_COURSE_IMPLEMENTATION and course:
            message = stripped.MESSAGES["named"].format(" or ".join(course))
        if verdict.get("error"):
            verdict["error"] = f"{ename if ename.isidentifier() else 'Exception'}: {message}"
        if verdict.get("reason"):
            verdict["reason"] = WITHHELD_MESSAGE
    return verdict


#: What a test passed through a model with code of the student's own shows: that code ran
#: behind the checks (it could tell them from real use): the OWN MODEL CODE flag.
OWN_CODE_NOTE = ("[checked through your model's own code (a class, layer or function of yours, "
                 "which ran behind the checks): the instructor may read it]\n")


def stdout(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


class Judge:
    """The checks of one notebook: plan, the two processes, and verdicts."""

    def __init__(self, cells, release: Release, sandbox: roles.Box,
                 course_implementations: dict[str, str], log=None,
                 own_class_tasks: list[str] | None = None):
        self.release = release
        #: tasks whose models may be of the student's own class (None: all)
        self.own_class_tasks = own_class_tasks
        self.setup = list(release.setup)
        #: answer cell -> the grader's own outcomes on it (name, message): what it saw
        #: happen to the cell, never a name from the student's process
        self.outcomes: dict[int, list[tuple[str, str]]] = {}
        self.plan = graded_calls(cells, release)
        self.sandbox = sandbox
        self.course_implementations = course_implementations
        self.log = log
        self.process: subprocess.Popen | None = None
        self.check_log = None
        self.answers: subprocess.Popen | None = None
        self.work: str | None = None
        self.verdicts_fd: int | None = None
        #: the answer cells' report, read as it comes (None: no answer process)
        self.report: protocol.Report | None = None

    def start(self) -> None:
        """Start the checking and answer processes: they run the setup cells meanwhile."""
        self.work = tempfile.mkdtemp(prefix="grading-check-")
        check_dir, answer_dir = (os.path.join(self.work, d) for d in ("check", "answers"))
        os.mkdir(check_dir)
        os.mkdir(answer_dir)
        stripped_dir = os.path.join(self.work, "stripped")
        names = stripped.course_names(self.course_implementations)
        stripped.strip_package(Path(HELPERS), names, Path(stripped_dir))
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        report_r, report = os.pipe()  # the answer cells' outputs, as they run
        verdicts = None
        try:
            limit = int(self.sandbox.output_mb * MIB)  # a character: at most 6 in JSON
            self.report = protocol.Report(report_r, limit, 6 * limit + 64 * 1024,
                                          VERDICTS_LIMIT)
            # the answer process reads the stripped helpers, never the real package
            self.answers = self._spawn(
                roles.ANSWERS,
                [sys.executable, "-P", "-m", "instructor.engine.answer", str(requests_r),
                 str(replies_w), stripped_dir, str(report), str(self.sandbox.cell_timeout),
                 str(limit)],
                answer_dir, [str(ANSWER), stripped_dir],
                (requests_r, replies_w, report))
            verdicts = os.open(os.path.join(check_dir, "out.json"),
                               os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            # read back through this descriptor, never by name (instructor.engine.untrusted)
            self.verdicts_fd = os.dup(verdicts)
            fds = (verdicts, requests_w, replies_r)
            # forked or spawned, its output goes to a file under its own size cap
            self.check_log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
            self.process = self._forked(fds) or self._spawn(
                roles.CHECK, [sys.executable, str(CHECKING), *map(str, fds)], check_dir, [],
                fds, stdout=self.check_log)
        finally:
            for fd in (requests_r, requests_w, replies_r, replies_w, verdicts, report):
                if fd is not None:
                    os.close(fd)
        for process in (self.answers, self.process):
            with contextlib.suppress(OSError):  # it died at once: every checked test fails
                protocol.write_frame(process.stdin.fileno(), {"setup": list(self.setup)})

    def _forked(self, fds: tuple) -> forking.Forked | None:
        """The checking process forked by the check server, or None (then it is spawned)."""
        path = os.environ.get(check_server.SERVER)
        if not path or self.sandbox.isolation != "bubblewrap":
            return None
        try:
            # its environment, the first frame it reads (the server never reads it)
            return forking.Forked(path, roles.environment(roles.CHECK, self.sandbox), fds)
        except OSError as err:
            if self.log:
                self.log.warning("the check server did not answer (%s): the checking "
                                 "process is started anew", err)
            return None

    def _spawn(self, role: roles.Role, command: list[str], cwd: str, extra: list[str],
               fds: tuple, stdout=subprocess.DEVNULL) -> subprocess.Popen:
        argv, env = roles.launch(role, command, cwd, self.sandbox, extra=extra)
        return subprocess.Popen(
            argv, cwd=cwd, env=env, pass_fds=fds, stdin=subprocess.PIPE, stdout=stdout,
            stderr=subprocess.DEVNULL if stdout is subprocess.DEVNULL else subprocess.STDOUT)

    def stop(self) -> None:
        """End both processes if they still run, and remove their folders."""
        for process in (self.process, self.answers):
            if process is not None and process.poll() is None:
                process.kill()
                process.communicate()
        if self.verdicts_fd is not None:
            os.close(self.verdicts_fd)
        self.verdicts_fd = None
        if self.check_log is not None:
            self.check_log.close()
        if self.work:   # removed without following a link (shutil's fd-based rmtree)
            shutil.rmtree(self.work, ignore_errors=True)

    def _send_answers(self, cells) -> None:
        """Give the answer process each task's context and answer cells; close its input."""
        answers = self.release.answer_cells(cells)
        namespaces = {}
        for index, (_key, task, _names) in self.plan.items():
            key = answers_key(task, index, answers)
            namespaces[key] = {"context": list(self.release.tasks[task].context),
                               "answers": [[i, source] for i, source in answers.get(task, [])
                                           if i < index]}
        with contextlib.suppress(OSError):  # it died: the checking process says so per call
            protocol.write_frame(self.answers.stdin.fileno(), {"tasks": namespaces})
            self.answers.stdin.close()

    def _wait_for_answers(self, deadline: float) -> None:
        """Until the answer process's report says ``done``, it ended, or ``deadline``;
        then its report is no longer read (the tests call it next, with their inputs)."""
        while self.report is not None and time.monotonic() < deadline:
            if self.report.wait(min(0.5, deadline - time.monotonic())):
                break
            if self.answers.poll() is not None:  # ended: its report is read to the pipe's end
                self.report.wait(min(2.0, deadline - time.monotonic()))
                break
        if self.report is not None:
            self.report.take()

    def _verdicts(self, job: dict, cells) -> dict:
        """Send the checking process its job; its verdicts, or failures saying why not."""
        deadline = time.monotonic() + self.sandbox.checks_timeout
        if self.answers is not None:
            self._send_answers(cells)
            self._wait_for_answers(deadline)  # before any test calls an answer
        try:
            log, _ = self.process.communicate(
                protocol.frame(job), timeout=max(1.0, deadline - time.monotonic()))
            log = forking.tail(self.check_log) if log is None else log
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            log = f"the checks took longer than {self.sandbox.checks_timeout} s"
        if self.answers is not None and self.answers.poll() is None:
            self.answers.kill()
            self.answers.communicate()
        try:  # through the descriptor opened for it, whatever its name names now
            os.lseek(self.verdicts_fd, 0, os.SEEK_SET)
            verdicts = protocol.clean(protocol.read_frame(
                self.verdicts_fd, VERDICTS_LIMIT, protocol.MAX_JSON_VALUES))
        except (OSError, ValueError, EOFError):  # none, cut short, too large
            verdicts = None
        if isinstance(verdicts, dict):
            return verdicts
        if self.log:
            self.log.error("the checks failed:\n%s", log)
        message = (log or "").strip().splitlines()[-1:] or ["no verdicts"]
        return {grade_id: {"checked": True, "passed": False, "reason": None,
                           "error": f"{outcomes.CHECK_FAILED}: {message[0][:300]}"}
                for grade_id, _t, _n in self.plan.values()}

    def decide(self, cells) -> None:
        """Run the test cells outside the answer process and make their outputs their verdicts."""
        tests = self.release.test_cells(cells)
        if not tests:
            return
        contexts = {name: list(task.context) for name, task in self.release.tasks.items()}
        answers, released = (self.release.answer_cells(c) for c in (cells, self.release.cells))
        hidden = {i for i in tests if hide_hidden(cells[i].source)[1]}
        job = {"record_limit": int(self.sandbox.record_mb * MIB), "cells": [
            {"grade_id": grade_id, "task": task, "names": names,
             "answers": answers_key(task, i, answers),
             "source": cells[i].source, "context": contexts.get(task, []),
             "own_classes": self.own_class_tasks is None or task in self.own_class_tasks,
             "hidden": i in hidden}
            for i, (grade_id, task, names) in shown_first(self.plan, hidden)]}
        verdicts = self._verdicts(job, cells) if self.process else {}
        graded = {name for _g, _t, names in self.plan.values() for name in names}
        trusted = [*self.setup, *[s for v in contexts.values() for s in v],
                   *[cells[i].source for i in self.plan]]
        # what only changes names and attributes: moot, as no test runs where it ran
        findings = [f for f in review.tampering(student_sources(cells, self.release.cells),
                                                review.free_names(trusted) - graded, trusted)
                    if not f.names_only]
        for index in sorted(tests):
            grade_id, task, _names = self.plan.get(index, (None, None, ()))
            verdict = verdicts.get(grade_id) or {
                "checked": False, "passed": None, "error": None,
                "reason": NOT_RUN if index in self.plan else NO_FUNCTION}
            forbidden = stripped.course_names({task: self.course_implementations.get(task, "")})
            if index in hidden:
                mine = [s.strip() for _i, s in answers.get(task, [])]
                stub = stub_message("\n".join(mine)) if mine == [
                    s.strip() for _i, s in released.get(task, [])] else None
                verdict = withheld(verdict, forbidden, stub)
            cells[index].outputs = verdict_outputs(
                verdict, findings, "\n".join(s for _i, s in answers.get(task, [])), forbidden)

    def answer_outputs(self, cells) -> None:
        """Each answer cell shows what the answer process reported of it."""
        report = self.report.take() if self.report is not None else None
        self.outcomes = answer_cell_outputs(cells, self.release, report)


def shown_first(plan: dict, hidden: set[int]) -> list:
    """The plan's test cells in the checking process's order: those without hidden
    tests first, so no hidden input has reached the answer process while a shown cell runs."""
    return sorted(plan.items(), key=lambda item: (item[0] in hidden, item[0]))


def answer_cell_outputs(cells, release: Release, report: protocol.Report | None,
                        ) -> dict[int, list[tuple[str, str]]]:
    """Make each answer cell show what the answer process reported of it
    (inert), or why nothing: not run, past its cap, or the process died in it. Returns the
    grader's own outcomes per cell it ran (name, message)."""
    from instructor.engine.inert import inert_output

    found: dict[int, list[tuple[str, str]]] = {}
    order = list(report.outputs) if report is not None else []
    # the process died in the cell it started last, if it never said it was done
    died = order[-1] if order and not (report.done or report.broken) else None
    for task_answers in release.answer_cells(cells).values():
        for index, _source in task_answers:
            if index not in order:
                cells[index].execution_count = None
                outputs = [stdout(UNREAD if report is not None and report.broken
                                  else NOT_RUN_ANSWER)]
            else:  # what it showed; started and never ended: why it stopped
                cells[index].execution_count = order.index(index) + 1  # as they ran
                made = [error_output(outcomes.OUTPUT_TOO_LARGE, TOO_LARGE)] \
                    if index in report.too_large else []
                if index == died and index not in report.ended | report.too_large:
                    made.append(error_output(outcomes.DEAD_KERNEL, DIED))
                outputs = [*report.outputs[index], *made]
                found[index] = [(o["ename"], o["evalue"]) for o in made]
            cells[index].outputs = [nbformat.from_dict(inert_output(dict(o)))
                                    for o in outputs]
    return found


#: Why an answer cell has no outputs: no test of its task runs after it.
NOT_RUN_ANSWER = "[not run while grading: no graded test runs after this cell]\n"
#: An answer cell the answer process died in.
DIED = ("the process running your answer cells ended in this cell (os._exit, a crash in "
        "a library, memory exhausted, or the time limit); its tests could not call it")
#: Why an answer cell has no outputs: an earlier output could not be read.
UNREAD = "[outputs not read: an earlier output of your answer cells could not be read]\n"
#: Why an answer cell shows only its error: its outputs passed their cap (as the report
#: says, which the student's code can also write).
TOO_LARGE = ("this cell's output passed the grader's limit (COURSE_CELL_OUTPUT_MB); it was "
             "dropped, and the cell fails")


def verdict_outputs(verdict: dict, findings: list, answer: str, forbidden: list[str]) -> list:
    """A test cell's outputs: what it printed, then its verdict (an error: it fails)."""
    outputs = [stdout(verdict["output"])] if verdict.get("output") else []
    calls = review.course_calls(answer, forbidden)
    if calls:
        return [*outputs, error_output(
            outcomes.USES_COURSE_IMPLEMENTATION,
            f"your answer calls {', '.join(calls)}, the course's own implementation "
            "of this task: write your own (the tests of this task score 0)")]
    shown = "; ".join(map(str, findings[:5])) + (" ..." if len(findings) > 5 else "")
    if not verdict["checked"]:
        also = (f"; your notebook also has code that can change how tests run ({shown})"
                if findings else "")
        return [*outputs, error_output(
            outcomes.NEEDS_REVIEW, f"the grader could not check this test ({verdict['reason']})"
            f"{also}; it scores 0 until the instructor reviews it")]
    if not verdict["passed"]:
        name, _, message = str(verdict["error"]).partition(": ")
        if verdict.get("student"):  # a name of the student's own could carry anything
            name = verdict.get("outcome") or (name if _known_error(name) else "Exception")
        if verdict.get("outcome") == outcomes.ANSWER_FAILED:
            message += (" (the grader runs your answer cells on their own, after the setup "
                        "cell, and calls your functions from the test)")
        return [*outputs, error_output(name if name.isidentifier() else "Exception",
                                       message or name)]
    if findings:
        # code that reaches beyond its own names (imports of sys, ctypes..., exec,
        # frames): the instructor decides
        return [*outputs, error_output(
            outcomes.NEEDS_REVIEW, f"your notebook has code that can change how tests run "
            f"({shown}); the instructor will review this test before it counts")]
    return [*outputs, stdout(OWN_CODE_NOTE)] if verdict.get("proxied") else outputs
