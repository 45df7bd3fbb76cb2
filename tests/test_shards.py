"""What merge-shards takes and refuses, and a scheduler's limits from the course's caps,
without grading anyone (a real cluster grades two assignments in shards, merges them and
grades one again in tests/test_slurm.py)."""

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
