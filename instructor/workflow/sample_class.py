"""Synthetic submissions for trying the instructor commands (and for the benchmark): the
release with its answer cells filled in as :data:`KINDS` says.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import nbformat
from nbgrader.utils import is_solution

from instructor import ROOT
from instructor.engine.cells import is_exercise_answer, nbgrader_meta

KINDS = ("correct", "partial", "stub", "broken")
#: Plausible mistakes, tried in order on the first answer cell (first that applies wins).
MISTAKES = [
    ('"binary_crossentropy"', '"mse"'),
    ("'binary_crossentropy'", "'mse'"),
    ('activation="sigmoid"', 'activation="relu"'),
    ("np.log10", "np.log"),
    ("axis=1", "axis=0"),
    ("strides=2", "strides=1"),
    ("np.exp(0.5 * ", "np.exp("),
    ("0.5 * ", "0.25 * "),
]
_SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)


def reference(source: str) -> str:
    """The reference answer: the source cell without its solution markers."""
    return _SOLUTION.sub("", source)


def _answers(assignment: str, root: Path) -> dict[str, str]:
    """The graded tasks' reference answers by grade_id (exercises keep their stubs)."""
    nb = nbformat.read(Path(root) / "notebooks" / assignment / f"{assignment}.ipynb", 4)
    return {c.metadata.nbgrader.grade_id: reference(c.source) for c in nb.cells
            if is_solution(c) and not is_exercise_answer(c)}


def make_notebook(assignment: str, kind: str, root: Path = ROOT) -> nbformat.NotebookNode:
    """One synthetic student's notebook of ``kind`` (see :data:`KINDS`)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    release = Path(root) / "release" / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(release, as_version=4)
    answers = _answers(assignment, root)
    first = True
    for cell in nb.cells:
        text = answers.get(nbgrader_meta(cell).get("grade_id"))
        if text is None or kind == "stub":
            continue
        if kind == "broken":
            text += "\nthis is not python (\n"
        elif kind == "partial" and first:  # no mistake applies: the stub, this task 0
            text = next((text.replace(wrong, right, 1) for wrong, right in MISTAKES
                         if wrong in text), cell.source)
        cell.source = text
        first = False
    return nb


def write_class(assignment: str, dest: Path, n: int = 6) -> list[tuple[str, str]]:
    """Write ``n`` students into ``dest`` (kinds :data:`KINDS` in turn); their kinds."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    students = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        student = f"student{i + 1:02d}_{kind}"
        name = f"{assignment}.ipynb" if i % 5 != 4 else f"{assignment} (1).ipynb"
        nb = make_notebook(assignment, kind)
        if i % 3 == 2:
            with zipfile.ZipFile(dest / f"{student}.zip", "w") as zf:
                zf.writestr(f"{assignment}/{name}", nbformat.writes(nb))
        else:
            (dest / student).mkdir()
            nbformat.write(nb, dest / student / name)
        students.append((student, kind))
    return students
