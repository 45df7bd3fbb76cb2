"""Canvas' and Moodle's bulk downloads and gradebook files, written as the LMSs write them.

The names follow each LMS's own code (see docs/instructors.md, "Handing in through an
LMS"): Canvas' ``ContentZipper`` (``lib/content_zipper.rb``: the sortable name
lower-cased with every character that is not a letter, digit or ``_`` removed, then
``LATE`` for a late submission, the user id, the attachment id and the file's display
name) and Moodle's ``assign::download_submissions`` (``mod/assign/locallib.php``: a
folder ``<full name>_<participant id>_assignsubmission_file_`` per student). Canvas'
gradebook export and Moodle's grading worksheet are written with their own columns.
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


def moodle_folder(student: Student) -> str:
    """The folder of one participant's files in Moodle's *Download all submissions*."""
    name = student.full.replace("_", " ")
    return f"{name}_{student.moodle_id}_assignsubmission_file_"


def canvas_download(students: list[Student], dest: Path, first_attachment: int = 70001
                    ) -> Path:
    attachment = first_attachment
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for student in students:
            for display, content in student.files:
                zf.writestr(canvas_name(student, attachment, display), content)
                attachment += 1
    return dest


def moodle_download(students: list[Student], dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for student in students:
            for display, content in student.files:
                zf.writestr(f"{moodle_folder(student)}/{display}", content)
    return dest


def canvas_gradebook(students: list[Student], column: str, points: float = 10) -> str:
    """Canvas' gradebook export (Grades > Export > Export Entire Gradebook)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column,
                "Current Score", "Final Score"])
    w.writerow(["    Points Possible", "", "", "", "", f"{points:.2f}", "(read only)",
                "(read only)"])
    for s in students:
        w.writerow([s.sortable, s.canvas_id, f"S{s.canvas_id}", s.email.split("@")[0],
                    "Section A", "", "", ""])
    return out.getvalue()


def moodle_worksheet(students: list[Student], max_grade: float) -> str:
    """Moodle's grading worksheet (the assignment's Download grading worksheet)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["Identifier", "Full name", "Email address", "Status", "Grade",
                "Maximum Grade", "Grade can be changed", "Last modified (submission)",
                "Last modified (grade)", "Feedback comments"])
    for s in students:
        w.writerow([f"Participant {s.moodle_id}", s.full, s.email,
                    "Submitted for grading", "", f"{max_grade:.2f}", "Yes",
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
