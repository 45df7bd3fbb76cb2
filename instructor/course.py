"""The course on disk: assignments, nbgrader commands, notes kept for each submission."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from instructor import ROOT

#: The nbgrader executable of this environment (beside the running Python).
NBGRADER = str(Path(sys.executable).with_name("nbgrader"))
#: What nbgrader runs with unless the environment or the caller says otherwise: the
#: instructor's commands run notebooks in fast mode (the one place this default is set;
#: under ``nbgrader autograde`` helpers.modes forces fast mode anyway).
NBGRADER_DEFAULTS = {"COURSE_MODE": "fast"}
#: Notes for one submission: collection and grading problems, in the words a student reads.
NOTES_FILE = "GRADING_NOTES.txt"


def assignments(root: Path = ROOT, source: str = "notebooks") -> list[str]:
    """Assignment names: the folders of ``notebooks/`` that hold a same-named notebook."""
    base = Path(root) / source
    return sorted(p.name for p in base.iterdir()
                  if p.is_dir() and (p / f"{p.name}.ipynb").is_file())


def graded_assignments(root: Path = ROOT) -> list[str]:
    """Assignments with at least one autograded test cell."""
    found = []
    for name in assignments(root):
        nb = json.loads((Path(root) / "notebooks" / name / f"{name}.ipynb").read_text())
        if any((c.get("metadata", {}).get("nbgrader") or {}).get("grade")
               for c in nb["cells"]):
            found.append(name)
    return found


def nbgrader(*args: str, root: Path = ROOT, check: bool = True, env: dict | None = None,
             capture: bool = False, timeout: float | None = None, db: Path | None = None,
             ) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` with the course's configuration (cwd: the repository),
    in this process's environment over :data:`NBGRADER_DEFAULTS`, with ``env`` on top.

    ``root`` is the course folder; ``db`` the gradebook (default: ``<root>/gradebook.db``).
    """
    full_env = {**NBGRADER_DEFAULTS, **os.environ, **(env or {})}
    command = [NBGRADER, *args]
    if Path(root).resolve() != ROOT:
        command.append(f"--CourseDirectory.root={root}")
    if Path(root).resolve() != ROOT or db is not None:
        command.append(f"--CourseDirectory.db_url=sqlite:///{db or Path(root) / 'gradebook.db'}")
    return subprocess.run(command, cwd=ROOT, env=full_env, check=check, text=True,
                          capture_output=capture, timeout=timeout)


def load_config(root: Path = ROOT, **overrides):
    """The course's nbgrader config, pointed at course folder ``root``."""
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    cfg.CourseDirectory.root = str(root)
    cfg.CourseDirectory.db_url = f"sqlite:///{Path(root) / 'gradebook.db'}"
    for key, value in overrides.items():
        section, name = key.split("__")
        cfg[section][name] = value
    return cfg


def generate(kind: str, names: list[str] | None = None, root: Path = ROOT,
             out: Path | None = None) -> None:
    """Regenerate the student version (``release``) or answer key (``solutions``).

    Runs nbgrader's own converters (``generate_assignment``, ``generate_solution``) in
    this process, one assignment after another. Each output folder is rebuilt from
    scratch. ``out`` writes elsewhere than ``<root>/release`` or ``<root>/solutions``
    (the tests regenerate into a temporary folder this way). ``solutions`` needs the
    assignment in the gradebook, so the student version is generated first when the
    gradebook lacks it.
    """
    from nbgrader.converters import GenerateAssignment, GenerateSolution
    from nbgrader.coursedir import CourseDirectory

    names = names or assignments(root)
    folder = Path(out) if out else Path(root) / kind
    setting = {"release": "release_directory", "solutions": "solution_directory"}[kind]
    cfg = load_config(root, **{f"CourseDirectory__{setting}": str(folder)})
    for name in names:
        if (folder / name).exists():
            shutil.rmtree(folder / name)
        steps = [GenerateAssignment] if kind == "release" else [GenerateSolution]
        if kind == "solutions" and not in_gradebook(name, root):
            steps.insert(0, GenerateAssignment)
        for step in steps:
            step_cfg = cfg
            if step is GenerateAssignment and kind == "solutions":
                step_cfg = load_config(root, CourseDirectory__release_directory=str(
                    Path(root) / ".release-tmp"))
            coursedir = CourseDirectory(config=step_cfg)
            coursedir.assignment_id = name
            app = step(coursedir=coursedir, config=step_cfg)
            app.force = True
            app.start()
        shutil.rmtree(Path(root) / ".release-tmp", ignore_errors=True)


def in_gradebook(assignment: str, root: Path = ROOT) -> bool:
    """Whether the course's gradebook knows ``assignment`` (with its cells)."""
    from nbgrader.api import Gradebook, MissingEntry

    db = Path(root) / "gradebook.db"
    if not db.exists():
        return False
    with Gradebook(f"sqlite:///{db}") as gb:
        try:
            return bool(gb.find_assignment(assignment).notebooks)
        except MissingEntry:
            return False


def sync_gradebook(names: list[str], root: Path = ROOT, release_dir: Path | None = None,
                   db: bool = True, gradebook: Path | None = None) -> None:
    """Give the gradebook each assignment's current cells (hidden tests included).

    ``nbgrader generate_assignment`` is what records them; it writes the student version
    into ``release_dir`` (default: a scratch folder, removed), so the committed
    ``release/`` is left alone. ``db=False`` only writes the student version.
    ``gradebook``: another gradebook than ``<root>/gradebook.db``.
    """
    scratch = Path(release_dir) if release_dir else Path(root) / ".release-tmp"
    try:
        for name in names:
            nbgrader("generate_assignment", name, "--force", "--log-level=ERROR",
                     *([] if db else ["--no-db"]),
                     f"--CourseDirectory.release_directory={scratch}", root=root,
                     db=gradebook)
    finally:
        if release_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


def read_notes(folder: Path) -> list[str]:
    path = Path(folder) / NOTES_FILE
    return path.read_text().splitlines() if path.is_file() else []


def write_notes(folder: Path, notes: list[str]) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    unique = list(dict.fromkeys(n for n in notes if n.strip()))
    path = folder / NOTES_FILE
    if unique:
        path.write_text("\n".join(unique) + "\n")
    elif path.exists():
        path.unlink()


def feedback(names: list[str] | None = None, students: list[str] | None = None,
             root: Path = ROOT) -> None:
    """``nbgrader generate_feedback`` for ``names`` (default: every graded assignment).

    The HTML comes without hidden-test code (``HideHiddenTests`` in nbgrader_config.py);
    each submission's ``GRADING_NOTES.txt`` goes beside it, also for a submission that
    had no notebook to show.
    """
    root = Path(root)
    names = names or sorted({p.name for p in (root / "autograded").glob("*/*") if p.is_dir()})
    for name in names:
        for student in students or [None]:
            extra = [f"--student={student}"] if student else []
            nbgrader("generate_feedback", name, "--force", "--log-level=WARN", *extra,
                     root=root)
        for notes in (root / "autograded").glob(f"*/{name}/{NOTES_FILE}"):
            student = notes.parent.parent.name
            if students and student not in students:
                continue
            dest = root / "feedback" / student / name
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(notes, dest / NOTES_FILE)


def export_grades(to: Path, root: Path = ROOT) -> Path:
    """``nbgrader export`` (``instructor.export.CourseCsvExport``) to the CSV file ``to``."""
    to = Path(to).resolve()
    nbgrader("export", f"--to={to}", "--log-level=WARN", root=root)
    return to
