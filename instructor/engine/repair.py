"""The one static pass over a submission (docs/grading.md, "How a verdict is reached",
step 4): :class:`RepairSubmission`, first of nbgrader's sanitize step, so plain
``nbgrader autograde`` runs it too. Before anything parses the student's code, a cell
over the source cap is refused, grading metadata is restored from the release, outputs
are cleared, deleted graded cells are put back; each repair is a note in the notebook's
``course_grading.notes``.
"""

from __future__ import annotations

import copy

import nbformat
from nbformat.corpus.words import generate_corpus_id
from nbgrader.preprocessors import ClearOutput
from traitlets import Integer

from helpers import settings
from instructor.engine import limits
from instructor.engine import release as released
from instructor.engine.cells import nbgrader_meta, restore_from_release
from instructor.engine.release import Release


class RepairSubmission(released.FromRelease, ClearOutput):
    """The static pass. It is the first step to read the submission: the notebook's
    ``course_grading`` metadata is the grader's from here on (a student's is dropped)."""

    cell_source_limit_kb = Integer(settings.declared("COURSE_CELL_SOURCE_KB").default,
                                   help="Largest source of one cell, KiB: a larger cell is "
                                   "not run and fails (CellTooLarge).").tag(config=True)

    def preprocess(self, nb, resources):
        capped = limits.refuse_large_sources(nb.cells, self.cell_source_limit_kb)
        release = self.read_release(resources)
        notes = [] if release is None else repair_metadata(nb, release)
        nb, resources = super().preprocess(nb, resources)  # ClearOutput's, each cell
        locked = [] if release is None else edited_locked_cells(nb, release)
        if release is not None:
            notes += restore_missing(nb, release)
        # a locked cell over the cap is the release's again (OverwriteCells): one note
        originals = {id(cell) for cell, _note in locked}
        notes = [note for cell, note in capped if id(cell) not in originals] + notes + [
            note for _cell, note in locked]
        for note in notes:
            self.log.warning("%s", note)
        nb.metadata["course_grading"] = {"notes": notes}
        return nb, resources


def repaired(nb) -> list[str]:
    """The notes :class:`RepairSubmission` recorded in ``nb``."""
    found = nb.metadata.get("course_grading")
    notes = found.get("notes") if isinstance(found, dict) else None
    return [str(n) for n in notes] if isinstance(notes, list) else []


def _well_formed(meta) -> bool:
    """Whether a cell's nbgrader metadata is what nbgrader can read."""
    if not isinstance(meta, dict) or not isinstance(meta.get("grade_id"), str) \
            or not meta["grade_id"]:
        return False
    if any(not isinstance(meta.get(key, False), bool)
           for key in ("grade", "solution", "locked", "task")):
        return False
    points = meta.get("points")
    return not (meta.get("grade") or meta.get("task")) or (
        isinstance(points, int | float) and not isinstance(points, bool) and not points < 0)


def repair_metadata(nb: nbformat.NotebookNode, release: Release) -> list[str]:
    """Give every cell readable nbgrader metadata, the release's; notes on what changed:
    damaged metadata restored from the released cell that id, source or place identifies,
    else dropped; a copied grade_id kept by the cell the release identifies."""
    graded = release.graded.values()
    by_cell_id = {c.get("id"): c for c in graded if c.get("id")}
    by_source = {c.source.strip(): c for c in graded}
    notes, seen = [], {}
    for position, cell in enumerate(nb.cells):
        metadata = cell.get("metadata")
        if not isinstance(metadata, dict):
            cell["metadata"] = metadata = nbformat.NotebookNode()
        if "nbgrader" not in metadata:
            continue
        meta = metadata["nbgrader"]
        if not _well_formed(meta):
            origin = by_cell_id.get(cell.get("id")) or by_source.get(cell.source.strip())
            placed = origin is None and _answer_cell_in_place(nb, position, release)
            origin = origin or placed
            if origin is not None:
                metadata["nbgrader"] = copy.deepcopy(origin.metadata["nbgrader"])
                notes.append(f"The grading metadata of cell '{metadata['nbgrader']['grade_id']}' "
                             "was damaged; the grader restored it from the assignment"
                             + (" (the cell stands where that answer cell stood, and no "
                                "other cell has its grade_id)." if placed else "."))
            else:
                del metadata["nbgrader"]
                notes.append(f"Cell {position + 1} had damaged grading metadata that matches no "
                             "cell of the assignment; it was graded as a plain cell.")
                continue
        grade_id = metadata["nbgrader"]["grade_id"]
        seen.setdefault(grade_id, []).append(cell)
    # Not nbgrader's DeduplicateIds: it keeps the last copy, wherever the release's cell
    # is, and says nothing to the student.
    for grade_id, cells in seen.items():
        if len(cells) < 2:
            continue
        origin = release.graded.get(grade_id)
        keep = next((c for c in cells if origin is not None
                     and c.get("id") == origin.get("id")), cells[0])
        for cell in cells:
            if cell is not keep:
                del cell.metadata["nbgrader"]
        notes.append(f"{len(cells)} cells had the grade_id {grade_id!r} (a copied cell?); "
                     "the grader graded the assignment's own and ran the others as plain "
                     "cells.")
    return notes + _as_released(nb, release)


def _answer_cell_in_place(nb, position: int, release):
    """The released answer cell the damaged cell at ``position`` stands for
    (new id, changed source), identified by its place: the nearest identified cell above is
    followed, in the release, by an answer cell whose ``grade_id`` the notebook lacks."""
    present = set(released.by_grade_id(nb.cells))
    for above in reversed(nb.cells[:position]):
        origin = release.origin(above)
        if origin is None:
            continue  # a cell the student added: look further up
        index = next(i for i, c in enumerate(release.cells) if c is origin)
        follower = release.cells[index + 1] if index + 1 < len(release.cells) else None
        meta = nbgrader_meta(follower) if follower is not None else {}
        if meta.get("solution") and meta.get("grade_id") not in present:
            return follower
        return None
    return None


def _as_released(nb: nbformat.NotebookNode, release: Release) -> list[str]:
    """Each cell's grading metadata and tags as the released cell's it stands for; notes."""
    notes = []
    for position, cell in enumerate(nb.cells):
        grade_id = nbgrader_meta(cell).get("grade_id")
        origin = release.origin(cell)
        changed = restore_from_release(cell, origin)
        if not changed:
            continue
        name = f"cell '{grade_id}'" if origin is not None and grade_id else \
            f"cell {position + 1}"
        notes.append(f"The grading metadata of {name} was not the assignment's "
                     f"({'; '.join(changed)}); the grader used the assignment's.")
    return notes


# Not nbgrader's OverwriteCells.add_missing_cells: it puts back test cells only (a deleted
# answer cell stays missing), fails (KeyError) when the source cell before a missing test
# is not a graded or answer cell of the submission (a deleted answer cell, say), and
# notes nothing.
def restore_missing(nb: nbformat.NotebookNode, release: Release) -> list[str]:
    """Put back the graded cells missing from ``nb`` where the release has them: a
    test cell, so deleting a test cannot dodge it; an answer cell as the stub. A note each."""
    present = set(released.by_grade_id(nb.cells))
    order, notes = list(release.graded), []
    for i, (grade_id, cell) in enumerate(release.graded.items()):
        if grade_id in present:
            continue
        new = nbformat.from_dict(copy.deepcopy(dict(cell)))
        if "id" in new or nb.get("nbformat_minor", 0) >= 5:
            new["id"] = generate_corpus_id()
        meta = nbgrader_meta(new)
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
            if meta.get("solution"):
                new.source = ("# This cell was missing from your submission; the grader "
                              "put the released version back.\n" + new.source)
        # after the nearest earlier graded cell in the notebook, else before a later one
        ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells]
        earlier = [g for g in order[:i] if g in present]
        later = [g for g in order[i + 1:] if g in present]
        nb.cells.insert(ids.index(earlier[-1]) + 1 if earlier else ids.index(later[0])
                        if later else len(nb.cells), new)
        present.add(grade_id)
        what = "answer cell" if meta.get("solution") else "test cell" \
            if meta.get("grade") else "cell"
        notes.append(f"The {what} '{grade_id}' was missing from the notebook; the grader "
                     "put the original back and graded it.")
    return notes


def edited_locked_cells(nb: nbformat.NotebookNode,
                        release: Release) -> list[tuple[dict, str]]:
    """Each locked cell not as released (``OverwriteCells`` restores it), and a note."""
    return [(cell, f"The locked cell '{grade_id}' was edited; the grader used the original.")
            for grade_id, cell in released.by_grade_id(nb.cells).items()
            if nbgrader_meta(cell).get("locked") and grade_id in release.graded
            and cell.source.strip() != release.graded[grade_id].source.strip()]
