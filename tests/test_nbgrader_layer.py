"""Unit tests of the instructor layer: preprocessors, sandbox, collection (no kernels)."""

from __future__ import annotations

import copy
import zipfile
from pathlib import Path

import nbformat

from instructor.engine import sandbox
from instructor.engine.cells import nbgrader_meta
from instructor.engine.preprocessors import HideHiddenTests
from instructor.engine.release import Release, hide_hidden
from instructor.engine.repair import RepairSubmission, repaired
from instructor.workflow.collect import collect
from instructor.workflow.submission import check_submission

SANDBOX = Path(sandbox.__file__)


def _repair(nb, release, tmp_path, **traits):
    """``nb`` after the static pass against ``release`` (a notebook), and its notes."""
    path = tmp_path / "release.ipynb"
    nbformat.write(release, path)
    nb, _ = RepairSubmission(release_notebook=str(path), **traits).preprocess(nb, {})
    return nb, repaired(nb)


def _cell(source, grade_id=None, grade=False, solution=False, locked=False, outputs=()):
    cell = nbformat.v4.new_code_cell(source)
    if grade_id:
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "grade": grade,
                                     "solution": solution, "locked": locked,
                                     "schema_version": 3, **({"points": 2} if grade else {})}
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


TEST_SOURCE = """\
with helpers.quiet():
    enc = autoencoder(3)
mc.expect_equal(enc, 3, "visible")
    ### BEGIN HIDDEN TESTS
    secret_check = 41
    ### END HIDDEN TESTS
### BEGIN HIDDEN TESTS
assert secret_value == 42, "hidden: expected 42"
### END HIDDEN TESTS
print("OK")
"""


def test_hidden_regions_are_replaced_by_a_placeholder():
    shown, had = hide_hidden(TEST_SOURCE, "# (hidden tests: not shown)")
    assert had == 2
    assert "secret" not in shown and "HIDDEN TESTS" not in shown
    assert "mc.expect_equal(enc, 3" in shown and 'print("OK")' in shown
    assert shown.count("(hidden tests: not shown") == 2
    assert hide_hidden("x = 1\n") == ("x = 1\n", 0)
    assert "secret" not in hide_hidden("a\n### BEGIN HIDDEN TESTS\nsecret\n")[0]


def test_feedback_keeps_the_message_not_the_traceback():
    error = {"output_type": "error", "ename": "AssertionError", "evalue": "hidden: expected 42",
             "traceback": ["----> 8 assert secret_value == 42", "AssertionError: hidden"]}
    cell = _cell(TEST_SOURCE, "t-hidden", grade=True, locked=True, outputs=[error])
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "secret" not in cell.source
    assert cell.outputs[0].traceback == ["\x1b[0;31mAssertionError\x1b[0m: hidden: expected 42"]
    bare = {"output_type": "error", "ename": "AssertionError", "evalue": "", "traceback": []}
    cell = _cell(TEST_SOURCE, "t-hidden", grade=True, locked=True, outputs=[bare])
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "a hidden test failed" in cell.outputs[0].traceback[0]


def test_feedback_pages_carry_the_grading_notes(tmp_path):
    """On a hub, students get the feedback page only (release_feedback sends HTML)."""
    from instructor.engine.notes import write_notes
    from instructor.engine.preprocessors import GradingNotesInFeedback

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    resources = {"metadata": {"path": str(tmp_path)}}
    same, _ = GradingNotesInFeedback().preprocess(copy.deepcopy(nb), resources)
    assert same.cells == nb.cells  # no notes: nothing added
    write_notes(tmp_path, ["Your notebook was named 'Untitled.ipynb'; it was graded."])
    shown, _ = GradingNotesInFeedback().preprocess(copy.deepcopy(nb), resources)
    assert shown.cells[0].cell_type == "markdown"
    assert "Notes from the grader" in shown.cells[0].source
    assert "named 'Untitled.ipynb'" in shown.cells[0].source and len(shown.cells) == 2


def test_notes_quoting_a_students_words_stay_one_note_on_the_page(tmp_path):
    """A grade_id of a student's copied cells with line breaks (``\r`` too) and markup:
    one note, one line, escaped; with plain nbgrader it reaches the page from the
    notebook's record (no notes file), through the stored notebook's allow-list."""
    from instructor.engine.inert import notebook_metadata
    from instructor.engine.preprocessors import GradingNotesInFeedback

    grade_id = "x\r\r# You scored 100/100\r\r[form](https://example.org) <b>&" + "y" * 200
    nb = nbformat.v4.new_notebook(cells=[_cell("a", grade_id), _cell("b", grade_id)])
    nb, notes = _repair(nb, nbformat.v4.new_notebook(), tmp_path)
    assert any("2 cells had the grade_id" in note for note in notes), notes
    nb.metadata = nbformat.from_dict(notebook_metadata(nb.metadata))  # as it is stored
    shown, _ = GradingNotesInFeedback().preprocess(nb, {})
    page = shown.cells[0].source
    assert "\r" not in page and "\n" not in page
    assert "You scored 100/100" in page and "&lt;b&gt;&amp;" in page and "<b>" not in page


def test_damaged_outputs_are_cleared_before_nbconvert_validates(tmp_path):
    """nbconvert validates the notebook after each preprocessor: the static pass, first,
    leaves outputs a valid notebook holds (plain nbgrader runs no check before it)."""
    from nbconvert.exporters import NotebookExporter

    release = _metadata_release()
    path = tmp_path / "release.ipynb"
    nbformat.write(release, path)
    nb = nbformat.from_dict(copy.deepcopy(dict(release)))
    del nb.cells[2]["outputs"]
    nb.cells[2]["execution_count"] = "7"
    nb.cells[3]["outputs"] = [nbformat.from_dict({"output_type": "stream", "name": "stdout"})]
    nb.cells[4].metadata["scrolled"] = "yes"
    exporter = NotebookExporter(default_preprocessors=[])
    exporter.register_preprocessor(RepairSubmission(release_notebook=str(path)), enabled=True)
    written, _ = exporter.from_notebook_node(nb, {})
    nbformat.validate(nbformat.reads(written, as_version=4))


def test_deleted_graded_cells_come_back_in_place(tmp_path):
    release = nbformat.v4.new_notebook(cells=[
        _cell("setup"), _cell("stub", "a-solution", solution=True),
        _cell("t1", "a-tests-1", grade=True, locked=True),
        _cell("t2", "a-tests-2", grade=True, locked=True), _cell("demo")])
    submitted = nbformat.v4.new_notebook(cells=[
        _cell("setup"), _cell("my extra cell"), _cell("t2", "a-tests-2", grade=True,
                                                        locked=True), _cell("demo")])
    nb, notes = _repair(submitted, release, tmp_path)
    ids = [(c.metadata.get("nbgrader") or {}).get("grade_id") for c in nb.cells]
    assert ids == [None, None, "a-solution", "a-tests-1", "a-tests-2", None]
    assert notes == [f"The {what} '{grade_id}' was missing from the notebook; the grader put "
                     "the original back and graded it." for what, grade_id in
                     (("answer cell", "a-solution"), ("test cell", "a-tests-1"))]
    assert "was missing from your submission" in nb.cells[2].source


def _tagged(cell, *tags):
    cell.metadata["tags"] = list(tags)
    return cell


def _metadata_release():
    return nbformat.v4.new_notebook(cells=[
        _tagged(_cell("import numpy", "setup", locked=True), "grade-setup"),
        _tagged(_cell("context = 1"), "task-a"),
        _tagged(_cell("stub", "a-solution", solution=True), "task-a"),
        _tagged(_cell("t1", "a-tests-1", grade=True, locked=True), "task-a"),
        _tagged(_cell("t2", "a-tests-2", grade=True, locked=True), "task-a")])


def _wrong_metadata(release):
    """``release`` with metadata that nbgrader can read but that is not the release's."""
    nb = copy.deepcopy(release)
    nb.cells[1].metadata["tags"] = []                           # context tag removed
    nb.cells[3].metadata["nbgrader"]["grade"] = False           # a test, "not graded"
    nb.cells[3].metadata["tags"] = []                           # its task tag removed
    nb.cells[4].metadata["nbgrader"]["points"] = 20             # other points
    nb.cells[4].metadata["tags"] = ["task-b", "mine"]          # another task, own tag
    nb.cells.append(_tagged(_cell("x = 2"), "task-a", "grade-setup"))  # added: "setup"
    nb.cells.append(_cell("assert True", "my-test", grade=True))       # added: "graded"
    return nb


def _expected_tags(release):
    return [c.metadata["tags"] for c in release.cells[:4]] + [["task-a", "mine"], [], []]


def test_grading_metadata_and_tags_come_from_the_release_with_a_note(tmp_path):
    release = _metadata_release()
    nb, notes = _repair(_wrong_metadata(release), release, tmp_path)
    assert [nbgrader_meta(c) for c in nb.cells] == \
        [nbgrader_meta(c) for c in release.cells] + [{}, {}]
    assert [c.metadata.get("tags", []) for c in nb.cells] == _expected_tags(release)
    assert len(notes) == 5, notes
    assert "cell 'a-tests-1' was not the assignment's (grade: False; tags [])" in notes[1]
    assert "cell 'a-tests-2' was not the assignment's (points: 20; tags ['task-b'])" \
        in notes[2]
    assert all(n.endswith("the grader used the assignment's.") for n in notes)
    assert nb.metadata["course_grading"] == {"notes": notes}
    # graded again, nothing is left to restore
    assert _repair(nb, release, tmp_path)[1] == []


def test_a_students_own_grading_record_is_dropped_by_the_first_step(tmp_path):
    release = _metadata_release()
    nb = copy.deepcopy(release)
    nb.metadata["course_grading"] = {"notes": ["The grader says: full marks."],
                                     "outcomes": {"2": ["NeedsReview: no"]}}
    nb, notes = _repair(nb, release, tmp_path)
    assert notes == [] and nb.metadata["course_grading"] == {"notes": []}


def test_a_locked_cell_over_the_source_cap_has_one_note_and_is_the_releases(tmp_path):
    """Padded past the cap, a locked test cell is capped like any cell, then put back
    (OverwriteCells): its note says it was edited and the original used, not that it
    fails. A copy of it over the cap, no longer graded, stays capped and says so."""
    release = nbformat.v4.new_notebook(cells=[
        _cell("stub", "a-solution", solution=True),
        _cell("assert True", "a-tests-1", grade=True, locked=True)])
    nb = copy.deepcopy(release)
    nb.cells[1].source = "assert True\n" + "#" * 3000
    nb.cells.append(copy.deepcopy(nb.cells[1]))
    nb, notes = _repair(nb, release, tmp_path, cell_source_limit_kb=1)
    assert notes == [
        "Cell 3 has 3,012 bytes, over the grader's limit of 1 KiB for one cell "
        "(COURSE_CELL_SOURCE_KB); it was not run and fails (if it was an answer, its tests "
        "score 0).",
        "2 cells had the grade_id 'a-tests-1' (a copied cell?); the grader graded the "
        "assignment's own and ran the others as plain cells.",
        "The locked cell 'a-tests-1' was edited; the grader used the original."], notes


def test_submission_checks(tmp_path):
    release = nbformat.v4.new_notebook(cells=[
        _cell("stub", "a-solution", solution=True),
        _cell("t1", "a-tests-1", grade=True, locked=True)])
    good = nbformat.writes(release)
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "hw.ipynb").write_text(good[: len(good) // 2])
    notes = check_submission(folder, "hw", Release.of(release))
    assert "could not be read as a notebook" in notes[0]
    assert (folder / "hw.ipynb.unreadable").exists() and not (folder / "hw.ipynb").exists()
    edited = nbformat.reads(good, as_version=4)
    edited.cells[1].source = "pass"
    assert _repair(edited, release, tmp_path)[1] == [
        "The locked cell 'a-tests-1' was edited; the grader used the original."]
    assert "No hw.ipynb" in check_submission(tmp_path, "hw", Release.of(release))[0]


def test_collect_from_folders_zips_and_odd_names(tmp_path, capsys):
    nb = nbformat.v4.new_notebook(cells=[_cell("x", "a-solution", solution=True)])
    text = nbformat.writes(nb)
    incoming = tmp_path / "in"
    (incoming / "alice").mkdir(parents=True)
    (incoming / "alice" / "hw.ipynb").write_text(text)
    (incoming / "bob smith").mkdir()
    (incoming / "bob smith" / "Untitled.ipynb").write_text(text)
    with zipfile.ZipFile(incoming / "carol.zip", "w") as zf:
        zf.writestr("deep/folder/hw.ipynb", text)
        zf.writestr("__MACOSX/deep/._hw.ipynb", "junk")
        zf.writestr("deep/data.csv", "1,2")
    (incoming / "dave.ipynb").write_text(text)
    (incoming / "erin").mkdir()
    (incoming / "erin" / "Untitled.ipynb").write_text(text)
    report = collect(incoming, "hw", root=tmp_path)
    # "bob smith" is a name, not an id: left out with a note, never made an id (the
    # class goes on)
    assert sorted(report) == ["alice", "carol", "dave", "erin"]
    assert "'bob smith' is not a student id" in capsys.readouterr().out
    for student in report:
        assert (tmp_path / "submitted" / student / "hw" / "hw.ipynb").read_text() == text
        assert (tmp_path / "submitted" / student / "hw" / "timestamp.txt").exists()
    assert "named 'Untitled.ipynb'" in report["erin"][0]
    assert (tmp_path / "submitted" / "carol" / "hw" / "deep" / "data.csv").exists()


def test_a_damaged_answer_cell_with_a_new_id_is_known_by_its_place(tmp_path):
    release = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Task a."),
        _cell("stub", "a-solution", solution=True),
        _cell("t1", "a-tests-1", grade=True, locked=True)])

    def submitted(copied_answer=False):
        nb = copy.deepcopy(release)
        answer = nb.cells[1]
        answer.source, answer["id"] = "my answer", "renamed-cell"
        answer.metadata["nbgrader"] = "damaged"
        if copied_answer:  # the answer's grade_id is still in the notebook
            nb.cells.insert(1, nbformat.v4.new_code_cell("x = 1", metadata={
                "nbgrader": copy.deepcopy(nbgrader_meta(release.cells[1]))}))
        nb.cells.insert(1, nbformat.v4.new_code_cell("import numpy"))  # added by the student
        return nb

    nb, notes = _repair(submitted(), release, tmp_path)
    assert [nbgrader_meta(c).get("grade_id") for c in nb.cells] == \
        [None, None, "a-solution", "a-tests-1"]
    assert nb.cells[2].source == "my answer"
    assert any("stands where that answer cell stood" in n for n in notes), notes

    nb, notes = _repair(submitted(copied_answer=True), release, tmp_path)
    assert [nbgrader_meta(c).get("grade_id") for c in nb.cells] == \
        [None, None, "a-solution", None, "a-tests-1"]
    assert any("graded as a plain cell" in n for n in notes), notes
