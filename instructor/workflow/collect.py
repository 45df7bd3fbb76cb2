"""Put students' files into nbgrader's ``submitted/<student>/<assignment>/`` layout, from a
folder or zip in a layout of :mod:`instructor.workflow.lms_download` (docs/instructors.md,
"Collect"). What a student sends is read without trust: streamed within caps, no link
followed or made, no path out of the student's folder.
"""

from __future__ import annotations

import datetime as dt
import lzma
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from instructor import ROOT
from instructor.engine import limits
from instructor.engine.cells import nbgrader_meta
from instructor.engine.notes import write_notes
from instructor.workflow.lms_download import (
    Hand,
    handins_path,
    hands,
    layout,
    write_handins,
)

_SKIP = ("__MACOSX", ".ipynb_checkpoints", ".DS_Store", "__pycache__")


def grade_ids(path: Path) -> set[str]:
    """The grade ids in a notebook file, read within bounds (else ``NotebookUnread``)."""
    cells = limits.read_notebook(path).get("cells")
    ids = [nbgrader_meta(c).get("grade_id") for c in cells
           if isinstance(c, dict)] if isinstance(cells, list) else []
    return {i for i in ids if isinstance(i, str)}


#: Where collect keeps a hand-in's notebooks that were not chosen to be graded.
NOT_GRADED = "not_graded"


def choose_notebook(files: Path, assignment: str, expected_ids: set[str],
                    ) -> tuple[Path | None, list[str]]:
    """The student's notebook for ``assignment`` among ``files``, and notes on the choice.
    Of several, the newest (by the time the LMS's download or the folder gives each file;
    on a tie, one named otherwise than the release: a copy made on purpose) among those
    holding this assignment's graded cells, else the one named as the release's."""
    expected = f"{assignment}.ipynb"
    notebooks = sorted(p for p in files.rglob("*.ipynb")
                       if not any(part in _SKIP for part in p.parts))
    exact = [p for p in notebooks if p.name == expected]
    if exact and len(notebooks) == 1:
        return exact[0], []
    if not notebooks:
        return None, [f"No notebook found in the submission (expected {expected})."]
    held, unread = {}, {}  # unread: autograde notes the chosen one again
    for p in notebooks if expected_ids else ():
        try:
            held[p] = expected_ids & grade_ids(p)
        except limits.NotebookUnread as err:
            unread[p] = str(err)
    matching = [p for p in notebooks if held.get(p)]
    if matching or exact:
        best = max(matching or exact,
                   key=lambda p: (p.stat().st_mtime, p.name != expected, p.name))
        why = "it holds this assignment's graded cells" if matching else ""
    elif len(notebooks) == 1:
        best, why = notebooks[0], "it is the only notebook submitted"
    else:
        return None, [*unread.values(), f"No notebook named {expected}, and none of "
                      f"{', '.join(p.name for p in notebooks)} holds this assignment's "
                      "graded cells."]
    notes = [n for p, n in unread.items() if p != best]
    if best.name != expected:
        notes.append(f"The notebook was named {best.name!r}, not {expected!r}; it was "
                     f"graded as {expected} because {why}.")
    if len(notebooks) > 1:
        notes.append(f"{len(notebooks)} notebooks were handed in "
                     f"({', '.join(repr(p.name) for p in notebooks)}): {best.name!r} was "
                     "graded, the newest " + ("holding this assignment's graded cells"
                                              if matching else f"named {expected}")
                     + f"; the others are kept, not graded, in {NOT_GRADED}/.")
    return best, notes


# ------------------------------------------------------------------ reading the input
_NOFOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20
#: What a student's late hand-in says in its notes (the class report flags it LATE).
LATE_NOTE = "{lms} marked this submission late (handed in after the due date)."


def _skipped(path: str) -> bool:
    parts = path.split("/")
    return any(p in _SKIP or p.startswith("._") for p in parts)


def _zip_time(info: zipfile.ZipInfo) -> float | None:
    """A zip member's time (the zip's local time) as a file time; None if it has none."""
    try:
        return dt.datetime(*info.date_time).timestamp()
    except (ValueError, OverflowError):  # month 0, as a zip may say
        return None


def _safe_parts(path: str) -> tuple[str, ...] | None:
    """The parts of a relative path that stays where it is put, or None."""
    parts = tuple(p for p in path.replace("\\", "/").split("/") if p not in ("", "."))
    if not parts or path.startswith("/") or ".." in parts or any("\0" in p for p in parts):
        return None
    return parts


class _Input:
    """The class's hand-in, a zip or a folder: its files, sizes and readers, no links."""

    def __init__(self, source: Path, stack: ExitStack):
        self.notes: list[str] = []
        self.sizes: dict[str, int] = {}
        self.times: dict[str, float] = {}  # each file's time, as the download gives it
        self._zip: zipfile.ZipFile | None = None
        self._infos: dict[str, zipfile.ZipInfo] = {}
        self._root = source
        if source.is_file():
            self._zip = stack.enter_context(zipfile.ZipFile(source))
            for info in self._zip.infolist():
                if info.is_dir() or _skipped(info.filename):
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    self.notes.append(f"{info.filename} is a symbolic link: left out.")
                    continue
                parts = _safe_parts(info.filename)
                if parts is None:
                    self.notes.append(f"{info.filename}: a path outside the download, "
                                      "left out.")
                    continue
                self.sizes["/".join(parts)] = info.file_size
                self.times["/".join(parts)] = _zip_time(info)
                self._infos["/".join(parts)] = info
        else:
            for folder, dirs, files in os.walk(source, followlinks=False):
                here = Path(folder)
                for d in list(dirs):
                    if (here / d).is_symlink():
                        dirs.remove(d)
                        self.notes.append(f"{(here / d).relative_to(source)} is a symbolic "
                                          "link: left out.")
                for name in files:
                    path = here / name
                    rel = path.relative_to(source).as_posix()
                    if _skipped(rel):
                        continue
                    info = path.lstat()
                    if not stat.S_ISREG(info.st_mode):
                        self.notes.append(f"{rel} is not a regular file (a symbolic link?): "
                                          "left out.")
                        continue
                    self.sizes[rel] = info.st_size
                    self.times[rel] = info.st_mtime

    def open(self, rel: str):
        if self._zip is not None:
            return self._zip.open(self._infos[rel])  # yields at most the declared size
        return os.fdopen(os.open(self._root / rel, os.O_RDONLY | _NOFOLLOW), "rb")

    def unwrapped(self) -> str:
        """``<top>/`` when one folder wraps the whole class (a zip of it), else ``""``."""
        tops = {p.split("/", 1)[0] for p in self.sizes}
        if len(tops) != 1 or not all("/" in p for p in self.sizes):
            return ""
        inner = [p.split("/", 1)[1] for p in self.sizes]
        # every entry inside is a folder: a class folder, not one student's
        return f"{tops.pop()}/" if all("/" in p for p in inner) \
            or layout(inner) in ("canvas", "moodle") else ""


class _Budget:
    """What is left of one student's caps: files, bytes in all, bytes per file."""

    def __init__(self):
        self.files = limits.submission_file_count()
        self.total = limits.submission_total_limit()
        self.per_file = limits.submission_limit()
        self.notes: list[str] = []
        self.over_count = 0
        self.large_notebook = False

    def admit(self, name: str, size: int) -> bool:
        if size > self.per_file:
            notebook = name.endswith(".ipynb")
            self.large_notebook |= notebook
            self.notes.append(limits.notebook_too_large(name, size, self.per_file) if notebook
                              else f"{name} unpacks to {size:,} bytes, over the grader's "
                              "limit for a file (COURSE_SUBMISSION_MB); it was left out.")
            return False
        if self.files <= 0:
            self.over_count += 1
            return False
        if size > self.total:
            self.notes.append(
                f"{name} was left out: with it, this student's files would be over the "
                f"grader's limit of {limits.submission_total_limit() / limits.MIB:g} MiB "
                "in all (COURSE_SUBMISSION_TOTAL_MB).")
            return False
        return True

    def close(self) -> list[str]:
        if self.over_count:
            self.notes.append(
                f"{self.over_count} more file(s) were left out: the grader keeps at most "
                f"{limits.submission_file_count()} files of a student, over the grader's "
                "limit (COURSE_SUBMISSION_FILES).")
        return self.notes


def _free(target: Path) -> Path:
    """``target``, or ``name (2).ext``... when a file of that name is already there."""
    n = 2
    candidate = target
    while candidate.exists():
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
        n += 1
    return candidate


def _store(read: Callable, name: str, size: int, folder: Path, parts: tuple[str, ...],
           budget: _Budget, when: float | None = None) -> Path | None:
    """Stream one file under ``folder`` within the caps; one larger than it said is left out."""
    if not budget.admit(name, size):
        return None
    target = folder.joinpath(*parts)
    cap = min(budget.per_file, budget.total)
    written = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target = _free(target)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    except OSError as err:  # a name too long, a file where a folder should be
        budget.notes.append(f"{name} could not be stored ({type(err).__name__}); it was "
                            "left out.")
        return None
    try:
        with read() as source, os.fdopen(fd, "wb") as out:
            while chunk := source.read(min(_CHUNK, cap + 1 - written)):
                written += len(chunk)
                if written > cap:
                    break
                out.write(chunk)
    except (OSError, RuntimeError, EOFError, zipfile.BadZipFile, zlib.error,
            lzma.LZMAError) as err:
        target.unlink()  # encrypted, corrupt, or gone while read
        budget.notes.append(f"{name} could not be read ({type(err).__name__}); it was "
                            "left out.")
        return None
    if written > cap:
        target.unlink()
        budget.notes.append(f"{name} is larger than it said, over the grader's limit "
                            "(COURSE_SUBMISSION_MB); it was left out.")
        return None
    budget.files -= 1
    budget.total -= written
    if when is not None:
        os.utime(target, (when, when))
    return target


def _unpack(zip_path: Path, label: str, folder: Path, budget: _Budget) -> None:
    """A zip the student handed in, unpacked into ``folder`` within the caps."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError):
        budget.notes.append(f"{label} could not be read as a zip; it was kept as it is.")
        shutil.move(zip_path, _free(folder / zip_path.name))
        return
    with zf:
        members = [i for i in zf.infolist() if not i.is_dir() and not _skipped(i.filename)]
        members.sort(key=lambda i: not i.filename.endswith(".ipynb"))
        for info in members:
            parts = _safe_parts(info.filename)
            if parts is None or stat.S_ISLNK(info.external_attr >> 16):
                budget.notes.append(f"{info.filename} in {label} was left out (a link, or "
                                    "a path outside the submission).")
                continue
            _store(lambda i=info: zf.open(i), info.filename, info.file_size, folder, parts,
                   budget, _zip_time(info))


def _gather(hand: Hand, kind: str, given: _Input, prefix: str, folder: Path
            ) -> tuple[list[str], bool]:
    """One student's files into ``folder`` within the caps; notes, and a notebook too large?"""
    budget = _Budget()
    order = sorted(hand.files, key=lambda f: (not f[1].endswith((".ipynb", ".zip")),))
    for path, name in order:
        parts = _safe_parts(name)
        if parts is None:
            budget.notes.append(f"{name}: a path outside the submission, left out.")
            continue
        source = f"{prefix}{path}"
        size = given.sizes[source]
        if name.endswith(".zip") and len(parts) == 1 and (kind != "folders" or "/" not in path):
            with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
                held = _Budget()  # the zip itself: one file, the per-file cap
                held.files, held.total = 1, held.per_file
                got = _store(lambda s=source: given.open(s), name, size, Path(tmp), parts,
                             held)
                budget.notes += held.notes
                if got is not None:
                    _unpack(got, name, folder, budget)
            continue
        _store(lambda s=source: given.open(s), name, size, folder, parts, budget,
               given.times.get(source))
    return budget.close(), budget.large_notebook


# ------------------------------------------------------------------ writing the output
def _own_folder(path: Path, root: Path) -> None:
    """Refuse to write through a symbolic link anywhere from ``root`` down to ``path``."""
    here = root
    for part in path.relative_to(root).parts:
        here = here / part
        if here.is_symlink():
            raise SystemExit(f"{here} is a symbolic link: collect does not write through "
                             "one; remove it first")


def _copy_tree(files: Path, dest: Path, notebook: Path | None, assignment: str) -> None:
    """The chosen notebook and the student's other files into ``dest`` (just made),
    other notebooks into ``dest/NOT_GRADED``."""
    def copy(src: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
        with open(src, "rb") as i, os.fdopen(fd, "wb") as o:
            shutil.copyfileobj(i, o)
        shutil.copystat(src, target)

    if notebook is not None:
        copy(notebook, dest / f"{assignment}.ipynb")
    for extra in sorted(files.rglob("*")):
        rel = extra.relative_to(files)
        if extra.is_file() and extra != notebook and rel.as_posix() not in (
                "timestamp.txt", "GRADING_NOTES.txt"):
            copy(extra, dest / NOT_GRADED / rel if extra.suffix == ".ipynb" else dest / rel)


def collect(source: Path, assignment: str, root: Path = ROOT) -> dict[str, list[str]]:
    """Collect every student in ``source`` (folder or zip); returns notes per student."""
    source = Path(source)
    root = Path(root)
    if not (source.is_dir() or zipfile.is_zipfile(source)):
        raise SystemExit(f"{source}: not a folder or a zip of the class's hand-in")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    try:
        expected_ids = grade_ids(root / "release" / assignment / f"{assignment}.ipynb")
    except limits.NotebookUnread:  # no release yet: notebooks are chosen by name
        expected_ids = set()
    report: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        given = _Input(source, stack)
        prefix = given.unwrapped()
        paths = [p[len(prefix):] for p in given.sizes]
        # a file at the top that is not a notebook or a zip is no student's (a README)
        paths = [p for p in paths if "/" in p or p.endswith((".zip", ".ipynb"))
                 or layout([p]) in ("canvas", "moodle")]
        kind, found, odd = hands(paths)  # an unknown layout stops here, nothing written
        for note in given.notes + odd:
            print(f"collect: {note}")
        if kind != "folders":
            print(f"collect: {kind.capitalize()}'s download; the LMS's ids are the student "
                  f"ids, paired with names in {handins_path(assignment, root)}")
        submitted = root / "submitted"
        submitted.mkdir(exist_ok=True)
        _own_folder(submitted, root)
        for hand in found:
            files = Path(tmp) / "students" / hand.student
            files.mkdir(parents=True)
            left_out, large_notebook = _gather(hand, kind, given, prefix, files)
            dest = submitted / hand.student / assignment
            if dest.exists() or dest.is_symlink() or dest.parent.is_symlink():
                _own_folder(dest, root)
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            notebook, notes = choose_notebook(files, assignment, expected_ids)
            if notebook is None and large_notebook:
                notes = []  # the note on its size says it all
            late = [LATE_NOTE.format(lms=hand.lms.capitalize())] if hand.late else []
            notes = late + hand.notes + left_out + notes
            _copy_tree(files, dest, notebook, assignment)
            (dest / "timestamp.txt").write_text(stamp)
            write_notes(dest, notes)
            report[hand.student] = notes
        if kind != "folders":
            write_handins(assignment, root, found)
    return report
