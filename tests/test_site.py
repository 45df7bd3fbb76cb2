"""The course website (website/): nothing graded leaks, every figure is described, and a
browser reads it.

- The leak test builds the site of all twelve notebooks from planted runs: every code cell of
  each source notebook "printed" its own source and a mark of its own and "drew" a figure
  described by that mark. No mark of an answer, a test or a worked answer, and no line of a
  solution region, a hidden test or a worked answer (that the student's notebook lacks),
  may be in any built file: pages, search index, downloads.
- The other tests build notebook 08's page from a real fast-mode run: every picture has a
  text alternative that says what it shows; Chromium opens the site from a local server
  (landing page, 08's page with a described figure, typeset math and the Colab link, the
  search), with no console error and no request to another host.
"""

from __future__ import annotations

import base64
import functools
import html as html_lib
import json
import re
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from instructor.engine.cells import is_exercise_answer, is_test_cell, nbgrader_meta
from instructor.engine.release import BEGIN_HIDDEN, END_HIDDEN
from tests.course_copy import ROOT
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _browser_or_skip, _free_port
from website import build as site
from website.pages import shows_outputs

pytestmark = pytest.mark.notebook

#: A one-pixel PNG, the planted figure.
PIXEL = base64.b64encode(base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhQGAWjR9awAAAABJRU5ErkJggg=="
)).decode()


def _mark(cell) -> str:
    return f"PLANTED{re.sub(r'[^A-Za-z0-9]', 'x', cell.get('id', ''))}MARK"


def planted(name: str, *args, **kwargs) -> nbformat.NotebookNode:
    """A run of ``name`` in which every code cell printed its mark and its own source and
    drew a figure its mark describes."""
    nb = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            mark = _mark(cell)
            cell.outputs = [
                nbformat.v4.new_output("stream", name="stdout", text=f"{mark}\n{cell.source}"),
                nbformat.v4.new_output("display_data", data={"image/png": PIXEL},
                                       metadata={"image/png": {"alt": f"{mark} figure"}})]
    return nb


def _between(text: str, begin: str, end: str) -> list[str]:
    return re.findall(rf"{re.escape(begin)}\n(.*?){re.escape(end)}", text, re.S)


@functools.cache
def public_text() -> str:
    """What a student reads anyway: every released notebook, the README and docs/, with
    whitespace collapsed."""
    texts = [c.source for path in sorted((ROOT / "release").glob("*/*.ipynb"))
             for c in nbformat.read(path, as_version=4).cells]
    texts += [p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]]
    return " ".join(" ".join(texts).split())  # as built_text reads a page: across lines


def secrets(name: str) -> tuple[set[str], set[str], set[str]]:
    """Of notebook ``name``: the marks of cells that must show no output, the marks of
    cells that must, and the lines of its solution regions, hidden tests and worked
    answers that no released notebook or document holds."""
    nb = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    student = public_text()
    hidden, shown, regions = set(), set(), []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if is_exercise_answer(cell):
            regions.append(cell.source)
        elif nbgrader_meta(cell).get("solution"):
            regions += _between(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
        regions += _between(cell.source, f"### {BEGIN_HIDDEN}", f"### {END_HIDDEN}")
        graded = is_exercise_answer(cell) or is_test_cell(cell) or nbgrader_meta(
            cell).get("solution")
        (hidden if graded else shown).add(_mark(cell))
    lines = {" ".join(line.split()) for region in regions for line in region.splitlines()}
    return hidden, shown, {line for line in lines if len(line) >= 12 and line not in student
                           and not line.startswith(("### BEGIN", "### END"))}


def built_text(path) -> str:
    """What a reader or a search could find in a built file: its text, its markup's text
    (entities decoded, tags removed) and, for JSON, its strings; whitespace collapsed."""
    raw = path.read_bytes().decode("utf-8", errors="replace")
    parts = [raw, html_lib.unescape(re.sub(r"<[^>]+>", "", raw))]
    if path.suffix in {".ipynb", ".json"} and raw.lstrip().startswith("{"):
        parts.append(json.dumps(json.loads(raw), ensure_ascii=False))
        parts.append(" ".join(c["source"] if isinstance(c["source"], str) else "".join(
            c["source"]) for c in json.loads(raw).get("cells", [])))
    return " ".join(" ".join(part.split()) for part in parts)


@pytest.fixture(scope="module")
def planted_site(tmp_path_factory):
    out = tmp_path_factory.mktemp("planted-site")
    return site.build(site.notebook_names(), out=out, log=lambda *a: None, run=planted)


def test_no_answer_reaches_any_built_file(planted_site):
    # Every file the build wrote from the course's content (the theme's and MathJax's own
    # files in _static are copied unchanged, pictures are the runs' own PNGs).
    files = [p for p in planted_site.rglob("*") if p.is_file() and "_static" not in p.parts
             and p.suffix not in {".png", ".svg"}]
    texts = {p: built_text(p) for p in files}
    everything = "\n".join(texts.values())
    checked = 0
    for name in site.notebook_names():
        hidden, shown, lines = secrets(name)
        assert hidden and lines, f"{name}: nothing graded found (the test would check nothing)"
        page = built_text(planted_site / "notebooks" / f"{name}.html")
        missing = [m for m in shown if m not in page]
        assert not missing, f"{name}: outputs of plain cells are missing: {missing[:3]}"
        assert "NotImplementedError" in page, f"{name}: the stub is not on its page"
        for mark in hidden:
            found = [str(p.relative_to(planted_site)) for p, t in texts.items() if mark in t]
            assert not found, f"{name}: the output of graded cell {mark} is in {found}"
        for line in lines:
            assert line not in everything, f"{name}: a line the student lacks is built: {line}"
        checked += len(lines)
    downloads = sorted(p.stem for p in planted_site.glob("_downloads/*/*.ipynb"))
    assert downloads == sorted(site.notebook_names()), downloads
    print(f"\n{len(files)} built files searched for {checked} lines of answers and tests")


def test_pages_keep_outputs_only_where_the_student_has_the_cell():
    released = nbformat.read(ROOT / "release" / "05_denoising_autoencoders" /
                             "05_denoising_autoencoders.ipynb", as_version=4)
    kinds = {shows_outputs(c) for c in released.cells if c.cell_type == "code"}
    assert kinds == {True, False}


@pytest.fixture(scope="module")
def site08(tmp_path_factory, data_env):
    out = tmp_path_factory.mktemp("site08")
    return site.build(site.select(["08"]), mode="fast", out=out, env=data_env)


def test_every_picture_says_what_it_shows(site08):
    page = (site08 / "notebooks" / "08_variational_autoencoder.html").read_text()
    images = re.findall(r"<img\b[^>]*>", page)
    assert len(images) >= 5, f"only {len(images)} pictures on 08's page"
    alts = [html_lib.unescape(a) for a in re.findall(r'<img\b[^>]*\balt="([^"]*)"', page)]
    # one cell draws the Bernoulli and the Gaussian VAE's codes: each picture its own words
    for model in ("Bernoulli VAE", "Gaussian VAE"):
        assert sum(a.startswith(f"Titled '{model}'. Scatter plot") for a in alts) == 1, alts
    for pages in site08.rglob("*.html"):
        for img in re.findall(r"<img\b[^>]*>", pages.read_text()):
            alt = html_lib.unescape((re.search(r'\balt="([^"]*)"', img) or [None, ""])[1])
            words = alt.split()
            assert len(words) >= 5 and not re.search(r"\.(png|svg|jpe?g)\b", alt), \
                f"{pages.relative_to(site08)}: a picture without a description: {img[:200]}"


@pytest.fixture(scope="module")
def site_server(site08):
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                               "127.0.0.1", "--directory", str(site08)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/index.html", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield base
    server.terminate()
    server.wait(10)


def test_a_browser_reads_the_site(site_server, tmp_path):
    sync_playwright = _browser_or_skip()
    errors, elsewhere = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))

        def route(r):
            if r.request.url.startswith(site_server):
                return r.continue_()
            elsewhere.append(r.request.url)
            return r.abort()
        page.route("**/*", route)

        page.goto(site_server + "/index.html")
        assert "variational" in page.title().lower() or page.locator("h1").count()
        page.locator("a[href='notebooks/08_variational_autoencoder.html']").first.wait_for()
        page.screenshot(path=str(tmp_path / "landing.png"))

        page.goto(site_server + "/notebooks/08_variational_autoencoder.html")
        page.wait_for_selector("mjx-container", timeout=30_000)
        maths = page.locator("mjx-container").count()
        described = page.locator("img[alt]").evaluate_all(
            "els => els.filter(e => e.alt.split(' ').length >= 5 && e.naturalWidth > 0).length")
        colab = page.locator("a[href^='https://colab.research.google.com/']").count()
        page.screenshot(path=str(tmp_path / "notebook-08.png"), full_page=False)

        page.goto(site_server + "/search.html?q=reparameterization")
        page.wait_for_selector("ul.search li", timeout=30_000)
        hits = page.locator("ul.search li a").all_inner_texts()
        page.screenshot(path=str(tmp_path / "search.png"))
        browser.close()
    print(f"\n08: {maths} typeset formulas, {described} described pictures; "
          f"search: {hits[:3]}; screenshots in {tmp_path}")
    assert maths > 0 and described > 0 and colab > 0
    assert any("variational" in hit.lower() for hit in hits), hits
    assert not errors, errors
    assert not elsewhere, f"the site asked another host for {elsewhere}"


def test_the_pages_workflow_builds_with_make_site_and_deploys_its_folder():
    import yaml
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "site.yml").read_text())
    steps = workflow["jobs"]["build"]["steps"]
    assert any(step.get("run") == "make site" for step in steps)
    upload = next(s for s in steps if s.get("uses", "").startswith(
        "actions/upload-pages-artifact"))
    assert ROOT / upload["with"]["path"] == site.SITE / "html"
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache"))
    assert ROOT / cache["with"]["path"] == site.SITE / "runs"
    assert "make site" in (ROOT / "README.md").read_text()


def test_headings_go_down_one_level_at_a_time(planted_site):
    for path in planted_site.rglob("*.html"):
        text = path.read_text()
        article = text[text.find("<article"):text.rfind("</article>")]
        levels = [int(n) for n in re.findall(r"<h([1-6])\b", article)]
        jumps = [(a, b) for a, b in zip(levels, levels[1:], strict=False) if b > a + 1]
        assert not jumps, f"{path.relative_to(planted_site)}: heading levels skip: {jumps}"
        if "notebooks" in path.parts:
            assert levels and levels[0] == 1 and levels.count(1) == 1, (path, levels[:5])


#: Colour maps whose lightness does not rise steadily, so their order is lost to many
#: colour-blind readers and in grayscale.
RAINBOWS = ("jet", "rainbow", "hsv", "gist_rainbow", "nipy_spectral", "turbo", "Spectral")


def test_no_rainbow_colour_map_carries_meaning():
    sources = [*(ROOT / "helpers").rglob("*.py"), *(ROOT / "notebooks").rglob("*.ipynb")]
    found = [f"{p.relative_to(ROOT)}: {m}" for p in sources
             for m in re.findall(r"""cmap\s*=\s*["']([A-Za-z0-9_]+)["']|get_cmap\(\s*["']"""
                                 r"""([A-Za-z0-9_]+)""", p.read_text())
             if any(name.removesuffix("_r") in RAINBOWS for name in m)]
    assert not found, found
