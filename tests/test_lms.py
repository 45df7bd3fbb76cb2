"""Grades into Canvas and Moodle (``instructor.analytics.lms``) on sample exports, no grading.

The sample exports are written as the LMSs write them: Canvas' gradebook export with its
``Points Possible`` row, its read-only computed columns, quoted names with commas and
non-ASCII characters, with and without ``SIS User ID`` (a TA's export may lack it);
Moodle's plain-text export with its ``Assignment: <name> (Real)`` column, ``-`` for no
grade and its ``Last downloaded from this course`` column.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from instructor.__main__ import main
from instructor.analytics.graded import GradedClass, Submission, TestCell, TestResult
from instructor.analytics.lms import fill, read_mapping

A = "02_stacked_autoencoders"
TESTS = [TestCell("vanilla-tests-shapes", "vanilla", 2), TestCell("vanilla-tests-layers",
                                                                  "vanilla", 4),
         TestCell("sparse-tests-layers", "sparse", 6)]


def _sub(student: str, vanilla: float, sparse: float, submitted: bool = True) -> Submission:
    tests = {"vanilla-tests-shapes": TestResult(min(vanilla, 2), 2),
             "vanilla-tests-layers": TestResult(max(vanilla - 2, 0), 4),
             "sparse-tests-layers": TestResult(sparse, 6)}
    return Submission(student, vanilla + sparse, 12, submitted=submitted,
                      tests=tests if submitted else {})


@pytest.fixture
def graded(tmp_path) -> GradedClass:
    """A class as the gradebook holds it: nbgrader ids are logins, one differs."""
    subs = [_sub("jmuller", 6, 6), _sub("alopez", 6, 2), _sub("zchen", 2, 0),
            _sub("bnguyen", 0, 0, submitted=False),  # in the gradebook, no submission
            _sub("jupyter-okafor", 4, 6),            # a hub name: needs the mapping file
            _sub("ghost", 6, 6)]                     # graded, but not in the LMS
    return GradedClass(A, tmp_path, TESTS, {}, [], subs)


CANVAS = """\
Student,ID,SIS User ID,SIS Login ID,Section,02 Stacked autoencoders (812345),Quiz 1 (812346),\
Current Score,Unposted Current Score,Final Score,Unposted Final Score
    Points Possible,,,,,12.00,5.00,(read only),(read only),(read only),(read only)
"Müller, Jürgen",101,S001,jmuller,Section A,,4.00,80,80,30,30
"López García, Ana María",102,S002,alopez,Section A,9.00,5.00,100,100,40,40
"Chen, Zoë",103,S003,zchen,Section B,,3.00,60,60,20,20
"Nguyen, Bảo",104,S004,bnguyen,Section B,,,,,,
"Okafor, Chidi",105,S005,cokafor,Section B,,5.00,100,100,35,35
"Student, Test",106,,,Section A,,,,,,
"""

MOODLE = """\
First name,Last name,ID number,Institution,Department,Email address,\
Assignment: 02 stacked autoencoders (Real),Last downloaded from this course
Jürgen,Müller,S001,Uni,Informatik,jmuller@uni.example,-,1700000000
Ana María,"López García, de",S002,Uni,Informática,alopez@uni.example,9.00,1700000000
Zoë,Chen,S003,Uni,CS,zchen@uni.example,-,1700000000
Bảo,Nguyen,S004,Uni,CS,bnguyen@uni.example,-,1700000000
Chidi,Okafor,S005,Uni,CS,cokafor@uni.example,-,1700000000
Éloïse,Dupont,S006,Uni,CS,edupont@uni.example,-,1700000000
"""


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def _write(tmp_path: Path, name: str, text: str, drop: str | None = None) -> Path:
    if drop:  # a column left out of the export
        rows = list(csv.reader(text.splitlines()))
        i = rows[0].index(drop)
        text = "\n".join(",".join(f'"{c}"' if "," in c else c
                                  for j, c in enumerate(r) if j != i) for r in rows) + "\n"
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def mapping(tmp_path) -> dict[str, str]:
    path = tmp_path / "ids.csv"
    path.write_text("nbgrader_id,lms_id\njupyter-okafor,cokafor\n")
    return read_mapping(path)


@pytest.mark.parametrize("drop", [None, "SIS User ID"])
def test_canvas(graded, tmp_path, mapping, drop):
    source = _write(tmp_path, "canvas.csv", CANVAS, drop)
    out = fill(graded, "canvas", source, tmp_path / "out.csv", mapping)
    rows = _rows(tmp_path / "out.csv")
    header = list(rows[0])
    # identity columns as exported, the assignment's column, nothing Canvas computes
    assert header == [c for c in ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
                      if c != drop] + ["02 Stacked autoencoders (812345)"]
    col = "02 Stacked autoencoders (812345)"
    assert rows[0]["Student"].strip() == "Points Possible" and rows[0][col] == "12.00"
    by_name = {r["Student"]: r[col] for r in rows[1:]}
    assert by_name["Müller, Jürgen"] == "12"
    assert by_name["Chen, Zoë"] == "2"
    assert by_name["Okafor, Chidi"] == "10"         # through the mapping file
    assert by_name["López García, Ana María"] == "9.00"  # kept: Canvas had a grade
    assert by_name["Nguyen, Bảo"] == "0"           # no submission: 0, as in grades.csv
    assert by_name["Student, Test"] == ""          # not in the gradebook: untouched
    assert out.kept == [("López García, Ana María [02 Stacked autoencoders (812345)]",
                         "9.00", "8")]
    assert out.not_in_lms == ["ghost"]
    assert out.not_in_gradebook == ["Student, Test"]
    assert set(out.written) == {"jmuller", "zchen", "bnguyen", "jupyter-okafor"}
    assert len(rows) == CANVAS.count("\n") - 1     # every row of the export is there
    text = "\n".join(out.summary())
    assert "ghost" in text and "Student, Test" in text and "--overwrite" in text


def test_canvas_overwrite_and_tasks(graded, tmp_path, mapping):
    source = _write(tmp_path, "canvas.csv", CANVAS)
    fill(graded, "canvas", source, tmp_path / "out.csv", mapping, overwrite=True, tasks=True)
    rows = _rows(tmp_path / "out.csv")
    ana = next(r for r in rows if r["SIS Login ID"] == "alopez")
    assert ana["02 Stacked autoencoders (812345)"] == "8"
    assert ana["02 Stacked autoencoders (812345): vanilla"] == "6"
    assert ana["02 Stacked autoencoders (812345): sparse"] == "2"
    assert rows[0]["02 Stacked autoencoders (812345): sparse"] == "6"  # points possible


def test_canvas_new_column_when_the_assignment_is_not_there(graded, tmp_path):
    text = CANVAS.replace("02 Stacked autoencoders (812345)", "Homework 2 (812345)")
    out = fill(graded, "canvas", _write(tmp_path, "c.csv", text), tmp_path / "out.csv")
    rows = _rows(tmp_path / "out.csv")
    assert out.column == A and rows[0][A] == "12"
    assert "added as a new column" in "\n".join(out.summary())
    # the column can be named instead
    out = fill(graded, "canvas", _write(tmp_path, "c.csv", text), tmp_path / "out.csv",
               column="Homework 2")
    assert out.column == "Homework 2 (812345)"


def test_moodle(graded, tmp_path, mapping):
    source = _write(tmp_path, "moodle.csv", MOODLE)
    out = fill(graded, "moodle", source, tmp_path / "out.csv", mapping)
    rows = _rows(tmp_path / "out.csv")
    col = "Assignment: 02 stacked autoencoders (Real)"
    assert list(rows[0]) == MOODLE.splitlines()[0].split(",")  # the export's own columns
    got = {r["Email address"]: r[col] for r in rows}
    assert got == {"jmuller@uni.example": "12", "alopez@uni.example": "9.00",
                   "zchen@uni.example": "2", "bnguyen@uni.example": "0",
                   "cokafor@uni.example": "10", "edupont@uni.example": "-"}
    assert rows[1]["Last name"] == "López García, de"
    assert out.not_in_lms == ["ghost"] and out.not_in_gradebook == ["Éloïse Dupont"]


def test_the_command_refuses_a_folder_and_lists_the_unmatched(graded, tmp_path, capsys,
                                                               monkeypatch):
    with pytest.raises(SystemExit, match="not a file"):
        main(["lms-export", "-a", A, "--lms", "canvas", str(tmp_path)])
    monkeypatch.setattr("instructor.analytics.graded.load", lambda *a, **k: graded)
    source = _write(tmp_path, "canvas.csv", CANVAS)
    main(["lms-export", "-a", A, "--lms", "canvas", str(source), "--to",
          str(tmp_path / "x.csv")])
    out = capsys.readouterr()
    assert "ghost" in out.out and "jupyter-okafor" in out.out
    assert "unmatched" in out.err
