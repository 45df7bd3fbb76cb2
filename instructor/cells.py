"""Reading nbgrader cells the way the grader needs: tolerant of damaged metadata.

A student's notebook may carry nbgrader metadata that is not a mapping (a tool or a
hand edit); these helpers treat such a cell as having none, instead of failing.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"


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


def task_of(cell) -> str | None:
    """The task a cell belongs to (its ``task-<name>`` tag), if any."""
    tags = cell.get("metadata", {}).get("tags", [])
    tags = tags if isinstance(tags, list) else []
    return next((t[5:] for t in tags if isinstance(t, str) and t.startswith("task-")), None)


def error_output(ename: str, evalue: str) -> nbformat.NotebookNode:
    """An error output as a kernel would have produced it (so nbgrader scores it 0)."""
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                  traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


def release_path(config, resources: dict) -> Path:
    """Where nbgrader keeps the release (student) version of the notebook being processed."""
    from nbgrader.coursedir import CourseDirectory

    info = resources.get("nbgrader", {})
    coursedir = CourseDirectory(config=config)
    return Path(coursedir.format_path(coursedir.release_directory, ".",
                                      info.get("assignment", ""))) / \
        f"{info.get('notebook', '')}.ipynb"
