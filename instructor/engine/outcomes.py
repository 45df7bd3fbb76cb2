"""The grader's outcomes: what the grader itself concludes about a cell, a closed set.

Each outcome is the ``ename`` of an error output the grader writes, with where it is
read, its points, the note the instructor's summary gives it and the class report's
flag. docs/grading.md's table of outcomes is :func:`markdown_table` (a test compares).

Where: a **test** cell's outputs are all the grader's (the checks' verdict: a
student's exception shows there as a built-in's name or ``Exception``), so a test
outcome is read on test cells only; a **cell** outcome says what happened to a cell
itself (its time, its output, its process): on a test cell, or on an answer cell, in
the grader's record of what it saw (the graded notebook's ``course_grading.outcomes``).
An answer cell's outputs are what the student's process reported: an error's name there
is a string the student chose, and names no outcome at all.

The exceptions the checking process raises for test outcomes derive from
:class:`GraderOutcome`; it names them by their class (the verdict's ``outcome``), never
by a name that crossed from the answer process.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    name: str
    #: "test": read on test cells only; "cell": also in the record of answer cells
    where: str
    points: str
    #: the summary's note: "The cell 'x' <note>: <message>"
    note: str
    #: the class report's flag (instructor.analytics.graded), if any
    flag: str = ""


CELL_TIMEOUT = "CellTimeoutError"
DEAD_KERNEL = "DeadKernelError"
CELL_TOO_LARGE = "CellTooLarge"
OUTPUT_TOO_LARGE = "OutputTooLarge"
ANSWER_FAILED = "AnswerFailed"
USES_COURSE_IMPLEMENTATION = "UsesCourseImplementation"
NEEDS_REVIEW = "NeedsReview"
RECORD_TOO_LARGE = "RecordTooLarge"
CHECK_FAILED = "GraderCheckFailed"

#: A cell outcome's points: a test cell that fails scores 0; an answer cell that fails
#: fails the tests that call what it did not define.
FAILS = "the cell fails"

OUTCOMES = {o.name: o for o in (
    Outcome(CELL_TIMEOUT, "cell", FAILS, "ran too long and was stopped", "TIMEOUT"),
    Outcome(DEAD_KERNEL, "cell", FAILS, "crashed the Python process running it",
            "CRASH"),
    # Python's own name for what the memory cap does to student code
    Outcome("MemoryError", "cell", FAILS, "ran out of memory (the grader caps it)",
            "CRASH"),
    Outcome(CELL_TOO_LARGE, "cell", FAILS,
            "was over the grader's size limit and was not run"),
    Outcome(OUTPUT_TOO_LARGE, "cell", FAILS,
            "printed more than the grader keeps (over the grader's limit)"),
    Outcome(ANSWER_FAILED, "test", "0", "failed: the answer cells, run on their own after "
            "the setup cell, could not answer"),
    Outcome(USES_COURSE_IMPLEMENTATION, "test", "0",
            "calls the course's own implementation of the task"),
    Outcome(NEEDS_REVIEW, "test", "0 until the instructor grades it",
            "needs the instructor's review", "NEEDS REVIEW"),
    Outcome(RECORD_TOO_LARGE, "test", "0",
            "returned more than the grader unpacks (over the grader's limit)"),
    Outcome(CHECK_FAILED, "test", "0", "was not checked: the grader's checking process "
            "gave no verdict"),
)}




class GraderOutcome(Exception):
    """An exception of the grader's own whose class names a test outcome (``outcome``)."""

    outcome = ""


def markdown_table() -> str:
    """docs/grading.md's table of the outcomes."""
    rows = ["| outcome | read on | points | the summary's note | flag |", "|---|---|---|---|---|"]
    rows += [f"| `{o.name}` | {'test cells' if o.where == 'test' else 'test cells, the record'} | "
             f"{o.points} | {o.note} | {o.flag or '–'} |" for o in OUTCOMES.values()]
    return "\n".join(rows)
