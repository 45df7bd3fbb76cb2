"""Put students' files into nbgrader's ``submitted/<student>/<assignment>/`` layout.

The input is a folder (or a zip of such a folder) with one entry per student:

- ``<student>/`` a folder with the student's files, or
- ``<student>.zip`` a zip of them (folders inside the zip do not matter), or
- ``<student>.ipynb`` just the notebook.

The notebook is found even when the student renamed it (``02_stacked (1).ipynb``,
``Untitled.ipynb``): a file that carries this assignment's graded cell ids wins, or the
only notebook there is. Every decision is written to the submission's
``GRADING_NOTES.txt``, which the student gets back with the feedback. Unreadable
notebooks are collected as they are: the autograde step reports them. A file in a
student's zip that unpacks to more than ``COURSE_SUBMISSION_MB`` is left out (streamed,
never held in memory).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from instructor import ROOT
from instructor.engine import limits
from instructor.engine.cells import nbgrader_meta
from instructor.engine.notes import write_notes

_SKIP = ("__MACOSX", ".ipynb_checkpoints", ".DS_Store", "__pycache__")


def safe_student_id(name: str) -> str:
    """A student id nbgrader accepts as a folder name: letters, digits, ``._-``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    if not cleaned:
        raise ValueError(f"cannot make a student id from {name!r}")
    return cleaned


def grade_ids(path: Path) -> set[str]:
    """The nbgrader grade ids in a notebook file; empty when it cannot be read or is
    over ``COURSE_SUBMISSION_MB`` (not read: autograde gives it 0 with a note)."""
    try:
        if Path(path).stat().st_size > limits.submission_limit():
            return set()
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        return {nbgrader_meta(c).get("grade_id") for c in nb.get("cells", [])} - {None}
    except (OSError, ValueError, AttributeError, TypeError):
        return set()


def _release_ids(assignment: str, root: Path) -> set[str]:
    path = Path(root) / "release" / assignment / f"{assignment}.ipynb"
    return grade_ids(path) if path.exists() else set()


def _files_of(entry: Path, workdir: Path) -> tuple[Path, list[str]]:
    """A folder holding the student's files, extracting a zip if needed; notes on files
    left out."""
    notes: list[str] = []
    if entry.is_dir():
        return entry, notes
    target = workdir / entry.stem
    target.mkdir(parents=True, exist_ok=True)
    if entry.suffix == ".zip":
        with zipfile.ZipFile(entry) as zf:
            for info in zf.infolist():
                parts = Path(info.filename).parts
                if info.is_dir() or any(p in _SKIP or p.startswith("._") for p in parts):
                    continue
                if ".." in parts or Path(info.filename).is_absolute():
                    continue
                if info.file_size > limits.submission_limit():
                    notes.append(f"{info.filename} unpacks to {info.file_size:,} bytes, over "
                                 "the grader's limit for a file (COURSE_SUBMISSION_MB); it "
                                 "was left out.")
                    continue
                (target / Path(*parts)).parent.mkdir(parents=True, exist_ok=True)
                # streamed: zipfile yields at most the declared size
                with zf.open(info) as source, open(target / Path(*parts), "wb") as out:
                    shutil.copyfileobj(source, out)
    else:
        shutil.copy2(entry, target / entry.name)
    return target, notes


def choose_notebook(files: Path, assignment: str, expected_ids: set[str],
                    ) -> tuple[Path | None, list[str]]:
    """The student's notebook for ``assignment`` among ``files``, and notes on the choice."""
    expected = f"{assignment}.ipynb"
    notebooks = sorted(p for p in files.rglob("*.ipynb")
                       if not any(part in _SKIP for part in p.parts))
    exact = [p for p in notebooks if p.name == expected]
    if exact:
        return exact[0], []
    if not notebooks:
        return None, [f"No notebook found in the submission (expected {expected})."]
    matching = [p for p in notebooks if expected_ids and expected_ids & grade_ids(p)]
    if matching:
        best = max(matching, key=lambda p: (len(expected_ids & grade_ids(p)),
                                            p.stat().st_mtime))
        why = "it holds this assignment's graded cells"
    elif len(notebooks) == 1:
        best, why = notebooks[0], "it is the only notebook submitted"
    else:
        return None, [f"No notebook named {expected}, and none of "
                      f"{', '.join(p.name for p in notebooks)} holds this assignment's "
                      "graded cells."]
    return best, [f"The notebook was named {best.name!r}, not {expected!r}; it was graded "
                  f"as {expected} because {why}."]


def collect(source: Path, assignment: str, root: Path = ROOT,
            timestamp: dt.datetime | None = None) -> dict[str, list[str]]:
    """Collect every student in ``source`` (folder or zip); returns notes per student."""
    source = Path(source)
    root = Path(root)
    stamp = (timestamp or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    expected_ids = _release_ids(assignment, root)
    report: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if source.is_file() and source.suffix == ".zip":
            with zipfile.ZipFile(source) as zf:
                zf.extractall(workdir / "class")
            source = workdir / "class"
            entries = [p for p in source.iterdir() if p.name not in _SKIP]
            if len(entries) == 1 and entries[0].is_dir() and not any(
                    e.suffix in (".zip", ".ipynb") for e in entries[0].iterdir()
                    if e.is_file()) and all(e.is_dir() for e in entries[0].iterdir()):
                source = entries[0]  # a zip that wraps the class folder
        for entry in sorted(source.iterdir()):
            if entry.name in _SKIP or entry.name.startswith("."):
                continue
            if entry.is_file() and entry.suffix not in (".zip", ".ipynb"):
                continue
            student = safe_student_id(entry.stem if entry.is_file() else entry.name)
            files, left_out = _files_of(entry, workdir / "students")
            dest = root / "submitted" / student / assignment
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            notebook, notes = choose_notebook(files, assignment, expected_ids)
            notes = left_out + notes
            if notebook is not None:
                shutil.copy2(notebook, dest / f"{assignment}.ipynb")
            for extra in files.rglob("*"):
                if extra.is_file() and extra.suffix != ".ipynb" and not any(
                        p in _SKIP for p in extra.parts) and extra.name != "timestamp.txt":
                    rel = extra.relative_to(files)
                    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(extra, dest / rel)
            (dest / "timestamp.txt").write_text(stamp)
            write_notes(dest, notes)
            report[student] = notes
    return report
