"""What merge-shards takes and refuses, and a scheduler's limits from the course's caps,
without grading anyone (a real cluster grades in tests/test_slurm.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from instructor.workflow.shards import DONE, Shard, job_limits, merge, shard_of, unfinished

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
    done.begin(course).mkdir(parents=True)
    done.finish(course, [(s, A) for s in by[1]])
    short = Shard(2, 3)  # finished, but a submission collected since is not in it
    short.begin(course).mkdir(parents=True)
    short.finish(course, [(s, A) for s in by[2][1:]])
    folders = [Shard(i, 3).folder(course) for i in (1, 2)]
    problems = unfinished(course, folders, [A])
    assert problems == [f"shard 2/3: 1 submission(s) not graded ({by[2][0]}/{A})",
                        "shard 3/3: never ran"]
    # killed half-way: a folder and no done.json; a run again drops the old done.json
    Shard(3, 3).folder(course).mkdir()
    short.begin(course)
    assert not (short.folder(course) / DONE).exists()
    assert [p.split(":")[1].strip() for p in unfinished(
        course, [Shard(i, 3).folder(course) for i in (1, 2, 3)], [A])] == \
        ["not finished (killed or failed while grading)"] * 2


def test_merge_exits_non_zero_naming_an_unfinished_shard(tmp_path):
    by = _students(6, 2)
    course = _course(tmp_path, [s for ids in by.values() for s in ids])
    killed = Shard(1, 2).folder(course)
    (killed / "grading_logs").mkdir(parents=True)  # what a job killed early leaves
    with pytest.raises(SystemExit) as stop:
        merge(course)
    assert "shard 1/2: not finished" in str(stop.value)
    assert "shard 2/2: never ran" in str(stop.value)
    assert not (course / "gradebook.db").exists()


def test_a_shard_folder_must_be_named_as_autograde_names_it(tmp_path):
    with pytest.raises(SystemExit, match="I-of-N"):
        unfinished(tmp_path, [tmp_path / "shard-one"], [A])


def test_the_limits_come_from_the_courses_caps():
    assert job_limits(10, 2, {}) == {"cpus-per-task": "2", "mem": "18G",
                                     "time": str((5 * (900 + 60) + 600 + 59) // 60)}
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
