"""Benchmark: a synthetic class graded through a Slurm job array and on one machine.

    .venv/bin/python benchmarks/slurm_class.py                      # 120 students, 4 shards
    .venv/bin/python benchmarks/slurm_class.py -n 24 --shards 2 --sizes 6,12,24

Needs Debian's slurmctld, slurmd and munge (run as root): it starts a one-node cluster
on loopback (scripts/slurm_cluster.py). In two fresh copies of the course it collects the
same ``n`` synthetic submissions of one notebook (``correct``, ``partial``, ``stub``,
``broken`` in turn), runs the canary once (then cached), and grades the class:

1. on one machine: ``autograde --jobs J*C`` (as many at once as the cluster runs);
2. through the cluster: ``deploy/slurm/submit.sh A SHARDS J`` (the canary job, then the
   array, at most C tasks at once on the node's C CPUs), waiting for the array.

It prints each run's wall time and CPU seconds: every process of the run, the sandboxed
ones and the cluster's daemons included, counted by a cgroup v1 ``cpuacct`` group of its
own (else only what ``wait`` reports, which misses the sandboxed processes), the
scheduler's overhead (the array's wall time and CPU against the local run's, per job),
and whether every score agrees. Then, on the
cluster's course, the steps after grading at each of ``--sizes`` (the class cut to its
first k students): ``merge-shards``, ``grades`` (the gradebook to CSV) and
``similarity`` (each task's answers compared pairwise), wall and CPU, to see which grows
worse than linearly. On a shared machine compare CPU seconds; wall times move with load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from instructor.workflow.collect import collect  # noqa: E402
from instructor.workflow.sample_class import KINDS, make_notebook  # noqa: E402
from instructor.workflow.shards import DONE, SHARDS  # noqa: E402
from scripts import slurm_cluster  # noqa: E402
from tests.course_copy import fresh_copy, gradebook_scores  # noqa: E402

#: The command a shard task runs under, so that its CPU is counted (COURSE_PYTHON).
TIMED = """#!/bin/bash
exec /usr/bin/time -a -o "$BENCH_TIMES" -f "%e %U %S %C" "{python}" "$@"
"""


CPUACCT = Path("/sys/fs/cgroup/cpuacct")


@contextlib.contextmanager
def cpu_group(name: str):
    """This process and all it starts inside in a cpuacct group of their own: yields a
    function giving their CPU seconds so far (None without a writable cpuacct)."""
    group = CPUACCT / f"course-bench-{os.getpid()}-{name}"
    try:
        group.mkdir()
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        yield lambda: None
        return
    try:
        yield lambda: int((group / "cpuacct.usage").read_text()) / 1e9
    finally:
        (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
        with contextlib.suppress(OSError):
            group.rmdir()


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """Run ``cmd``: wall seconds, CPU seconds of it and its children, its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = done.stdout + done.stderr
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out[-4000:]}")
    return wall, cpu, out


def build(tmp: Path, n: int, assignment: str, env: dict) -> tuple[Path, Path]:
    alone, cluster = fresh_copy(tmp / "alone"), fresh_copy(tmp / "cluster")
    incoming = tmp / "incoming"
    for i in range(n):
        student = f"s{i:04d}_{KINDS[i % len(KINDS)]}"
        (incoming / student).mkdir(parents=True)
        nbformat.write(make_notebook(assignment, KINDS[i % len(KINDS)], alone),
                       incoming / student / f"{assignment}.ipynb")
    collect(incoming, assignment, root=alone)
    shutil.copytree(alone / "submitted", cluster / "submitted")
    python = str(alone / ".venv" / "bin" / "python")
    timed([python, "-m", "instructor", "autograde", "--assignment", assignment,
           "--canary-only"], alone, env)
    return alone, cluster


def cut(course: Path, dest: Path, keep: set[str]) -> Path:
    """A copy of the graded ``course`` with only the students in ``keep`` (before merge)."""
    copy = fresh_copy(dest)
    for student in keep:
        shutil.copytree(course / "submitted" / student, copy / "submitted" / student)
    for folder in sorted((course / SHARDS).glob("*/*-of-*")):
        mine = copy / folder.relative_to(course)
        (mine / "autograded").mkdir(parents=True)
        shutil.copy2(folder / "gradebook.db", mine / "gradebook.db")
        graded = json.loads((folder / DONE).read_text())
        graded["graded"] = [pair for pair in graded["graded"] if pair[0] in keep]
        for student, _ in graded["graded"]:
            shutil.copytree(folder / "autograded" / student, mine / "autograded" / student)
        (mine / DONE).write_text(json.dumps(graded))
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=120, help="students")
    parser.add_argument("-a", "--assignment", default="05_denoising_autoencoders")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=1, help="submissions at once per task")
    parser.add_argument("--cpus", type=int, default=2, help="the node's CPUs")
    parser.add_argument("--sizes", default="30,60,120",
                        help="class sizes for the steps after grading")
    args = parser.parse_args()
    if slurm_cluster.missing():
        raise SystemExit(f"needs {', '.join(slurm_cluster.missing())}: "
                         "apt-get install slurm-wlm munge")
    a = args.assignment
    tmp = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    (tmp / "secret").write_text(secrets.token_hex(32))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(MPLBACKEND="Agg", COURSE_MODE=env.get("COURSE_MODE", "fast"),
               COURSE_HIDDEN_SECRET_FILE=str(tmp / "secret"),
               COURSE_CANARY_CACHE=str(tmp / "canary"))
    try:
        t0 = time.monotonic()
        alone, cluster = build(tmp, args.n, a, env)
        print(f"class of {args.n} ({a}) collected and its canary run in "
              f"{time.monotonic() - t0:.0f} s")
        python = str(alone / ".venv" / "bin" / "python")
        at_once = args.jobs * args.cpus
        with cpu_group("local") as group:
            wall, cpu, _ = timed([python, "-m", "instructor", "autograde", "--assignment", a,
                                  "--jobs", str(at_once), "--skip-canary"], alone, env)
            cpu = group() or cpu
        local = {"wall": wall, "cpu": cpu}
        print(f"one machine: {args.n} submissions, {at_once} at once: {wall:.0f} s wall, "
              f"{cpu:.0f} s CPU ({cpu / args.n:.1f} s CPU per submission)", flush=True)
        (tmp / "python").write_text(TIMED.format(python=cluster / ".venv" / "bin" / "python"))
        (tmp / "python").chmod(0o755)
        times = tmp / "times"
        with cpu_group("cluster") as group, \
                slurm_cluster.one_node(cpus=args.cpus) as slurm:
            senv = dict(env, **{"SLURM_CONF": slurm["SLURM_CONF"]},
                        COURSE_PYTHON=str(tmp / "python"), BENCH_TIMES=str(times))
            idle_cpu = group()
            t1 = time.monotonic()
            job = slurm_cluster.run([str(cluster / "deploy" / "slurm" / "submit.sh"), a,
                                     str(args.shards), str(args.jobs)], senv, cluster).strip()
            slurm_cluster.wait(lambda: slurm_cluster.finished(job, senv), 6 * 3600)
            array_wall = time.monotonic() - t1
            array_cpu = group() - idle_cpu if idle_cpu is not None else None
        tasks = [line.split(maxsplit=3) for line in times.read_text().splitlines()
                 if " autograde " in line]  # not submit.sh's limits commands
        task_cpu = array_cpu or sum(float(u) + float(s) for _, u, s, _ in tasks)
        task_wall = [float(e) for e, _, _, c in tasks if "--shard " in c]
        overhead = array_wall - local["wall"]
        print(f"Slurm array: {args.shards} shard(s), {args.jobs} at once each, the canary "
              f"job first: {array_wall:.0f} s wall, {task_cpu:.0f} s CPU in its jobs; "
              f"shard tasks {min(task_wall):.0f} to {max(task_wall):.0f} s; against one "
              f"machine {overhead:+.0f} s wall ({overhead / (args.shards + 1):+.1f} s per "
              f"job), {task_cpu - local['cpu']:+.0f} s CPU "
              f"({(task_cpu - local['cpu']) / (args.shards + 1):+.1f} s per job)")
        py = str(cluster / ".venv" / "bin" / "python")
        students = sorted(p.name for p in (cluster / "submitted").iterdir())
        for size in sorted({int(s) for s in args.sizes.split(",")}):
            copy = cut(cluster, tmp / f"size-{size}", set(students[:size]))
            line = [f"{size:>5} students:"]
            for step in (["merge-shards"], ["grades", "--to", "grades.csv"],
                         ["similarity", "--assignment", a]):
                with cpu_group(step[0]) as group:
                    wall, cpu, out = timed([py, "-m", "instructor", *step], copy, env)
                    cpu = group() or cpu
                line.append(f"{step[0]} {wall:.1f} s wall {cpu:.1f} s CPU")
            print("; ".join(line), flush=True)
            if size == len(students):
                same = gradebook_scores(copy) == gradebook_scores(alone)
                print(f"every score the same on the cluster as on one machine: {same}")
            shutil.rmtree(copy, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
