"""Run a graded notebook's test cells, outside every process that runs the student's code
(docs/grading.md, "The checking process")::

    python instructor/engine/checking.py VERDICTS_FD REQUESTS_FD REPLIES_FD < JOB

Standard input brings the ``grade-setup`` sources, then the job (each task's context and
test cells). One verdict per test goes to ``VERDICTS_FD``; ``checked`` is false when the
answer process could not answer with data (the test goes to the instructor's review).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback

from instructor.engine.answer import protocol
from instructor.engine.answer.protocol import error_message

#: What a test cell's printed output keeps (characters): it becomes the cell's output.
OUTPUT_CHARS = 64 * 1024


def _line(err: BaseException, grade_id: str) -> int | None:
    """The line of the test cell's code where ``err`` left it (1-based), if any."""
    lines = [line for frame, line in traceback.walk_tb(err.__traceback__)
             if frame.f_code.co_filename == f"<{grade_id}>"]
    return lines[-1] if lines else None


def run_setup(namespace: dict, sources: list[str]) -> str | None:
    """Run the trusted setup cells; the error, if one failed."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for source in sources:
            try:
                exec(compile(source, "<grade-setup>", "exec"), namespace)  # noqa: S102
            except Exception as err:  # noqa: BLE001 - reported per cell
                return error_message(err)
    return None


def run(namespace: dict, setup_error: str | None, job: dict, channel) -> dict:
    """Run each test cell of ``job`` again, its graded functions answered by ``channel``."""
    from instructor.engine.answer import wire
    from instructor.engine.outcomes import GraderOutcome

    verdicts: dict[str, dict] = {}
    contexts_run: set[str] = set()
    channel.max_bytes = job.get("record_limit")
    for cell in job.get("cells", []):
        grade_id = cell["grade_id"]
        if setup_error:
            verdicts[grade_id] = {"checked": False, "passed": None, "error": None,
                                  "reason": f"the setup cell failed here ({setup_error})"}
            continue
        task = cell.get("task", "")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            if task not in contexts_run:
                contexts_run.add(task)
                for source in cell.get("context", []):
                    exec(compile(source, f"<context {task}>", "exec"), namespace)  # noqa: S102
        # as the answer process names them; type(v): isinstance would load a lazy module
        channel.custom_objects = {f"{protocol.KERAS_PACKAGE}>{k}": v for k, v in namespace.items()
                                  if issubclass(type(v), type)}
        channel.own_classes = cell.get("own_classes", True)
        channel.inputs_kept = cell.get("hidden", False)
        channel.proxied, channel.unproven = False, None
        saved = {name: namespace.get(name) for name in cell["names"]}
        for name in cell["names"]:
            namespace[name] = channel.function(cell.get("answers", task), name)
        verdict = {"checked": True, "passed": True, "error": None, "reason": None}
        output = io.StringIO()
        try:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                exec(compile(cell["source"], f"<{grade_id}>", "exec"), namespace)  # noqa: S102
        except wire.Unreadable as err:
            verdict.update(checked=False, passed=None, reason=str(err), student=not err.own)
        except (GraderOutcome, wire.RecordTooLarge) as err:
            # the grader's outcomes, known here by their classes (never by a name that
            # crossed); ``student``: its message holds the answer process's words
            verdict.update(passed=False, error=f"{err.outcome}: {err}",
                           line=_line(err, grade_id), outcome=err.outcome,
                           student=not getattr(err, "own", False))
        except Exception as err:  # noqa: BLE001 - a failed check, whatever it raised
            verdict.update(passed=False, error=error_message(err), line=_line(err, grade_id),
                           student=type(err).__module__ == "answer")  # raised by the answer
        finally:
            for name, value in saved.items():
                namespace[name] = value
        if channel.unproven:  # a returned model not proven, whatever caught the refusal
            verdict.update(checked=False, passed=None, error=None, reason=channel.unproven,
                           student=False)
        verdict["proxied"] = channel.proxied
        verdict["student"] = verdict.get("student") or channel.proxied  # its reports: theirs
        verdict["output"] = output.getvalue()[:OUTPUT_CHARS]
        verdicts[grade_id] = verdict
    return verdicts


def main() -> None:
    """Run the setup cells at once, then check the test cells; TensorFlow and what loads
    with it are loaded before the tests if their sources name them (as the answer
    process's are: ``answer/lazy.py``), else where a check touches them, if one does."""
    from instructor.engine.answer import lazy
    from instructor.engine.remote import AnswerChannel

    lazy.install()  # a check server's child: as its server (loaded, or lazy too)
    out = int(sys.argv[1])
    from helpers import datasets, settings

    datasets.keep()  # a test cell's load of MNIST: prepared once (in a server: before)
    # a call of the student's function may take as long as a cell may
    channel = AnswerChannel(int(sys.argv[2]), int(sys.argv[3]),
                            timeout=float(settings.read("COURSE_CELL_TIMEOUT")))
    setup = protocol.told()
    if setup is None:
        return  # nothing to check
    namespace: dict = {"__name__": "__main__"}
    setup_error = run_setup(namespace, setup["setup"])
    job = protocol.told()
    if job is None:
        return
    try:
        lazy.load([s for cell in job.get("cells", [])
                   for s in (*cell.get("context", []), cell["source"])])
        verdicts = run(namespace, setup_error, job, channel)
    except Exception:  # noqa: BLE001 - the grader treats a missing file as a failure
        traceback.print_exc()
        raise SystemExit(1) from None
    protocol.write_frame(out, verdicts)  # cut short, it is no frame: no verdicts
    os.close(out)


if __name__ == "__main__":
    main()
