"""The release, read once per process (:func:`load`) and asked by every step of grading:
which cells are graded, of which task, trusted (docs/grading.md, "The release decides,
not the submission"). The hidden-test markers are nbgrader's (``ClearHiddenTests``),
read as it reads them (:func:`hide_hidden`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import nbformat
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Unicode
from traitlets.config import LoggingConfigurable

from instructor.engine.cells import is_setup, is_test_cell, nbgrader_meta, task_of
from instructor.engine.review import defined_functions

BEGIN_HIDDEN = ClearHiddenTests.begin_test_delimeter.default_value
END_HIDDEN = ClearHiddenTests.end_test_delimeter.default_value


def hide_hidden(source: str, placeholder: str | None = None) -> tuple[str, int]:
    """``source`` without its hidden-test regions, and how many it had; each becomes
    ``placeholder`` (indented as its first line) if given. As ``ClearHiddenTests`` reads
    them: from the line naming ``BEGIN_HIDDEN`` to the one naming ``END_HIDDEN`` or the end."""
    kept, regions, inside = [], 0, False
    for line in source.splitlines(keepends=True):
        if BEGIN_HIDDEN in line and not inside:
            inside, regions = True, regions + 1
            if placeholder is not None:
                indent = line[:len(line) - len(line.lstrip(" \t"))]
                kept.append(f"{indent}{placeholder}\n")
        elif inside:
            inside = END_HIDDEN not in line
        else:
            kept.append(line)
    return "".join(kept), regions


def by_grade_id(cells) -> dict:
    """grade_id -> cell, for the cells with nbgrader metadata."""
    return {nbgrader_meta(c)["grade_id"]: c for c in cells
            if isinstance(nbgrader_meta(c).get("grade_id"), str)}


@dataclass(frozen=True)
class Task:
    """One graded task of the release (its ``task-<name>`` tag)."""

    name: str
    context: tuple[str, ...]   # sources of its instructor cells (not answers nor tests)
    names: tuple[str, ...]     # the graded functions its answer cells define


@dataclass(frozen=True)
class Release:
    """The released notebook's cells, as the grader needs them."""

    notebook: nbformat.NotebookNode
    graded: Mapping[str, nbformat.NotebookNode]   # grade_id -> released graded cell
    plain: Mapping[str, nbformat.NotebookNode]    # cell id or source -> ungraded cell
    setup: tuple[str, ...]                        # the trusted setup cells' sources
    tasks: Mapping[str, Task]
    markdown: frozenset[str]                      # the course's markdown, stripped

    cells = property(lambda self: self.notebook.cells)

    @classmethod
    def of(cls, nb: nbformat.NotebookNode) -> Release:
        plain = [c for c in nb.cells if not nbgrader_meta(c)]
        tasks: dict[str, tuple[list, list]] = {}
        for cell in nb.cells:
            if not task_of(cell) or cell.cell_type != "code":
                continue
            context, names = tasks.setdefault(task_of(cell), ([], []))
            if nbgrader_meta(cell).get("solution"):
                names += [n for n in defined_functions(cell.source) if n not in names]
            elif not is_test_cell(cell):  # instructor cells of the task, locked or not
                context.append(cell.source)
        return cls(
            nb, MappingProxyType(by_grade_id(nb.cells)),
            MappingProxyType({**{c.source.strip(): c for c in plain},
                              **{c.get("id"): c for c in plain if c.get("id")}}),
            tuple(c.source for c in nb.cells if c.cell_type == "code" and is_setup(c)),
            MappingProxyType({name: Task(name, tuple(context), tuple(names))
                              for name, (context, names) in tasks.items()}),
            frozenset(c.source.strip() for c in nb.cells if c.cell_type == "markdown"))

    def origin(self, cell):
        """The released cell ``cell`` stands for, or None: by ``grade_id`` for a graded
        cell; else by cell id, else by source."""
        if "nbgrader" in cell.get("metadata", {}):
            return self.graded_origin(cell)
        return self.plain.get(cell.get("id")) or self.plain.get(cell.source.strip())

    def graded_origin(self, cell):
        """The released graded cell ``cell`` is, by its ``grade_id`` (``None``: not one)."""
        grade_id = nbgrader_meta(cell).get("grade_id")
        return self.graded.get(grade_id) if isinstance(grade_id, str) else None

    def task_of(self, cell) -> Task | None:
        origin = self.graded_origin(cell)
        return self.tasks.get(task_of(origin)) if origin is not None else None

    def is_test(self, cell) -> bool:
        """Whether ``cell`` is a test cell: as the release says; with no release
        (:data:`NONE`), as its own metadata says (no process runs it; it waits for review)."""
        return is_test_cell(self.graded_origin(cell) or {} if self.graded else cell)

    def test_cells(self, cells) -> frozenset[int]:
        """The positions of the test cells of ``cells`` (:meth:`is_test`)."""
        return frozenset(i for i, c in enumerate(cells) if self.is_test(c))

    def answer_cells(self, cells) -> dict[str, list[tuple[int, str]]]:
        """Task -> (position, source) of the submitted answer cells of it, in order."""
        found: dict[str, list[tuple[int, str]]] = {}
        for index, cell in enumerate(cells):
            origin = self.graded_origin(cell)
            if origin is not None and task_of(origin) and nbgrader_meta(origin).get("solution"):
                found.setdefault(task_of(origin), []).append((index, cell.source))
        return found


@functools.lru_cache(maxsize=8)
def _read(path: str, _stamp: tuple) -> Release:
    return Release.of(nbformat.read(path, as_version=4))


def load(path: str | Path) -> Release | None:
    """The release notebook at ``path``, read once per process while unchanged; or None."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return _read(str(path), (stat.st_mtime_ns, stat.st_size, stat.st_ino))


#: No release: no task, and test cells by their own metadata (:meth:`Release.is_test`).
NONE = Release.of(nbformat.v4.new_notebook())


class FromRelease(LoggingConfigurable):
    """A step of nbgrader's that reads the release of the notebook it processes."""

    release_notebook = Unicode("", help="The release notebook (default: "
                               "<release>/<assignment>/<notebook>.ipynb).").tag(config=True)

    def read_release(self, resources: dict) -> Release | None:
        """The release (``None``, with a warning, if there is none)."""
        from nbgrader.coursedir import CourseDirectory

        path = Path(self.release_notebook)
        if not self.release_notebook:
            info, course = resources.get("nbgrader", {}), CourseDirectory(config=self.config)
            path = Path(course.format_path(course.release_directory, ".", info.get(
                "assignment", ""))) / f"{info.get('notebook', '')}.ipynb"
        release = load(path)
        if release is None:
            self.log.warning("%s: no release notebook %s", type(self).__name__, path)
        return release
