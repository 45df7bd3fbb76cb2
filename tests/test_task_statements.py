"""Each graded task's statement says what to build, in at most 150 words, and links the one
page on how work is graded (docs/graded-work.md), which must exist."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tests.test_notebook_conventions import TASKS

ROOT = Path(__file__).resolve().parents[1]
PAGE = Path("docs") / "graded-work.md"
TITLE = "# How your work is graded"
MAX_WORDS = 150
HEADING = re.compile(r"^## Graded task \(([a-z])\) · ", re.M)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _notebooks(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).glob("*/*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


def statements(nb) -> dict[str, str]:
    """The markdown that states each graded task, by its letter: from the task's heading
    to the end of its cell, and any markdown cells after it up to the next code cell
    (the answer cell). Words of the cell before the heading belong to the section above."""
    found: dict[str, str] = {}
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown" or not (m := HEADING.search(cell.source)):
            continue
        parts = [cell.source[m.start():]]
        for later in cells[i + 1:]:
            if later.cell_type != "markdown":
                break
            parts.append(later.source)
        found[m.group(1)] = "\n\n".join(parts)
    return found


def problems(path: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with the task statements of the notebook at ``path``: too long, or
    without a relative link (one that works from the notebook's folder, on GitHub and in
    JupyterLab) to the page, or the page missing."""
    page = root / PAGE
    found = []
    if not page.is_file():
        found.append(f"{PAGE} is missing")
    elif not page.read_text().startswith(TITLE + "\n"):
        found.append(f"{PAGE} does not start with '{TITLE}'")
    nb = nbformat.read(path, as_version=4)
    for letter, text in statements(nb).items():
        words = len(text.split())
        if words > MAX_WORDS:
            found.append(f"task ({letter}): its statement has {words} words, over "
                         f"{MAX_WORDS}: say what to build; the grader's rules live in {PAGE}")
        targets = [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]
        if not any((path.parent / t).resolve() == page.resolve() for t in targets):
            found.append(f"task ({letter}): its statement has no relative link to {PAGE} "
                         f"(from {path.parent.name}/: '../../{PAGE.as_posix()}'), "
                         f"only {targets}")
    return found


def test_every_task_has_a_statement():
    letters = {letter for path in _notebooks("notebooks")
               for letter in statements(nbformat.read(path, as_version=4))}
    assert letters == set(TASKS), f"task statements found for {sorted(letters)}"


@pytest.mark.parametrize("path", _notebooks("notebooks") + _notebooks("release"),
                         ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_statements_are_short_and_link_the_grading_page(path):
    found = problems(path)
    assert not found, f"{path.relative_to(ROOT)}:\n" + "\n".join(found)


def _course(tmp_path: Path, statement: str, page: str | None = TITLE + "\n") -> Path:
    """A course of one notebook holding ``statement``, the page holding ``page``."""
    if page is not None:
        (tmp_path / "docs").mkdir(parents=True)
        (tmp_path / PAGE).write_text(page)
    path = tmp_path / "notebooks" / "10_x" / "10_x.ipynb"
    path.parent.mkdir(parents=True)
    before = "## 1 · Before\n\n" + "Many words. " * 100 + "\n\n"   # not the statement's
    cells = [nbformat.v4.new_markdown_cell(before + statement),
             nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    ### END SOLUTION")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


LINKED = "[How your work is graded](../../docs/graded-work.md)"


def test_a_short_linked_statement_passes(tmp_path):
    text = "## Graded task (z) · f · 1 point\n\nWrite `f()`. " + LINKED
    path = _course(tmp_path, text)
    assert statements(nbformat.read(path, as_version=4)) == {"z": text}
    assert problems(path, tmp_path) == []


def test_a_long_statement_fails(tmp_path):
    text = "## Graded task (z) · f · 1 point\n\n" + "word " * MAX_WORDS + LINKED
    found = problems(_course(tmp_path, text), tmp_path)
    assert len(found) == 1 and "task (z)" in found[0] and "words" in found[0], found


def test_a_long_statement_split_over_cells_fails(tmp_path):
    path = _course(tmp_path, "## Graded task (z) · f · 1 point\n\n" + LINKED)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("word " * MAX_WORDS))
    nbformat.write(nb, path)
    assert any("words" in p for p in problems(path, tmp_path))


def test_a_statement_without_the_link_fails(tmp_path):
    for text in ["Write `f()`.", "Write `f()`. [grading](docs/graded-work.md)",
                 "Write `f()`. [grading](https://example.org/docs/graded-work.md)"]:
        found = problems(_course(tmp_path / str(len(text)), "## Graded task (z) · f · 1 "
                                 f"point\n\n{text}"), tmp_path / str(len(text)))
        assert len(found) == 1 and "no relative link" in found[0], (text, found)


def test_a_missing_page_fails(tmp_path):
    text = "## Graded task (z) · f · 1 point\n\nWrite `f()`. " + LINKED
    found = problems(_course(tmp_path, text, page=None), tmp_path)
    assert f"{PAGE} is missing" in found


def test_the_page_is_for_students_and_linked_from_their_section():
    readme = (ROOT / "README.md").read_text()
    students = readme[readme.index("## For students"):readme.index("## For instructors")]
    assert f"]({PAGE.as_posix()})" in students, "the README's student section links the page"
