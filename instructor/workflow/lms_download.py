"""Who handed in which file, read from the names in an LMS's bulk download.

``collect`` reads three layouts (a folder, or a zip of it): Canvas' *Download
Submissions*, Moodle's *Download all submissions* (in folders or flat), and a folder per
student (``<student>/``, ``<student>.zip`` or ``<student>.ipynb``, as ``make
sample-class`` writes). docs/instructors.md, "Handing in through an LMS", says what each
LMS's names mean and where in its code they come from; a Canvas text entry or URL is
``<name>_<user id>_text.html`` or ``_link.html``. The LMS's id is the nbgrader student
id, so that ``lms-export`` finds each student without a mapping file.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

CANVAS = re.compile(
    r"^(?P<name>[^/]*?)(?P<late>_LATE|-late)?_(?P<id>\d+|anon_[A-Za-z0-9]+)_"
    r"(?:(?P<attachment>\d+)_(?P<file>[^/]+)|(?P<entry>text|link)\.html)$")
MOODLE = re.compile(
    r"^(?P<name>[^_/]+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)_"
    r"(?:/(?P<inner>.+)|(?P<file>[^/]+))$")


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


def layout(paths: list[str]) -> str:
    """``canvas``, ``moodle`` or ``folders``: the layout every top-level entry follows."""
    tops = sorted({p.split("/", 1)[0] for p in paths})
    if tops and all(CANVAS.match(t) for t in tops):
        return "canvas"
    if tops and all(MOODLE.match(p) for p in paths):
        return "moodle"
    return "folders"


def hands(paths: list[str], safe_id) -> tuple[str, list[Hand]]:
    """The layout of a download's file ``paths`` (relative, ``/``-separated) and each
    student's hand-in. ``safe_id`` makes a student id of a folder's name."""
    kind = layout(paths)
    found: dict[str, Hand] = {}
    for path in sorted(paths):
        if kind != "folders":
            m = (CANVAS if kind == "canvas" else MOODLE).match(path)
            hand = found.setdefault(m["id"], Hand(m["id"], kind, m["id"], m["name"]))
            hand.late = hand.late or kind == "canvas" and bool(m["late"])
            hand.files.append((path, m["file"] or (m["inner"] if kind == "moodle"
                                                   else f"{m['entry']}.html")))
        else:
            top = path.split("/", 1)[0]
            is_file = top == path
            student = safe_id(top.rsplit(".", 1)[0] if is_file else top)
            hand = found.setdefault(student, Hand(student, ""))
            hand.files.append((path, path.split("/", 1)[1] if not is_file else top))
    if kind == "canvas":  # a file's order in the download is its attachment's
        for hand in found.values():
            hand.files.sort(key=lambda f: int(CANVAS.match(f[0])["attachment"] or 0))
    return kind, [found[k] for k in sorted(found)]


HANDIN_COLUMNS = ["student", "lms", "lms_id", "name", "late", "files"]


def handins_path(assignment: str, root: Path) -> Path:
    """Where collect records who handed in what: the LMS's id and name, late or not."""
    return Path(root) / "lms" / f"{assignment}_handins.csv"


def read_handins(assignment: str, root: Path) -> dict[str, dict[str, str]]:
    """``lms/<assignment>_handins.csv`` by student id (empty if none)."""
    path = handins_path(assignment, root)
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def write_handins(assignment: str, root: Path, found: list[Hand]) -> None:
    """Add (or replace) these students' rows of ``lms/<assignment>_handins.csv``."""
    rows = read_handins(assignment, root)
    for hand in found:
        rows[hand.student] = {"student": hand.student, "lms": hand.lms,
                              "lms_id": hand.lms_id, "name": hand.name,
                              "late": "yes" if hand.late else "",
                              "files": " | ".join(name for _, name in hand.files)}
    path = handins_path(assignment, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=HANDIN_COLUMNS)
        writer.writeheader()
        writer.writerows(rows[k] for k in sorted(rows))
