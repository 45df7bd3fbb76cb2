"""A class graded as a Slurm job array, on a real one-node Slurm cluster.

The test starts Debian's ``munged``, ``slurmctld`` and ``slurmd`` on loopback with a
configuration it writes in a folder of its own (scripts/slurm_cluster.py, the code of
``make slurm-cluster``), then grades a
small class with the course's ``deploy/slurm/submit.sh`` (the canary once, then the
array as its dependency), while the same class is graded on one machine (``autograde``
without shards). Faults: shard 3 is cancelled before it starts (it never runs), shard 2
is cancelled with ``scancel`` once it has filed a student, then requeued;
``merge-shards`` names each shard not finished and exits non-zero until it has been
graded, and merging twice changes nothing. In the end every score, graded notebook and
log equals the one-machine run's. Slurm's own limits (``--mem``, ``--cpus-per-task``,
``--time``) come from the course's caps (``job_limits``); the jobs show them.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import sqlite3
import subprocess
from pathlib import Path

import nbformat
import pytest

from instructor.workflow.collect import collect
from instructor.workflow.sample_class import KINDS, make_notebook
from instructor.workflow.shards import job_limits, shard_of
from scripts import slurm_cluster
from tests import needs
from tests.course_copy import assignment_scores, fresh_copy, gradebook_scores

pytestmark = pytest.mark.grading

A = "05_denoising_autoencoders"   # the lightest graded notebook (tests/test_exchange.py)
SHARDS = 3
#: Students in each shard: shard 2, cancelled half-way, has two (one filed before).
SIZES = {1: 1, 2: 2, 3: 1}
CLASS = sum(SIZES.values())


def _grading_env(slurm: dict, data_dir, canary_cache, tmp: Path) -> dict:
    """The environment both runs grade in: the cluster's, fast mode, the data, one canary
    cache and one grader's secret (written to ``tmp``), no virtual environment of ours."""
    (tmp / "secret").write_text(secrets.token_hex(32))
    env = dict(slurm, COURSE_DATA_DIR=str(data_dir), COURSE_MODE="fast", MPLBACKEND="Agg",
               COURSE_CANARY_CACHE=str(canary_cache),
               COURSE_HIDDEN_SECRET_FILE=str(tmp / "secret"))
    for name in ("VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def slurm():
    """A one-node Slurm cluster on loopback: the environment its commands need."""
    missing = slurm_cluster.missing()
    needs.need("the Slurm test", missing and
               f"{', '.join(missing)} (apt-get install slurm-wlm munge)")
    with slurm_cluster.one_node(cpus=2) as env:
        yield env


def test_make_slurm_cluster_starts_one_an_instructor_can_use_and_stops_it():
    """``make slurm-cluster`` (scripts/slurm_cluster.py) says what to export, the cluster
    takes a job there, and TERM (as Ctrl-C) stops every daemon it started."""
    import os
    import signal
    import sys

    missing = slurm_cluster.missing()
    needs.need("the Slurm test", missing and f"{', '.join(missing)} (apt-get install "
               "slurmctld slurmd slurm-client munge)")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, str(root / "scripts" / "slurm_cluster.py"),
                             "--cpus", "1"], stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any("export SLURM_CONF=" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        conf = next(line for line in lines if "export SLURM_CONF=" in line).split("=", 1)[1]
        env = dict(os.environ, SLURM_CONF=conf.strip())
        job = _out(["sbatch", "--parsable", "--wrap", "true", "-o", "/dev/null"], env).strip()
        _wait(lambda: _finished(job, env), 120)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
        assert not Path(conf.strip()).parent.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _out(cmd: list[str], env: dict, cwd: Path | None = None) -> str:
    return slurm_cluster.run(cmd, env, cwd)


def _wait(ready, seconds: float, why=lambda: "") -> None:
    try:
        slurm_cluster.wait(ready, seconds, why)
    except TimeoutError as err:
        pytest.fail(str(err))


def _roster() -> dict[str, str]:
    """Student -> kind: SIZES[i] students in shard i, the kinds in turn."""
    roster, counts, i = {}, dict.fromkeys(range(1, SHARDS + 1), 0), 0
    while len(roster) < CLASS:
        kind = KINDS[len(roster) % len(KINDS)]
        student = f"s{i:03d}_{kind}"
        if counts[shard_of(student, SHARDS)] < SIZES[shard_of(student, SHARDS)]:
            counts[shard_of(student, SHARDS)] += 1
            roster[student] = kind
        i += 1
    return roster


def _submissions(course: Path) -> int:
    with sqlite3.connect(course / "gradebook.db") as db:
        return db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone()[0]


def _tree(folder: Path) -> dict[str, str]:
    """Each file under ``folder``, by path: a hash of its content."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _state(course: Path) -> tuple:
    return (gradebook_scores(course), _submissions(course), _tree(course / "autograded"),
            sorted(p.name for p in (course / "grading_logs").iterdir()))


def _merge(course: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(course / ".venv" / "bin" / "python"), "-m", "instructor",
                           "merge-shards"], cwd=course, env=env, capture_output=True,
                          text=True, timeout=600)


def _state_of(task: str, env: dict) -> str:
    return _out(["scontrol", "show", "job", task], env).split("JobState=", 1)[1].split()[0]


def _finished(job: str, env: dict) -> bool:
    return slurm_cluster.finished(job, env)


@pytest.fixture(scope="module")
def graded(slurm, tmp_path_factory, data_dir, canary_cache):
    tmp = tmp_path_factory.mktemp("slurm-class")
    alone, course = fresh_copy(tmp / "alone"), fresh_copy(tmp / "cluster")
    incoming = tmp / "incoming"
    roster = _roster()
    for student, kind in roster.items():
        (incoming / student).mkdir(parents=True)
        nbformat.write(make_notebook(A, kind, alone), incoming / student / f"{A}.ipynb")
    collect(incoming, A, root=alone)
    shutil.copytree(alone / "submitted", course / "submitted")  # the same timestamps
    env = _grading_env(slurm, data_dir, canary_cache, tmp)  # one secret for both runs
    # the one-machine run, beside the cluster's
    one = subprocess.Popen([str(alone / ".venv" / "bin" / "python"), "-m", "instructor",
                            "autograde", "--assignment", A, "--jobs", "2"], cwd=alone,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        log, job = _cluster_run(course, env)
        out, _ = one.communicate(timeout=900)
    finally:
        if one.poll() is None:  # the test failed first: the run it started ends with it
            one.kill()
            one.wait()
    assert one.returncode == 0, out[-4000:]
    return {"alone": alone, "course": course, "roster": roster, "log": log, "job": job}


def _cluster_run(course: Path, env: dict) -> tuple[dict, str]:
    """The class graded by the cluster, with its faults; what each step said."""
    log = {}
    submit = [str(course / "deploy" / "slurm" / "submit.sh"), A, str(SHARDS), "1"]
    job = _out(submit, env, course).strip()
    log["limits"] = _out(["scontrol", "show", "job", f"{job}_1"], env)
    # shard 3 never runs: cancelled while it waits for the canary
    _out(["scancel", f"{job}_3"], env)
    # shard 2 is cancelled once it has filed one student, before the other
    filed = course / "shards" / A / f"2-of-{SHARDS}" / "grading_logs"
    _wait(lambda: any(filed.glob("*.log")) or _finished(job, env), 900,
          lambda: _out(["squeue"], env))
    log["filed before cancel"] = len(list(filed.glob("*.log")))
    _out(["scancel", f"{job}_2"], env)
    _wait(lambda: _state_of(f"{job}_2", env) == "CANCELLED", 120)
    log["merge, 2 killed, 3 cancelled"] = _merge(course, env)
    # requeued: eligible at once (Slurm holds a requeued job back two minutes)
    _out(["scontrol", "requeue", f"{job}_2"], env)
    _out(["scontrol", "update", f"JobId={job}_2", "StartTime=now"], env)
    _wait(lambda: _finished(job, env), 900, lambda: _out(["squeue"], env))
    log["merge, 3 cancelled"] = _merge(course, env)
    log["tasks"] = {i: _state_of(f"{job}_{i}", env) for i in (1, 2)}  # 3: never ran
    log["shard 2 output"] = (course / "shards" / f"slurm-{job}_2.out").read_text()
    # shard 3 graded again, alone (the canary passed for this class already)
    again = _out([*submit, "3"], env, course).strip()
    _wait(lambda: _finished(again, env), 900, lambda: _out(["squeue"], env))
    log["merge"] = _merge(course, env)
    log["merged once"] = _state(course)
    log["merge again"] = _merge(course, env)
    return log, job


def test_the_array_runs_with_the_courses_limits_after_the_canary(graded):
    shown = " ".join(graded["log"]["limits"].split())
    limits = job_limits(max(SIZES.values()), 1)
    minutes = int(limits["time"])
    assert f"ArrayJobId={graded['job']} ArrayTaskId=1" in shown, shown
    assert f"NumCPUs={limits['cpus-per-task']}" in shown, shown
    assert f"MinMemoryNode={limits['mem']}" in shown, shown
    assert f"TimeLimit={minutes // 60:02d}:{minutes % 60:02d}:00" in shown, shown
    assert "Dependency=afterok:" in shown, shown  # waiting for the canary
    canary = list((graded["course"] / "shards").glob("slurm-canary-*.out"))
    assert len(canary) == 1, canary  # once for the class, not once per shard
    assert graded["log"]["tasks"][1] in ("COMPLETED", "FAILED")


def test_unfinished_shards_are_named_until_graded_again(graded):
    log = graded["log"]
    assert log["filed before cancel"] >= 1
    first = log["merge, 2 killed, 3 cancelled"]
    assert first.returncode != 0
    assert f"shard 2/{SHARDS}: not finished" in first.stderr, first.stderr
    assert f"shard 3/{SHARDS}: never ran" in first.stderr, first.stderr
    second = log["merge, 3 cancelled"]
    assert second.returncode != 0
    assert f"shard 3/{SHARDS}: never ran" in second.stderr and "shard 2/" not in second.stderr
    assert log["merge"].returncode == 0, log["merge"].stdout + log["merge"].stderr
    assert f"merged {CLASS} submission(s)" in log["merge"].stdout


def test_a_requeued_shard_is_graded_once(graded):
    output = graded["log"]["shard 2 output"]
    assert "CANCELLED" in output and output.count("autograding 2 submission(s)") == 2, output
    assert graded["log"]["tasks"][2] in ("COMPLETED", "FAILED")
    course = graded["course"]
    assert _submissions(course) == CLASS
    assert len(list((course / "grading_logs").iterdir())) == CLASS


def test_the_cluster_scores_like_one_machine_and_a_second_merge_changes_nothing(graded):
    alone, course = graded["alone"], graded["course"]
    scores = gradebook_scores(alone)
    assert set(scores) == set(graded["roster"])
    assert scores == gradebook_scores(course)
    assert any(scores.values()) and not all(scores.values())  # a mixed class
    assert _tree(course / "autograded").keys() == _tree(alone / "autograded").keys()
    for notes in (alone / "autograded").glob(f"*/{A}/GRADING_NOTES.txt"):
        assert (course / notes.relative_to(alone)).read_text() == notes.read_text()
    assert graded["log"]["merge again"].returncode == 0
    assert _state(course) == graded["log"]["merged once"]


B = "06_super_resolution"


@pytest.fixture(scope="module")
def two_arrays(slurm, tmp_path_factory, data_dir, canary_cache):
    """Two assignments graded as the docs show them: one ``submit.sh`` each, the same
    SHARDS, both arrays queued at once, then merged; then the first graded again in one
    shard (``submit.sh A 1``) and merged again. A correct answer and a stub in each:
    whether the cluster scores like one machine is ``graded``'s question."""
    tmp = tmp_path_factory.mktemp("slurm-two")
    course = fresh_copy(tmp / "cluster")
    kinds = {"alice": "correct", "bob": "stub"}  # shards 2 and 1 of 2
    assert {shard_of(s, 2) for s in kinds} == {1, 2}
    for assignment in (A, B):
        for student, kind in kinds.items():
            (tmp / assignment / student).mkdir(parents=True)
            nbformat.write(make_notebook(assignment, kind, course),
                           tmp / assignment / student / f"{assignment}.ipynb")
        collect(tmp / assignment, assignment, root=course)
    env = _grading_env(slurm, data_dir, canary_cache, tmp)

    def submit_and_merge(assignments: tuple[str, ...], shards: str) -> subprocess.CompletedProcess:
        jobs = [_out([str(course / "deploy" / "slurm" / "submit.sh"), a, shards, "1"], env,
                     course).strip() for a in assignments]
        _wait(lambda: all(_finished(j, env) for j in jobs), 1800,
              lambda: _out(["squeue"], env))
        return _merge(course, env)

    merge = submit_and_merge((A, B), "2")
    given = {}  # what each shard's own gradebook gave its students
    for db in (course / "shards").glob("*/*-of-2/gradebook.db"):
        given.update({k: v for k, v in assignment_scores(db).items()
                      if k[1] == db.parent.parent.name and shard_of(k[0], 2) ==
                      int(db.parent.name.split("-")[0])})
    merged = assignment_scores(course / "gradebook.db")
    done = {a: (course / "shards" / a / "2-of-2" / "done.json").is_file() for a in (A, B)}
    regrade = submit_and_merge((A,), "1")
    return {"course": course, "merge": merge, "given": given, "merged": merged,
            "done": done, "regrade": regrade}


def _points(course: Path, assignment: str) -> float:
    """The most an assignment's release can score: its graded cells' points."""
    nb = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    return sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in nb.cells)


def test_two_assignments_as_two_arrays_merge_to_each_shards_scores(two_arrays):
    """Both arrays wrote shards/1-of-2/ and shards/2-of-2/, each task's done.json
    replacing the other assignment's: merge-shards named one assignment's submissions
    as not graded, whichever was graded last. Now each has its own folders."""
    merge, course = two_arrays["merge"], two_arrays["course"]
    assert merge.returncode == 0, merge.stdout + merge.stderr
    assert "merged 4 submission(s)" in merge.stdout
    assert two_arrays["merged"] == two_arrays["given"]
    expected = {(s, a): _points(course, a) if s == "alice" else 0
                for s in ("alice", "bob") for a in (A, B)}
    assert _points(course, A) > 0 and _points(course, B) > 0
    assert two_arrays["merged"] == expected
    assert two_arrays["done"] == {A: True, B: True}


def test_a_regrade_in_one_shard_merges_and_the_older_shards_are_not_read(two_arrays):
    """The first assignment graded again in one shard: its two-shard folders are older
    than the new run's and are not read; the scores stay the shards'."""
    regrade, course = two_arrays["regrade"], two_arrays["course"]
    assert regrade.returncode == 0, regrade.stdout + regrade.stderr
    assert "not read, of an older run" in regrade.stdout and f"{A}/1-of-2" in regrade.stdout
    assert assignment_scores(course / "gradebook.db") == two_arrays["merged"]
    again = assignment_scores(course / "shards" / A / "1-of-1" / "gradebook.db")
    assert {k: v for k, v in again.items() if k[1] == A} == \
        {k: v for k, v in two_arrays["merged"].items() if k[1] == A}
