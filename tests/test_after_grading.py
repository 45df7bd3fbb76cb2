"""After grading, on the synthetic class: the report page, similar answers, LMS files.

One synthetic class of notebook 02 (four students: correct, partial, stub, broken; one
sends a zip) is graded once, in a fresh copy of the course, by the commands an
instructor types (``make collect``, ``make autograde``, ``make feedback``);
every test here reads that class. Then ``make report``, ``make similarity`` and
``make lms-export`` (Canvas and Moodle) run as documented in docs/instructors.md, and
the page is opened in headless Chromium (as tests/test_browser.py does), with a
screenshot. The class with every kind of flagged submission is
tests/test_nbgrader_matrix.py's (its report is checked there).
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from instructor.analytics.graded import load
from instructor.analytics.items import analyse
from tests.course_copy import fresh_copy

pytestmark = pytest.mark.grading

A = "02_stacked_autoencoders"
STUDENTS = ["student01_correct", "student02_partial", "student03_stub", "student04_broken"]


def _run(command: list[str], cwd: Path, env: dict) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def course(tmp_path_factory, data_dir, canary_cache):
    """A fresh copy of the course with the synthetic class graded, and how to run make."""
    root = tmp_path_factory.mktemp("after_grading") / "course"
    root.mkdir()
    fresh_copy(root)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # the session's canary cache: the key and the stub graded once per session
    env.update(COURSE_DATA_DIR=str(data_dir), COURSE_CANARY_CACHE=str(canary_cache))
    _run([".venv/bin/python", "-m", "instructor", "sample-class", "-a", A, "-n", "4"], root,
         env)

    def make(*args: str) -> str:
        return _run(["make", *args], root, env)

    make("collect", f"ASSIGNMENT={A}", f"FROM=sample_class/{A}")
    make("autograde", f"ASSIGNMENT={A}")
    make("feedback", f"ASSIGNMENT={A}")
    return {"root": root, "make": make}


@pytest.fixture(scope="module")
def report(course):
    root = course["root"]
    db = root / "gradebook.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    out = course["make"]("report", f"ASSIGNMENT={A}")
    page = root / "reports" / A / "index.html"
    first = page.read_text()
    sim = course["make"]("similarity", f"ASSIGNMENT={A}")
    after = hashlib.sha256(db.read_bytes()).hexdigest()
    return {"dir": root / "reports" / A, "page": page, "first": first,
            "html": page.read_text(), "out": out, "similarity": sim,
            "gradebook_unchanged": before == after}


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_the_class_as_read_back(course):
    graded = load(A, course["root"])
    assert [s.student for s in graded.submitted] == STUDENTS
    assert graded.tasks == ["vanilla", "sparse"] and graded.max_score == 12
    subs = {s.student: s for s in graded.submissions}
    assert subs["student01_correct"].score == 12
    assert subs["student03_stub"].score == 0
    assert not graded.attempted(subs["student03_stub"], "vanilla")
    assert graded.attempted(subs["student04_broken"], "vanilla")
    assert all(s.seconds and s.seconds > 0 for s in graded.submitted)
    stub = subs["student03_stub"].tests["vanilla-tests-shapes"].message
    assert stub.startswith("NotImplementedError") and "exercise not done yet" in stub


def test_item_analysis(course):
    analysis = analyse(load(A, course["root"]))
    vanilla = next(t for t in analysis.tasks if t.task == "vanilla")
    assert vanilla.n == 4 and vanilla.max_points == 6
    assert vanilla.not_attempted_share == 0.25     # the stub
    assert vanilla.full_share == 0.25              # only the correct answer
    shapes = next(t for t in analysis.tests if t.grade_id == "vanilla-tests-shapes")
    assert shapes.pass_rate == 0.5  # correct and partial (the partial's mistake is the loss)
    messages = {f.message: f.students for f in shapes.failures}
    stub = next(m for m in messages if "exercise not done yet" in m)
    assert messages[stub] == ["student03_stub"]
    assert shapes.discrimination is not None and shapes.discrimination > 0


def test_report_page_and_tables(report):
    page = report["html"]
    assert str(report["page"].relative_to(report["page"].parents[2])) in report["out"]
    for heading in ("Tasks", "Test cells", "Flagged submissions", "Grading times",
                    "Similar answers"):
        assert f">{heading}</h2>" in page
    assert page.count('src="data:image/png;base64,') == 3
    assert "http://" not in page and "https://" not in page and "<script" not in page
    # example submissions link to their feedback pages
    assert f'href="../../feedback/student03_stub/{A}/{A}.html"' in page
    # before make similarity, the section says how to compute it
    assert f"make similarity ASSIGNMENT={A}" in report["first"]
    d = report["dir"]
    tasks = {r["task"]: r for r in _csv(d / "tasks.csv")}
    assert tasks["vanilla"]["not_attempted_share"] == "0.25"
    tests = {r["grade_id"]: r for r in _csv(d / "tests.csv")}
    assert list(tests) == [c.grade_id for c in load(A, report["page"].parents[2]).tests]
    assert tests["vanilla-tests-shapes"]["pass_rate"] == "0.5"
    subs = {r["student"]: r for r in _csv(d / "submissions.csv")}
    assert set(subs) == set(STUDENTS) and float(subs["student01_correct"]["score"]) == 12
    assert all(float(r["grading_seconds"]) > 0 for r in subs.values())
    failures = _csv(d / "failures.csv")
    assert any("exercise not done yet" in r["message"] and r["students"] == "student03_stub"
               for r in failures)


def test_a_class_graded_with_the_weaker_sandbox_says_so(course, report, tmp_path):
    """Graded with bubblewrap: no banner. A notebook graded with ``limits-only`` (its
    metadata, as SafeExecute records it): the report names the weaker sandbox."""
    import nbformat

    assert "weaker sandbox" not in report["html"]
    root = course["root"]
    path = root / "autograded" / STUDENTS[0] / A / f"{A}.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["course_grading"]["isolation"] == "bubblewrap"
    nb.metadata["course_grading"]["isolation"] = "limits-only"
    nbformat.write(nb, path)
    try:
        course["make"]("report", f"ASSIGNMENT={A}")
        page = (root / "reports" / A / "index.html").read_text()
        assert "Graded with a weaker sandbox" in page and "for 1 submission(s)" in page
    finally:
        nb.metadata["course_grading"]["isolation"] = "bubblewrap"
        nbformat.write(nb, path)
        course["make"]("report", f"ASSIGNMENT={A}")


def test_similarity_section(report):
    page = report["html"]
    assert report["gradebook_unchanged"]
    assert "A prompt for human judgement, not a verdict." in page
    assert "never changes a grade" in page
    pairs = _csv(report["dir"] / "similarity_pairs.csv")
    # the synthetic answers are all the answer key (one with a mistake, one with a syntax
    # error): they are copies of one another, and are found; the stub is never compared
    found = {(r["task"], frozenset((r["student_a"], r["student_b"]))) for r in pairs}
    trio = ["student01_correct", "student02_partial", "student04_broken"]
    for task in ("vanilla", "sparse"):
        for i, a in enumerate(trio):
            for b in trio[i + 1:]:
                assert (task, frozenset((a, b))) in found
    assert not any("student03_stub" in pair for _, pair in found)
    # the same three are near-copies of the public answer key, listed first
    key = {(r["task"], r["student"]) for r in _csv(report["dir"] / "similarity_key.csv")}
    assert key == {(task, s) for task in ("vanilla", "sparse") for s in trio}
    assert page.index("Near-copies of the public answer key") < page.index("<h3>Task ")
    assert "near-copy of the public answer key" in report["similarity"]
    assert '<pre class="code">' in page and 'class="hit"' in page
    assert "student01_correct" in report["similarity"]


def test_report_renders_in_chromium(report):
    """The page in headless Chromium: no console error, figures drawn, screenshot saved."""
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _browser_or_skip

    sync_playwright = _browser_or_skip()
    errors: list[str] = []
    shot = report["dir"] / "screenshot.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
        page.goto(report["page"].as_uri())
        page.wait_for_load_state("load")
        drawn = page.evaluate("() => [...document.images].map(i => i.naturalWidth)")
        visible = page.evaluate("() => document.querySelector('#similarity').offsetHeight")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    print(f"\nreport screenshot: {shot}")
    assert not errors, errors
    assert len(drawn) == 3 and all(w > 100 for w in drawn), drawn
    assert visible > 0
    assert shot.stat().st_size > 10_000


CANVAS = """\
Student,ID,SIS User ID,SIS Login ID,Section,02 Stacked Autoencoders (4401),Current Score
    Points Possible,,,,,12.00,(read only)
"Ñúñez, José",9001,S1,student01_correct,Lab 1,,
"O'Brien, Siobhán",9002,S2,student02_partial,Lab 1,11.00,
"Lefèvre, Zoé",9004,S4,student04_broken,Lab 2,,
"Ørsted, Åse",9005,S5,dropped_student,Lab 2,,
"""
MOODLE = """\
First name,Last name,ID number,Institution,Department,Email address,\
Assignment: 02 Stacked Autoencoders (Real),Last downloaded from this course
José,Ñúñez,S1,U,D,student01_correct@u.example,-,1700000000
Siobhán,"O'Brien, Jr.",S2,U,D,student02_partial@u.example,-,1700000000
Zoé,Lefèvre,S4,U,D,student04_broken@u.example,-,1700000000
"""


@pytest.mark.parametrize("lms", ["canvas", "moodle"])
def test_lms_export_command(course, tmp_path, lms):
    source = tmp_path / f"{lms}.csv"
    source.write_text(CANVAS if lms == "canvas" else MOODLE, encoding="utf-8")
    # Moodle's gradebook export carries no maximum: the grade item's is given
    points = [] if lms == "canvas" else ["POINTS=12"]
    out = course["make"]("lms-export", f"ASSIGNMENT={A}", f"LMS={lms}", f"FROM={source}",
                         *points)
    written = course["root"] / "lms" / f"{A}_{lms}.csv"
    rows = _csv(written)
    col = "02 Stacked Autoencoders (4401)" if lms == "canvas" else \
        "Assignment: 02 Stacked Autoencoders (Real)"
    graded = {s.student: s.score for s in load(A, course["root"]).submissions}
    people = [r for r in rows if "Points Possible" not in r.get("Student", "")]
    first = people[0]
    assert first[col] == f"{graded['student01_correct']:g}"
    assert "student03_stub" in out  # in the gradebook, not in the LMS: listed
    if lms == "canvas":
        assert people[1][col] == "11.00"  # an existing grade kept without OVERWRITE
        assert "Ørsted, Åse" in out       # in the LMS, not in the gradebook: listed


def test_a_resubmission_collected_after_grading_is_stale_until_graded_again(course, tmp_path):
    """A student handed in again and was collected after grading: grades.csv and the
    report showed the old score with nothing said. Each grade records the hand-in it
    graded; one that differs is STALE in grades.csv and the report, and lms-export
    refuses it (ALLOW_STALE=1 writes it anyway). The same files collected back: not stale."""
    root, make = course["root"], course["make"]
    who = "student02_partial"
    assert not any(f == "STALE" for s in load(A, root).submitted for f, _ in s.flags)
    kept = root / "submitted" / who / A / f"{A}.ipynb"
    original = kept.read_bytes()
    again = tmp_path / "again" / who
    again.mkdir(parents=True)
    (again / f"{A}.ipynb").write_bytes(original.replace(b'"cells": [', b'"cells": [{"cell_type'
                                                        b'": "markdown", "metadata": {}, '
                                                        b'"source": "v2"}, ', 1))
    make("collect", f"ASSIGNMENT={A}", f"FROM={tmp_path / 'again'}")
    make("grades")
    notes = {r["student_id"]: r["notes"] for r in _csv(root / "grades.csv")}
    assert notes[who].startswith("STALE: handed in again"), notes[who]
    assert not any(n.startswith("STALE") for s, n in notes.items() if s != who)
    assert [s.student for s in load(A, root).submitted
            if any(f == "STALE" for f, _ in s.flags)] == [who]
    source = tmp_path / "canvas.csv"
    source.write_text(CANVAS, encoding="utf-8")
    refused = subprocess.run(["make", "lms-export", f"ASSIGNMENT={A}", "LMS=canvas",
                              f"FROM={source}"], cwd=root,
                             capture_output=True, text=True)
    assert refused.returncode != 0 and f"{who}: STALE" in refused.stderr, refused.stderr
    (again / f"{A}.ipynb").write_bytes(original)  # the same files back: the grade stands
    make("collect", f"ASSIGNMENT={A}", f"FROM={tmp_path / 'again'}")
    assert not any(f == "STALE" for s in load(A, root).submitted for f, _ in s.flags)
