"""From the LMS's download to the file the LMS imports, by the commands an instructor types.

For each LMS, three students hand in notebook 05 (task (e) ``psnr``, the cheapest to
grade) the way students on Colab do: the answer key under its own name with a PDF
beside it (a name beyond ASCII), a partial answer renamed and late, and a PDF with no
notebook. Their download, written as the LMS writes it (tests/lms_downloads.py), goes
through ``make collect``, ``make autograde``, ``make report`` and ``make lms-export``
in a fresh copy of the course; the file written must give every student of the LMS's
gradebook file their score, with no mapping file. Canvas: its gradebook export; Moodle:
the assignment's grading worksheet.
"""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import nbformat
import pytest

from instructor.analytics.graded import load
from tests.course_copy import fresh_copy
from tests.lms_downloads import (
    Student,
    canvas_download,
    canvas_gradebook,
    moodle_download,
    moodle_worksheet,
)

pytestmark = pytest.mark.grading

A = "05_denoising_autoencoders"
COLUMN = "05 Denoising autoencoders (88123)"


def _run(command: list[str], cwd: Path, env: dict) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _students(root: Path) -> list[Student]:
    from instructor.workflow.sample_class import make_notebook

    correct = nbformat.writes(make_notebook(A, "correct", root)).encode()
    partial = nbformat.writes(make_notebook(A, "partial", root)).encode()
    return [
        Student("Jürgen", "Müller", 4101, 912301,
                [(f"{A}.ipynb", correct), ("notes.pdf", b"%PDF-1.4")]),
        Student("Zoë", "Chen", 4102, 912302, [(f"{A} (1).ipynb", partial)], late=True),
        Student("Bảo", "Nguyen", 4104, 912304, [("report.pdf", b"%PDF-1.4")]),
    ]


@pytest.fixture(scope="module")
def course(tmp_path_factory, data_dir):
    """One copy of the course; each LMS's class is graded in it in turn (a class's
    submitted/, autograded/ and gradebook are moved aside before the next)."""
    root = tmp_path_factory.mktemp("lms_round_trip") / "course"
    root.mkdir()
    fresh_copy(root)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(COURSE_DATA_DIR=str(data_dir))
    students = _students(root)
    done = {}
    for lms in ("canvas", "moodle"):
        write = canvas_download if lms == "canvas" else moodle_download
        download = write(students, root.parent / f"{lms}.zip")
        gradebook = root.parent / f"{lms}_gradebook.csv"
        gradebook.write_text(canvas_gradebook(students, COLUMN, 3) if lms == "canvas"
                             else moodle_worksheet(students, 3), encoding="utf-8")

        def make(*args: str) -> str:
            return _run(["make", *args], root, env)

        collected = make("collect", f"ASSIGNMENT={A}", f"FROM={download}")
        make("autograde", f"ASSIGNMENT={A}")
        make("report", f"ASSIGNMENT={A}")
        exported = make("lms-export", f"ASSIGNMENT={A}", f"LMS={lms}", f"FROM={gradebook}")
        graded = {s.student: s for s in load(A, root).submissions}
        with (root / "lms" / f"{A}_{lms}.csv").open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
        report = (root / "reports" / A / "flagged.csv").read_text()
        done[lms] = {"collected": collected, "exported": exported, "graded": graded,
                     "rows": rows, "flagged": report, "students": students}
        aside = root.parent / f"graded_{lms}"
        aside.mkdir()
        for name in ("submitted", "autograded", "feedback", "reports", "gradebook.db"):
            if (root / name).exists():
                (root / name).rename(aside / name)
    return done


def _scores(graded) -> dict[str, float]:
    return {k: v.score for k, v in graded.items()}


@pytest.mark.parametrize("lms", ["canvas", "moodle"])
def test_every_student_is_collected_graded_and_exported(course, lms):
    got = course[lms]
    students = got["students"]
    ids = [str(s.canvas_id if lms == "canvas" else s.moodle_id) for s in students]
    scores = _scores(got["graded"])
    assert sorted(scores) == sorted(ids)
    correct, partial, no_notebook = ids
    assert scores[correct] == 3 and scores[no_notebook] == 0
    assert 0 <= scores[partial] < 3
    # the LMS's file: every student's row filled, nobody unmatched
    assert "not found in the LMS export" not in got["exported"]
    assert "not in the gradebook" not in got["exported"]
    assert "out of" not in got["exported"]  # the LMS's points are the gradebook's
    if lms == "canvas":
        people = [r for r in got["rows"] if "Points Possible" not in r["Student"]]
        filled = {r["ID"]: r[COLUMN] for r in people}
    else:
        people = got["rows"]
        filled = {r["Identifier"].removeprefix("Participant "): r["Grade"] for r in people}
    assert filled == {i: f"{scores[i]:g}" for i in ids}
    assert len(people) == len(students)


def test_late_reaches_the_class_report(course):
    """Canvas' LATE mark in its download becomes the LATE flag of the class report."""
    flagged = course["canvas"]["flagged"]
    assert "4102,LATE," in flagged and "4101,LATE" not in flagged
    assert "LATE" not in course["moodle"]["flagged"]  # Moodle's download carries none
