"""Autograde a class: every student in parallel, each in an isolated course folder.

nbgrader grades one submission after another against one SQLite gradebook
(jupyter/nbgrader#174). Here each submission gets its own ``nbgrader autograde`` in a
scratch course folder (:func:`instructor.workflow.submission.grade_one`), ``--jobs`` at
once, and only the parent writes the course's gradebook: SQLite sees one writer, and a
submission that crashes, hangs or tampers harms no one else.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from instructor import ROOT
from instructor.engine import check_server
from instructor.engine.notes import write_notes
from instructor.workflow import canary as canaries
from instructor.workflow import nbgrader_server
from instructor.workflow.gradebook import (
    GRADED_FROM,
    handin_digest,
    merge_scores,
    release_digest,
    sync_gradebook,
)
from instructor.workflow.nbgrader_cli import grading_env
from instructor.workflow.shards import Shard, submissions
from instructor.workflow.submission import Result, grade_one


def _file_result(result: Result, found, course: Path | None, log: str, out: Path,
                 graded_from: dict) -> None:
    """File one student's grade, notebook, notes, log and what was graded (the release's
    and the hand-in's digests) into ``out`` (parent only)."""
    (out / "grading_logs" / f"{result.student}__{result.assignment}.log").write_text(log)
    result.score, result.max_score = merge_scores(
        out / "gradebook.db", result.assignment, result.student, found)
    dest = out / "autograded" / result.student / result.assignment
    if dest.exists():
        shutil.rmtree(dest)
    src = course / "autograded" / result.student / result.assignment if course else None
    if src is not None and src.exists():
        shutil.copytree(src, dest)
    write_notes(dest, result.notes)
    (dest / GRADED_FROM).write_text(json.dumps(graded_from))


def isolation_problem(env: dict | None = None) -> str | None:
    """Why grading cannot start sandboxed here, and what to do; or None."""
    from instructor.engine import limits, sandbox

    if limits.safe_execute({**os.environ, **(env or {})})["isolation"] != "bubblewrap":
        return None
    why = sandbox.unavailable()
    return why and f"grading stopped before the first student: {why}"


def caps_problem(env: dict | None = None) -> str | None:
    """Why the caps are per process where no cgroup can be made; or None."""
    from instructor.engine import cgroups, limits

    if limits.safe_execute({**os.environ, **(env or {})})["isolation"] != "bubblewrap":
        return None
    why = cgroups.unavailable()
    return why and (f"warning: caps per process, not per submission ({why}); a student's "
                    "processes together may hold more memory and threads than one's cap. "
                    "Every report page says so")


def autograde(assignments: list[str], students: list[str] | None = None, jobs: int = 2,
              root: Path = ROOT, env: dict | None = None, timeout: float = 3600,
              progress=print, sync: bool = True, shard: Shard | None = None,
              canary: bool = True, canary_only: bool = False, rerun_canary: bool = False,
              ) -> list[Result]:
    """Autograde ``assignments`` for ``students`` (default: everyone who submitted),
    after each assignment's canary (``canary=False`` skips it, ``canary_only`` grades no one,
    ``rerun_canary`` ignores its cache); with ``shard``, only that shard's students, into
    ``shards/<assignment>/<i>-of-<n>/``. One :class:`Result` per submission, as they finish."""
    if shard and len(assignments) > 1:
        return [r for a in assignments for r in autograde(
            [a], students, jobs, root, env, timeout, progress, sync, shard, canary,
            canary_only, rerun_canary)]
    root = Path(root).resolve()
    why = isolation_problem(env)
    if why:
        raise SystemExit(why)
    todo = [] if canary_only else [(s, a) for a in assignments
                                   for s in submissions(root, a, students)
                                   if shard is None or shard.has(s)]
    out = shard.begin(root, assignments[0]) if shard else root
    results: list[Result] = []
    (out / "grading_logs").mkdir(parents=True, exist_ok=True)
    servers = max(1, min(jobs, len(todo) or 2))  # a student alone: one of each loads
    with tempfile.TemporaryDirectory(prefix="autograde-run-") as tmp, \
            check_server.running(servers, Path(tmp), grading_env(env),
                                 libraries=canaries.names_libraries(assignments, root)), \
            nbgrader_server.running(servers, Path(tmp)):  # loading while the sync runs
        run_dir = Path(tmp)
        # what is graded, taken before: a hand-in collected or a test changed meanwhile
        # makes the grade stale (gradebook.stale)
        releases = {a: release_digest(root, a) for a in assignments}
        handins = {(s, a): handin_digest(root / "submitted" / s / a) for s, a in todo}
        # the gradebook gets each assignment's current cells (hidden tests included),
        # and run_dir/release the matching student version
        sync_gradebook(assignments, root=root, release_dir=run_dir / "release", db=sync,
                       gradebook=out / "gradebook.db")
        shutil.copy2(out / "gradebook.db", run_dir / "gradebook.db")
        if canary_only or (canary and todo):
            canaries.check([a for a in assignments
                            if canary_only or any(a == name for _, name in todo)],
                           root, run_dir, env, timeout, progress,
                           rerun_canary, jobs)
        if canary_only:
            return results
        t0 = time.monotonic()
        where = f" (shard {shard}: {out.relative_to(root)})" if shard else ""
        caps = caps_problem(env)
        if caps and todo:
            progress(caps)
        progress(f"autograding {len(todo)} submission(s), {jobs} at a time{where}")
        with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(grade_one, s, a, root, run_dir, env or {}, timeout)
                       for s, a in todo]
            for future in cf.as_completed(futures):
                result, found, course, log = future.result()
                try:
                    _file_result(result, found, course, log, out, {
                        "release": releases[result.assignment],
                        "handin": handins[result.student, result.assignment]})
                except Exception as err:  # noqa: BLE001 - this student only
                    result.failed = True
                    result.notes.append(f"The grader could not record this grade "
                                        f"({type(err).__name__}: {err}).")
                finally:
                    if course is not None:
                        shutil.rmtree(course, ignore_errors=True)
                results.append(result)
                progress(f"[{len(results):>3}/{len(todo)}] {result.line()}")
        if shard:
            shard.finish(root, assignments[0], [r.student for r in results],
                         releases[assignments[0]])
        total = time.monotonic() - t0
        if todo:
            progress(f"done: {len(todo)} submission(s) in {total:.1f} s "
                     f"({total / len(todo):.1f} s per submission, {jobs} job(s))")
    return results
