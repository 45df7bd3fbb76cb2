"""From the LMS's download to the file the LMS imports, by the commands an instructor types.

For each LMS, three students hand in notebook 05 (task (e) ``psnr``, the cheapest to
grade) the way students on Colab do: the answer key under its own name with a PDF
beside it (a name beyond ASCII), a partial answer renamed and late, and a PDF with no
notebook. Their download, written as the LMS writes it today (tests/lms_downloads.py,
from each LMS's current source), goes through ``make collect``, ``make autograde``,
``make report``, ``make lms-export`` and ``make lms-feedback`` in a fresh copy of the
course; the file written must give every student of the LMS's gradebook file their score
on the LMS's scale, with no mapping file, and the feedback zip's names must name every
student by each importer's own rule. Canvas: its gradebook export, with a Manual Posting
row and Points Possible 10 (the course's points: 3); Moodle 4.1+ with the online text
plugin on, folders on: the assignment's grading worksheet, Maximum grade 100.00 (Moodle's
default). Moodle 4.1+ with folders off and Moodle 3.x's layouts are collected into the
same course after grading and must give the same students the same files, and the same
export (grading them again would cost minutes and test nothing more).
"""

from __future__ import annotations

import csv
import os
import subprocess
import zipfile
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
from tests.test_lms import _canvas_importer, _moodle_importer

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
        Student("Jürgen", "O'Brien", 4101, 912301,
                [(f"{A}.ipynb", correct), ("notes.pdf", b"%PDF-1.4")]),
        Student("Amara", "Diallo", 4102, 912302, [(f"{A} (1).ipynb", partial)], late=True),
        Student("Bảo", "Nguyen", 4104, 912304, [("report.pdf", b"%PDF-1.4")]),
    ]


@pytest.fixture(scope="module")
def course(tmp_path_factory, data_dir, canary_cache):
    """One copy of the course; each LMS's class is graded in it in turn (a class's
    submitted/, autograded/ and gradebook are moved aside before the next)."""
    root = tmp_path_factory.mktemp("lms_round_trip") / "course"
    root.mkdir()
    fresh_copy(root)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # the session's canary cache: the key and the stub graded once per session
    env.update(COURSE_DATA_DIR=str(data_dir), COURSE_CANARY_CACHE=str(canary_cache))
    students = _students(root)
    done = {}
    for lms in ("canvas", "moodle"):
        # Moodle names its files after the course and the assignment: spaces in the path
        download = root.parent / ("canvas.zip" if lms == "canvas" else
                                  "ML2026-Denoising autoencoders-9917.zip")
        if lms == "canvas":
            canvas_download(students, download)
        else:
            moodle_download(students, download, onlinetext=True)
        gradebook = root.parent / ("canvas_gradebook.csv" if lms == "canvas" else
                                   "Grades-ML2026-Denoising autoencoders-9917.csv")
        gradebook.write_text(canvas_gradebook(students, COLUMN, 10, manual_posting=True)
                             if lms == "canvas" else moodle_worksheet(students, 100),
                             encoding="utf-8")

        def make(*args: str) -> str:
            return _run(["make", *args], root, env)

        collected = make("collect", f"ASSIGNMENT={A}", f"FROM={download}")
        make("autograde", f"ASSIGNMENT={A}")
        make("report", f"ASSIGNMENT={A}")
        exported = make("lms-export", f"ASSIGNMENT={A}", f"LMS={lms}", f"FROM={gradebook}")
        make("feedback", f"ASSIGNMENT={A}")
        fed = make("lms-feedback", f"ASSIGNMENT={A}", f"LMS={lms}")  # both in lms/
        graded = {s.student: s for s in load(A, root).submissions}
        out = root / "lms" / f"{A}_{lms}.csv"
        with out.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
        report = (root / "reports" / A / "flagged.csv").read_text()
        page = (root / "reports" / A / "index.html").read_text()
        with zipfile.ZipFile(root / "lms" / f"{A}_feedback_{lms}.zip") as zf:
            zipped = zf.namelist()
        done[lms] = {"collected": collected, "exported": exported, "graded": graded,
                     "rows": rows, "flagged": report, "students": students, "page": page,
                     "fed": fed, "zipped": zipped, "download": download, "variants": {}}
        if lms == "moodle":  # the other layouts Moodle writes, into the graded course
            kept = {p.relative_to(root): p.read_bytes()
                    for p in (root / "submitted").rglob("*.ipynb")}
            for version, folders in (("4.1", False), ("3", True), ("3", False)):
                other = moodle_download(students, root.parent / f"m{version}{folders}.zip",
                                        version=version, folders=folders)
                make("collect", f"ASSIGNMENT={A}", f"FROM={other}")
                again = {p.relative_to(root): p.read_bytes()
                         for p in (root / "submitted").rglob("*.ipynb")}
                # without the online text the first download held: handed in anew
                stale = subprocess.run(["make", "lms-export", f"ASSIGNMENT={A}", f"LMS={lms}",
                                        f"FROM={gradebook}"], cwd=root, env=env,
                                       capture_output=True, text=True)
                assert stale.returncode != 0 and "STALE" in stale.stderr, stale.stderr
                make("lms-export", f"ASSIGNMENT={A}", f"LMS={lms}", f"FROM={gradebook}",
                     "ALLOW_STALE=1")
                done[lms]["variants"][(version, folders)] = (again == kept,
                                                             out.read_text("utf-8-sig"))
        aside = root.parent / f"graded_{lms}"
        aside.mkdir()
        for name in ("submitted", "autograded", "feedback", "reports", "gradebook.db"):
            if (root / name).exists():
                (root / name).rename(aside / name)
    return done


def _scores(graded) -> dict[str, float]:
    return {k: v.score for k, v in graded.items()}


def _scaled(score: float, points: float) -> str:
    value = score / 3 * points
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


@pytest.mark.parametrize("lms", ["canvas", "moodle"])
def test_every_student_is_collected_graded_and_exported(course, lms):
    got = course[lms]
    students = got["students"]
    ids = [str(s.canvas_id if lms == "canvas" else s.moodle_id) for s in students]
    scores = _scores(got["graded"])
    assert sorted(scores) == sorted(ids)  # the online-text folders are nobody else
    correct, partial, no_notebook = ids
    assert scores[correct] == 3 and scores[no_notebook] == 0
    assert 0 <= scores[partial] < 3
    # the LMS's file: every student's row filled on the LMS's scale, nobody unmatched
    assert "not found in the LMS export" not in got["exported"]
    assert "not in the gradebook" not in got["exported"]
    points = 10 if lms == "canvas" else 100
    assert f"written out of {points}" in got["exported"]
    if lms == "canvas":
        assert got["rows"][0]["Student"] == "" and got["rows"][0][COLUMN] == "Manual Posting"
        assert got["rows"][1]["Student"].strip() == "Points Possible"
        people = got["rows"][2:]
        filled = {r["ID"]: r[COLUMN] for r in people}
    else:
        people = got["rows"]
        filled = {r["Identifier"].removeprefix("Participant "): r["Grade"] for r in people}
    assert filled == {i: _scaled(scores[i], points) for i in ids}
    assert filled[correct] == str(points)  # full marks are full marks in the LMS
    assert len(people) == len(students)


@pytest.mark.parametrize("lms", ["canvas", "moodle"])
def test_the_feedback_zip_is_named_as_each_importer_parses_it(course, lms):
    got = course[lms]
    ids = [str(s.canvas_id if lms == "canvas" else s.moodle_id) for s in got["students"]]
    found = {}
    for name in got["zipped"]:
        who = (_canvas_importer(name, got["download"]) if lms == "canvas"
               else _moodle_importer(name, ids))
        assert who is not None, name
        found.setdefault(who[0], []).append(name)
    assert sorted(found) == sorted(ids)  # Canvas: the PDF alone's attachment id too
    correct = found[ids[0]]
    assert any(n.endswith(f"{A}.html") for n in correct), correct
    assert "0 student" not in got["fed"] and "left out" not in got["fed"]


def test_moodle_layouts_of_every_version_give_the_same_class(course):
    """Moodle 4.1+ folders off, 3.x folders on and off: the same students, the same
    notebooks, the same export as the graded 4.1 download."""
    got = course["moodle"]
    first = course["moodle"]["rows"]
    for (version, folders), (same, text) in got["variants"].items():
        assert same, (version, folders)
        rows = list(csv.DictReader(text.splitlines()))
        assert rows == first, (version, folders)


def test_names_are_in_the_report(course):
    """The class report names each student beside the LMS id (escaped)."""
    page = course["moodle"]["page"]
    assert "912302</a> <span class=name>(Amara Diallo)</span>" in page


def test_late_reaches_the_class_report(course):
    """Canvas' LATE mark in its download becomes the LATE flag of the class report."""
    flagged = course["canvas"]["flagged"]
    assert "4102,LATE," in flagged and "4101,LATE" not in flagged
    assert "LATE" not in course["moodle"]["flagged"]  # Moodle's download carries none
