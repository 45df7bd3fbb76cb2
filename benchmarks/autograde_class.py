"""Benchmark: autograde a synthetic class through the instructor pipeline.

    .venv/bin/python benchmarks/autograde_class.py                 # 30 students, 2 jobs
    .venv/bin/python benchmarks/autograde_class.py -n 4 -a 06_super_resolution

In a scratch course folder (the repository is not touched), it generates the release
of the graded notebooks, writes ``n`` synthetic submissions (correct, partial, stub,
broken, in turn; student ``i`` submits graded notebook ``i mod k``, so the class mixes
all of them), collects them as an instructor would, and autogrades the class with
``instructor.workflow.autograde`` (``--jobs`` graders in parallel, each in its own course folder
and gradebook copy, merged into one gradebook). Notebooks are graded in fast mode, as
``make autograde`` grades them: the setup and answer cells in the answer process, the
tests in the checking process, no kernel. The canary
(``instructor.workflow.canary``: the answer key and the stub graded first) runs before
the class, and stops it if the key does not get full marks here (``--skip-canary`` to
measure without it). It prints the canary's time, progress (students done / total),
the seconds each submission took, the class total and the mean per student, per notebook
and overall, and where a submission's seconds go.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from instructor import ROOT
from instructor.workflow.assignments import graded_assignments
from instructor.workflow.autograde import autograde
from instructor.workflow.collect import collect
from instructor.workflow.generate import generate
from instructor.workflow.sample_class import KINDS, make_notebook


def build_class(root: Path, n: int, names: list[str]) -> dict[str, tuple[str, str]]:
    """Scratch course at ``root`` with ``n`` collected submissions; student -> (nb, kind)."""
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copytree(ROOT / "notebooks" / name, root / "notebooks" / name)
    generate("release", names, root=root)
    roster = {}
    for name in names:
        incoming = root / "incoming" / name
        incoming.mkdir(parents=True)
    for i in range(n):
        name, kind = names[i % len(names)], KINDS[(i // len(names)) % len(KINDS)]
        student = f"s{i + 1:02d}_{kind}"
        folder = root / "incoming" / name / student
        folder.mkdir()
        import nbformat

        nbformat.write(make_notebook(name, kind, root), folder / f"{name}.ipynb")
        roster[student] = (name, kind)
    for name in names:
        collect(root / "incoming" / name, name, root=root)
    return roster


def run(n: int = 30, jobs: int = 2, names: list[str] | None = None, keep: Path | None = None,
        progress=print, canary: bool = True) -> dict:
    names = names or graded_assignments()
    tmp = Path(tempfile.mkdtemp(prefix="bench-class-")) if keep is None else Path(keep)
    try:
        t0 = time.monotonic()
        roster = build_class(tmp, n, names)
        setup_s = time.monotonic() - t0
        t1 = time.monotonic()
        started = []  # when the first student's grading began (after sync and canary)

        def tell(line: str) -> None:
            if line.startswith("autograding ") and not started:
                started.append(time.monotonic())
            progress(line)

        results = autograde(names, root=tmp, jobs=jobs, progress=tell, canary=canary)
        total = time.monotonic() - t1
        before_class = (started[0] if started else t1 + total) - t1
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    per_nb: dict[str, list[float]] = {}
    for r in results:
        per_nb.setdefault(r.assignment, []).append(r.seconds)
    summary = {
        "students": len(results), "jobs": jobs, "setup_s": setup_s,
        "total_s": total, "before_class_s": before_class,
        "per_student_wall_s": total / max(1, len(results)),
        "per_student_cpu_s": statistics.mean(r.seconds for r in results) if results else 0,
        "per_notebook_s": {k: statistics.mean(v) for k, v in per_nb.items()},
        "failed": [r.student for r in results if r.failed],
        "scores": {r.student: (roster[r.student][1], r.score, r.max_score) for r in results},
        "phases": phase_table(results),
    }
    return summary


#: The phases of one submission, in the order they happen (instructor.engine.execute,
#: ``course_grading.seconds`` in the graded notebook), then what the rest of the
#: submission's seconds went to: nbgrader's own passes (the gradebook, the other
#: preprocessors, saving), the submission's checks and copies, and the process that runs
#: ``nbgrader autograde``.
PHASES = ["checks start", "checks (waited for)"]
REST = "nbgrader and the rest"


def phase_table(results) -> dict[str, dict[str, float]]:
    """Notebook -> phase -> mean seconds per submission (every phase of :data:`PHASES`
    that any submission had, then :data:`REST`: the submission's seconds not in them)."""
    table: dict[str, dict[str, list[float]]] = {}
    for r in results:
        row = table.setdefault(r.assignment, {})
        for phase, sec in r.phases.items():
            row.setdefault(phase, []).append(sec)
        row.setdefault(REST, []).append(r.seconds - sum(r.phases.values()))
    return {nb: {phase: statistics.mean(v) for phase, v in row.items()}
            for nb, row in table.items()}


def print_phases(table: dict[str, dict[str, float]]) -> None:
    """The phase table: one column per notebook, seconds per submission."""
    names = sorted(table)
    phases = [p for p in [*PHASES, REST] if any(p in table[n] for n in names)]
    short = [n[:2] for n in names]
    print(f"\n  {'seconds per submission, by phase':<34}" + "".join(f"{s:>7}" for s in short))
    for phase in phases:
        print(f"  {phase:<34}" + "".join(f"{table[n].get(phase, 0.0):7.1f}" for n in names))
    print(f"  {'total':<34}" + "".join(f"{sum(table[n].values()):7.1f}" for n in names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="students (default 30)")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="parallel graders")
    parser.add_argument("-a", "--assignments", default="",
                        help="comma-separated notebooks (default: every graded one)")
    parser.add_argument("--keep", type=Path, help="keep the scratch course here")
    parser.add_argument("--skip-canary", action="store_true",
                        help="grade without the canary (answer key and stub first)")
    args = parser.parse_args()
    names = [a for a in args.assignments.split(",") if a] or None
    s = run(args.n, args.jobs, names, args.keep, canary=not args.skip_canary)
    print(f"\nclass of {s['students']} on {os.cpu_count()} CPU core(s), {s['jobs']} job(s):")
    print(f"  class total {s['total_s']:.0f} s ({s['total_s'] / 60:.1f} min), "
          f"{s['per_student_wall_s']:.1f} s per student (wall), "
          f"{s['per_student_cpu_s']:.1f} s per submission (each grader)")
    for name, sec in sorted(s["per_notebook_s"].items()):
        print(f"  {name:<32} {sec:6.1f} s per submission")
    print(f"  setup (release + collect) {s['setup_s']:.0f} s; gradebook sync and canary "
          f"{s['before_class_s']:.0f} s (in the class total); failed: {s['failed'] or 'none'}")
    print_phases(s["phases"])
    for student, (kind, score, max_score) in sorted(s["scores"].items()):
        print(f"  {student:<16} {kind:<8} {score:g}/{max_score:g}")


if __name__ == "__main__":
    main()
