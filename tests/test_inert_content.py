"""What a student's code displays and what a student writes runs in no one's browser.

A tiny numpy-only assignment (the matrix's ``m_meta``: one answer cell, 3 points) is
graded end to end by ``instructor.workflow.autograde`` (real ``nbgrader autograde``,
sandbox and checks), then its feedback pages and the class report are made. One
student answers correctly and, in the answer cell, displays a ``<script>``, an
``<img onerror=...>``, an ``<iframe>``, a ``javascript:`` link, ``Javascript(...)`` and
markdown with a ``javascript:`` link, next to a PNG figure and printed text; a markdown
cell of the student's own holds the same kinds. Another student's answer raises an
error whose message is a script (it reaches the report's failures and the feedback's
traceback); a third displays with IPython's display classes in its answer cell. Graded
in the default scope, the answer cells' outputs are those the answer process reported
(every cell's outputs, a kernel's too, pass the same ``inert`` preprocessor). Each
payload calls ``alert`` with a marker of its own: no marker may stand in anything a
browser would run (a script element, an ``on...`` handler, a frame, a ``javascript:``
address) in the graded notebook, formgrader's page of it, the feedback pages or the
report.
"""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import nbformat
import pytest

from instructor.workflow.autograde import autograde
from instructor.workflow.collect import collect
from instructor.workflow.feedback import feedback
from instructor.workflow.generate import generate
from instructor.workflow.sample_class import reference
from tests.test_nbgrader_matrix import ENV, META_SOLUTION, _meta_notebook

pytestmark = pytest.mark.grading

M = "m_meta"
SHOWS, FAILS, DISPLAYS = "s1_shows_payloads", "s2_raises_a_script", "s3_displays"
PLAIN = "plain output stays"

#: Scripts, a handler, a frame and a javascript: link, as a value's HTML.
HTML_PAYLOAD = ('<script>alert("S1")</script><img src="x" onerror="alert(\'S2\')">'
                '<iframe src="https://example.org/?S3" onload="alert(\'S3\')"></iframe>'
                '<a href="javascript:alert(\'S4\')">a link</a>')

#: In the answer cell: a value whose every representation carries a payload (the cell's
#: last value, as a ``_repr_html_`` attack is), next to printed text and a displayed
#: figure.
REPR_CODE = f'''
import io
import matplotlib
matplotlib.use("agg")
import matplotlib.pyplot as plt


class Shown:
    def _repr_html_(self):
        return {HTML_PAYLOAD!r}

    def _repr_javascript_(self):
        return 'alert("S5")'

    def _repr_markdown_(self):
        return '[a link](javascript:alert("S6"))'



class Figure:
    def _repr_png_(self):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [1, 0])
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()


print({PLAIN!r})
display(Figure())
Shown()
'''

#: In the answer cell: IPython's display classes (the review sets the tests aside for
#: them; what they showed must be inert all the same).
DISPLAY_CODE = '''
from IPython.display import HTML, Javascript, display

display(HTML('<script>alert("D1")</script><img src="x" onerror="alert(\\'D2\\')">'))
display(Javascript('alert("D3")'))
'''

MARKDOWN = '''## My notes

<script>alert("M1")</script> <img src="x" onerror="alert('M2')">
<iframe src="https://example.org/?M3"></iframe>

[a link](javascript:alert("M4")) and <a href="javascript:alert('M5')">another</a>
'''

RAISES = '''def double(x):
    raise ValueError('<script>alert("R1")</script><img src=x onerror=alert("R2")>')
'''
MARKERS = [*(f"S{i}" for i in range(1, 7)), *(f"M{i}" for i in range(1, 6)), "R1", "R2",
           "D1", "D2", "D3"]


class _Active(HTMLParser):
    """Everything of a page that a browser would run or load as a frame."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script = False

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "frame", "object", "embed"):
            self.found.append(f"<{tag} {attrs}>")
            self._script = tag == "script"
        for name, value in attrs:
            address = re.sub(r"\s", "", value or "").lower()
            if name.startswith("on") or address.startswith(("javascript:", "vbscript:")):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag):
        self._script = self._script and tag != "script"

    def handle_data(self, data):
        if self._script:
            self.found.append(data)


def active(page: str) -> list[str]:
    """The parts of ``page`` a browser would run that carry one of the payloads' markers."""
    parser = _Active()
    parser.feed(page)
    return [part for part in parser.found if any(m in part for m in MARKERS)]


def _notebook_parts(nb: nbformat.NotebookNode) -> list[str]:
    """What of a notebook a renderer turns into HTML or runs: markdown and raw sources,
    and every output's data, each type wrapped as the page would hold it."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type in ("markdown", "raw"):
            parts.append(cell.source)
        for output in cell.get("outputs", []):
            for kind, value in output.get("data", {}).items():
                parts.append(f"<script>{value}</script>" if "javascript" in kind
                             else str(value))
    return parts


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("inert")
    (root / "notebooks" / M).mkdir(parents=True)
    nbformat.write(_meta_notebook(), root / "notebooks" / M / f"{M}.ipynb")
    generate("release", [M], root=root)
    release = nbformat.read(root / "release" / M / f"{M}.ipynb", as_version=4)
    incoming = root / "incoming"
    for student, answer in ((SHOWS, reference(META_SOLUTION) + REPR_CODE), (FAILS, RAISES),
                            (DISPLAYS, reference(META_SOLUTION) + DISPLAY_CODE)):
        nb = nbformat.from_dict(release)
        at = next(i for i, c in enumerate(nb.cells)
                  if (c.metadata.get("nbgrader") or {}).get("solution"))
        nb.cells[at].source = answer
        nb.cells.insert(at + 1, nbformat.v4.new_markdown_cell(MARKDOWN))
        (incoming / student).mkdir(parents=True)
        nbformat.write(nb, incoming / student / f"{M}.ipynb")
    collect(incoming, M, root=root)
    results = autograde([M], root=root, jobs=2, env=ENV, canary=False)
    feedback([M], root=root)
    from instructor.analytics.report import write_report

    return {"root": root, "results": {r.student: r for r in results},
            "report": write_report(M, root=root).read_text()}


def _graded_nb(graded, student: str) -> nbformat.NotebookNode:
    return nbformat.read(graded["root"] / "autograded" / student / M / f"{M}.ipynb", 4)


def test_scores_are_as_without_the_payloads(graded):
    results = graded["results"]
    assert (results[SHOWS].score, results[SHOWS].max_score) == (3, 3), results[SHOWS].notes
    assert results[FAILS].score == 0 and not results[FAILS].failed
    assert results[DISPLAYS].review and not results[DISPLAYS].failed  # IPython: review


@pytest.mark.parametrize("student", [SHOWS, DISPLAYS])
def test_the_graded_notebook_is_inert(graded, student):
    nb = _graded_nb(graded, student)
    parts = _notebook_parts(nb)
    assert not [a for p in parts for a in active(p)]
    kinds = {k for c in nb.cells for o in c.get("outputs", []) for k in o.get("data", {})}
    assert "application/javascript" not in kinds and "text/markdown" not in kinds
    # the payloads are still there to read, as text (a script's text without its tags)
    shown = "S1" if student == SHOWS else "D1"
    assert any(f'alert("{shown}")' in p for p in parts)
    assert any('alert("M1")' in p for p in parts)


def test_a_figure_and_printed_text_remain(graded):
    nb = _graded_nb(graded, SHOWS)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    pngs = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1 and base64.b64decode(pngs[0]).startswith(b"\x89PNG")
    assert any(PLAIN in o.get("text", "") for o in outputs if o["output_type"] == "stream")
    from PIL import Image

    assert Image.open(io.BytesIO(base64.b64decode(pngs[0]))).size[0] > 0


@pytest.mark.parametrize("student", [SHOWS, FAILS, DISPLAYS])
def test_feedback_pages_are_inert(graded, student):
    page = (graded["root"] / "feedback" / student / M / f"{M}.html").read_text()
    assert not active(page)
    if student == SHOWS:
        assert PLAIN in page and 'src="data:image/png;base64,' in page
        assert "My notes" in page  # the student's markdown, rendered
    elif student == FAILS:  # the error's message, as text
        assert '&lt;script&gt;alert("R1")' in page


@pytest.mark.parametrize("student", [SHOWS, DISPLAYS])
def test_the_formgrader_page_is_inert(graded, student):
    """formgrader's page of a submission: nbconvert's HTML of the stored graded notebook
    with nbgrader's ``formgrade`` template, as its handler makes it."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    exporter = HTMLExporter(template_name="formgrade",
                            extra_template_basedirs=[handlers.template_path])
    resources = {"assignment_id": M, "notebook_id": M, "submission_id": "1", "index": 0,
                 "total": 1, "base_url": "", "student": student, "last_name": "",
                 "first_name": "", "notebook_path": "autograded"}
    page, _ = exporter.from_filename(
        str(graded["root"] / "autograded" / student / M / f"{M}.ipynb"), resources=resources)
    assert not active(page)
    assert "My notes" in page
    if student == SHOWS:
        assert PLAIN in page and 'src="data:image/png;base64,' in page


def test_the_class_report_is_inert(graded):
    page = graded["report"]
    assert not active(page)
    assert "R1" in page  # the failure's message is listed, as text


def test_the_check_finds_each_payload_left_as_it_is():
    """The check above is not blind: each HTML payload, unsanitized, is found."""
    raw = f"{HTML_PAYLOAD}{MARKDOWN}{RAISES}{DISPLAY_CODE}<script>alert('S5')</script>"
    found = {m for part in active(raw.replace("\\'", "'")) for m in MARKERS if m in part}
    assert found >= {"S1", "S2", "S3", "S4", "S5", "M1", "M2", "M3", "M5", "R1", "R2", "D1",
                     "D2"}, found


def test_student_markdown_is_stored_as_clean_html(graded):
    nb = _graded_nb(graded, SHOWS)
    mine = [c for c in nb.cells if c.cell_type == "markdown" and "My notes" in c.source]
    assert len(mine) == 1 and mine[0].source.startswith('<div class="student-markdown">')
    assert "\n" not in mine[0].source and "javascript:" not in mine[0].source
    course = [c for c in nb.cells if c.cell_type == "markdown" and c is not mine[0]]
    assert course and all(not c.source.startswith("<div") for c in course)


def test_unit_rich_html_tables_keep_their_look():
    """Keras' model summary is HTML from rich: its pre and styled spans survive."""
    from instructor.engine.inert import inert_output

    html = ('<pre style="white-space:pre;overflow-x:auto;line-height:normal;font-family:'
            'Menlo,monospace"><span style="font-weight: bold">Model: "auto"</span>\n</pre>')
    out = nbformat.from_dict({"output_type": "display_data", "metadata": {},
                              "data": {"text/html": html, "text/plain": 'Model: "auto"'}})
    inert_output(out)
    assert out["data"]["text/html"].startswith("<pre style=")
    assert "font-weight:bold" in out["data"]["text/html"]  # nh3 writes styles compactly


@pytest.mark.parametrize("breaker", ["&#13;", "&#10;", "&#x0d;", "&#13;&#10;"])
def test_unit_stored_markdown_survives_formgraders_second_markdown_pass(breaker):
    """Formgrader renders a markdown cell's source as markdown again: a line break that a
    character reference in an attribute turns into (nh3 decodes it) must not reach that
    pass raw, or a blank line ends the stored block and the rest is read as new markdown."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    from instructor.engine.inert import inert_markdown

    attack = (f'<abbr title="{breaker}{breaker}[a](x/contenteditable/autofocus/'
              'onfocus=alert(document.domain)//)">x</abbr> M9')
    stored = inert_markdown(attack)
    assert "\r" not in stored and "\n" not in stored
    rendered = markdown2html_mistune(stored)
    assert not re.search(r"<[^>]*\son\w+\s*=", rendered), rendered
    assert "contenteditable" not in re.sub(r'"[^"]*"', "", rendered), rendered
