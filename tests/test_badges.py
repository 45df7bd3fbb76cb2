"""The "Open in Colab / Kaggle" badges and the setup cells' install line: one repository."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from instructor.workflow.assignments import assignments
from instructor.workflow.badges import BADGE_CELL, badges, links, repository

ROOT = Path(__file__).resolve().parents[1]
NAMES = assignments()
LINK = re.compile(r"\)\]\((https://(?:colab\.research\.google\.com|kaggle\.com)/[^)\s]+)\)")


def _target(link: str) -> Path:
    """The file in this repository that a Colab or Kaggle link opens."""
    url, branch = repository()
    github = url.removeprefix("https://github.com/")
    match = re.search(rf"github(?:\.com)?/{re.escape(github)}/blob/{re.escape(branch)}/(.+)$",
                      link)
    assert match, f"{link} does not open a file of {url} on {branch}"
    return ROOT / match.group(1)


@pytest.mark.parametrize("name", NAMES)
def test_every_released_notebook_opens_itself_in_colab_and_kaggle(name):
    nb = nbformat.read(ROOT / "release" / name / f"{name}.ipynb", as_version=4)
    first = nb.cells[0]
    assert first.get("id") == BADGE_CELL and first.cell_type == "markdown", \
        f"release/{name} does not start with its badge cell: run `make release`"
    assert "nbgrader" not in first.metadata, "the badge cell must not be an nbgrader cell"
    found = LINK.findall(first.source)
    assert sorted(found) == sorted(links(name).values())
    for link in found:
        assert _target(link) == ROOT / "release" / name / f"{name}.ipynb"


@pytest.mark.parametrize("name", NAMES)
def test_a_graded_notebook_links_the_grading_page_by_its_address(name):
    """On Colab, Kaggle or a hub a relative link to docs/ leads nowhere: the badge cell
    of a graded notebook links the students' page by its repository address."""
    from instructor.workflow.badges import GRADING_PAGE, page

    nb = nbformat.read(ROOT / "release" / name / f"{name}.ipynb", as_version=4)
    graded = any(c.metadata.get("nbgrader", {}).get("grade") for c in nb.cells)
    url, branch = repository()
    assert page(GRADING_PAGE) == f"{url}/blob/{branch}/docs/graded-work.md"
    assert (ROOT / GRADING_PAGE).is_file()
    assert (f"({page(GRADING_PAGE)})" in nb.cells[0].source) == graded, name


def test_the_readme_table_has_every_notebooks_badges_and_their_targets_exist():
    readme = (ROOT / "README.md").read_text()
    for name in NAMES:
        assert badges(name) in readme, f"README.md lacks the badges of {name}"
    found = LINK.findall(readme)
    assert len(found) == 2 * len(NAMES)
    for link in found:
        assert _target(link).is_file(), f"{link}: no such file in release/"


@pytest.mark.parametrize("name", NAMES)
def test_setup_cells_install_from_the_configured_repository(name):
    """The setup cell installs from pyproject.toml's repository and branch: a maintainer
    who changes them there changes this line in each notebook (and runs `make release`)."""
    nb = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    setup = next(c for c in nb.cells if "grade-setup" in c.metadata.get("tags", []))
    target = "git+{}@{}".format(*repository())  # what Colab and Kaggle install
    assert f'repo = "{target}"' in setup.source, (
        f"{name}'s setup cell must install {target} (pyproject.toml)")
