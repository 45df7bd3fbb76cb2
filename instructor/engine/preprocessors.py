"""Small nbgrader preprocessors of the course (wired up in ``nbgrader_config.py``).

Autograding (``Autograde.sanitize_preprocessors`` / ``autograde_preprocessors``):

- :class:`RestoreMissingCells`: a graded cell the student deleted comes back from the
  release (test cells then get their hidden tests back from the gradebook, through
  nbgrader's ``OverwriteCells``), so deleting a test cannot dodge it.
- :class:`OverwriteCellsFromRelease`: nbgrader's ``OverwriteCells``, which restores the
  source, points and lock of graded cells, restoring their whole grading metadata too
  (nbgrader's flags and the ``task-*`` / ``grade-setup`` tags) from the release, so that
  the submission's metadata decides nothing.
- :class:`InertContent` (after ``SaveAutoGrades``, and again in feedback): what the
  student's code displayed and the student's markdown are stored without anything a
  browser would run (nbconvert's ``SanitizeHTML``).

The execute step itself is :class:`instructor.engine.execute.SafeExecute`.

Feedback (``GenerateFeedback.preprocessors``):

- :class:`HideHiddenTests`: the student sees each test cell, whether it passed and the
  message of a failing check, never the code of a hidden test (nbgrader #917, #1363).
- :class:`GradingNotesInFeedback`: the grading notes at the top of the page, escaped.
"""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path

import bleach
import nbformat
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbformat.corpus.words import generate_corpus_id
from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells
from traitlets import Any, List, Set, Unicode

from instructor.engine.cells import (
    BEGIN_HIDDEN,
    END_HIDDEN,
    ReleasedCells,
    nbgrader_meta,
    release_path,
    restore_from_release,
)
from instructor.engine.notes import read_notes


# ====================================================================== deleted cells
class RestoreMissingCells(NbGraderPreprocessor):
    """Put back graded cells missing from a submission, in their release position.

    A deleted test cell comes back (nbgrader's ``OverwriteCells``, which runs next,
    then restores its full source, hidden tests included, from the gradebook), so it is
    graded like any other; a deleted solution cell comes back as the released stub, so
    the tests fail with the stub's message instead of a NameError.
    """

    release_notebook = Unicode("", help="Release notebook to restore from (default: "
                               "<release>/<assignment>/<notebook>.ipynb).").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        path = Path(self.release_notebook) if self.release_notebook else \
            release_path(self.config, resources)
        if not path.is_file():
            self.log.warning("Cannot restore deleted cells: no release notebook %s", path)
            return nb, resources
        release = nbformat.read(path, as_version=4)
        present = {nbgrader_meta(c).get("grade_id") for c in nb.cells
                   if nbgrader_meta(c).get("grade_id")}
        wanted = [c for c in release.cells if nbgrader_meta(c).get("grade_id")]
        restored = []
        order = [nbgrader_meta(c)["grade_id"] for c in wanted]
        for i, cell in enumerate(wanted):
            grade_id = nbgrader_meta(cell)["grade_id"]
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
            # after the nearest earlier graded cell that is in the notebook
            earlier = [g for g in order[:i] if g in present]
            ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells]
            if earlier:
                at = ids.index(earlier[-1]) + 1
            else:
                later = [g for g in order[i + 1:] if g in present]
                at = ids.index(later[0]) if later else len(nb.cells)
            nb.cells.insert(at, new)
            present.add(grade_id)
            restored.append(grade_id)
        if restored:
            self.log.warning("Restored deleted cells %s in %s/%s", restored,
                             info.get("student"), info.get("notebook"))
            resources.setdefault("nbgrader", {})["restored_cells"] = restored
        return nb, resources


# ====================================================================== metadata
class OverwriteCellsFromRelease(OverwriteCells):
    """nbgrader's ``OverwriteCells``, with every cell's grading metadata from the release.

    nbgrader restores the source, ``locked`` flag, points and checksum of a graded cell,
    but reads whether it is graded at all (``grade``, ``solution``) and its tags from the
    submission: a test cell marked ``grade: false`` then fails nbgrader's checksum check
    (the grader fails on every regrade), and one without its ``task-*`` tag would escape
    the outside check. Here each cell whose ``grade_id`` the release knows gets that
    released cell's nbgrader metadata and grading tags before nbgrader's own checks; a
    cell with any other nbgrader metadata loses it (a cell the student made "graded");
    a cell without nbgrader metadata keeps grading tags only if it is a released cell
    (same cell id or same source), so a cell the student added is never setup or a
    task's context. Tags that do not steer grading are the student's and are kept.
    """

    release_notebook = Unicode("", help="Release notebook whose cells' metadata is "
                               "restored (default: <release>/<assignment>/<notebook>.ipynb)."
                               ).tag(config=True)

    _release: ReleasedCells | None = None

    def load_release(self, resources) -> None:
        """Read the release notebook's cells (none, with a warning, if it is missing)."""
        path = Path(self.release_notebook) if self.release_notebook else \
            release_path(self.config, resources)
        self._release = ReleasedCells(nbformat.read(path, as_version=4).cells) \
            if path.is_file() else None
        if self._release is None:
            self.log.warning("Cannot restore grading metadata: no release notebook %s", path)

    def preprocess(self, nb, resources):
        self.load_release(resources)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if self._release is not None:
            grade_id = nbgrader_meta(cell).get("grade_id")
            changed = restore_from_release(cell, self._release.origin(cell))
            if changed:
                self.log.warning("Cell %d (%s): grading metadata restored from the release "
                                 "(%s)", cell_index, grade_id, ", ".join(changed))
        return super().preprocess_cell(cell, resources, cell_index)


# ====================================================================== feedback
_HIDDEN_REGION = re.compile(rf"^([ \t]*){re.escape(BEGIN_HIDDEN)}.*?^[ \t]*"
                            rf"{re.escape(END_HIDDEN)}[^\n]*\n?", re.M | re.S)


def hide_hidden_tests(source: str) -> tuple[str, bool]:
    """Replace each hidden-test region of ``source`` by one placeholder line."""
    new, count = _HIDDEN_REGION.subn(
        lambda m: f"{m.group(1)}# (hidden tests: not shown; their result is below)\n", source)
    if BEGIN_HIDDEN in new:  # an unterminated region: hide everything after it
        head = new.split(BEGIN_HIDDEN, 1)[0]
        new, count = head + "# (hidden tests: not shown)\n", count + 1
    return new, bool(count)


class FeedbackPreprocessor(NbGraderPreprocessor):
    """A preprocessor of ``generate_feedback``, which converts to HTML: nbconvert's HTML
    exporter configures ``display_data_priority`` of every preprocessor, so it is
    declared configurable here (as nbgrader's ``GetGrades`` does) instead of warning."""

    display_data_priority = List().tag(config=True)


class HideHiddenTests(FeedbackPreprocessor):
    """Feedback without hidden-test code: regions replaced, tracebacks cut to the message.

    A traceback quotes the failing source lines, so in a cell that had hidden tests each
    error keeps only its type and message (``AssertionError: decoder weights of ...``).
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.get("cell_type") != "code":
            return cell, resources
        cell.source, had_hidden = hide_hidden_tests(cell.source)
        if had_hidden:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    message = output.get("evalue") or "a hidden test failed (no message)"
                    output["traceback"] = [f"\x1b[0;31m{output.get('ename')}\x1b[0m: {message}"]
        return cell, resources


class GradingNotesInFeedback(FeedbackPreprocessor):
    """The submission's grading notes (``GRADING_NOTES.txt``) at the top of its feedback.

    nbgrader's exchange (``release_feedback``) hands students the HTML page only, so on
    a JupyterHub notes kept beside it (a renamed notebook, a restored cell, a test set
    aside for review) would never reach them.
    """

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


# ====================================================================== inert content
#: Tags a student's HTML output or markdown keeps (nbconvert's ``SanitizeHTML`` escapes
#: every other tag into visible text): text, lists, tables, code; no image, frame, form,
#: style sheet or script.
INERT_TAGS = [*sorted(bleach.ALLOWED_TAGS), "p", "br", "hr", "h1", "h2", "h3", "h4", "h5",
              "h6", "pre", "span", "div", "table", "thead", "tbody", "tr", "th", "td", "del",
              "sup", "sub", "dl", "dt", "dd"]
#: Attributes kept: links (bleach keeps http, https and mailto addresses only), a table
#: cell's alignment and a style of the properties below (rich's HTML, Keras' summary);
#: no class (one of the page's own would let a student's text pose as the grader's).
INERT_ATTRIBUTES = {"a": ["href", "title"], "abbr": ["title"], "acronym": ["title"],
                    "th": ["align"], "td": ["align"], "span": ["style"], "pre": ["style"],
                    "div": ["style"]}
INERT_STYLES = ["color", "background-color", "font-weight", "font-style", "font-family",
                "text-decoration", "text-align", "white-space", "line-height", "overflow-x"]
#: How a student's markdown cell starts once stored as clean HTML.
STUDENT_MARKDOWN = '<div class="student-markdown">'
#: What stands in for an output whose every type was dropped.
DROPPED = "[output not shown: {types} can run in the viewer's browser]"


class InertContent(FeedbackPreprocessor, SanitizeHTML):
    """Nothing a student wrote or printed runs where a person views it.

    nbconvert's ``SanitizeHTML`` with the course's allow-lists, on everything the
    student controls: every code cell's outputs (student code runs in the same kernel
    as the course's cells, so any output may be its), every markdown cell that is not
    one of the release's, every raw cell. In outputs, ``text/html`` is cleaned by bleach
    (scripts, frames, event handlers and ``javascript:`` links become visible text or
    go), ``application/javascript``, ``text/markdown``, SVG, widgets and every other type
    not in ``safe_output_keys`` are dropped (an output left empty says so), and an
    image's ``filenames`` (an address the page would load) go. A student's markdown is
    rendered by nbconvert's own markdown renderer, cleaned the same way, and stored as
    one line of HTML, so that no later renderer (formgrader, the feedback page,
    JupyterLab) parses it as markdown again. The notebook's widget state goes too.

    It runs in autograding after ``SaveAutoGrades`` (the scores are decided on the
    outputs as the kernel wrote them), so the stored graded notebook that formgrader
    shows is already inert, and again in ``generate_feedback``.
    """

    tags = List(Unicode(), default_value=INERT_TAGS).tag(config=True)
    attributes = Any(default_value=INERT_ATTRIBUTES).tag(config=True)
    styles = List(Unicode(), default_value=INERT_STYLES).tag(config=True)
    sanitized_output_types = Set(default_value={"text/html"}).tag(config=True)
    release_notebook = Unicode("", help="Release notebook whose markdown cells are the "
                               "course's (default: <release>/<assignment>/<notebook>.ipynb)."
                               ).tag(config=True)

    _course_markdown: set[str] = set()

    def preprocess(self, nb, resources):
        path = Path(self.release_notebook) if self.release_notebook else \
            release_path(self.config, resources)
        release = nbformat.read(path, as_version=4).cells if path.is_file() else []
        self._course_markdown = {c.source.strip() for c in release
                                 if c.cell_type == "markdown"}
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                self.inert_output(output)
        elif cell.cell_type == "raw":
            cell.source = self.sanitize_html_tags(cell.source)
        elif cell.cell_type == "markdown" and cell.source.strip() not in self._course_markdown:
            cell.source = self.inert_markdown(cell.source)
            cell.pop("attachments", None)
        return cell, resources

    def inert_output(self, output) -> None:
        if "data" not in output:  # stream, error: rendered as escaped text
            return
        before = sorted(output["data"])
        self.sanitize_code_outputs([output])
        output.get("metadata", {}).pop("filenames", None)
        if not set(output["data"]) - {"metadata"}:
            output["data"]["text/plain"] = DROPPED.format(types=", ".join(before))

    def inert_markdown(self, source: str) -> str:
        """``source`` as one line of clean HTML (newlines as character references)."""
        inner = source.strip()
        if inner.startswith(STUDENT_MARKDOWN) and inner.endswith("</div>"):
            # stored so by an earlier pass (feedback after autograde): cleaned again
            inner = inner[len(STUDENT_MARKDOWN):-len("</div>")]
        html = self.sanitize_html_tags(markdown2html_mistune(inner)).strip()
        html = html.replace("\n", "&#10;")
        return f"{STUDENT_MARKDOWN}{html}</div>"
