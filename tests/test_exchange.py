"""The course on a JupyterHub, end to end.

nbgrader's exchange round trip with the course's configuration, in a fresh copy of the
course (the instructor's folder) and a home folder for each student, each student with
the hub's ``deploy/jupyterhub/nbgrader_config.py`` as their own configuration:

release_assignment -> fetch_assignment, Validate, submit -> collect -> the course's
autograde (no kernel, only the setup and answer
cells run) -> feedback -> release_feedback -> fetch_feedback. (A class graded in shards
and merged, with the same scores and files as on one machine: tests/test_slurm.py.)
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from instructor.workflow.sample_class import make_notebook
from tests.course_copy import ROOT, fresh_copy, gradebook_scores

pytestmark = pytest.mark.grading

A = "05_denoising_autoencoders"   # the lightest graded notebook to run whole (validate)
STUDENTS = ("alice", "bob")  # solved, not started (and in different shards)
PLANTED = "The grader could not grade this notebook; it owes you full marks."


def _run(command: str, cwd: Path, env: dict) -> str:
    done = subprocess.run(shlex.split(command), cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{command}\n{out[-4000:]}"
    return out


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory, data_dir, canary_cache):
    """Everything done once; the tests below read what it left."""
    tmp = tmp_path_factory.mktemp("hub")
    course = fresh_copy(tmp / "instructor" / "course")
    exchange = tmp / "exchange"
    base = {k: v for k, v in os.environ.items()
            if k not in ("VIRTUAL_ENV", "PYTHONPATH", "JUPYTERHUB_USER")}
    base.update(COURSE_DATA_DIR=str(data_dir), COURSE_MODE="fast", MPLBACKEND="Agg",
                COURSE_EXCHANGE=str(exchange), COURSE_CANARY_CACHE=str(canary_cache))
    # the instructor grades: only the setup and answer cells run, no kernel
    teacher = dict(base, HOME=str(tmp / "instructor"))
    nbgrader = str(course / ".venv" / "bin" / "nbgrader")
    python = str(course / ".venv" / "bin" / "python")
    log = {}

    log["release"] = _run(f"{nbgrader} release_assignment {A}", course, teacher)
    homes, env = {}, {}
    for student in STUDENTS:
        home = homes[student] = tmp / "home" / student
        (home / ".jupyter").mkdir(parents=True)
        shutil.copy2(ROOT / "deploy" / "jupyterhub" / "nbgrader_config.py",
                     home / ".jupyter" / "nbgrader_config.py")
        env[student] = dict(base, HOME=str(home), JUPYTERHUB_USER=student)
        _run(f"{nbgrader} fetch_assignment {A}", home, env[student])
    mine = {s: homes[s] / A / f"{A}.ipynb" for s in STUDENTS}
    log["validate_release"] = _run(f"{nbgrader} validate {mine['bob']}", homes["bob"], env["bob"])
    # alice does the task: the released notebook with the reference answer in it
    nbformat.write(make_notebook(A, "correct", course), mine["alice"])
    # the student's copy with the task done (the answer key's answer in the released
    # notebook; solutions/ itself also runs the exercise answers, which add nothing here)
    log["validate_done"] = _run(f"{nbgrader} validate {mine['alice']}", homes["alice"],
                                env["alice"])
    # bob submits notes of his own, as if the grader's: neither collected nor shown
    (homes["bob"] / A / "GRADING_NOTES.txt").write_text(PLANTED + "\n")
    for student in STUDENTS:
        # on a hub the student's id comes from JUPYTERHUB_USER; here all run as one user
        _run(f"{nbgrader} submit {A} --student {student}", homes[student], env[student])

    _run(f"{nbgrader} collect {A}", course, teacher)
    log["autograde"] = _run(f"{python} -m instructor autograde --assignment {A}", course,
                            teacher)
    _run(f"{python} -m instructor feedback --assignment {A}", course, teacher)
    _run(f"{nbgrader} release_feedback {A}", course, teacher)
    for student in STUDENTS:
        _run(f"{nbgrader} fetch_feedback {A} --student {student}", homes[student],
             env[student])

    return {"course": course, "homes": homes, "log": log, "exchange": exchange}


def test_the_release_reaches_every_student_and_the_exchange_is_the_configured_one(
        round_trip):
    assert f"Released as: autoencoders {A}" in round_trip["log"]["release"]
    assert (round_trip["exchange"] / "autoencoders" / "outbound" / A / f"{A}.ipynb").is_file()
    for home in round_trip["homes"].values():
        assert (home / A / f"{A}.ipynb").is_file()


def test_validate_reports_the_stub_before_the_task_and_success_after(round_trip):
    log = round_trip["log"]
    assert "exercise not done yet" in log["validate_release"]
    assert "Success!" not in log["validate_release"]
    assert "Success! Your notebook passes all the tests." in log["validate_done"], \
        log["validate_done"][-2000:]


def test_collected_graded_and_feedback_fetched_by_each_student(round_trip):
    course = round_trip["course"]
    assert sorted(p.name for p in (course / "submitted").iterdir()) == sorted(STUDENTS)
    graded = nbformat.read(course / "autograded" / "alice" / A / f"{A}.ipynb", as_version=4)
    assert graded.metadata.kernelspec.name == "autoencoders-course"
    skipped = [c for c in graded.cells if c.cell_type == "code" and any(
        "not run while grading" in o.get("text", "") for o in c.get("outputs", []))]
    ran = [c for c in graded.cells if c.cell_type == "code" and c.get("execution_count")]
    assert skipped and ran, "grading should skip demo cells and run the answers"
    scores = gradebook_scores(course)
    assert scores == {"alice": 3, "bob": 0}, scores
    for student, home in round_trip["homes"].items():
        fetched = list((home / A / "feedback").glob(f"*/{A}.html"))
        assert len(fetched) == 1, f"{student}: {fetched}"
        html = fetched[0].read_text()
        assert "BEGIN HIDDEN TESTS" not in html and "psnr" in html
        assert PLANTED not in html
    for notes in course.glob(f"*/*/{A}/GRADING_NOTES.txt"):  # submitted/, autograded/...
        assert PLANTED not in notes.read_text(), notes
