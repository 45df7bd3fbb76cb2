"""Grades to CSV: one row per student and assignment, with per-task scores and notes."""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import ExportPlugin

from instructor.engine.notes import read_notes
from instructor.workflow.csv_safe import safe_dict
from instructor.workflow.gradebook import stale

COLUMNS = ["assignment", "student_id", "timestamp", "score", "max_score", "tasks", "notes"]


def task_of(grade_id: str) -> str:
    """``vanilla-tests-shapes`` -> ``vanilla``: the task a test cell belongs to."""
    return grade_id.split("-", 1)[0]


class CourseCsvExport(ExportPlugin):
    """``nbgrader export`` to ``grades.csv`` with per-task scores and the grading notes."""

    def export(self, gradebook: Gradebook) -> None:
        dest = Path(self.to or "grades.csv")
        coursedir = CourseDirectory(config=self.config)
        rows = []
        students = [s.id for s in gradebook.students]
        if self.student:
            students = [s for s in students if s in {str(x) for x in self.student}]
        for assignment in gradebook.assignments:
            if self.assignment and assignment.name not in {str(x) for x in self.assignment}:
                continue
            for student in sorted(students):
                row = {"assignment": assignment.name, "student_id": student,
                       "max_score": assignment.max_score}
                rows.append(row)
                try:
                    sub = gradebook.find_submission(assignment.name, student)
                except MissingEntry:
                    row.update(timestamp="", score=0.0, tasks="", notes="no submission")
                    continue
                tasks: dict[str, list[float]] = {}
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.cell_type != "code" and grade.max_score == 0:
                            continue
                        t = tasks.setdefault(task_of(grade.name), [0.0, 0.0])
                        t[0] += grade.score or 0.0
                        t[1] += grade.max_score
                folder = Path(coursedir.format_path(coursedir.autograded_directory,
                                                    student, assignment.name))
                row.update(
                    timestamp=sub.timestamp.isoformat() if sub.timestamp else "",
                    score=sub.score,
                    tasks="; ".join(f"{k} {v[0]:g}/{v[1]:g}" for k, v in tasks.items()),
                    notes=" | ".join(filter(None, [stale(coursedir.root, student,
                                                         assignment.name),
                                                   *read_notes(folder)])))
        with dest.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(safe_dict(r) for r in rows)  # safe to open in a spreadsheet
        self.log.info("Exported %d rows to %s", len(rows), dest)
