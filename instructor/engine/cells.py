"""Reading nbgrader cells the way the grader needs: tolerant of damaged metadata.

A student's notebook may carry nbgrader metadata that is not a mapping (a tool or a
hand edit); these helpers treat such a cell as having none, instead of failing.
"""

from __future__ import annotations

import copy
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


#: The tag of an ungraded exercise's worked answer (docs/authoring.md).
EXERCISE_ANSWER = "exercise-answer"


def is_exercise_answer(cell) -> bool:
    """A worked answer to an ungraded exercise: in ``solutions/`` only, worth no points."""
    tags = cell.get("metadata", {}).get("tags", [])
    return isinstance(tags, list) and EXERCISE_ANSWER in tags


def without_exercise_answers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without its exercise answers (they come last and change nothing
    that runs before them): for runs that retrain the notebook's models."""
    copy = nbformat.from_dict(nb)
    copy.cells = [cell for cell in copy.cells if not is_exercise_answer(cell)]
    return copy


def task_of(cell) -> str | None:
    """The task a cell belongs to (its ``task-<name>`` tag), if any."""
    tags = cell.get("metadata", {}).get("tags", [])
    tags = tags if isinstance(tags, list) else []
    return next((t[5:] for t in tags if isinstance(t, str) and t.startswith("task-")), None)


#: Tags that steer grading (docs/authoring.md): the setup cell and a task's cells.
SETUP_TAG = "grade-setup"


def is_grading_tag(tag) -> bool:
    """Whether ``tag`` tells the grader something: ``grade-setup`` or ``task-<name>``."""
    return isinstance(tag, str) and (tag == SETUP_TAG or tag.startswith("task-"))


def grading_tags(cell) -> list[str]:
    """The tags of ``cell`` that steer grading."""
    tags = cell.get("metadata", {}).get("tags", [])
    return [t for t in tags if is_grading_tag(t)] if isinstance(tags, list) else []


class ReleasedCells:
    """The release's cells, to find the one a submitted cell stands for: a cell with
    nbgrader metadata by its ``grade_id`` (no other graded cell), any other cell by its
    cell id, else by its source (so a cell the student added matches nothing)."""

    def __init__(self, cells) -> None:
        self.graded = {nbgrader_meta(c)["grade_id"]: c for c in cells
                       if isinstance(nbgrader_meta(c).get("grade_id"), str)}
        plain = [c for c in cells if not nbgrader_meta(c)]
        self.plain = {**{c.source.strip(): c for c in plain},
                      **{c.get("id"): c for c in plain if c.get("id")}}

    def origin(self, cell):
        """The released cell ``cell`` stands for, ``None`` if none."""
        if "nbgrader" in cell.get("metadata", {}):
            grade_id = nbgrader_meta(cell).get("grade_id")
            return self.graded.get(grade_id) if isinstance(grade_id, str) else None
        return self.plain.get(cell.get("id")) or self.plain.get(cell.source.strip())


def restore_from_release(cell, origin) -> list[str]:
    """Give ``cell`` the grading metadata of the released cell ``origin`` (``None``: no
    released cell, so none): nbgrader's keys and the grading tags. What was changed, as
    short phrases for a note (``grade: False``, ``tags``); ``[]`` if nothing.

    The submission's metadata decides nothing: which cells are tests, of which task,
    with how many points, is what the release says. Tags that do not steer grading
    (a student's own) are kept.
    """
    metadata = cell.setdefault("metadata", nbformat.NotebookNode())
    changed = []
    released = copy.deepcopy(nbgrader_meta(origin)) if origin is not None else {}
    current = metadata.get("nbgrader")
    if released:
        if isinstance(current, dict):
            changed += [f"{key}: {current.get(key)!r}" for key in sorted(released)
                        if key != "checksum" and current.get(key) != released[key]]
            changed += [f"{key}: {current[key]!r}" for key in sorted(current)
                        if key not in released]
        else:
            changed.append("nbgrader metadata")
        metadata["nbgrader"] = nbformat.from_dict(released)
    elif "nbgrader" in metadata:
        del metadata["nbgrader"]
        changed.append("nbgrader metadata")
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


def release_path(config, resources: dict) -> Path:
    """Where nbgrader keeps the release (student) version of the notebook being processed."""
    from nbgrader.coursedir import CourseDirectory

    info = resources.get("nbgrader", {})
    coursedir = CourseDirectory(config=config)
    return Path(coursedir.format_path(coursedir.release_directory, ".",
                                      info.get("assignment", ""))) / \
        f"{info.get('notebook', '')}.ipynb"
