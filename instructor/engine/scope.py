"""The ``tasks`` grading scope: which cells grading does not need to run."""

from __future__ import annotations

import ast

from instructor.engine.cells import nbgrader_meta

_DYNAMIC = {"globals", "locals", "exec", "eval", "vars", "__import__"}


def bindings(source: str) -> tuple[set[str], set[str], bool] | None:
    """(names a cell binds, names it reads, whether it has a star import); ``None`` when
    it is not Python (a magic, a syntax error)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    defined, used, star = set(), set(), False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, ast.Store | ast.Del) else used).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                star = star or alias.name == "*"
                defined.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    return defined, used, star


def names_of(source: str) -> tuple[set[str], set[str]] | None:
    """(names a cell defines, names it uses); ``None`` when it cannot be analysed
    (not Python, a magic, a star import or dynamic access to the namespace)."""
    found = bindings(source)
    if found is None or found[2] or found[1] & _DYNAMIC:
        return None
    return found[0], found[1]


def cells_to_skip(cells, release_cells, setup_tag: str = "grade-setup") -> set[int]:
    """Indices of cells grading does not need: unchanged, untagged instructor cells
    (demos, figures, long training) whose names no needed cell uses.

    Needed: the setup cell, every ``task-*`` cell, every nbgrader cell, every cell the
    student added or changed, and, transitively, every earlier cell that defines a name
    a needed cell uses. If any needed cell cannot be analysed, nothing is skipped.
    """
    demo_sources = {c.source.strip() for c in release_cells if c.cell_type == "code"
                    and not nbgrader_meta(c) and not c.metadata.get("tags")}
    analysed, demo = [], []
    for cell in cells:
        tags = cell.metadata.get("tags", [])
        is_demo = (cell.cell_type == "code" and not nbgrader_meta(cell) and setup_tag not in tags
                   and not any(t.startswith("task-") for t in tags)
                   and cell.source.strip() in demo_sources)
        demo.append(is_demo)
        analysed.append(names_of(cell.source) if cell.cell_type == "code" else (set(), set()))
    wanted: set[str] = set()
    skip: set[int] = set()
    for index in reversed(range(len(cells))):
        names = analysed[index]
        if not demo[index]:
            if names is None:
                if cells[index].source.strip():
                    return set()
                continue
            wanted |= names[1]
        elif names is None or names[0] & wanted:
            wanted |= names[1] if names else set()
        else:
            skip.add(index)
    return skip
