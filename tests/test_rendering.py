"""No script a submission carries runs in the browser of anyone who looks at it.

A tiny numpy-only assignment (the matrix's ``m_meta``) is graded end to end
(``instructor.workflow.autograde``, real nbgrader, sandbox), with submissions that carry
the corpus of ``tests/xss_corpus.json`` through every channel a student controls: the
HTML of a value the answer cell shows, a PNG whose metadata (IPython's ``(data,
metadata)`` form) carries a width of the shape ``320 onload=...``, image data that
breaks out of its attribute, an output sent on the kernel's own channel (a stream's
name), a markdown cell of the student's own (with an attachment), a raw
cell, cell tags and metadata, the notebook's title, an error's message, and an answer
that the similarity section quotes. Then each page a person opens is rendered:
formgrader's page of the graded notebook (nbgrader's ``formgrade`` template, as its
handler makes it), the same notebook in nbconvert's lab template, the feedback pages (one
made by ``make feedback``, one by formgrader's Generate Feedback, nbgrader's API in
this process) and the class report with its similarity section.

Headless Chromium (one browser, one page per document) loads each with the network cut
off, triggers what a viewer might (hover, focus, a click on a ``javascript:`` link or
button) and records every dialog: each vector calls ``alert`` with a marker of its own,
so a dialog is a vector that RAN, wherever it came from.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat
import pytest

from instructor.workflow.autograde import autograde
from instructor.workflow.collect import collect
from instructor.workflow.feedback import feedback
from instructor.workflow.generate import generate
from instructor.workflow.sample_class import reference
from tests.test_browser import CHROMIUM_ARGS, _browser_or_skip
from tests.test_nbgrader_matrix import ENV, META_SOLUTION, _meta_notebook

pytestmark = pytest.mark.grading

M = "m_meta"
CORPUS = json.loads((Path(__file__).with_name("xss_corpus.json")).read_text())
CARRIES, COPIES, RAISES = "x1_carries_the_corpus", "x2_copies_it", "x3_raises_it"


def vectors(kind: str, channel: str) -> list[tuple[str, str]]:
    """``(marker, vector)`` for each vector of ``kind``, marked for ``channel``."""
    return [(f"{channel}{i:02d}", v["vector"].replace("{id}", f"{channel}{i:02d}"))
            for i, v in enumerate(CORPUS[kind])]


def meta_vector(key: str) -> str:
    entry = next(v for v in CORPUS["metadata"] if v["key"] == key)
    return entry["vector"].replace("{id}", f"K{key.replace('-', '')}")


def all_html(channel: str) -> str:
    return "\n".join(v for _, v in vectors("html", channel))


#: In the answer cell, after a correct solution: values whose HTML is each vector, a PNG
#: with hostile metadata, image data that is not base64, and outputs sent on the kernel's
#: own iopub channel as a student's code can (a stream's name; an execution count that is
#: not an integer fails nbformat's validation as it arrives, before any page).
ANSWER_EXTRA = f'''

import base64 as _b64

from IPython.display import display as _display, publish_display_data as _publish

_PNG = _b64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


class _Shown:
    def __init__(self, html):
        self.html = html

    def _repr_html_(self):
        return self.html


class _Png:
    def _repr_png_(self):
        return _PNG, {{"width": {meta_vector("width")!r}, "height": {meta_vector("height")!r}}}


for _html in {[v for _, v in vectors("html", "O")]!r}:
    _display(_Shown(_html))
_display(_Png())
_publish({{"image/png": {meta_vector("data")!r}, "text/plain": "an image"}},
         metadata={{"image/png": {{"width": 5}}}})
_publish({{"image/png": _b64.b64encode(_PNG).decode(), "text/plain": "a small image"}},
         metadata={{"image/png": {{"width": 5, "height": True}}, "isolated": True}})
try:
    _k = get_ipython().kernel
    _parent = _k.get_parent("shell") if hasattr(_k, "get_parent") else _k._parent_header
    _k.session.send(_k.iopub_socket, "stream", {{"name": {meta_vector("stream-name")!r},
                                                 "text": "a stream\\n"}}, parent=_parent)
except Exception as _error:  # noqa: BLE001
    print("kernel channel not reached:", _error)
'''

MARKDOWN = ("## My notes\n\n" + all_html("M") + "\n\n"
            + "\n\n".join(v for _, v in vectors("markdown", "D"))
            + "\n\n![attached](attachment:pic.png)\n")

RAISING = ("def double(x):\n    raise ValueError(" + repr(all_html("E")) + ")\n")


def _submission(release: nbformat.NotebookNode, answer: str) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    at = next(i for i, c in enumerate(nb.cells)
              if (c.metadata.get("nbgrader") or {}).get("solution"))
    nb.cells[at].source = answer
    nb.cells[at].metadata.setdefault("tags", []).append(meta_vector("tag"))
    nb.cells[at].metadata["alt"] = meta_vector("alt")
    md = nbformat.v4.new_markdown_cell(MARKDOWN)
    md.metadata = {"tags": [meta_vector("tag")], "alt": meta_vector("alt")}
    md["attachments"] = {"pic.png": {"image/png": meta_vector("attachment"),
                                     "image/svg+xml": "<svg onload=alert('Ksvg')></svg>"}}
    nb.cells.insert(at + 1, md)
    raw = nbformat.v4.new_raw_cell(all_html("R"))
    raw.metadata = {"raw_mimetype": "text/html", "format": "text/html"}
    nb.cells.insert(at + 2, raw)
    nb.metadata["title"] = meta_vector("title")
    return nb


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Every page a person opens for these submissions: {name: path of an HTML file}."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.server_extensions.formgrader import handlers

    from instructor.analytics import pairs
    from instructor.analytics.graded import load
    from instructor.analytics.report import report_dir, write_report
    from instructor.workflow.nbgrader_cli import load_config

    root = tmp_path_factory.mktemp("rendering")
    (root / "notebooks" / M).mkdir(parents=True)
    nbformat.write(_meta_notebook(), root / "notebooks" / M / f"{M}.ipynb")
    generate("release", [M], root=root)
    release = nbformat.read(root / "release" / M / f"{M}.ipynb", as_version=4)
    incoming = root / "incoming"
    carried = reference(META_SOLUTION) + ANSWER_EXTRA
    for student, answer in ((CARRIES, carried), (COPIES, carried), (RAISES, RAISING)):
        (incoming / student).mkdir(parents=True)
        nbformat.write(_submission(release, answer), incoming / student / f"{M}.ipynb")
    collect(incoming, M, root=root)
    results = autograde([M], root=root, jobs=2, env=ENV, canary=False)
    feedback([M], students=[CARRIES], root=root)
    config = load_config(root)  # formgrader's Generate Feedback, in its server's process
    made = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)\
        .generate_feedback(M, RAISES)
    assert made["success"], made
    graded = load(M, root)
    pairs.run(graded, report_dir(M, root), threshold=0.5)
    found = {"report": write_report(M, root=root, graded=graded)}
    out = root / "pages"
    out.mkdir()
    for student in (CARRIES, RAISES):
        nb_path = root / "autograded" / student / M / f"{M}.ipynb"
        found[f"feedback {student}"] = root / "feedback" / student / M / f"{M}.html"
        formgrade = HTMLExporter(template_name="formgrade",
                                 extra_template_basedirs=[handlers.template_path])
        resources = {"assignment_id": M, "notebook_id": M, "submission_id": "1", "index": 0,
                     "total": 1, "base_url": "", "student": student, "last_name": "",
                     "first_name": "", "notebook_path": "autograded"}
        for name, exporter in (("formgrader", formgrade),
                               ("lab view", HTMLExporter(template_name="lab"))):
            page, _ = exporter.from_filename(str(nb_path), resources=dict(resources))
            found[f"{name} {student}"] = out / f"{name.replace(' ', '_')}_{student}.html"
            found[f"{name} {student}"].write_text(page)
    return {"pages": found, "root": root, "results": {r.student: r for r in results}}


#: What a viewer might do on a page, so that handlers waiting for it run: hover and focus
#: every element, click every link, form button and SVG anchor whose address is a
#: ``javascript:`` one (clicking an ordinary link would leave the page); the same in
#: every frame the page can reach (a frame whose document it cannot reach is skipped:
#: a script there ran on load or not at all).
TRIGGER = """() => {
    const visit = (doc) => {
        for (const el of doc.querySelectorAll('*')) {
            for (const kind of ['mouseover', 'mouseenter', 'focus', 'pointerover'])
                el.dispatchEvent(new Event(kind, {bubbles: true}));
        }
        for (const el of doc.querySelectorAll('a, button, [formaction], math')) {
            const target = el.getAttribute('href') || el.getAttribute('xlink:href')
                || el.getAttribute('formaction') || '';
            if (!/^javascript:/i.test(target.replace(/[\\x00-\\x20]/g, ''))) continue;
            if (el.click) el.click();
            else el.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}));
        }
        for (const frame of doc.querySelectorAll('iframe, frame')) {
            let inner = null;
            try { inner = frame.contentDocument; } catch (e) { inner = null; }
            if (inner) visit(inner);
        }
    };
    visit(document);
}"""


#: Where a site's folder is served from (requests there are answered from the folder).
SITE = "http://site.test/"


def _serve(folder: Path):
    def answer(route):
        file = folder / route.request.url[len(SITE):].split("?")[0].split("#")[0]
        if file.is_file():
            route.fulfill(path=str(file))
        else:
            route.abort()
    return answer


def ran_in(browser, path: Path, site: Path | None = None) -> list[str]:
    """The markers of every dialog a vector opened while ``path`` was shown (a page of
    the folder ``site``, served over HTTP, when given)."""
    seen: list[str] = []
    context = browser.new_context()
    context.route(re.compile(r"^(https?|wss?)://"), lambda route: route.abort())
    if site is not None:
        context.route(re.compile("^" + re.escape(SITE)), _serve(site))
    page = context.new_page()
    page.on("dialog", lambda d: (seen.append(d.message), d.dismiss()))
    page.goto(SITE + str(path.relative_to(site)) if site else path.as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    try:
        page.evaluate(TRIGGER)
    except Exception as error:  # noqa: BLE001  (a vector that navigated the page away)
        seen.append(f"the page navigated away: {error}")
    page.wait_for_timeout(700)  # SVG animations begin, frames load
    context.close()
    return seen


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _browser_or_skip()
    from tests.test_browser import CHROMIUM

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_no_vector_runs_on_any_page(pages, browser):
    ran = {name: ran_in(browser, path) for name, path in pages["pages"].items()}
    assert not {k: v for k, v in ran.items() if v}, ran


@pytest.fixture(scope="module")
def site_page(tmp_path_factory):
    """The website's page of notebook 05 (website/build.py), from a run in which every
    code cell showed the corpus: its HTML vectors as HTML, its markdown vectors as
    markdown (myst-nb renders both)."""
    from website import build as site

    def run(name, *args, **kwargs):
        nb = nbformat.read(site.ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = [
                    nbformat.v4.new_output("display_data", data={
                        "text/html": all_html("S"), "text/plain": "html"}),
                    nbformat.v4.new_output("display_data", data={
                        "text/markdown": all_html("W") + "\n\n" + "\n\n".join(
                            v for _, v in vectors("markdown", "X")), "text/plain": "md"})]
        return nb

    name = site.select(["05"])[0]
    html = site.build([name], out=tmp_path_factory.mktemp("site"), log=lambda *a: None,
                      run=run)
    return html, html / "notebooks" / f"{name}.html"


def test_no_vector_runs_on_the_website(site_page, browser):
    folder, page = site_page
    text = page.read_text()
    assert "S00" in text and "X00" in text  # the vectors are on the page
    assert not ran_in(browser, page, site=folder)


#: Records what the page's policy blocked (its first characters), before the page runs.
VIOLATIONS = """window.__blocked = [];
document.addEventListener('securitypolicyviolation',
    e => window.__blocked.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));"""


def test_the_website_still_works_under_its_policy(site_page, browser):
    """The theme's inline scripts (colour mode, the search's page name) and the site's
    MathJax run; what the policy blocked is the corpus's vectors only (their marker, or
    a ``javascript:`` style sheet)."""
    folder, page = site_page
    context = browser.new_context()
    context.route(re.compile(r"^(https?|wss?)://"), lambda route: route.abort())
    context.route(re.compile("^" + re.escape(SITE)), _serve(folder))
    tab = context.new_page()
    tab.on("dialog", lambda d: d.dismiss())
    tab.add_init_script(VIOLATIONS)
    tab.goto(SITE + str(page.relative_to(folder)), wait_until="load")
    tab.wait_for_selector("mjx-container", timeout=30_000)
    mode, name, blocked = tab.evaluate(
        "[document.documentElement.dataset.mode, DOCUMENTATION_OPTIONS.pagename, "
        "window.__blocked]")
    context.close()
    assert mode == "auto" and name == "notebooks/05_denoising_autoencoders"
    theirs = [b for b in blocked if not re.search(r"[SWX]\d\d| javascript ", b)]
    assert blocked and not theirs, sorted(set(theirs))


def test_every_site_page_forbids_inline_script_but_the_templates(site_page):
    folder, _ = site_page
    pages = list(folder.rglob("*.html"))
    for path in pages:
        if "_static" in path.parts:
            continue
        head = path.read_text().split("</head>", 1)[0]
        policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', head)
        assert policy, path
        script = policy[1].split("script-src", 1)[1].split(";")[0]
        assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, script


def test_every_submission_is_graded(pages):
    """Graded, not failed (the kernel-channel code sets the tests aside for review)."""
    results = pages["results"]
    assert not any(r.failed for r in results.values()), {s: r.notes for s, r in
                                                         results.items()}
    assert results[CARRIES].review and results[RAISES].score == 0


def test_the_pages_still_show_what_the_student_did(pages):
    """Kept as text or as a clean figure: the marker of a vector shows, nothing runs."""
    found = pages["pages"]
    fb = found[f"feedback {CARRIES}"].read_text()
    assert "My notes" in fb and 'src="data:image/png;base64,' in fb
    assert "O00" in fb and "M00" in fb  # the vectors' text, shown as text
    assert "E00" in found[f"feedback {RAISES}"].read_text()
    assert "E00" in found["report"].read_text()
    report = found["report"].read_text()
    assert CARRIES in report.split('id="similarity"', 1)[1]


def test_the_stored_graded_notebook_keeps_only_allowed_metadata(pages):
    nb = nbformat.read(pages["root"] / "autograded" / CARRIES / M / f"{M}.ipynb", 4)
    assert "title" not in nb.metadata
    for cell in nb.cells:
        assert "alt" not in cell.metadata
        assert all(re.fullmatch(r"[\w.:-]+", t) for t in cell.metadata.get("tags", []))
        assert not cell.get("attachments") or all(
            set(a) <= {"image/png", "image/jpeg", "image/gif"}
            for a in cell.attachments.values())
        for output in cell.get("outputs", []):
            count = output.get("execution_count")
            assert count is None or isinstance(count, int)
            assert output.get("name", "stdout") in ("stdout", "stderr")
            for kind, meta in output.get("metadata", {}).items():
                assert kind.startswith("image/") and set(meta) <= {"width", "height"}
                assert all(isinstance(v, int) and v > 0 for v in meta.values())
    widths = [o["metadata"]["image/png"] for c in nb.cells for o in c.get("outputs", [])
              if "image/png" in o.get("metadata", {})]
    assert {"width": 5} in widths  # a valid size is kept


def test_the_course_pages_forbid_inline_script(pages):
    from instructor.engine import inert

    for name, policy in (("report", inert.CONTENT_SECURITY_POLICY),
                         (f"feedback {CARRIES}", inert.FEEDBACK_POLICY),
                         (f"feedback {RAISES}", inert.FEEDBACK_POLICY)):
        head = pages["pages"][name].read_text().split("</head>", 1)[0]
        assert f'content="{policy}"' in head and "Content-Security-Policy" in head, name
        script = policy.split("script-src", 1)[1].split(";")[0] if "script-src" in policy \
            else "'none'"  # default-src 'none'
        assert "'unsafe-inline'" not in script and "'strict-dynamic'" not in script


def _raw_page(tmp_path: Path, head: str = "") -> Path:
    """Every HTML vector as it is, each in a frame of its own (one that leaves a style
    or noscript element open would hide the next ones), in one page."""
    frames = "".join(f'<iframe srcdoc="{html.escape(head + v, quote=True)}"></iframe>'
                     for _, v in vectors("html", "H"))
    page = tmp_path / "raw.html"
    page.write_text(f"<!DOCTYPE html><html><head><meta charset=utf-8>{head}</head><body>"
                    f"{frames}</body></html>")
    return page


#: Vectors that run in today's Chromium when put in a page as they are: the detector
#: must see each (a script element, one after an attribute breakout, handlers on error,
#: toggle and hover, an SVG onload, a javascript: link and form button clicked, a
#: srcdoc frame).
MUST_RUN = {"H00", "H02", "H03", "H06", "H09", "H10", "H17", "H21", "H25"}


def test_the_detector_sees_the_vectors_run_when_nothing_stops_them(browser, tmp_path):
    ran = set(ran_in(browser, _raw_page(tmp_path)))
    assert ran >= MUST_RUN, sorted(ran)


@pytest.mark.parametrize("policy", ["CONTENT_SECURITY_POLICY", "FEEDBACK_POLICY"])
def test_the_content_security_policy_alone_stops_them(browser, tmp_path, policy):
    """A second wall: the same page with the course's policy runs none of them."""
    from instructor.engine import inert

    assert not ran_in(browser, _raw_page(tmp_path, inert.policy_tag(getattr(inert, policy))))


def test_the_feedback_pages_mathjax_configuration_keeps_the_tex_delimiters(browser):
    """The hashed configuration script, run as the page runs it: $...$ and \\(...\\)
    inline, $$...$$ and \\[...\\] displayed (a lost backslash makes every parenthesis
    a formula)."""
    from instructor.engine import inert

    page = browser.new_page()
    tex = page.evaluate("() => {" + inert.MATHJAX_CONFIG + " return window.MathJax.tex2jax}")
    page.close()
    assert tex["inlineMath"] == [["$", "$"], ["\\(", "\\)"]], tex
    assert tex["displayMath"] == [["$$", "$$"], ["\\[", "\\]"]], tex


def test_unit_a_markdown_attachment_never_fails_the_grader():
    """nbconvert's renderer raises on an attachment the cell lacks; a student's pasted
    image (present or not) must not make the grader fail, and its data shows nowhere."""
    from instructor.engine.inert import inert_markdown

    page = inert_markdown("see ![a plot](attachment:missing.png) and "
                          "![b](attachment:b.png 'title') **here**")
    assert "<strong>here</strong>" in page and "attachment" not in page and "<img" not in page


def test_unit_output_metadata_is_typed():
    from instructor.engine.inert import inert_output

    png = "iVBORw0KGgo="
    out = inert_output({"output_type": "execute_result", "execution_count": "1<b>",
                        "data": {"image/png": png, "image/jpeg": 'x" onerror="y',
                                 "image/svg+xml": "<svg/>", "text/plain": "p"},
                        "metadata": {"image/png": {"width": 320, "height": "200 onload=x"},
                                     "image/jpeg": {"width": 3}, "width": 5,
                                     "needs_background": "light", "isolated": True}})
    assert out["metadata"] == {"image/png": {"width": 320}}
    assert out["execution_count"] is None and out["data"]["image/png"] == png
    assert "image/jpeg" not in out["data"] and "image/svg+xml" in out["data"]["text/plain"]
    for bad in (True, 0, -3, 2.5, "320"):
        kept = inert_output({"output_type": "display_data", "data": {"image/png": png},
                             "metadata": {"image/png": {"width": bad}}})
        assert kept["metadata"] == {}, bad


def test_unit_the_notebook_keeps_the_graders_record_and_names_only():
    from instructor.engine.inert import notebook_metadata

    kept = notebook_metadata({
        "course_grading": {"isolation": "bubblewrap", "note": "<img src=x onerror=y>",
                           "seconds": {"kernel start": 3.6, "checks (waited for)": 1}},
        "kernelspec": {"name": "autoencoders-course", "display_name": "x<script>"},
        "title": "</title><script>alert(1)</script>", "widgets": {"state": {}}})
    assert kept == {"course_grading": {"isolation": "bubblewrap", "seconds": {
        "kernel start": 3.6, "checks (waited for)": 1}},
        "kernelspec": {"name": "autoencoders-course"}}
