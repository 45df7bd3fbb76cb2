"""Grades into Canvas or Moodle, through their own CSV import (no API token).

The file written is the LMS's own export (Canvas' or Moodle's gradebook, or Moodle's
grading worksheet), its rows and identity columns kept, with the assignment's column
filled from the course's gradebook (on request, one column per task too). The formats,
how students are matched and what the formats rely on: docs/instructors.md, "Grades
into the LMS". A student of only one side is listed, never silently dropped; a grade the
export already holds is kept unless ``overwrite``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from instructor.analytics.graded import GradedClass
from instructor.workflow.lms_download import read_handins

#: The export's columns that identify a student, by LMS, most specific first.
ID_COLUMNS = {
    "canvas": ["SIS Login ID", "SIS User ID", "Integration ID", "ID"],
    "moodle": ["Username", "Email address", "ID number", "Email", "User ID", "Identifier"],
}
#: Moodle's grading worksheet: its identifier column, the prefix of each id, the grade.
WORKSHEET_ID, WORKSHEET_PREFIX, WORKSHEET_GRADE = "Identifier", "Participant ", "Grade"
#: Canvas columns kept as they are (identity, section).
CANVAS_KEEP = ["Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Section"]
#: What Canvas (its `` (12345)``) and Moodle (``Assignment: ... (Real)``) add to a name.
_CANVAS_ID = re.compile(r"\s*\(\d+\)\s*$")
_MOODLE_ITEM = re.compile(r"^[^:]*:\s*|\s*\((Real|Percentage|Letter)\)\s*$")
_EMPTY = {"", "-", "N/A"}


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text).strip().casefold()


@dataclass
class Export:
    """What :func:`fill` wrote and what it could not do."""

    path: Path
    column: str
    written: dict[str, str] = field(default_factory=dict)     # nbgrader id -> lms row name
    kept: list[tuple[str, str, str]] = field(default_factory=list)  # (who, theirs, ours)
    not_in_lms: list[str] = field(default_factory=list)
    not_in_gradebook: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        lines = [f"{self.path}: column '{self.column}', {len(self.written)} grade(s) written"]
        if self.kept:
            lines.append(f"{len(self.kept)} existing grade(s) kept (pass --overwrite to "
                         "replace them): " + ", ".join(f"{w} ({theirs}; ours {ours})"
                                                      for w, theirs, ours in self.kept))
        if self.not_in_lms:
            lines.append(f"{len(self.not_in_lms)} student(s) of the gradebook not found in "
                         "the LMS export (add them to the mapping file): "
                         + ", ".join(self.not_in_lms))
        if self.not_in_gradebook:
            lines.append(f"{len(self.not_in_gradebook)} student(s) of the LMS export not in "
                         "the gradebook (left as they are): " + ", ".join(self.not_in_gradebook))
        if self.ambiguous:
            lines.append("matched more than one row, left out: " + ", ".join(self.ambiguous))
        return lines + self.notes


def read_mapping(path: Path | None) -> dict[str, str]:
    """``nbgrader_id,lms_id`` rows (a header line is allowed) -> {nbgrader_id: lms_id}."""
    if path is None:
        return {}
    with Path(path).open(newline="", encoding="utf-8-sig") as f:
        mapping = {row[0].strip(): row[1].strip() for row in csv.reader(f)
                   if len(row) >= 2 and row[0].strip() and not row[0].startswith("#")}
    mapping.pop("nbgrader_id", None)
    return mapping


def _read(path: Path) -> tuple[list[str], list[dict[str, str]], bool]:
    raw = Path(path).read_bytes()
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    rows = [dict(r) for r in reader]
    header = list(reader.fieldnames or [])
    if not header:
        raise SystemExit(f"{path}: empty file, not an LMS export")
    return header, rows, raw.startswith(b"\xef\xbb\xbf")


def _is_canvas_meta(row: dict[str, str]) -> bool:
    """Canvas' rows under the header that are not students (``Points Possible``...)."""
    name = (row.get("Student") or "").strip()
    return name in ("Points Possible", "Muted", "Manual Posting") or (
        not (row.get("ID") or "").strip() and (row.get("Student") or "").startswith(" "))


def _same(text: str, value: float) -> bool:
    try:
        return abs(float(text) - value) < 1e-9
    except ValueError:
        return False


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def fill(graded: GradedClass, lms: str, source: Path, dest: Path,
         mapping: dict[str, str] | None = None, column: str | None = None,
         overwrite: bool = False, tasks: bool = False) -> Export:
    """Write ``dest``: the LMS export ``source`` with ``graded``'s scores filled in."""
    if lms not in ID_COLUMNS:
        raise SystemExit(f"LMS must be one of {', '.join(ID_COLUMNS)}, not {lms!r}")
    header, rows, bom = _read(source)
    mapping = mapping or {}
    meta = [r for r in rows if lms == "canvas" and _is_canvas_meta(r)]
    people = [r for r in rows if r not in meta]
    id_cols = [c for c in ID_COLUMNS[lms] if c in header]
    if lms == "canvas" and not {"ID", "SIS Login ID", "SIS User ID"} & set(header):
        raise SystemExit(f"{source}: no ID, SIS Login ID or SIS User ID column: is this "
                         "Canvas' gradebook export (Grades > Export)?")
    if not id_cols:
        raise SystemExit(f"{source}: none of the columns {', '.join(ID_COLUMNS[lms])}: is "
                         f"this {lms.capitalize()}'s grade export?")

    # the assignment's column
    wanted = _key(column or graded.assignment)
    decoration = _CANVAS_ID if lms == "canvas" else _MOODLE_ITEM
    target = next((h for h in header if _key(h) == wanted), None) or next(
        (h for h in header if _key(decoration.sub("", h)) == wanted), None)
    if lms == "moodle" and WORKSHEET_ID in header and WORKSHEET_GRADE in header:
        target = WORKSHEET_GRADE  # one assignment's worksheet: its grade column
    out = Export(Path(dest), target or column or graded.assignment)
    if target is None:
        out.notes.append(f"no column '{column or graded.assignment}' in the export: added "
                         f"as a new column (the LMS creates the grade item on import)")
    task_cols = {t: f"{out.column}: {t}" for t in graded.tasks} if tasks else {}

    # match students
    index: dict[str, list[int]] = {}
    for i, row in enumerate(people):
        for col in id_cols:
            value = (row.get(col) or "").strip()
            if value:
                index.setdefault(value.casefold(), []).append(i)
                if "@" in value and col.lower().startswith("email"):
                    index.setdefault(value.split("@", 1)[0].casefold(), []).append(i)
                if col == WORKSHEET_ID and value.startswith(WORKSHEET_PREFIX):
                    index.setdefault(value[len(WORKSHEET_PREFIX):].strip(), []).append(i)
    names: dict[str, list[int]] = {}
    if lms == "moodle" and {"First name", "Last name"} <= set(header):
        for i, row in enumerate(people):
            full = f"{row.get('First name', '')} {row.get('Last name', '')}"
            names.setdefault(_key(full), []).append(i)
    handins = read_handins(graded.assignment, graded.root)
    matched: dict[int, str] = {}
    for sub in graded.submissions:
        key = mapping.get(sub.student, sub.student).casefold()
        hits = sorted(set(index.get(key, [])))
        handin = handins.get(sub.student, {})
        if not hits and handin.get("lms") == lms and handin.get("name"):
            hits = names.get(_key(handin["name"]), [])  # Moodle's download: its full name
        if not hits:
            out.not_in_lms.append(sub.student)
        elif len(hits) > 1:
            out.ambiguous.append(sub.student)
        elif hits[0] in matched:
            out.ambiguous.append(f"{sub.student} (same row as {matched[hits[0]]})")
        else:
            matched[hits[0]] = sub.student
    by_id = {s.student: s for s in graded.submissions}
    for i, row in enumerate(people):
        who = row.get("Student") or row.get("Full name") or " ".join(
            row.get(c, "") for c in ("First name", "Last name") if row.get(c)) or \
            next((row[c] for c in id_cols if row.get(c)), f"row {i + 2}")
        if i not in matched:
            out.not_in_gradebook.append(who.strip())
            continue
        sub = by_id[matched[i]]
        values = {out.column: sub.score}
        values.update({col: sub.task_score(t, graded.tests) for t, col in task_cols.items()})
        wrote = False
        for col, value in values.items():
            theirs = (row.get(col) or "").strip()
            ours = _fmt(value)
            if theirs not in _EMPTY and not overwrite:
                if not _same(theirs, value):
                    out.kept.append((f"{who.strip()} [{col}]", theirs, ours))
                continue
            row[col], wrote = ours, True
        if wrote:
            out.written[sub.student] = who.strip()

    # the columns written
    new_cols = [c for c in [out.column, *task_cols.values()] if c not in header]
    if lms == "canvas":
        columns = [c for c in CANVAS_KEEP if c in header] + [
            c for c in header if c == out.column or c in task_cols.values()] + new_cols
        points = {out.column: graded.max_score}
        points.update({col: graded.task_max(t) for t, col in task_cols.items()})
        for row in (r for r in meta if (r.get("Student") or "").strip() == "Points Possible"):
            for col, value in points.items():
                theirs = (row.get(col) or "").strip()
                if theirs and not _same(theirs, value):
                    out.notes.append(f"Canvas says '{col}' is out of {theirs}, the gradebook "
                                     f"out of {_fmt(value)}: scores are written in the "
                                     "gradebook's points")
                if not theirs:
                    row[col] = _fmt(value)
    else:
        columns = header + new_cols
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(meta + people)
    return out
