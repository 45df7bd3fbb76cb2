"""A graded class as data, read once and never graded again: for one assignment,
``gradebook.db``, each student's graded notebook (errors, answer code, grading seconds) and
``GRADING_NOTES.txt``, and the release's notebook (what students were given).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from instructor import ROOT
from instructor.engine.cells import nbgrader_meta
from instructor.engine.notes import read_notes
from instructor.engine.outcomes import OUTCOMES
from instructor.workflow.export import task_of
from instructor.workflow.gradebook import stale

#: The stub's message (``ClearSolutions.code_stub``): the task was not attempted.
STUB_MESSAGE = "exercise not done yet"

#: Why a submission is flagged: (flag, pattern in a grading note).
FLAG_NOTES = [
    ("GRADER FAILED", re.compile(r"grader could not (grade|record)")),
    ("UNREADABLE", re.compile(r"could not be read as a notebook|is not a valid notebook")),
    ("REPAIRED", re.compile(r"grading metadata|had the grade_id|the grader rebuilt it|"
                            r"was missing from the notebook|locked cell .* was edited")),
    ("TIMEOUT", re.compile(r"ran too long|time budget used up")),
    ("CRASH", re.compile(r"crashed the Python|too many crashes|ran out of memory")),
    ("NEEDS REVIEW", re.compile(r"needs the instructor's review")),
    ("TOO LARGE", re.compile(r"over the grader's limit")),
    # the LMS's own mark, carried by collect from its download (Canvas' LATE)
    ("LATE", re.compile(r"marked this submission late")),
    # a verdict that rests on code of the student's own, behind a proxy (task (d))
    ("OWN MODEL CODE", re.compile(r"checked through your model's own code")),
    # graded from another hand-in or release than the one there now (gradebook.stale)
    ("STALE", re.compile(r"^STALE: ")),
    # a hand-in of several notebooks: which one was graded (collect.choose_notebook)
    ("NOTEBOOKS", re.compile(r"notebooks were handed in")),
]


@dataclass
class TestCell:
    __test__ = False  # not a pytest class
    grade_id: str
    task: str
    points: float


@dataclass
class TestResult:
    """One test cell of one submission."""

    __test__ = False

    points: float                 # points given (0 while it awaits review)
    max_points: float
    message: str | None = None    # "ErrorName: message" of the first error shown
    review: bool = False          # needs manual grade

    @property
    def passed(self) -> bool:
        return not self.review and self.points >= self.max_points > 0


@dataclass
class Submission:
    student: str
    score: float = 0.0
    max_score: float = 0.0
    submitted: bool = True
    tests: dict[str, TestResult] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)   # answer grade_id -> code
    notes: list[str] = field(default_factory=list)
    flags: list[tuple[str, str]] = field(default_factory=list)  # (flag, reason)
    seconds: float | None = None  # the grader's phases (grading_seconds)
    isolation: str = ""  # how its student code was isolated (SafeExecute.isolation)
    caps: str = ""  # "per submission" (a cgroup) or "per process" (instructor.engine.cgroups)

    def task_score(self, task: str, cells: list[TestCell]) -> float:
        return sum(self.tests[c.grade_id].points for c in cells
                   if c.task == task and c.grade_id in self.tests)


@dataclass
class GradedClass:
    assignment: str
    root: Path
    tests: list[TestCell]
    stubs: dict[str, str]          # answer grade_id -> released stub
    given: list[str]               # every other code cell of the release
    submissions: list[Submission]

    @property
    def tasks(self) -> list[str]:
        return list(dict.fromkeys(c.task for c in self.tests))

    def task_max(self, task: str) -> float:
        return sum(c.points for c in self.tests if c.task == task)

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.tests)

    @property
    def submitted(self) -> list[Submission]:
        return [s for s in self.submissions if s.submitted]

    def attempted(self, sub: Submission, task: str) -> bool:
        """Whether ``sub`` did something for ``task``: neither the stub nor its message."""
        answers = [g for g in self.stubs if task_of(g) == task]
        if answers and all(sub.answers.get(g, self.stubs[g]).strip() == self.stubs[g].strip()
                           for g in answers):
            return False
        cells = [c for c in self.tests if c.task == task and c.grade_id in sub.tests]
        return not cells or not all(STUB_MESSAGE in (sub.tests[c.grade_id].message or "")
                                    for c in cells)


def error_message(cell) -> str | None:
    """The first error a cell shows, as ``Name: message``."""
    return next((f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
                 for out in cell.get("outputs", []) if out.get("output_type") == "error"), None)


def grading_seconds(nb) -> float | None:
    """The seconds of the grader's phases (``course_grading.seconds``, which only the
    grader writes), None if not recorded. Cells' ``execution`` timings are not read: no
    kernel runs in grading, so any there are the student's."""
    phases = nb.metadata.get("course_grading", {}).get("seconds", {})
    total = sum(v for v in phases.values() if isinstance(v, int | float)) \
        if isinstance(phases, dict) else 0
    return total or None


def flags_of(notes: list[str], tests: dict[str, TestResult]) -> list[tuple[str, str]]:
    """The submission's flags, each with the note or test that raised it."""
    found = [(flag, note) for flag, pattern in FLAG_NOTES for note in notes if pattern.search(note)]
    for grade_id, result in tests.items():
        if result.review and not any(f == "NEEDS REVIEW" for f, _ in found):
            found.append(("NEEDS REVIEW", f"test cell '{grade_id}' awaits a manual grade"))
        known = OUTCOMES.get((result.message or "").split(":", 1)[0])
        flag = known.flag if known else None
        if flag and not any(grade_id in r for _, r in found):
            found.append((flag, f"test cell '{grade_id}': {result.message}"))
    return list(dict.fromkeys(found))


def load(assignment: str, root: Path = ROOT) -> GradedClass:
    """The graded class of ``assignment`` in the course folder ``root``."""
    from nbgrader.api import Gradebook, MissingEntry

    root = Path(root)
    db = root / "gradebook.db"
    if not db.exists():
        raise FileNotFoundError(f"no gradebook at {db}: grade the class first (make autograde)")
    release = nbformat.read(root / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    stubs, given = {}, []
    for cell in (c for c in release.cells if c.cell_type == "code"):
        meta = nbgrader_meta(cell)
        if meta.get("solution") and isinstance(meta.get("grade_id"), str):
            stubs[meta["grade_id"]] = cell.source
        else:
            given.append(cell.source)
    with Gradebook(f"sqlite:///{db}") as gb:
        try:
            entry = gb.find_assignment(assignment)
        except MissingEntry:
            raise SystemExit(f"{assignment} is not in the gradebook: grade it first "
                             "(make autograde)") from None
        tests = [TestCell(g.name, task_of(g.name), float(g.max_score))
                 for nb in entry.notebooks for g in nb.grade_cells
                 if g.cell_type == "code" and g.max_score > 0]
        subs = []
        for student in sorted(s.id for s in gb.students):
            try:
                found = gb.find_submission(assignment, student)
            except MissingEntry:
                subs.append(Submission(student, max_score=float(entry.max_score),
                                       submitted=False, notes=["no submission"]))
                continue
            subs.append(Submission(student, float(found.score), float(found.max_score), tests={
                g.name: TestResult(float(g.score or 0.0), float(g.max_score),
                                   review=bool(g.needs_manual_grade))
                for nb in found.notebooks for g in nb.grades
                if g.cell_type == "code" and g.max_score > 0}))
    for sub in [s for s in subs if s.submitted]:
        folder = root / "autograded" / sub.student / assignment
        sub.notes = [n for n in [stale(root, sub.student, assignment), *read_notes(folder)]
                     if n]
        path = folder / f"{assignment}.ipynb"
        if path.is_file():
            graded = nbformat.read(path, as_version=4)
            for cell in graded.cells:
                grade_id = nbgrader_meta(cell).get("grade_id")
                if grade_id in sub.tests:
                    sub.tests[grade_id].message = error_message(cell)
                elif grade_id in stubs and cell.cell_type == "code":
                    sub.answers[grade_id] = cell.source
            sub.seconds = grading_seconds(graded)
            sub.isolation = graded.metadata.get("course_grading", {}).get("isolation", "")
            sub.caps = graded.metadata.get("course_grading", {}).get("caps", "")
        sub.flags = flags_of(sub.notes, sub.tests)
    return GradedClass(assignment, root, tests, stubs, given, subs)
