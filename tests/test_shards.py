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

from instructor.workflow import shards
from instructor.workflow.gradebook import release_digest
from instructor.workflow.shards import (
    BEGUN,
    DONE,
    RUNNING,
    Shard,
    current,
    job_limits,
    merge,
    shard_of,
    unfinished,
)

A = "05_denoising_autoencoders"


def _release(course, assignment=A, hidden="assert True") -> str:
    """A source notebook of ``assignment`` with one hidden test; its release digest."""
    import nbformat

    cell = nbformat.v4.new_code_cell(hidden)
    cell.metadata["nbgrader"] = {"grade_id": "t-tests", "grade": True, "points": 1,
                                 "solution": False, "locked": True, "schema_version": 3}
    (course / "notebooks" / assignment).mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]),
                   course / "notebooks" / assignment / f"{assignment}.ipynb")
    return release_digest(course, assignment)


def _course(tmp_path, students):
    for student in students:
        (tmp_path / "submitted" / student / A).mkdir(parents=True)
    _release(tmp_path)
    return tmp_path


def _graded(course, shard: Shard, students, release=None, assignment=A) -> None:
    """``shard`` run and finished: each of ``students`` graded (a file under autograded/)."""
    folder = shard.begin(course, assignment)
    for student in students:
        (folder / "autograded" / student / assignment).mkdir(parents=True, exist_ok=True)
        (folder / "autograded" / student / assignment / "graded").write_text(str(shard))
    shard.finish(course, assignment, students, release or release_digest(course, assignment))


@pytest.fixture
def no_gradebook(monkeypatch):
    """merge without nbgrader: every submission scores 1/2; what was merged, in order."""
    merged = []
    monkeypatch.setattr(shards, "in_gradebook", lambda a, root: True)
    monkeypatch.setattr(shards, "read_submission", lambda db, a, s: None)
    monkeypatch.setattr(shards, "merge_scores",
                        lambda db, a, s, found: merged.append(s) or (1.0, 2.0))
    return merged


def _students(count: int, shards: int) -> dict[int, list[str]]:
    """``count`` ids, by shard."""
    by = {i: [] for i in range(1, shards + 1)}
    for i in range(count):
        by[shard_of(f"st{i}", shards)].append(f"st{i}")
    return by


def test_each_shard_not_finished_is_named(tmp_path):
    by = _students(12, 3)
    course = _course(tmp_path, [s for ids in by.values() for s in ids])
    release = release_digest(course, A)
    done = Shard(1, 3)
    done.begin(course, A)
    done.finish(course, A, by[1], release)
    short = Shard(2, 3)  # finished, but a submission collected since is not in it
    short.begin(course, A)
    short.finish(course, A, by[2][1:], release)
    folders = [Shard(i, 3).folder(course, A) for i in (1, 2)]
    problems = unfinished(course, folders)
    assert problems == [f"{A} shard 2/3: 1 submission(s) not graded ({by[2][0]})",
                        f"{A} shard 3/3: never ran"]
    # killed half-way: a folder and no done.json; a run again drops the old done.json
    Shard(3, 3).folder(course, A).mkdir()
    short.begin(course, A)
    assert not (short.folder(course, A) / DONE).exists()
    assert [p.split(": ", 1)[1] for p in unfinished(
        course, [Shard(i, 3).folder(course, A) for i in (1, 2, 3)])] == [RUNNING] * 2


def test_merge_exits_non_zero_naming_an_unfinished_shard(tmp_path):
    by = _students(6, 2)
    course = _course(tmp_path, [s for ids in by.values() for s in ids])
    killed = Shard(1, 2).begin(course, A)
    (killed / "grading_logs").mkdir(parents=True)  # what a job killed early leaves
    with pytest.raises(SystemExit) as stop:
        merge(course)
    assert f"{A} shard 1/2: {RUNNING}" in str(stop.value)
    assert f"{A} shard 2/2: never ran" in str(stop.value)
    # the command that grades them again: the array's task numbers, or each shard here
    assert f"deploy/slurm/submit.sh {A} 2 <JOBS> 1,2" in str(stop.value)
    assert f"make autograde ASSIGNMENT={A} SHARD=I/2" in str(stop.value)
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
    _release(course, other)
    for assignment in (A, other):
        for i in (1, 2):
            Shard(i, 2).begin(course, assignment)
            Shard(i, 2).finish(course, assignment, by[i], release_digest(course, assignment))
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
            Shard(i, 3).finish(course, A, by3[i], release_digest(course, A))
    folders = sorted((course / "shards").glob("*/*-of-*"))
    keep, older = current(folders)
    assert older == [Shard(i, 2).folder(course, A) for i in (1, 2)]
    assert unfinished(course, keep) == [f"{A} shard 3/3: {RUNNING}"]


def test_a_regrade_with_one_shard_not_run_again_is_refused_then_dropped_by_the_flag(
        tmp_path, no_gradebook, capsys):
    """A hidden test fixed, the release made again, shard 2/2 of the new run cancelled
    while pending: the merge kept its scores from before the fix, exit 0. Each shard now
    names the release it graded; one from an older release is named and left out, the
    merge exits non-zero naming the array's task to run again, or the flag that drops it."""
    by = _students(8, 2)
    course = _course(tmp_path, [s for ids in by.values() for s in ids])
    for i in (1, 2):
        _graded(course, Shard(i, 2), by[i])
    fixed = _release(course, hidden="assert answer == 2")  # the test fixed
    _graded(course, Shard(1, 2), by[1])  # the new run: shard 2 never ran
    with pytest.raises(SystemExit) as stop:
        merge(course)
    message = str(stop.value)
    assert f"{A} shard 2/2: finished, from an older release" in message
    assert f"deploy/slurm/submit.sh {A} 2 <JOBS> 2" in message and "DROP_OLDER=1" in message
    assert sorted(no_gradebook) == sorted(by[1])  # shard 1 merged, nothing of shard 2
    assert not any((course / "autograded" / s).exists() for s in by[2])
    no_gradebook.clear()
    assert sorted(s for s, *_ in merge(course, drop_older=True)) == sorted(by[1])
    assert f"{A} shard 2/2: finished, from an older release" in capsys.readouterr().out
    # shard 2 graded again: the merge takes it and exits 0
    _graded(course, Shard(2, 2), by[2], fixed)
    assert sorted(s for s, *_ in merge(course)) == sorted(by[1] + by[2])


def test_a_shard_finishing_while_the_merge_copies_is_named_never_lost(tmp_path, no_gradebook,
                                                                      monkeypatch):
    """A shard whose done.json appeared while the merge copied the others was neither
    merged nor named: the merge exited 0 with its students missing. The merge reads every
    done.json once, before it copies: that shard is named as not finished."""
    by = _students(8, 2)
    course = _course(tmp_path, [s for ids in by.values() for s in ids])
    _graded(course, Shard(1, 2), by[1])
    (Shard(1, 2).folder(course, A) / DONE).unlink()  # its students filed, still running
    _graded(course, Shard(2, 2), by[2])
    copy = shards._replace_tree

    def copy_while_shard_1_finishes(src, dest):
        if not (Shard(1, 2).folder(course, A) / DONE).exists():
            Shard(1, 2).finish(course, A, by[1], release_digest(course, A))
        copy(src, dest)

    monkeypatch.setattr(shards, "_replace_tree", copy_while_shard_1_finishes)
    with pytest.raises(SystemExit) as stop:
        merge(course)
    assert f"{A} shard 1/2: {RUNNING}" in str(stop.value)
    assert sorted(no_gradebook) == sorted(by[2])
    # the next merge takes it
    assert {s for s, *_ in merge(course)} == set(by[1] + by[2])


def test_bad_shard_folders_are_named_and_nothing_is_lost(tmp_path, no_gradebook, capsys):
    """A damaged done.json, a shard from before shards recorded their release, and a
    shard folder of an assignment the course no longer has: each named, nothing deleted."""
    by = _students(9, 3)
    course = _course(tmp_path, [s for ids in by.values() for s in ids])
    for i in (1, 2, 3):
        _graded(course, Shard(i, 3), by[i])
    (Shard(1, 3).folder(course, A) / DONE).write_text('{"graded": [["st1", ')  # cut short
    old = json.loads((Shard(2, 3).folder(course, A) / DONE).read_text())
    del old["release"]  # as autograde --shard wrote it before
    (Shard(2, 3).folder(course, A) / DONE).write_text(json.dumps(old))
    _graded(course, Shard(1, 1), ["st1"], "any", assignment="04_gone")
    with pytest.raises(SystemExit) as stop:
        merge(course)
    message = str(stop.value)
    assert f"{A} shard 1/3: its {DONE} cannot be read (JSONDecodeError" in message
    assert f"{A} shard 2/3: finished before shards recorded their release (an unknown " \
        "release)" in message
    assert "no longer has (no notebooks/<name>/): 04_gone" in capsys.readouterr().out
    assert sorted(no_gradebook) == sorted(by[3])
    assert (Shard(1, 1).folder(course, "04_gone") / DONE).is_file()
    assert (Shard(1, 3).folder(course, A) / DONE).is_file()


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
