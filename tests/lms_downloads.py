"""Canvas' and Moodle's bulk downloads and gradebook files, written as the LMSs write them.

The names follow each LMS's own code (see docs/instructors.md, "Handing in through an
LMS"): Canvas' ``ContentZipper`` (``lib/content_zipper.rb``: the sortable name
lower-cased with every character that is not a letter, digit or ``_`` removed, then
``LATE`` for a late submission, the user id, the attachment id and the file's display
name) and Moodle's ``mod_assign\\downloader`` (``mod/assign/classes/downloader.php``,
Moodle 4.1 and later: a folder ``<full name>_<participant id>_assignsubmission_<plugin>``
per student and submission plugin, or flat files with that prefix) or, before 4.1,
``assign::download_submissions`` (``mod/assign/locallib.php``: the same folder with a
trailing ``_``). Names go through Moodle's ``clean_filename`` (PARAM_FILE: control
characters and ``&<>"`|':\\/`` removed). Canvas' gradebook export
(``lib/gradebook_exporter.rb``: an optional row of "Manual Posting" marks, then "Points
Possible") and Moodle's grading worksheet are written with their own columns.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Student:
    """One student as both LMSs know them, and what they handed in."""

    first: str
    last: str
    canvas_id: int
    moodle_id: int
    #: (file name as uploaded, content) in upload order
    files: list[tuple[str, bytes]] = field(default_factory=list)
    late: bool = False

    @property
    def sortable(self) -> str:
        return f"{self.last}, {self.first}"

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def email(self) -> str:
        return re.sub(r"[^a-z]", "", self.last.lower()) + "@uni.example"


def canvas_name(student: Student, attachment: int, display: str) -> str:
    """The name of one file in Canvas' *Download Submissions* zip."""
    name = re.sub(r"_(\d+)_", r"\1", student.sortable).lower()
    prefix = "_".join(p for p in (name, "LATE" if student.late else None,
                                  str(student.canvas_id)) if p)
    prefix = re.sub(r"[^\w]", "", prefix)
    display = re.sub(r'[\x00/\\:*?"<>|]+', "_", display)
    return f"{prefix}_{attachment}_{display}"


def _clean_filename(text: str) -> str:
    """Moodle's ``clean_filename`` (``clean_param(..., PARAM_FILE)``)."""
    return re.sub(r"[\x00-\x1f\x7f&<>\"`|':\\/]", "", text)


def moodle_prefix(student: Student) -> str:
    """``downloader::get_student_prefix``: the full name (``_`` made a space), the id."""
    return _clean_filename(f"{student.full.replace('_', ' ')}_{student.moodle_id}")


def moodle_folder(student: Student, plugin: str = "file", version: str = "4.1") -> str:
    """The folder of one participant's files of one plugin in Moodle's download."""
    return f"{moodle_prefix(student)}_assignsubmission_{plugin}" + (
        "_" if version == "3" else "")


def canvas_download(students: list[Student], dest: Path, first_attachment: int = 70001
                    ) -> Path:
    attachment = first_attachment
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for student in students:
            for display, content in student.files:
                zf.writestr(canvas_name(student, attachment, display), content)
                attachment += 1
    return dest


def moodle_download(students: list[Student], dest: Path, version: str = "4.1",
                    folders: bool = True, onlinetext: bool = False) -> Path:
    """Moodle's *Download all submissions*: ``version`` "4.1" (downloader.php, 4.1 to
    5.x) or "3" (locallib.php, 3.x to 4.0); "Download submissions in folders" on or off;
    with the online text plugin on, each student's ``onlinetext.html`` (the plugin's
    ``get_files``, string ``onlinetextfilename``) beside their files."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for student in students:
            plugins = [("file", student.files)]
            if onlinetext:
                page = f"<!DOCTYPE html><html><body><p>{student.first}</p></body></html>"
                plugins.append(("onlinetext", [("onlinetext.html", page.encode())]))
            for plugin, files in plugins:
                for display, content in files:
                    if folders:
                        name = f"{moodle_folder(student, plugin, version)}/{display}"
                    else:
                        name = _clean_filename(f"{moodle_prefix(student)}_assignsubmission_"
                                               f"{plugin}_{display}")
                    zf.writestr(name, content)
    return dest


def canvas_gradebook(students: list[Student], column: str, points: float = 10,
                     manual_posting: bool = False) -> str:
    """Canvas' gradebook export (Grades > Export > Export Entire Gradebook): with
    ``manual_posting``, the row Canvas writes above Points Possible when an assignment's
    grades are posted manually (empty identity cells, "Manual Posting" in its column); a
    name that begins with ``=`` is written ``="<name>"`` (``student_name``)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column,
                "Quiz 1 (88124)", "Current Score", "Final Score"])
    if manual_posting:
        w.writerow(["", "", "", "", "", "Manual Posting", "", "", ""])
    w.writerow(["    Points Possible", "", "", "", "", f"{points:.2f}", "5.00", "(read only)",
                "(read only)"])
    for s in students:
        name = f'="{s.sortable}"' if s.sortable.lstrip().startswith("=") else s.sortable
        w.writerow([name, s.canvas_id, f"S{s.canvas_id}", s.email.split("@")[0],
                    "Section A", "", "4.00", "", ""])
    return out.getvalue()


def moodle_worksheet(students: list[Student], max_grade: float, decsep: str = ".",
                     scale: str | None = None) -> str:
    """Moodle's grading worksheet (the assignment's Download grading worksheet), as
    ``assign_grading_table`` writes it (mod/assign/gradingtable.php, moodle/moodle commit
    003699db): ``Maximum grade`` through ``format_float`` (two decimals, the language's
    decimal separator ``decsep``: ``100,00`` in German or French), or, for an assignment
    graded on a ``scale`` (its items comma-separated), a ``Scale`` column listing the
    items one a line (``col_scale``) in its place."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["Identifier", "Full name", "Email address", "Status", "Grade",
                "Scale" if scale else "Maximum grade", "Grade can be changed",
                "Last modified (submission)", "Last modified (grade)", "Feedback comments"])
    top = "\n".join(scale.split(",")) if scale else f"{max_grade:.2f}".replace(".", decsep)
    for s in students:
        w.writerow([f"Participant {s.moodle_id}", s.full, s.email,
                    "Submitted for grading", "", top, "Yes",
                    "Monday, 3 November 2025, 10:00 AM", "-", ""])
    return out.getvalue()


def moodle_gradebook(students: list[Student], column: str) -> str:
    """Moodle's gradebook export (Grade administration > Export > Plain text file)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["First name", "Last name", "ID number", "Institution", "Department",
                "Email address", f"Assignment: {column} (Real)",
                "Last downloaded from this course"])
    for s in students:
        w.writerow([s.first, s.last, "", "Uni", "CS", s.email, "-", "1700000000"])
    return out.getvalue()
