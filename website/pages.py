"""A notebook's page on the course website: the student's notebook with the outputs of the
course's own run.

The page starts from the released notebook (``release/``), so its text, its stubs and its
visible tests are the student's. A code cell shows the outputs the executed source notebook
printed for the same cell only when the two cells are the same cell (same id, same source)
and the cell is neither an answer nor a test: an answer's stub, a test cell (whose hidden
part the release removed) and a worked answer show no output, so nothing a student's copy
lacks reaches a page. Only display data and standard output are kept (not warnings or
errors), and a figure's description (helpers.figures.describe) becomes its alt text.
"""

from __future__ import annotations

import hashlib
import re
from binascii import a2b_base64

import nbformat

from instructor.engine.cells import is_exercise_answer, is_test_cell, nbgrader_meta
from instructor.workflow.badges import BADGE_CELL, links

#: The file of the staged site that maps each picture's file name to its description.
ALTS = "pictures.json"
#: Output types a page shows; an error or a warning on stderr is the run's, not the text's.
SHOWN_OUTPUTS = ("display_data", "execute_result", "stream")
#: A markdown image inside a link, as in the release's badges: ``[![alt](img)](url)``.
BADGE = re.compile(r"\[!\[([^\]]*)\]\([^)]*\)\]\(([^)]*)\)")


def shows_outputs(cell) -> bool:
    """Whether a released code cell may show the source run's outputs on its page."""
    return not (nbgrader_meta(cell).get("solution") or is_test_cell(cell)
                or is_exercise_answer(cell))


def kept(output) -> bool:
    if output.get("output_type") not in SHOWN_OUTPUTS:
        return False
    return output.get("output_type") != "stream" or output.get("name") == "stdout"


def alt_text(outputs) -> str:
    """The descriptions the cell's figures carry, in order, without repeats."""
    texts = [o.get("metadata", {}).get("image/png", {}).get("alt", "") for o in outputs
             if "image/png" in o.get("data", {})]
    return " ".join(dict.fromkeys(t for t in texts if t))


def picture_alts(page: nbformat.NotebookNode) -> dict[str, str]:
    """Each described picture of ``page`` by the name myst-nb gives its file (the SHA-256 of
    its bytes): website/conf.py gives every picture its own description, where myst-nb
    alone would give all pictures of a cell the cell's."""
    found = {}
    for cell in page.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            alt = output.get("metadata", {}).get("image/png", {}).get("alt")
            if png and alt:
                found[hashlib.sha256(a2b_base64(png)).hexdigest()] = alt
    return found


def links_cell(cell, name: str, download: str) -> None:
    """The badge cell as text links (a page fetches no image from another host), with a
    link to download the student's notebook."""
    text = BADGE.sub(r"[\1](\2)", cell.source)
    first, _, rest = text.partition("\n")
    first = first.replace(") [", ") · [")
    assert all(label in first for label in links(name)), f"{name}: badge cell changed"
    cell.source = f"{first} · {{download}}`Download the notebook <{download}>`\n{rest}"


def student_view(executed: nbformat.NotebookNode, released: nbformat.NotebookNode,
                 name: str, download: str) -> nbformat.NotebookNode:
    """The page of notebook ``name``: ``released`` with the outputs of ``executed``."""
    ran = {cell.get("id"): cell for cell in executed.cells}
    page = nbformat.from_dict(released)
    for cell in page.cells:
        if cell.get("id") == BADGE_CELL:
            links_cell(cell, name, download)
        if cell.cell_type != "code":
            continue
        source = ran.get(cell.get("id"))
        cell.outputs, cell.execution_count = [], None
        if source is None or source.source != cell.source or not shows_outputs(cell):
            continue
        cell.outputs = [o for o in source.outputs if kept(o)]
        cell.execution_count = source.get("execution_count")
        alt = alt_text(cell.outputs)
        if alt:
            cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt
    page.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}
    return page
