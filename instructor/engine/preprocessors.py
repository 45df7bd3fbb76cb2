"""Small nbgrader preprocessors of the course, wired up in ``nbgrader_config.py`` (their
place in a grading: docs/grading.md, "How a verdict is reached"). ``InertContent`` is in
:mod:`instructor.engine.inert`, the execute step in :mod:`instructor.engine.execute`.
"""

from __future__ import annotations

import copy
import html
from pathlib import Path

import nbformat
from nbformat.corpus.words import generate_corpus_id
from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells
from traitlets import List

from instructor.engine import release as released
from instructor.engine.cells import nbgrader_meta, restore_from_release
from instructor.engine.notes import read_notes


class RestoreMissingCells(released.FromRelease, NbGraderPreprocessor):
    """Put back graded cells missing from a submission, in their release position: a test
    cell (``OverwriteCells``, next, restores its hidden tests from the gradebook), so
    deleting a test cannot dodge it; an answer cell as the stub, whose message the tests
    then show instead of a NameError."""

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        release = self.read_release(resources)
        if release is None:
            return nb, resources
        present = set(released.by_grade_id(nb.cells))
        restored = []
        order = list(release.graded)
        for i, (grade_id, cell) in enumerate(release.graded.items()):
            if grade_id in present:
                continue
            new = nbformat.from_dict(copy.deepcopy(dict(cell)))
            if "id" in new or nb.get("nbformat_minor", 0) >= 5:
                new["id"] = generate_corpus_id()
            if new.cell_type == "code":
                new.outputs, new.execution_count = [], None
                if nbgrader_meta(new).get("solution"):
                    new.source = ("# This cell was missing from your submission; the grader "
                                  "put the released version back.\n" + new.source)
            # after the nearest earlier graded cell in the notebook, else before a later one
            ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells]
            earlier = [g for g in order[:i] if g in present]
            later = [g for g in order[i + 1:] if g in present]
            nb.cells.insert(ids.index(earlier[-1]) + 1 if earlier else ids.index(later[0])
                            if later else len(nb.cells), new)
            present.add(grade_id)
            restored.append(grade_id)
        if restored:
            self.log.warning("Restored deleted cells %s in %s/%s", restored,
                             info.get("student"), info.get("notebook"))
        return nb, resources


class OverwriteCellsFromRelease(released.FromRelease, OverwriteCells):
    """nbgrader's ``OverwriteCells``, with every cell's grading metadata from the release.

    nbgrader reads ``grade``, ``solution`` and the tags from the submission: a test cell
    marked ``grade: false`` would fail its checksum check on every regrade, one without
    its ``task-*`` tag would escape the checks. So first every cell gets the
    nbgrader metadata and grading tags of its released cell (:meth:`.Release.origin`),
    or none: a cell the student added is never graded, setup or a task's context."""

    _release: released.Release | None = None

    def preprocess(self, nb, resources):
        self._release = self.read_release(resources)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if self._release is not None:
            grade_id = nbgrader_meta(cell).get("grade_id")
            changed = restore_from_release(cell, self._release.origin(cell))
            if changed:
                self.log.warning("Cell %d (%s): grading metadata restored from the release "
                                 "(%s)", cell_index, grade_id, ", ".join(changed))
        return super().preprocess_cell(cell, resources, cell_index)


class FeedbackPreprocessor(NbGraderPreprocessor):
    """A preprocessor of ``generate_feedback``: nbconvert's HTML exporter configures every
    preprocessor's ``display_data_priority``, declared here (as in nbgrader's ``GetGrades``)."""

    display_data_priority = List().tag(config=True)


class HideHiddenTests(FeedbackPreprocessor):
    """Feedback without hidden-test code: regions replaced and, as a traceback quotes the
    failing lines, each error of such a cell cut to its type and message."""

    def preprocess_cell(self, cell, resources, index):
        if cell.get("cell_type") != "code":
            return cell, resources
        cell.source, had_hidden = released.hide_hidden(
            cell.source, "# (hidden tests: not shown; their result is below)")
        if had_hidden:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    message = output.get("evalue") or "a hidden test failed (no message)"
                    output["traceback"] = [f"\x1b[0;31m{output.get('ename')}\x1b[0m: {message}"]
        return cell, resources


class GradingNotesInFeedback(FeedbackPreprocessor):
    """The submission's grading notes (``GRADING_NOTES.txt``) at the top of its feedback:
    nbgrader's exchange (``release_feedback``) hands students the HTML page only, so on a
    JupyterHub notes kept beside it would never reach them."""

    def preprocess(self, nb, resources):
        folder = (resources.get("metadata") or {}).get("path")
        notes = read_notes(Path(folder)) if folder else []
        if notes:
            # notes quote the student's own error messages: escaped, as one line of HTML
            # that no markdown renderer reads as markdown (links included)
            items = "".join(f"<li>{html.escape(note, quote=False)}</li>" for note in notes)
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(
                "<div class=\"grading-notes\"><p><strong>Notes from the grader</strong></p>"
                f"<ul>{items}</ul></div>".replace("\n", "&#10;"), id="grading-notes"))
        return nb, resources
