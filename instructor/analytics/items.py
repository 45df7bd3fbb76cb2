"""Item analysis of a graded class, per task and test cell (docs/instructors.md, "After
grading"); the discrimination is the corrected point-biserial correlation.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from instructor.analytics.graded import GradedClass, Submission

#: Below this discrimination a test cell is pointed out in the report.
LOW_DISCRIMINATION = 0.2

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")
_ITEM = r"(?:#|None|…|\(…\)|\[…\])"
_GROUP = re.compile(rf"([(\[])\s*(?!…[)\]])(?:{_ITEM}\s*,\s*)*{_ITEM}\s*,?\s*([)\]])")
_QUOTED_PATH = re.compile(r"'/[^']*'|\"/[^\"]*\"")
_SPACES = re.compile(r"\s+")
#: Where a message's own words end: what the grader adds after them is cut.
_TAIL = re.compile(r"\s*\(this test passed inside your notebook.*$", re.S)


def normalize_message(message: str | None, limit: int = 240) -> str:
    """One failure, whatever the numbers: ``expected (None, 784), got (None, 28, 28)`` and
    ``expected (None, 32), got (None, 8, 4)`` both read ``expected (…), got (…)``."""
    if not message:
        return ""
    text = _ANSI.sub("", message)
    text = _TAIL.sub("", text)
    text = _QUOTED_PATH.sub("'<path>'", text)
    text = _NUMBER.sub("#", text)
    # tuples and lists of numbers (shapes, sizes), nested ones too
    while (new := _GROUP.sub(lambda m: m.group(1) + "…" + m.group(2)[-1], text)) != text:
        text = new
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def correlation(xs: list[float], ys: list[float]) -> float | None:
    """Pearson's r, or None when either side does not vary (or fewer than 3 points)."""
    if len(xs) < 3:
        return None
    try:
        return statistics.correlation(xs, ys)
    except statistics.StatisticsError:  # a side that does not vary
        return None


@dataclass
class TaskStats:
    task: str
    max_points: float
    n: int
    mean: float
    median: float
    full_share: float
    not_attempted_share: float
    scores: list[float] = field(default_factory=list)


@dataclass
class Failure:
    message: str            # normalized
    count: int
    students: list[str]     # who got it (examples first)
    example: str            # one original message


@dataclass
class TestStats:
    grade_id: str
    task: str
    points: float
    n: int
    pass_rate: float
    mean_points: float
    review: int
    discrimination: float | None
    failures: list[Failure]


@dataclass
class ItemAnalysis:
    max_score: float
    totals: dict[str, float]        # student -> score (submitted only)
    tasks: list[TaskStats]
    tests: list[TestStats]
    flagged: list[tuple[str, str, str]]  # (student, flag, reason)
    seconds: dict[str, float]       # student -> grading time
    missing: list[str]              # in the gradebook without a submission


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def analyse(graded: GradedClass, top: int = 5) -> ItemAnalysis:
    """The item analysis of ``graded`` (the ``top`` most frequent failures per test)."""
    subs: list[Submission] = graded.submitted
    totals = {s.student: s.score for s in subs}
    tasks = []
    for task in graded.tasks:
        full = graded.task_max(task)
        scores = [s.task_score(task, graded.tests) for s in subs]
        tasks.append(TaskStats(
            task, full, len(scores),
            statistics.fmean(scores) if scores else 0.0,
            statistics.median(scores) if scores else 0.0,
            _share([x >= full for x in scores]),
            _share([not graded.attempted(s, task) for s in subs]), scores))
    tests = []
    for cell in graded.tests:
        results = [(s, s.tests[cell.grade_id]) for s in subs if cell.grade_id in s.tests]
        passed = [1.0 if r.passed else 0.0 for _, r in results]
        rest = [s.score - r.points for s, r in results]
        groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for s, r in results:
            if not r.passed and r.message:
                groups[normalize_message(r.message)].append((s.student, r.message))
        failures = [Failure(k, len(v), [who for who, _ in v], v[0][1])
                    for k, v in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:top]]
        tests.append(TestStats(
            cell.grade_id, cell.task, cell.points, len(results),
            _share([p == 1.0 for p in passed]),
            statistics.fmean([r.points for _, r in results]) if results else 0.0,
            sum(r.review for _, r in results), correlation(passed, rest), failures))
    flagged = [(s.student, flag, reason) for s in subs for flag, reason in s.flags]
    seconds = {s.student: s.seconds for s in subs if s.seconds is not None}
    missing = [s.student for s in graded.submissions if not s.submitted]
    return ItemAnalysis(graded.max_score, totals, tasks, tests, flagged, seconds, missing)
