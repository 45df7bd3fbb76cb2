"""Reading nbgrader cells the way the grader needs: tolerant of damaged metadata (a tool
or a hand edit may leave nbgrader metadata that is not a mapping: read as none).
"""

from __future__ import annotations

import copy

import nbformat


def nbgrader_meta(cell) -> dict:
    """A cell's nbgrader metadata; ``{}`` when there is none or it is not a mapping."""
    meta = cell.get("metadata", {})
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def is_test_cell(cell) -> bool:
    """An autograded test cell: a code cell with points and no student answer."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) \
        and not meta.get("solution")


def is_exercise_answer(cell) -> bool:
    """A worked answer to an ungraded exercise (tag ``exercise-answer``): no points."""
    tags = cell.get("metadata", {}).get("tags", [])
    return isinstance(tags, list) and "exercise-answer" in tags


def without_exercise_answers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` without its exercise answers (they come last): for retraining runs."""
    return nbformat.from_dict({**nb, "cells": [c for c in nb.cells if not is_exercise_answer(c)]})


def task_of(cell) -> str | None:
    """The task a cell belongs to (its ``task-<name>`` tag), if any."""
    return next((t[5:] for t in grading_tags(cell) if t.startswith("task-")), None)


def is_grading_tag(tag) -> bool:
    """Whether ``tag`` steers grading (docs/authoring.md): ``grade-setup`` or ``task-<name>``."""
    return isinstance(tag, str) and (tag == "grade-setup" or tag.startswith("task-"))


def grading_tags(cell) -> list[str]:
    """The tags of ``cell`` that steer grading."""
    tags = cell.get("metadata", {}).get("tags", [])
    return [t for t in tags if is_grading_tag(t)] if isinstance(tags, list) else []


def is_setup(cell) -> bool:
    """A setup cell (tagged ``grade-setup``)."""
    return "grade-setup" in grading_tags(cell)


def restore_from_release(cell, origin) -> list[str]:
    """Give ``cell`` the grading metadata and tags of the released cell ``origin``
    (None: none), keeping tags that do not steer grading; what changed, for a note."""
    metadata = cell.setdefault("metadata", nbformat.NotebookNode())
    released = copy.deepcopy(nbgrader_meta(origin)) if origin is not None else {}
    current = metadata.get("nbgrader")
    if released and isinstance(current, dict):
        changed = [f"{key}: {current.get(key)!r}" for key in sorted(released)
                   if key != "checksum" and current.get(key) != released[key]]
        changed += [f"{key}: {current[key]!r}" for key in sorted(current) if key not in released]
    else:
        changed = ["nbgrader metadata"] if released or "nbgrader" in metadata else []
    if released:
        metadata["nbgrader"] = nbformat.from_dict(released)
    else:
        metadata.pop("nbgrader", None)
    wanted = grading_tags(origin) if origin is not None else []
    if grading_tags(cell) != wanted:
        changed.append(f"tags {grading_tags(cell)!r}")
        tags = metadata.get("tags") if isinstance(metadata.get("tags"), list) else []
        metadata["tags"] = wanted + [t for t in tags if not is_grading_tag(t)]
    return changed


def error_output(ename: str, evalue: str) -> nbformat.NotebookNode:
    """An error output as a kernel would have produced it (so nbgrader scores it 0)."""
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                  traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])
