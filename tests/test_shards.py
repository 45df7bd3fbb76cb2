"""What merge-shards takes and refuses, and a scheduler's limits from the course's caps,
without grading anyone but in the last test (a real cluster grades in
tests/test_slurm.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from instructor.workflow.shards import (
    BEGUN,
    DONE,
    Shard,
    current,
    job_limits,
    merge,
    shard_of,
    unfinished,
)
from tests.course_copy import assignment_scores

A = "05_denoising_autoencoders"


def _course(tmp_path, students):
    for student in students:
        (tmp_path / "submitted" / student / A).mkdir(parents=True)
    return tmp_path


def _students(count: int, shards: int) -> dict[int, list[str]]:
    """``count`` ids, by shard."""
    by = {i: [] for i in range(1, shards + 1)}
    for i in range(count):
        by[shard_of(f"st{i}", shards)].append(f"st{i}")
    return by


def test_each_shard_not_finished_is_named(tmp_path):
    by = _students(12, 3)
    course = _course(tmp_path, [s for ids in by.values() for s in ids])
    done = Shard(1, 3)
    done.begin(course, A)
    done.finish(course, A, by[1])
    short = Shard(2, 3)  # finished, but a submission collected since is not in it
    short.begin(course, A)
    short.finish(course, A, by[2][1:])
    folders = [Shard(i, 3).folder(course, A) for i in (1, 2)]
    problems = unfinished(course, folders)
    assert problems == [f"{A} shard 2/3: 1 submission(s) not graded ({by[2][0]})",
                        f"{A} shard 3/3: never ran"]
    # killed half-way: a folder and no done.json; a run again drops the old done.json
    Shard(3, 3).folder(course, A).mkdir()
    short.begin(course, A)
    assert not (short.folder(course, A) / DONE).exists()
    assert [p.split(":")[1].strip() for p in unfinished(
        course, [Shard(i, 3).folder(course, A) for i in (1, 2, 3)])] == \
        ["not finished (killed or failed while grading)"] * 2


def test_merge_exits_non_zero_naming_an_unfinished_shard(tmp_path):
    by = _students(6, 2)
    course = _course(tmp_path, [s for ids in by.values() for s in ids])
    killed = Shard(1, 2).begin(course, A)
    (killed / "grading_logs").mkdir(parents=True)  # what a job killed early leaves
    with pytest.raises(SystemExit) as stop:
        merge(course)
    assert f"{A} shard 1/2: not finished" in str(stop.value)
    assert f"{A} shard 2/2: never ran" in str(stop.value)
    assert not (course / "gradebook.db").exists()


def test_a_shard_folder_must_be_named_as_autograde_names_it(tmp_path):
    with pytest.raises(SystemExit, match="I-of-N"):
        unfinished(tmp_path, [tmp_path / A / "shard-one"])


def test_two_assignments_sharded_alike_keep_apart_and_an_older_count_is_not_read(tmp_path):
    """Both assignments' runs of 1/2 and 2/2 wrote shards/1-of-2/, each run's done.json
    replacing the other's, so a merge always missed one assignment; a folder of an older
    shard count stopped every later merge. Now each assignment has its own folders, and
    of each the count begun last is read."""
    other = "06_super_resolution"
    by = _students(8, 2)
    course = _course(tmp_path, [s for ids in by.values() for s in ids])
    for student in (s for ids in by.values() for s in ids):
        (course / "submitted" / student / other).mkdir()
    for assignment in (A, other):
        for i in (1, 2):
            Shard(i, 2).begin(course, assignment)
            Shard(i, 2).finish(course, assignment, by[i])
    folders = sorted((course / "shards").glob("*/*-of-*"))
    assert len(folders) == 4 and current(folders) == (folders, [])
    assert unfinished(course, folders) == []
    # a regrade of A in three shards, a minute later: the two-shard folders are older
    for folder in folders:
        os.utime(folder / BEGUN, (time.time() - 60, time.time() - 60))
    by3 = _students(8, 3)
    for i in (1, 2, 3):
        Shard(i, 3).begin(course, A)
        if i < 3:
            Shard(i, 3).finish(course, A, by3[i])
    folders = sorted((course / "shards").glob("*/*-of-*"))
    keep, older = current(folders)
    assert older == [Shard(i, 2).folder(course, A) for i in (1, 2)]
    assert unfinished(course, keep) == [f"{A} shard 3/3: not finished (killed or failed "
                                        "while grading)"]


def test_the_limits_come_from_the_courses_caps():
    assert job_limits(10, 2, {}) == {"cpus-per-task": "2", "mem": "18G",
                                     "time": str((5 * (900 + 60) + 600 + 59) // 60)}
    # a job grading two assignments' shards in turn: the time of both
    assert job_limits([10, 4], 2, {})["time"] == str(
        (5 * (900 + 60) + 600 + 2 * (900 + 60) + 600 + 59) // 60)
    smaller = job_limits(10, 2, {"COURSE_SUBMISSION_MEMORY_GB": "4",
                                 "COURSE_NOTEBOOK_TIMEOUT": "300"})
    assert smaller == {"cpus-per-task": "2", "mem": "10G", "time": "40"}  # 5 x 360 s + 600 s


def test_the_limits_command_sizes_the_largest_shard(tmp_path):
    by = _students(40, 4)
    course = _course(tmp_path, [s for ids in by.values() for s in ids])
    out = subprocess.run([sys.executable, "-m", "instructor.workflow.shards", "limits",
                          "--assignment", A, "--shards", "4", "--jobs", "1",
                          "--root", str(course)], capture_output=True, text=True, check=True)
    largest = max(len(ids) for ids in by.values())
    limits = job_limits(largest, 1)
    assert out.stdout.split() == [f"--{k}={v}" for k, v in limits.items()]
    assert json.dumps(limits)  # plain strings, as sbatch takes them
    # a comma-separated list: each assignment's largest shard, graded in turn
    for student in (s for ids in by.values() for s in ids[:2]):
        (course / "submitted" / student / "06_super_resolution").mkdir()
    out = subprocess.run([sys.executable, "-m", "instructor.workflow.shards", "limits",
                          "--assignment", f"{A},06_super_resolution", "--shards", "4",
                          "--jobs", "1", "--root", str(course)], capture_output=True,
                         text=True, check=True)
    assert out.stdout.split()[2] == f"--time={job_limits([largest, 2], 1)['time']}"


@pytest.mark.grading
def test_two_assignments_graded_in_shards_then_a_regrade_merge(tmp_path, data_dir,
                                                              canary_cache):
    """``autograde --shard 1/2`` and ``2/2`` for 05, then for 06, then ``merge-shards``:
    every submission merged with the score its shard gave (before, the second
    assignment's runs replaced the first's done.json, and the merge failed whichever
    was graded again). Then 05 graded again on one machine's worth (``--shard 1/1``): the
    older two-shard folders are not read, the merge succeeds, and the scores are the
    same as the shards'."""
    import os

    import nbformat

    from instructor.workflow.collect import collect
    from instructor.workflow.sample_class import make_notebook
    from tests.course_copy import fresh_copy

    other = "06_super_resolution"
    course = fresh_copy(tmp_path / "course")
    kinds = {"alice": "correct", "bob": "stub"}  # in shards 2 and 1 of 2
    assert {shard_of(s, 2) for s in kinds} == {1, 2}
    for assignment in (A, other):
        for student, kind in kinds.items():
            folder = tmp_path / "incoming" / assignment / student
            folder.mkdir(parents=True)
            nbformat.write(make_notebook(assignment, kind, course),
                           folder / f"{assignment}.ipynb")
        collect(tmp_path / "incoming" / assignment, assignment, root=course)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(COURSE_DATA_DIR=str(data_dir), COURSE_MODE="fast", MPLBACKEND="Agg",
               COURSE_CANARY_CACHE=str(canary_cache))

    def run(*args: str) -> str:
        done = subprocess.run([str(course / ".venv" / "bin" / "python"), "-m", "instructor",
                               *args], cwd=course, env=env, capture_output=True, text=True,
                              timeout=1800)
        assert done.returncode == 0, f"{args}\n{(done.stdout + done.stderr)[-4000:]}"
        return done.stdout

    for assignment in (A, other):
        for shard in ("1/2", "2/2"):
            run("autograde", "--assignment", assignment, "--shard", shard, "--jobs", "1")
    run("merge-shards")
    given = {}
    for db in (course / "shards").glob("*/*-of-2/gradebook.db"):
        given.update({k: v for k, v in assignment_scores(db).items()
                      if k[1] == db.parent.parent.name and shard_of(k[0], 2) ==
                      int(db.parent.name.split("-")[0])})
    merged = assignment_scores(course / "gradebook.db")
    assert len(merged) == 4 and merged == given
    for assignment in (A, other):
        assert merged["alice", assignment] > merged["bob", assignment] == 0
    run("autograde", "--assignment", A, "--shard", "1/1", "--jobs", "1")
    out = run("merge-shards")
    assert "not read, of an older run" in out and f"{A}/1-of-2" in out
    assert assignment_scores(course / "gradebook.db") == merged
    assert {k: v for k, v in assignment_scores(course / "shards" / A / "1-of-1" / "gradebook.db")
            .items() if k[1] == A} == {k: v for k, v in merged.items() if k[1] == A}


def test_submit_passes_the_data_folder_to_the_jobs_or_stops(tmp_path):
    """The jobs looked for the datasets where the submitting shell's COURSE_DATA_DIR
    said, and without it only the canary's output (in shards/) told: submit.sh now finds
    the folder as make does, passes it to each sbatch explicitly, and stops before
    submitting when there is none."""
    import os
    import shutil

    from tests.course_copy import ROOT

    course = _course(tmp_path / "course", ["st1", "st2"])
    (course / "deploy" / "slurm").mkdir(parents=True)
    shutil.copy2(ROOT / "deploy" / "slurm" / "submit.sh", course / "deploy" / "slurm")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text('#!/bin/sh\necho "$@" >> "$SBATCH_CALLS"\necho 42\n')
    (bin_dir / "sbatch").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "COURSE_DATA_DIR"}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", COURSE_PYTHON=sys.executable,
               SBATCH_CALLS=str(tmp_path / "calls"))
    submit = [str(course / "deploy" / "slurm" / "submit.sh"), A, "2", "1"]
    stopped = subprocess.run(submit, env=env, capture_output=True, text=True)
    assert stopped.returncode != 0 and "COURSE_DATA_DIR" in stopped.stderr
    assert not (tmp_path / "calls").exists()
    (tmp_path / "shared" / "data").mkdir(parents=True)  # ../shared/data, as make finds it
    done = subprocess.run(submit, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == 2  # the canary, then the array
    data = (tmp_path / "shared" / "data").resolve()
    assert all(f"--export=ALL,COURSE_DATA_DIR={data}" in c.split() for c in calls), calls
