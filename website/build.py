"""Build the course website: every notebook executed, shown as a student's copy shows it.

``make site`` (``python -m website.build``) runs each source notebook (``notebooks/``,
without its exercises' worked answers) in a kernel, in full mode with the course's
pre-trained weights unless told otherwise, keeps the run in a cache, makes each notebook's
page with website/pages.py, stages them with a landing page, the README's pages for
students and instructors and docs/, and renders the site with Sphinx and myst-nb.

A run is cached under a key of what its outputs depend on: the notebook's code cells, the
course's package (``helpers/``), the weights, the mode and the versions of Python and the
numerical packages. A change to the text alone reuses the run; only a notebook whose key
changed runs again.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError

from instructor import ROOT
from instructor.engine.cells import without_exercise_answers
from instructor.engine.runner import run_notebook
from instructor.workflow.badges import links
from website.pages import ALTS, picture_alts, student_view

SITE = ROOT / "build" / "site"
#: Packages whose versions change what a run prints or draws.
PACKAGES = ("tensorflow", "keras", "numpy", "scipy", "scikit-learn", "matplotlib",
            "tensorflow-probability", "tf-keras", "pillow")
#: The environment of a run: the inline backend draws the figures, explorers draw their
#: static figure (a page has no kernel for widgets), the weights must be the shipped ones.
RUN_ENV = {"MPLBACKEND": None, "COURSE_EXPLORERS": "static", "COURSE_WEIGHTS": "require"}
#: Longest a cell may run, in seconds (03's graded model trains 20 epochs in full mode).
CELL_TIMEOUT = 3600


def notebook_names() -> list[str]:
    return sorted(p.name for p in (ROOT / "notebooks").iterdir() if p.is_dir()
                  and (p / f"{p.name}.ipynb").is_file())


def select(wanted: list[str] | None) -> list[str]:
    """The notebooks ``wanted`` names (``08`` or ``08_variational_autoencoder``), in order."""
    names = notebook_names()
    if not wanted:
        return names
    chosen = [n for n in names if any(n == w or n.split("_")[0] == w for w in wanted)]
    unknown = [w for w in wanted if not any(n == w or n.split("_")[0] == w for n in names)]
    if unknown:
        raise SystemExit(f"no notebook {', '.join(unknown)}; there are {', '.join(names)}")
    return chosen


def run_key(name: str, mode: str) -> str:
    """What the run of notebook ``name`` in ``mode`` depends on, as a digest."""
    h = hashlib.sha256()
    nb = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    code = [c.source for c in without_exercise_answers(nb).cells if c.cell_type == "code"]
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package}=={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} missing")
    files = [*sorted((ROOT / "helpers").rglob("*.py")), *sorted((ROOT / "weights").glob("*"))]
    h.update(json.dumps([name, mode, code, sys.version, versions, sorted(RUN_ENV.items()),
                         CELL_TIMEOUT]).encode())
    for path in files:
        h.update(f"{path.relative_to(ROOT)}\0".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:20]


def executed(name: str, mode: str, cache: Path, log=print,
             env: dict | None = None) -> nbformat.NotebookNode:
    """The run of notebook ``name`` in ``mode``: from ``cache`` when its key is there, else
    run now, its kernel's environment changed by ``env`` too (and cached; older runs of
    the notebook are removed)."""
    path = cache / f"{name}-{mode}-{run_key(name, mode)}.ipynb"
    if path.is_file():
        log(f"{name}: the cached run ({path.name})")
        return nbformat.read(path, as_version=4)
    source = ROOT / "notebooks" / name / f"{name}.ipynb"
    nb = without_exercise_answers(nbformat.read(source, as_version=4))
    start = time.perf_counter()
    try:
        run_notebook(nb, source.parent, {**(env or {}), **RUN_ENV, "COURSE_MODE": mode},
                     timeout=CELL_TIMEOUT)
    except CellExecutionError as exc:
        raise SystemExit(f"{name}: a cell failed when the site ran the notebook in {mode} "
                         f"mode, so no page was built: {exc.ename}: {exc.evalue}") from None
    log(f"{name}: ran in {mode} mode in {time.perf_counter() - start:.0f} s")
    cache.mkdir(parents=True, exist_ok=True)
    for old in cache.glob(f"{name}-{mode}-*.ipynb"):
        old.unlink()
    nbformat.write(nb, path)
    return nb


def readme_section(title: str) -> str:
    """The README's section ``## title``, without its heading."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not match:
        raise SystemExit(f"README.md has no section '## {title}'")
    return match.group(1).strip()


def landing_page(names: list[str]) -> str:
    """The README's opening and its table of notebooks, each row linking its page (when
    built) and its student notebook, followed by the site's tables of contents."""
    text = (ROOT / "README.md").read_text()
    title, _, rest = text.partition("\n")
    opening = rest.split("\n| # |", 1)[0].strip()
    rows = ["| # | notebook | graded task | the student's notebook |", "|---|---|---|---|"]
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        full = [n for n in notebook_names() if n.split("_")[0] == cells[0]]
        if not full:
            continue
        name = full[0]
        shown = f"[{cells[1]}](notebooks/{name}.ipynb)" if name in names else cells[1]
        opens = " · ".join(f"[{where}]({url})" for where, url in links(name).items())
        rows.append(f"| {cells[0]} | {shown} | {cells[2]} | {opens} |")
    guides = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    return "\n".join([
        title, "", opening, "", *rows, "",
        "Each notebook's page shows it as the course's own run printed and drew it (the "
        "graded tasks solved, their code not shown). A student's copy has no outputs until "
        "it runs.", "",
        "```{toctree}", ":caption: Notebooks", ":hidden:", "",
        *(f"notebooks/{n}" for n in names), "```", "",
        "```{toctree}", ":caption: Using the course", ":hidden:", "",
        "students", "instructors", *(f"docs/{g}" for g in guides), "```", ""])


def stage(names: list[str], mode: str, cache: Path, dest: Path, log=print,
          env: dict | None = None, run=executed) -> None:
    """Write the site's sources to ``dest``: the pages, the downloads, the guides; each
    notebook's run comes from ``run`` (:func:`executed`, or a test's planted runs)."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "notebooks").mkdir(parents=True)
    (dest / "downloads").mkdir()
    shutil.copytree(ROOT / "docs", dest / "docs")
    alts = {}
    for name in names:
        released = ROOT / "release" / name / f"{name}.ipynb"
        shutil.copy(released, dest / "downloads" / released.name)
        page = student_view(run(name, mode, cache, log, env),
                            nbformat.read(released, as_version=4), name,
                            f"../downloads/{released.name}")
        nbformat.write(page, dest / "notebooks" / released.name)
        alts.update(picture_alts(page))
    (dest / ALTS).write_text(json.dumps(alts, indent=0))
    (dest / "index.md").write_text(landing_page(names))
    for page, who in (("students", "students"), ("instructors", "instructors")):
        (dest / f"{page}.md").write_text(f"# Start here: {who}\n\n"
                                         f"{readme_section(f'For {who}')}\n")


def build(names: list[str], mode: str = "full", out: Path = SITE, log=print,
          env: dict | None = None, run=executed) -> Path:
    """Stage and render the site of notebooks ``names``; return the HTML folder."""
    cache = out / "runs"
    source = out / "source"
    html = out / "html"
    stage(names, mode, cache, source, log, env, run)
    if html.exists():  # a fresh render: no page of an earlier build stays behind
        shutil.rmtree(html)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c",
                    str(ROOT / "website"), "-d", str(out / "doctrees"), str(source), str(html)],
                   check=True, cwd=ROOT)  # from ROOT: website.policy, a Sphinx extension
    log(f"rendered {len(names)} notebook page(s) in {time.perf_counter() - start:.0f} s: "
        f"{html / 'index.html'}")
    return html


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="numbers or names (default: all)")
    parser.add_argument("--mode", choices=("full", "fast"), default="full",
                        help="how the notebooks run (default: full, as the text describes)")
    parser.add_argument("--out", type=Path, default=SITE,
                        help=f"where the site goes (default: {SITE.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    build(select(args.notebooks), args.mode, args.out)
    print(f"the site took {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
