"""Who handed in which file, read from the names in an LMS's bulk download.

``collect`` reads Canvas' and Moodle's (3.x to 5.x) bulk downloads, with or without
folders, and a folder per student (``<student>/``, ``<student>.zip`` or
``<student>.ipynb``, as ``make sample-class`` writes); docs/instructors.md, "Handing in
through an LMS", says what each name means. The LMS's id is the nbgrader student id, so
``lms-export`` needs no mapping file. A download in no known layout is refused
(:class:`UnknownLayout`): a name is never made into a student id.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from instructor.workflow.csv_safe import read_cell, safe_dict

#: Canvas (lib/content_zipper.rb): ``<name>[_LATE]_<user id>_<attachment id>_<file>``,
#: or ``<name>[_LATE]_<user id>_text.html`` / ``_link.html``; ``anon_<id>`` when graded
#: anonymously. ``-late`` is an older Canvas's mark.
CANVAS = re.compile(
    r"^(?P<name>[^/]*?)(?P<late>_LATE|-late)?_(?P<id>\d+|anon_[A-Za-z0-9]+)_"
    r"(?:(?P<attachment>\d+)_(?P<file>[^/]+)|(?P<entry>text|link)\.html)$")
#: Moodle: a folder per participant and plugin (4.1+: no trailing ``_``; 3.x-4.0: ``_``),
#: or, with folders off, flat files ``<prefix>_assignsubmission_<plugin>_<file>``.
MOODLE = re.compile(
    r"^(?P<name>[^_/]+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)"
    r"(?:_?/(?P<inner>.+)|_(?P<file>[^/]+))$")
#: what marks a name as an LMS's, in a download that matches no layout
_LMS_MARK = re.compile(r"_assignsubmission_|_\d+_\d+_|_(?:LATE_)?\d+_(?:text|link)\.html$")


class UnknownLayout(SystemExit):
    """A download in no layout collect knows: nothing is written."""


@dataclass
class Hand:
    """One student's hand-in: the LMS's id and name, and the files."""

    student: str                 # the nbgrader student id
    lms: str                     # "canvas", "moodle" or "" (a folder per student)
    lms_id: str = ""
    name: str = ""
    late: bool = False
    #: (path in the download, name the student gave the file), in download order
    files: list[tuple[str, str]] = field(default_factory=list)
    #: files of this student left out for their names, with why
    notes: list[str] = field(default_factory=list)


def _top(path: str) -> str:
    return path.split("/", 1)[0]


def _canvas_top(path: str):
    """The Canvas name of a download entry: the whole path, or (a name Canvas does not
    write, such as a ``\\`` read as a folder) its first part."""
    return CANVAS.match(path) or CANVAS.match(_top(path))


def layout(paths: list[str]) -> str:
    """The layout every entry follows: ``canvas``, ``moodle``, ``folders``, or ``""``."""
    tops = sorted({_top(p) for p in paths})
    if paths and all(MOODLE.match(p) for p in paths):  # first: no Canvas name is one
        return "moodle"
    if tops and all(CANVAS.match(t) for t in tops):
        return "canvas"
    if any(_LMS_MARK.search(t) for t in tops) or not any(_student_id(t) for t in tops):
        return ""  # an LMS's names in no layout of its, or no entry named by an id
    return "folders"


def _unknown(paths: list[str]) -> UnknownLayout:
    tops = sorted({_top(p) for p in paths})
    bad = [t for t in tops if _LMS_MARK.search(t) or _student_id(t) is None] or tops
    return UnknownLayout(
        "collect: the download follows no layout collect knows (Canvas' Download "
        "Submissions, Moodle's Download all submissions, or a folder per student id); "
        f"nothing was written. It holds {len(tops)} entries, such as "
        + ", ".join(repr(t) for t in bad[:3]) + ". docs/instructors.md, \"Handing in "
        "through an LMS\", lists the layouts read; a folder per student must be named by "
        "the student's id (letters, digits, '._-').")


def _student_id(top: str) -> str | None:
    """The student id a folder-per-student entry is named by, or None."""
    stem = top[:-len(".zip")] if top.endswith(".zip") else \
        top[:-len(".ipynb")] if top.endswith(".ipynb") else top
    return stem if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", stem) else None


def hands(paths: list[str]) -> tuple[str, list[Hand], list[str]]:
    """The layout of ``paths``, each student's hand-in, and the entries left out."""
    kind = layout(paths)
    if not kind:
        raise _unknown(paths)
    found: dict[str, Hand] = {}
    odd: set[str] = set()
    for path in sorted(paths):
        if kind == "canvas":
            m = _canvas_top(path)
            hand = found.setdefault(m["id"], Hand(m["id"], kind, m["id"], m["name"]))
            hand.late = hand.late or bool(m["late"])
            if m.string != path:
                hand.notes.append(f"{path!r}: a file name Canvas does not write (a '\\' or "
                                  "'/' in it); that file was left out.")
                continue
            hand.files.append((path, m["file"] or f"{m['entry']}.html"))
        elif kind == "moodle":
            m = MOODLE.match(path)
            hand = found.setdefault(m["id"], Hand(m["id"], kind, m["id"], m["name"]))
            hand.files.append((path, m["file"] or m["inner"]))
        else:
            top = _top(path)
            is_file = top == path
            student = _student_id(top)
            if student is None:
                odd.add(top)
                continue
            hand = found.setdefault(student, Hand(student, ""))
            hand.files.append((path, path.split("/", 1)[1] if not is_file else top))
    if kind == "canvas":  # a file's order in the download is its attachment's
        for hand in found.values():
            hand.files.sort(key=lambda f: int(CANVAS.match(f[0])["attachment"] or 0))
    return kind, [found[k] for k in sorted(found)], [
        f"{t!r} is not a student id (letters, digits, '._-'), and collect makes no id of a "
        "name: left out; rename it to the student's id and collect again." for t in sorted(odd)]


#: ``download``: each file's name in the LMS's download (Canvas' names hold the
#: attachment id its feedback upload is matched by)
HANDIN_COLUMNS = ["student", "lms", "lms_id", "name", "late", "files", "download"]


def handins_path(assignment: str, root: Path) -> Path:
    """Where collect records who handed in what: the LMS's id and name, late or not."""
    return Path(root) / "lms" / f"{assignment}_handins.csv"


def read_handins(assignment: str, root: Path) -> dict[str, dict[str, str]]:
    """``lms/<assignment>_handins.csv`` by student id (empty if none)."""
    path = handins_path(assignment, root)
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        rows = [{k: read_cell(v or "") for k, v in r.items()} for r in csv.DictReader(f)]
    return {r["student"]: r for r in rows}


def write_handins(assignment: str, root: Path, found: list[Hand]) -> None:
    """Add or replace these students' rows of ``lms/<assignment>_handins.csv``."""
    rows = read_handins(assignment, root)
    for hand in found:
        rows[hand.student] = {"student": hand.student, "lms": hand.lms,
                              "lms_id": hand.lms_id, "name": hand.name,
                              "late": "yes" if hand.late else "",
                              "files": " | ".join(name for _, name in hand.files),
                              "download": " | ".join(path for path, _ in hand.files)}
    path = handins_path(assignment, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=HANDIN_COLUMNS)
        writer.writeheader()
        writer.writerows(safe_dict(rows[k]) for k in sorted(rows))
