"""The course's preprocessors of nbgrader's feedback step (docs/grading.md, "How a verdict
is reached", step 8), besides :mod:`instructor.engine.inert`.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List

from instructor.engine import release as released
from instructor.engine.notes import one_line, read_notes
from instructor.engine.repair import repaired


class FeedbackPreprocessor(NbGraderPreprocessor):
    """A preprocessor of ``generate_feedback``, with the ``display_data_priority``
    nbconvert's HTML exporter configures."""

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
    """The submission's grading notes at the top of its feedback: nbgrader's
    exchange hands students the HTML page only, so notes beside it would never reach them."""

    def preprocess(self, nb, resources):
        folder = (resources.get("metadata") or {}).get("path")
        notes = list(dict.fromkeys(map(one_line, (read_notes(Path(folder)) if folder else [])
                                            + repaired(nb))))
        if notes:
            # notes quote the student's own error messages: escaped, as one line of HTML
            # that no markdown renderer reads as markdown (links included)
            items = "".join(f"<li>{html.escape(note, quote=False)}</li>" for note in notes)
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(
                "<div class=\"grading-notes\"><p><strong>Notes from the grader</strong></p>"
                f"<ul>{items}</ul></div>".replace("\n", "&#10;"), id="grading-notes"))
        return nb, resources
