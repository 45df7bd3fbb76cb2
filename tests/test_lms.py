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


def test_canvas_column_found_by_its_title_or_named_never_added(graded, tmp_path):
    """A Canvas assignment titled otherwise than the folder got a new column, which
    Canvas' import makes a second assignment. Now the title that holds the assignment's
    words (and its number, if any) is the column; else lms-export stops, naming COLUMN
    and the export's assignment columns, and writes nothing."""
    for title in ("Lab 2: Stacked Autoencoders (812345)", "stacked-autoencoders (812345)"):
        text = CANVAS.replace("02 Stacked autoencoders (812345)", title)
        out = fill(graded, "canvas", _write(tmp_path, "c.csv", text), tmp_path / "out.csv")
        assert out.column == title and _rows(tmp_path / "out.csv")[1][title] == "12"
    for titles in (["Homework 2 (812345)"],  # no title like it
                   ["Lab 3: Stacked autoencoders (812345)"],  # another number
                   ["Stacked autoencoders (812345)", "Stacked autoencoders again (9)"]):
        text = CANVAS.replace("02 Stacked autoencoders (812345)", titles[0]).replace(
            "Quiz 1 (812346)", titles[-1] if len(titles) > 1 else "Quiz 1 (812346)")
        (tmp_path / "out.csv").unlink(missing_ok=True)
        with pytest.raises(SystemExit, match="COLUMN=") as stopped:
            fill(graded, "canvas", _write(tmp_path, "c.csv", text), tmp_path / "out.csv")
        assert repr(titles[0]) in str(stopped.value) and "Quiz" not in titles[0]
        assert not (tmp_path / "out.csv").exists()
    # the column named is taken
    out = fill(graded, "canvas", _write(tmp_path, "c.csv", text), tmp_path / "out.csv",
               column="Stacked autoencoders")
    assert out.column == "Stacked autoencoders (812345)"


def test_moodle(graded, tmp_path, mapping):
    source = _write(tmp_path, "moodle.csv", MOODLE)
    with pytest.raises(SystemExit, match="carries no maximum grade"):
        fill(graded, "moodle", source, tmp_path / "out.csv", mapping)
    out = fill(graded, "moodle", source, tmp_path / "out.csv", mapping, points=12)
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


# ------------------------------------------------------------------ LMS downloads
# collect reads Canvas' and Moodle's bulk downloads as they come (tests/lms_downloads.py
# writes them from the LMSs' own naming); lms-export then finds every student in the
# same LMS's gradebook file with no mapping file.
def _course(tmp_path: Path) -> tuple[Path, str]:
    """A course folder with a release of one graded cell, and a student's notebook."""
    import nbformat

    cell = nbformat.v4.new_code_cell("answer = None")
    cell.metadata["nbgrader"] = {"grade_id": "t-answer", "solution": True, "grade": False,
                                 "locked": False, "schema_version": 3}
    nb = nbformat.v4.new_notebook(cells=[cell])
    (tmp_path / "release" / "hw").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "release" / "hw" / "hw.ipynb")
    return tmp_path, nbformat.writes(nb)


def _class(text: str):
    """Six students: late and renamed, several files, a resubmission Canvas renamed, a
    zip, a PDF alone, names with letters beyond ASCII."""
    from tests.lms_downloads import Student

    nb = text.encode()
    return [
        Student("Jürgen", "Müller", 4101, 912301, [("hw.ipynb", nb), ("notes.pdf", b"%PDF")]),
        Student("Zoë", "Chen", 4102, 912302, [("hw (1).ipynb", nb)], late=True),
        Student("Ana María", "López García", 4103, 912303,
                [("hw-1.ipynb", nb), ("figure.png", b"\x89PNG")]),
        Student("Bảo", "Nguyen", 4104, 912304, [("report.pdf", b"%PDF")]),
        Student("Chidi", "Okafor", 4105, 912305, [("Untitled.ipynb", nb)]),
        Student("Siobhán", "O'Brien", 4106, 912306,
                [("mine.zip", _zip({"work/hw.ipynb": nb, "work/data.csv": b"1"}))]),
    ]


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def test_canvas_download_is_collected_under_canvas_user_ids(tmp_path):
    import zipfile

    from instructor.workflow.collect import collect
    from instructor.workflow.lms_download import read_handins
    from tests.lms_downloads import canvas_download, canvas_name

    root, text = _course(tmp_path)
    students = _class(text)
    assert canvas_name(students[1], 7, "hw (1).ipynb") == "chenzoë_LATE_4102_7_hw (1).ipynb"
    download = canvas_download(students, tmp_path / "submissions.zip")
    with zipfile.ZipFile(download, "a") as zf:  # a text entry beside a file (Canvas' name)
        zf.writestr("müllerjürgen_4101_text.html", "<p>see the notebook</p>")
    report = collect(download, "hw", root)
    assert sorted(report) == [str(s.canvas_id) for s in students]
    for s in students:
        folder = root / "submitted" / str(s.canvas_id) / "hw"
        assert (folder / "hw.ipynb").is_file() == (s.last != "Nguyen"), s.last
    assert (root / "submitted/4101/hw/notes.pdf").read_bytes() == b"%PDF"
    assert (root / "submitted/4101/hw/text.html").is_file()
    assert (root / "submitted/4106/hw/work/data.csv").is_file()
    assert report["4102"][0] == "Canvas marked this submission late (handed in after the " \
        "due date)."
    assert "named 'hw (1).ipynb'" in report["4102"][1]
    assert "No notebook found" in report["4104"][0]
    handins = read_handins("hw", root)
    assert handins["4102"]["late"] == "yes" and handins["4101"]["late"] == ""
    assert handins["4101"]["name"] == "müllerjürgen" and handins["4101"]["lms"] == "canvas"
    assert handins["4103"]["files"] == "hw-1.ipynb | figure.png"


def test_moodle_download_is_collected_under_participant_ids(tmp_path):
    from instructor.workflow.collect import collect
    from instructor.workflow.lms_download import read_handins
    from tests.lms_downloads import moodle_download

    root, text = _course(tmp_path)
    students = _class(text)
    source = moodle_download(students, tmp_path / "moodle.zip")
    report = collect(source, "hw", root)
    assert sorted(report) == [str(s.moodle_id) for s in students]
    assert (root / "submitted/912303/hw/figure.png").is_file()
    assert (root / "submitted/912306/hw/hw.ipynb").is_file()
    assert read_handins("hw", root)["912301"]["name"] == "Jürgen Müller"
    # the same download unpacked into a folder (and wrapped in one) reads the same
    import zipfile
    with zipfile.ZipFile(source) as zf:
        zf.extractall(tmp_path / "unpacked" / "course-hw-42")
    again = collect(tmp_path / "unpacked", "hw", root)
    assert again == report


def test_a_students_files_are_capped_in_number_and_in_all(tmp_path, monkeypatch):
    from instructor.workflow.collect import collect

    root, text = _course(tmp_path)
    monkeypatch.setenv("COURSE_SUBMISSION_FILES", "3")
    monkeypatch.setenv("COURSE_SUBMISSION_TOTAL_MB", "1")
    incoming = tmp_path / "in"
    (incoming / "many").mkdir(parents=True)
    for i in range(10):
        (incoming / "many" / f"f{i}.txt").write_text("x")
    (incoming / "many" / "hw.ipynb").write_text(text)  # notebooks first in line
    (incoming / "big").mkdir()
    (incoming / "big" / "hw.ipynb").write_text(text)
    for i in range(2):
        (incoming / "big" / f"part{i}.bin").write_bytes(bytes(700_000))
    report = collect(incoming, "hw", root)
    kept = sorted(p.name for p in (root / "submitted/many/hw").iterdir())
    assert kept == ["GRADING_NOTES.txt", "f0.txt", "f1.txt", "hw.ipynb", "timestamp.txt"]
    assert "8 more file(s) were left out" in report["many"][0]
    assert "COURSE_SUBMISSION_FILES" in report["many"][0]
    assert (root / "submitted/big/hw/part0.bin").exists()
    assert not (root / "submitted/big/hw/part1.bin").exists()
    assert "part1.bin was left out" in report["big"][0]
    assert "COURSE_SUBMISSION_TOTAL_MB" in report["big"][0]


def test_collect_follows_no_link_and_writes_nowhere_else(tmp_path):
    """A folder's symbolic links are left out (never read through); a zip's paths that
    climb out, or a zip member that is a link, are left out; collect does not write
    through a link planted in ``submitted/``."""
    import stat
    import zipfile

    from instructor.workflow.collect import collect

    root, text = _course(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("grader's secret")
    incoming = tmp_path / "in"
    (incoming / "eve").mkdir(parents=True)
    (incoming / "eve" / "hw.ipynb").write_text(text)
    (incoming / "eve" / "loot.txt").symlink_to(secret)
    (incoming / "eve" / "dir").symlink_to(tmp_path)
    (incoming / "mallory.ipynb").symlink_to(secret)
    with zipfile.ZipFile(incoming / "trudy.zip", "w") as zf:
        zf.writestr("hw.ipynb", text)
        zf.writestr("../../escaped.txt", "out")
        zf.writestr("/abs.txt", "out")
        link = zipfile.ZipInfo("link.txt")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, str(secret))
    report = collect(incoming, "hw", root)
    assert sorted(report) == ["eve", "trudy"]
    eve = root / "submitted" / "eve" / "hw"
    assert (eve / "hw.ipynb").is_file() and not (eve / "loot.txt").exists()
    assert not (eve / "dir").exists()
    trudy = root / "submitted" / "trudy" / "hw"
    assert sorted(p.name for p in trudy.iterdir()) == ["GRADING_NOTES.txt", "hw.ipynb",
                                                       "timestamp.txt"]
    assert not list(tmp_path.rglob("escaped.txt")) and not (Path("/abs.txt")).exists()
    # a link planted where a student's folder goes: refused, nothing written through it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    import shutil
    shutil.rmtree(root / "submitted" / "eve")
    (root / "submitted" / "eve").symlink_to(elsewhere)
    with pytest.raises(SystemExit, match="symbolic link"):
        collect(incoming, "hw", root)
    assert not any(elsewhere.iterdir())


@pytest.mark.parametrize("lms", ["canvas", "moodle-worksheet", "moodle-gradebook"])
def test_lms_export_finds_every_collected_student_by_the_lms_id(tmp_path, lms):
    """collect from the LMS's download, then fill the same LMS's file: every student
    matched on the id (Canvas' user id, Moodle's participant id). Moodle's gradebook
    export carries no participant id: refused, saying which mapping it needs; with the
    mapping, every student is found."""
    from instructor.workflow.collect import collect
    from tests.lms_downloads import (
        canvas_download,
        canvas_gradebook,
        moodle_download,
        moodle_gradebook,
        moodle_worksheet,
    )

    root, text = _course(tmp_path)
    students = _class(text)
    kind = lms.split("-")[0]
    download = canvas_download if kind == "canvas" else moodle_download
    collect(download(students, tmp_path / "dl.zip"), "hw", root)
    ids = [str(s.canvas_id if kind == "canvas" else s.moodle_id) for s in students]
    subs = [Submission(i, float(n), 10.0, tests={}) for n, i in enumerate(ids)]
    graded = GradedClass("hw", root, [], {}, [], subs)
    source = tmp_path / "export.csv"
    source.write_text({"canvas": canvas_gradebook(students, "hw (5501)"),
                       "moodle-worksheet": moodle_worksheet(students, 10),
                       "moodle-gradebook": moodle_gradebook(students, "hw")}[lms],
                      encoding="utf-8")
    mapping = None
    if lms == "moodle-gradebook":
        with pytest.raises(SystemExit, match="MAPPING=") as refused:
            fill(graded, kind, source, tmp_path / "out.csv", points=10)
        assert "912301" in str(refused.value) and "Email address" in str(refused.value)
        assert not (tmp_path / "out.csv").exists()
        mapping = {str(s.moodle_id): s.email for s in students}
    out = fill(graded, kind, source, tmp_path / "out.csv", mapping, points=None if
               lms != "moodle-gradebook" else 10)
    assert out.not_in_lms == [] and out.not_in_gradebook == [] and out.ambiguous == []
    col = {"canvas": "hw (5501)", "moodle-worksheet": "Grade",
           "moodle-gradebook": "Assignment: hw (Real)"}[lms]
    rows = [r for r in _rows(tmp_path / "out.csv") if "Points Possible" not in
            r.get("Student", "")]
    assert [r[col] for r in rows] == [str(n) for n in range(len(students))]


def test_a_grade_never_lands_in_a_row_by_name(tmp_path):
    """The attack (issue 56.4): with Moodle's plain-text gradebook export, a student who
    hands in under another's full name (students may edit their Moodle name) had their
    score written into that student's row. The row is found by an id or not at all."""
    from instructor.workflow.collect import collect
    from tests.lms_downloads import Student, moodle_download, moodle_gradebook

    root, text = _course(tmp_path)
    nb = text.encode()
    victim = Student("Bảo", "Nguyen", 4104, 912304, [])
    mallory = Student("Bảo", "Nguyen", 4199, 912399, [("hw.ipynb", nb)])  # renamed self
    collect(moodle_download([mallory], tmp_path / "dl.zip"), "hw", root)
    graded = GradedClass("hw", root, [], {}, [], [Submission("912399", 10.0, 10.0)])
    source = tmp_path / "export.csv"
    source.write_text(moodle_gradebook([victim], "hw"), encoding="utf-8")
    with pytest.raises(SystemExit, match="a name is no id"):
        fill(graded, "moodle", source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()  # before: 10 written in Bảo Nguyen's row


def _canvas_export(points: str = "10.00", manual: bool = True, column: str = "hw (5501)"
                   ) -> str:
    return (f"Student,ID,SIS User ID,SIS Login ID,Section,{column},Current Score\n"
            + (",,,,,Manual Posting,\n" if manual else "")
            + f"    Points Possible,,,,,{points},(read only)\n"
            "\"Chen, Zoë\",4102,S2,zchen,A,,\n\"Diallo, Amara\",4107,S7,adiallo,A,,\n")


def test_scores_go_on_the_lms_scale_and_manual_posting_stays_in_place(tmp_path, capsys,
                                                                      monkeypatch):
    """3/3 into a Canvas column out of 10 is 10, into a Moodle worksheet out of 100.00 is
    100; the scale is said; Canvas' Manual Posting row stays where Canvas put it and is
    nobody's row."""
    from tests.lms_downloads import Student, moodle_worksheet

    subs = [Submission("4102", 3.0, 3.0), Submission("4107", 1.5, 3.0)]
    graded = GradedClass("hw", tmp_path, [TestCell("t-a", "t", 3)], {}, [], subs)
    source = _write(tmp_path, "c.csv", _canvas_export())
    out = fill(graded, "canvas", source, tmp_path / "out.csv")
    rows = _rows(tmp_path / "out.csv")
    assert [r["Student"] for r in rows[:2]] == ["", "    Points Possible"]
    assert rows[0]["hw (5501)"] == "Manual Posting" and rows[1]["hw (5501)"] == "10.00"
    assert {r["ID"]: r["hw (5501)"] for r in rows[2:]} == {"4102": "10", "4107": "5"}
    assert out.not_in_gradebook == []
    assert "written out of 10" in "\n".join(out.summary())
    people = [Student("Zoë", "Chen", 4102, 912302), Student("Amara", "Diallo", 4107, 912307)]
    subs = [Submission("912302", 3.0, 3.0), Submission("912307", 1.0, 3.0)]
    graded = GradedClass("hw", tmp_path, [TestCell("t-a", "t", 3)], {}, [], subs)
    source = _write(tmp_path, "w.csv", moodle_worksheet(people, 100))
    fill(graded, "moodle", source, tmp_path / "w_out.csv")
    assert [r["Grade"] for r in _rows(tmp_path / "w_out.csv")] == ["100", "33.33"]


def test_a_moodle_worksheet_in_a_decimal_comma_language_gives_its_maximum(tmp_path):
    """Moodle writes Maximum grade through format_float, in the language's decimal
    separator: ``100,00`` was refused until POINTS=100 was given."""
    from tests.lms_downloads import Student, moodle_worksheet

    people = [Student("Zoë", "Chen", 4102, 912302), Student("Amara", "Diallo", 4107, 912307)]
    subs = [Submission("912302", 3.0, 3.0), Submission("912307", 1.0, 3.0)]
    graded = GradedClass("hw", tmp_path, [TestCell("t-a", "t", 3)], {}, [], subs)
    text = moodle_worksheet(people, 100, decsep=",")
    assert ',"100,00",' in text
    out = fill(graded, "moodle", _write(tmp_path, "w.csv", text), tmp_path / "w_out.csv")
    assert [r["Grade"] for r in _rows(tmp_path / "w_out.csv")] == ["100", "33.33"]
    assert "written out of 100" in "\n".join(out.summary())


def test_a_moodle_worksheet_graded_on_a_scale_is_refused_as_such(tmp_path):
    """A scale's worksheet has a Scale column where Maximum grade was: it was told to use
    a worksheet instead of a gradebook export. Points cannot go on a scale, even given."""
    from tests.lms_downloads import Student, moodle_worksheet

    people = [Student("Zoë", "Chen", 4102, 912302)]
    graded = GradedClass("hw", tmp_path, [TestCell("t-a", "t", 3)], {}, [],
                         [Submission("912302", 3.0, 3.0)])
    source = _write(tmp_path, "w.csv", moodle_worksheet(people, 0, scale="Poor,Good,Great"))
    for points in (None, 10):
        with pytest.raises(SystemExit, match="graded on a scale") as stopped:
            fill(graded, "moodle", source, tmp_path / "out.csv", points=points)
        assert "gradebook export" not in str(stopped.value)
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("case", ["no points possible", "no such column", "nobody matched",
                                  "worksheet without a maximum"])
def test_lms_export_refuses_and_exits_non_zero(tmp_path, monkeypatch, case):
    """No silent zero: each of these stops lms-export with a message, nothing written."""
    from tests.lms_downloads import Student, moodle_worksheet

    ids = ["4102", "4107"] if case != "nobody matched" else ["9", "10"]
    graded = GradedClass(A, tmp_path, [TestCell("t-a", "t", 3)], {}, [],
                         [Submission(i, 3.0, 3.0) for i in ids])
    monkeypatch.setattr("instructor.analytics.graded.load", lambda *a, **k: graded)
    column = "02 Stacked autoencoders (5501)"
    lms, text, extra = "canvas", _canvas_export(column=column), []
    said = {"no points possible": "no Points Possible", "no such column": "no column",
            "nobody matched": "no student of the gradebook was found",
            "worksheet without a maximum": "Maximum grade"}[case]
    if case == "no points possible":
        text = _canvas_export(points="", column=column)
    elif case == "no such column":
        extra = ["--column", "Homework 9"]
    elif case == "worksheet without a maximum":
        lms = "moodle"
        text = moodle_worksheet([Student("Zoë", "Chen", 4102, 4102)], 10).replace(
            "10.00", "")
    source = _write(tmp_path, "export.csv", text)
    with pytest.raises(SystemExit, match=said) as stopped:
        main(["lms-export", "-a", A, "--lms", lms, str(source), "--to",
              str(tmp_path / "out.csv"), *extra])
    assert stopped.value.code not in (0, None)
    assert not (tmp_path / "out.csv").exists()
    # the same export, put right, is written
    if case != "nobody matched":
        fixed = _canvas_export(column=column) if lms == "canvas" else \
            text.replace(",,Yes", ",10.00,Yes")
        main(["lms-export", "-a", A, "--lms", lms, str(_write(tmp_path, "e.csv", fixed)),
              "--to", str(tmp_path / "out.csv")])
        assert (tmp_path / "out.csv").is_file()


@pytest.mark.parametrize("variant", ["4.1 folders, online text", "4.1 flat", "3 folders",
                                     "3 flat"])
def test_moodle_downloads_of_every_supported_version(tmp_path, variant):
    """Moodle 4.1+ (downloader.php: no trailing '_', online-text folders beside the
    files) and 3.x-4.0 (locallib.php), folders on and off: every student under the
    participant id, once, their online text among their files."""
    from instructor.workflow.collect import collect
    from instructor.workflow.lms_download import read_handins
    from tests.lms_downloads import Student, moodle_download

    root, text = _course(tmp_path)
    nb = text.encode()
    students = [Student("Amara", "Diallo", 4107, 912301, [("hw.ipynb", nb)]),
                Student("Jürgen", "O'Brien", 4108, 912302, [("hw (1).ipynb", nb),
                                                             ("notes.pdf", b"%PDF")])]
    version = variant.split()[0]
    download = moodle_download(students, tmp_path / "dl.zip", version=version,
                               folders="folders" in variant,
                               onlinetext="online" in variant)
    report = collect(download, "hw", root)
    assert sorted(report) == ["912301", "912302"]
    assert sorted(p.name for p in (root / "submitted").iterdir()) == ["912301", "912302"]
    assert (root / "submitted/912302/hw/hw.ipynb").is_file()
    assert (root / "submitted/912302/hw/notes.pdf").is_file()
    assert (root / "submitted/912301/hw/onlinetext.html").is_file() == ("online" in variant)
    handins = read_handins("hw", root)
    assert handins["912302"]["name"] == "Jürgen OBrien"  # Moodle's clean_filename
    assert handins["912302"]["lms"] == "moodle"


@pytest.mark.parametrize("entries", [
    ["Amara Diallo/hw.ipynb", "Zoë Chen/hw.ipynb"],             # names, not ids
    ["Amara Diallo_912301_assignsubmission_file__extra/hw.ipynb"],  # near Moodle's
    ["chen_zoe_4102_70001_hw.ipynb", "notes/hw.ipynb"],         # Canvas and something else
])
def test_a_download_in_no_known_layout_stops_collect_before_it_writes(tmp_path, entries):
    import zipfile

    from instructor.workflow.collect import collect
    root, text = _course(tmp_path)
    with zipfile.ZipFile(tmp_path / "dl.zip", "w") as zf:
        for name in entries:
            zf.writestr(name, text)
    with pytest.raises(SystemExit, match="no layout collect knows") as stopped:
        collect(tmp_path / "dl.zip", "hw", root)
    assert repr(entries[0].split("/")[0]) in str(stopped.value) or "such as" in str(
        stopped.value)
    assert not (root / "submitted").exists() and not (root / "lms").exists()


def test_an_odd_file_name_costs_that_file_only(tmp_path):
    """A Canvas attachment named with a backslash (``notes\\draft.txt``) stopped collect
    for the whole class (TypeError); now it costs that one file, with a note."""
    import zipfile

    from instructor.workflow.collect import collect

    root, text = _course(tmp_path)
    with zipfile.ZipFile(tmp_path / "dl.zip", "w") as zf:
        zf.writestr("chenzoë_4102_70001_hw.ipynb", text)
        zf.writestr("chenzoë_4102_70002_notes\\draft.txt", "draft")
        zf.writestr("dialloamara_4107_70003_hw.ipynb", text)
    report = collect(tmp_path / "dl.zip", "hw", root)
    assert sorted(report) == ["4102", "4107"]
    assert (root / "submitted/4102/hw/hw.ipynb").is_file()
    assert any("draft.txt" in n and "left out" in n for n in report["4102"])
    assert report["4107"] == []


def test_csv_cells_are_safe_to_open_and_read_back(tmp_path):
    """A full name or an attachment name that begins with '=' (or +, -, @, a tab, a
    carriage return) is neutralised in lms/<A>_handins.csv as OWASP says (a leading
    quote), and read back as it was; lms-export still finds the student by id."""
    import csv as csv_module

    from instructor.workflow.collect import collect
    from instructor.workflow.csv_safe import read_cell, safe_cell
    from instructor.workflow.lms_download import handins_path, read_handins
    from tests.lms_downloads import Student, canvas_download, moodle_download, moodle_worksheet

    formulas = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    plain = ["plain", "-", "-1.5", "+1", "3"]  # text, Moodle's no-grade, numbers
    for text in formulas + plain + ["'=x", "'"]:
        assert read_cell(safe_cell(text)) == text
    assert all(safe_cell(t) == "'" + t for t in formulas)
    assert all(safe_cell(t) == t for t in plain)
    root, text = _course(tmp_path)
    evil = Student("=HYPERLINK(1)", "Evans", 4109, 912309,
                   [("hw.ipynb", text.encode()), ("=cmd.pdf", b"%PDF"), ("@x.txt", b"x")])
    collect(moodle_download([evil], tmp_path / "m.zip", version="3"), "hw", root)
    with handins_path("hw", root).open(newline="", encoding="utf-8") as f:
        raw = list(csv_module.DictReader(f))[0]
    assert raw["name"].startswith("'=") and raw["files"].startswith("'=cmd.pdf")
    assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in raw.values())
    handins = read_handins("hw", root)
    assert handins["912309"]["name"] == "=HYPERLINK(1) Evans"
    graded = GradedClass("hw", root, [TestCell("t-a", "t", 3)], {}, [],
                         [Submission("912309", 3.0, 3.0)])
    source = _write(tmp_path, "w.csv", moodle_worksheet([evil], 3))
    fill(graded, "moodle", source, tmp_path / "out.csv")
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as f:
        row = list(csv_module.DictReader(f))[0]
    assert row["Grade"] == "3" and row["Full name"].startswith("'=")
    collect(canvas_download([evil], tmp_path / "c.zip"), "hw", root)
    with handins_path("hw", root).open(newline="", encoding="utf-8") as f:
        raw = {r["student"]: r for r in csv_module.DictReader(f)}["4109"]
    assert read_handins("hw", root)["4109"]["files"].split(" | ")[1] == "=cmd.pdf"


def test_lms_feedback_names_parse_back_by_each_importers_rule(tmp_path):
    """The feedback zip's names, read by a reimplementation of each LMS's importer:
    Canvas' (the first two all-digit parts of the name split on '_': the user id and an
    attachment of that student's submission) and Moodle's (the first path part split on
    '_' into at least four: the participant id, then a plugin)."""
    import zipfile

    from instructor.workflow.collect import collect
    from instructor.workflow.lms_feedback import write_feedback_zip
    from tests.lms_downloads import Student, canvas_download, moodle_download

    root, text = _course(tmp_path)
    nb = text.encode()
    students = [Student("Zoë", "Chen", 4102, 912302, [("hw.ipynb", nb)], late=True),
                Student("Amara_X", "Diallo 2", 4107, 912307, [("notes.pdf", b"%PDF"),
                                                              ("hw.ipynb", nb)])]
    for lms in ("canvas", "moodle"):
        write = canvas_download if lms == "canvas" else moodle_download
        collect(write(students, tmp_path / f"{lms}.zip"), "hw", root)
        ids = [str(s.canvas_id if lms == "canvas" else s.moodle_id) for s in students]
        for i in ids:
            page = root / "feedback" / i / "hw"
            page.mkdir(parents=True)
            (page / "hw.html").write_text(f"<p>{i}</p>")
            (page / "GRADING_NOTES.txt").write_text("notes")
        # the LMS is the hand-ins' own while they come from one
        dest, zipped, left = write_feedback_zip("hw", None if lms == "canvas" else lms,
                                                root=root)
        assert dest.name == f"hw_feedback_{lms}.zip" and sorted(zipped) == ids and not left
        with zipfile.ZipFile(dest) as zf:
            names = zf.namelist()
            got = {}
            for name in names:
                who = (_canvas_importer(name, tmp_path / f"{lms}.zip") if lms == "canvas"
                       else _moodle_importer(name, ids))
                assert who is not None, name
                got.setdefault(who[0], []).append(who[1])
                assert zf.read(name) in (f"<p>{who[0]}</p>".encode(), b"notes")
        assert {k: sorted(v) for k, v in got.items()} == {
            i: (["hw.ipynb"] * 2 if lms == "canvas" else ["GRADING_NOTES.txt", "hw.html"])
            for i in ids}


@pytest.mark.parametrize("lms", ["canvas", "moodle"])
def test_lms_feedback_member_names_are_flat_whatever_the_download_says(tmp_path, lms):
    """A name part of the download holding backslashes, ``..``, ``:`` and control
    characters (``..\\..\\...\\Startup\\x``: a folder download read on Linux keeps a
    ``\\`` in a file's name) was written into the feedback zip as it was, so an unzip on
    Windows put the file in the Startup folder. Each member is now one flat name with no
    separator of any system, no ``..``, no control character, and each LMS's importer
    rule still finds the student and the file."""
    import unicodedata
    import zipfile

    from instructor.workflow.lms_download import Hand, write_handins
    from instructor.workflow.lms_feedback import write_feedback_zip

    root, _ = _course(tmp_path)
    evil = "..\\..\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\x\x07:"
    if lms == "canvas":  # what collect records of the download (lib/content_zipper.rb names)
        dl = tmp_path / "dl.zip"
        with zipfile.ZipFile(dl, "w") as zf:
            zf.writestr(f"{evil}_4102_70001_hw.ipynb", "{}")
            zf.writestr("dialloamara_4107_70002_hw.ipynb", "{}")
        hands = [Hand("4102", "canvas", "4102", evil, files=[
                     (f"{evil}_4102_70001_hw.ipynb", "hw.ipynb")]),
                 Hand("4107", "canvas", "4107", "dialloamara", files=[
                     ("dialloamara_4107_70002_hw.ipynb", "hw.ipynb")])]
    else:
        hands = [Hand("4102", "moodle", "4102", evil, files=[
                     (f"{evil}_4102_assignsubmission_file/hw.ipynb", "hw.ipynb")]),
                 Hand("4107", "moodle", "4107", "..", files=[
                     (".._4107_assignsubmission_file/hw.ipynb", "hw.ipynb")])]
    write_handins("hw", root, hands)
    for i in ("4102", "4107"):
        page = root / "feedback" / i / "hw"
        page.mkdir(parents=True)
        (page / "hw.html").write_text(f"<p>{i}</p>")
        (page / "GRADING_NOTES.txt").write_text("notes")
    dest, zipped, left = write_feedback_zip("hw", root=root)
    assert sorted(zipped) == ["4102", "4107"] and not left
    with zipfile.ZipFile(dest) as zf:
        names = zf.namelist()
    assert len(names) == 4
    for name in names:
        assert not set(name) & set("/\\:") and ".." not in name, name
        assert not any(unicodedata.category(c) == "Cc" for c in name), name
        who = (_canvas_importer(name, dl) if lms == "canvas"
               else _moodle_importer(name, ["4102", "4107"]))
        assert who is not None and who[0] in ("4102", "4107"), name
        if lms == "moodle":
            assert who[1] in ("hw.html", "GRADING_NOTES.txt")


@pytest.mark.parametrize("lms", ["canvas", "moodle"])
def test_lms_feedback_zips_the_feedback_page_and_notes_only(tmp_path, lms):
    """nbgrader's generate_feedback copies the submission's other files beside the page
    (timestamp.txt, Moodle's onlinetext.html, the student's notes): they went into the
    zip as if they were feedback. Only the release notebooks' pages and the notes go."""
    import zipfile

    from instructor.workflow.collect import collect
    from instructor.workflow.lms_feedback import write_feedback_zip
    from tests.lms_downloads import Student, canvas_download, moodle_download

    root, text = _course(tmp_path)
    student = Student("Zoë", "Chen", 4102, 912302, [("hw.ipynb", text.encode()),
                                                    ("notes.txt", b"mine")])
    dl = (canvas_download([student], tmp_path / "dl.zip") if lms == "canvas" else
          moodle_download([student], tmp_path / "dl.zip", onlinetext=True))
    collect(dl, "hw", root)
    sid = "4102" if lms == "canvas" else "912302"
    page = root / "feedback" / sid / "hw"
    page.mkdir(parents=True)
    for name, body in [("hw.html", "<p>page</p>"), ("GRADING_NOTES.txt", "notes"),
                       ("timestamp.txt", "2025-11-03 10:00:00"), ("notes.txt", "mine"),
                       ("onlinetext.html", "<p>mine</p>")]:
        (page / name).write_text(body)
    dest, zipped, _ = write_feedback_zip("hw", lms, root=root)
    with zipfile.ZipFile(dest) as zf:
        got = sorted(zf.read(n).decode() for n in zf.namelist())
    assert zipped == [sid] and got == ["<p>page</p>", "notes"]


def _canvas_importer(name: str, download) -> tuple[str, str] | None:
    """Canvas' rule (Assignment#infer_comment_context_from_filename, app/models/
    assignment.rb, instructure/canvas-lms commit 0041d8be): the base name (Ruby's
    File.basename: after the last '/') split on '_', its first two all-digit parts the
    user id and an attachment id, which must be one of that user's in the download; a
    name beginning '._' is skipped. Gives (user id, the attachment's file name)."""
    import re
    import zipfile

    if name.split("/")[-1].startswith("._"):
        return None
    parts = name.split("/")[-1].split("_")
    digits = [p for p in parts if re.fullmatch(r"\d+", p)][:2]
    if len(digits) < 2:
        return None
    user, attachment = digits
    with zipfile.ZipFile(download) as zf:
        for member in zf.namelist():
            if f"_{user}_{attachment}_" in member:
                return user, member.split(f"_{user}_{attachment}_", 1)[1]
    return None


def _moodle_importer(name: str, participants: list[str]) -> tuple[str, str] | None:
    """Moodle's rule (assignfeedback_file_zip_importer::is_valid_filename_for_import,
    mod/assign/feedback/file/importziplib.php, moodle/moodle commit 0203d8f2): a file
    whose name begins with '.' or '~' is skipped; else the first path part that splits on
    '_' (at most 5) into four or more, with a participant's id second and a plugin third
    and fourth; the rest is the file's name."""
    if name.split("/")[-1][:1] in (".", "~"):
        return None
    parts = name.split("/")
    while parts:
        info = parts.pop(0).split("_", 4)
        if len(info) < 4 or not info[1].isdigit() or info[1] not in participants:
            continue
        if (info[2], info[3]) != ("assignsubmission", "file"):
            continue
        return info[1], "/".join([*([info[4]] if len(info) > 4 and info[4] else []), *parts])
    return None


def test_a_notebook_over_the_cap_is_left_out_with_the_graders_note(tmp_path, monkeypatch):
    from instructor.workflow.collect import collect

    root, text = _course(tmp_path)
    monkeypatch.setenv("COURSE_SUBMISSION_MB", "1")
    (tmp_path / "in" / "huge").mkdir(parents=True)
    (tmp_path / "in" / "huge" / "hw.ipynb").write_text(text + " " * 2 ** 21)
    report = collect(tmp_path / "in", "hw", root)
    assert report["huge"] == ["hw.ipynb has 2.0 MiB, over the grader's limit of 1 MiB for a "
                              "notebook (COURSE_SUBMISSION_MB); it was not read and scores 0. "
                              "Clear the outputs (Edit > Clear Outputs of All Cells), save, "
                              "and resubmit."]
    assert not (root / "submitted" / "huge" / "hw" / "hw.ipynb").exists()


def test_a_member_that_cannot_be_stored_is_left_out_and_the_class_goes_on(tmp_path):
    """A zip member whose name is too long for the file system, or a file where the
    student's own zip later wants a folder, costs that member, with a note; the student's
    notebook and the other students are collected."""
    import zipfile

    from instructor.workflow.collect import collect

    root, text = _course(tmp_path)
    incoming = tmp_path / "in"
    incoming.mkdir()
    with zipfile.ZipFile(incoming / "ann.zip", "w") as zf:
        zf.writestr("hw.ipynb", text)
        zf.writestr("n" * 300 + ".txt", "long")
        zf.writestr("data", "a file")
        zf.writestr("data/inner.txt", "under a file")
    (incoming / "bob").mkdir()
    (incoming / "bob" / "hw.ipynb").write_text(text)
    report = collect(incoming, "hw", root)
    assert sorted(report) == ["ann", "bob"]
    assert (root / "submitted/ann/hw/hw.ipynb").is_file()
    assert (root / "submitted/bob/hw/hw.ipynb").is_file()
    notes = " ".join(report["ann"])
    assert "could not be stored" in notes and "inner.txt" in notes


def test_the_report_shows_each_name_beside_the_id_escaped(tmp_path):
    from instructor.analytics.report import _link, _who
    from instructor.workflow.lms_download import Hand, write_handins

    write_handins("hw", tmp_path, [Hand("912301", "moodle", "912301",
                                        "<b>Amara</b> & =Diallo")])
    graded = GradedClass("hw", tmp_path, [], {}, [], [Submission("912301", 1.0, 1.0)])
    assert _who(graded, "912301") == \
        "912301 <span class=name>(&lt;b&gt;Amara&lt;/b&gt; &amp; =Diallo)</span>"
    assert _link(graded, "nobody", tmp_path) == "nobody"


@pytest.mark.parametrize("given", ["folder", "zip"])
def test_two_notebooks_in_a_hand_in_the_newest_is_graded_both_kept_and_said(tmp_path, given):
    """A student handed in hw.ipynb (old) and 'hw final.ipynb' (corrected): the exact name
    was graded, collect said "ok" and kept nothing of the other. Now the newest by the
    time the download gives is graded, the other kept in not_graded/, and a note names
    both, which the report flags."""
    import os
    import zipfile

    from instructor.analytics.graded import flags_of
    from instructor.workflow.collect import NOT_GRADED, collect

    root, text = _course(tmp_path)
    old, final = text.encode(), text.replace("None", "42").encode()
    incoming = tmp_path / "incoming"
    (incoming / "st1").mkdir(parents=True)
    (incoming / "st1" / "hw.ipynb").write_bytes(old)
    (incoming / "st1" / "hw final.ipynb").write_bytes(final)
    os.utime(incoming / "st1" / "hw.ipynb", (1_700_000_000, 1_700_000_000))
    os.utime(incoming / "st1" / "hw final.ipynb", (1_700_086_400, 1_700_086_400))  # a day on
    source = incoming
    if given == "zip":
        source = tmp_path / "hand-in.zip"
        with zipfile.ZipFile(source, "w") as zf:
            zf.writestr(zipfile.ZipInfo("st1/hw final.ipynb", (2026, 3, 2, 9, 0, 0)), final)
            zf.writestr(zipfile.ZipInfo("st1/hw.ipynb", (2026, 3, 1, 9, 0, 0)), old)
    notes = collect(source, "hw", root)["st1"]
    folder = root / "submitted" / "st1" / "hw"
    assert (folder / "hw.ipynb").read_bytes() == final
    assert (folder / NOT_GRADED / "hw.ipynb").read_bytes() == old
    assert not (folder / "hw final.ipynb").exists()
    said = " ".join(notes)
    assert "2 notebooks were handed in ('hw final.ipynb', 'hw.ipynb')" in said
    assert "'hw final.ipynb' was graded" in said
    assert "NOTEBOOKS" in [f for f, _ in flags_of(notes, {})]


def test_make_passes_a_moodle_file_name_with_spaces_whole(tmp_path):
    """Moodle names its download and worksheet after the course and the assignment, with
    spaces: ``make collect FROM=…`` and ``make lms-export FROM=…`` split them into
    several arguments. The Makefile quotes every path it passes on."""
    import os
    import subprocess

    from tests.course_copy import fresh_copy
    from tests.lms_downloads import moodle_download, moodle_worksheet

    root = fresh_copy(tmp_path / "course")
    a = "05_denoising_autoencoders"
    nb = (root / "release" / a / f"{a}.ipynb").read_bytes()
    from tests.lms_downloads import Student
    students = [Student("Zoë", "Chen", 4102, 912302, [(f"{a}.ipynb", nb)])]
    download = moodle_download(students, tmp_path / "ML2026-Denoising autoencoders-9917.zip")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    done = subprocess.run(["make", "collect", f"ASSIGNMENT={a}", f"FROM={download}"],
                          cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (root / "submitted" / "912302" / a / f"{a}.ipynb").read_bytes() == nb
    sheet = tmp_path / "Grades-ML2026-Denoising autoencoders-9917.csv"
    sheet.write_text(moodle_worksheet(students, 100), encoding="utf-8")
    export = subprocess.run(["make", "lms-export", f"ASSIGNMENT={a}", "LMS=moodle",
                             f"FROM={sheet}"], cwd=root, env=env, capture_output=True,
                            text=True)
    # the whole name reached the command, which asks for the graded class (none here)
    assert "no gradebook at" in export.stderr, export.stderr
    assert "unrecognized arguments" not in export.stderr


def test_a_class_handed_in_through_both_lms_names_the_others_apart(tmp_path):
    """Half a class through Canvas, half through Moodle: Canvas' export listed the Moodle
    students as needing the mapping file. They are named as the other LMS's students,
    to be exported into its file; the mapping message is for students with no id."""
    from instructor.workflow.collect import collect
    from tests.lms_downloads import canvas_download, canvas_gradebook, moodle_download

    root, text = _course(tmp_path)
    students = _class(text)
    collect(canvas_download(students[:3], tmp_path / "canvas.zip"), "hw", root)
    collect(moodle_download(students[3:], tmp_path / "moodle.zip"), "hw", root)
    subs = [Submission(str(s.canvas_id), 5.0, 10.0) for s in students[:3]] + \
        [Submission(str(s.moodle_id), 5.0, 10.0) for s in students[3:]]
    source = tmp_path / "export.csv"
    source.write_text(canvas_gradebook(students[:3], "hw (5501)"), encoding="utf-8")
    out = fill(GradedClass("hw", root, [], {}, [], subs), "canvas", source,
               tmp_path / "out.csv")
    assert out.not_in_lms == [] and len(out.written) == 3
    assert out.other_lms == {"moodle": [str(s.moodle_id) for s in students[3:]]}
    said = "\n".join(out.summary())
    assert "mapping" not in said and "make lms-export LMS=moodle" in said
