""""Open in Colab" and "Open in Kaggle" links to the student version of each notebook,
from ``[project.urls] Repository`` and ``[tool.course] default-branch`` in pyproject.toml:
the released notebooks' badge cells, the README's table and the setup cells agree
(tests/test_badges.py).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
from nbgrader.utils import is_grade

from instructor import ROOT

#: The id and tag of the badge cell, so that it is recognised (and not a course cell).
BADGE_CELL = "course-badges"
COLAB_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
KAGGLE_IMAGE = "https://kaggle.com/static/images/open-in-kaggle.svg"


def repository(root: Path = ROOT) -> tuple[str, str]:
    """The repository's URL and its default branch, from pyproject.toml."""
    project = tomllib.loads((Path(root) / "pyproject.toml").read_text())
    url = project["project"]["urls"]["Repository"].rstrip("/")
    return url, project["tool"]["course"]["default-branch"]


def links(name: str, root: Path = ROOT) -> dict[str, str]:
    """The Colab and Kaggle links that open ``release/<name>/<name>.ipynb``."""
    url, branch = repository(root)
    if not url.startswith("https://github.com/"):
        raise ValueError(f"{url}: Colab and Kaggle open notebooks from GitHub repositories")
    path = f"{url.removeprefix('https://github.com/')}/blob/{branch}/release/{name}/{name}.ipynb"
    return {"Colab": f"https://colab.research.google.com/github/{path}",
            "Kaggle": f"https://kaggle.com/kernels/welcome?src=https://github.com/{path}"}


def badges(name: str, root: Path = ROOT) -> str:
    """Both badges of notebook ``name`` as markdown, on one line."""
    found = links(name, root)
    return (f"[![Open in Colab]({COLAB_IMAGE})]({found['Colab']}) "
            f"[![Open in Kaggle]({KAGGLE_IMAGE})]({found['Kaggle']})")


#: The students' page on grading, linked from the badge cell of every graded notebook.
GRADING_PAGE = "docs/graded-work.md"


def page(path: str, root: Path = ROOT) -> str:
    """The address of the repository's file ``path`` on the default branch: a link that
    opens wherever the notebook runs (Colab, Kaggle, a hub), unlike a relative one."""
    url, branch = repository(root)
    return f"{url}/blob/{branch}/{path}"


def add_badge_cells(folder: Path, names: list[str], root: Path = ROOT) -> None:
    """Put the badge cell, without nbgrader metadata, first in each released notebook."""
    for name in names:
        path = Path(folder) / name / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells = [c for c in nb.cells if c.get("id") != BADGE_CELL]
        text = badges(name, root)
        if any(is_grade(c) for c in nb.cells):
            text += (f"\n\nGraded tasks: [how your work is graded]"
                     f"({page(GRADING_PAGE, root)})")
        cell = nbformat.v4.new_markdown_cell(text, id=BADGE_CELL)
        cell.metadata["tags"] = [BADGE_CELL]
        nb.cells.insert(0, cell)
        nbformat.write(nb, path)
