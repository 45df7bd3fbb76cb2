"""Grades into Canvas or Moodle, through their own CSV import (no API token).

The file written is the LMS's own export, its rows and identity columns kept, with the
assignment's column (and on request one per task) filled on the LMS column's scale; the
formats: docs/instructors.md, "Grades into the LMS". A student is found by an id the LMS
issued, never by a name, and a student of only one side is listed, never dropped. A
grade the export holds is kept unless ``overwrite``; nothing is written when no student
matched, a maximum or a named column is missing, or a collected student is not found.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from instructor.analytics.graded import GradedClass
from instructor.workflow.csv_safe import safe_dict
from instructor.workflow.lms_download import read_handins

#: The export's columns that identify a student, by LMS, most specific first.
ID_COLUMNS = {
    "canvas": ["SIS Login ID", "SIS User ID", "Integration ID", "ID"],
    "moodle": ["Username", "Email address", "ID number", "Email", "User ID", "Identifier"],
}
#: Moodle's grading worksheet: its identifier column, the prefix of each id, the grade.
WORKSHEET_ID, WORKSHEET_PREFIX, WORKSHEET_GRADE = "Identifier", "Participant ", "Grade"
#: ... and its maximum grade, or its scale when graded on one (mod/assign/gradingtable.php)
WORKSHEET_MAX, WORKSHEET_SCALE = "Maximum grade", "Scale"
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
    other_lms: dict[str, list[str]] = field(default_factory=dict)  # lms -> students
    not_in_gradebook: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scales: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        lines = [f"{self.path}: column '{self.column}', {len(self.written)} grade(s) written",
                 *self.scales]
        if self.kept:
            lines.append(f"{len(self.kept)} existing grade(s) kept (pass --overwrite to "
                         "replace them): " + ", ".join(f"{w} ({theirs}; ours {ours})"
                                                      for w, theirs, ours in self.kept))
        if self.not_in_lms:
            lines.append(f"{len(self.not_in_lms)} student(s) of the gradebook not found in "
                         "the LMS export (add them to the mapping file): "
                         + ", ".join(self.not_in_lms))
        for lms, who in self.other_lms.items():
            lines.append(f"{len(who)} student(s) handed in through {lms.capitalize()}, not "
                         f"found here: their grades go into {lms.capitalize()}'s file "
                         f"(make lms-export LMS={lms} FROM=<its export>): " + ", ".join(who))
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
    """Canvas' rows that are no student (``Points Possible``, posting marks): no ID."""
    return not (row.get("ID") or "").strip()


def _number(text: str | None) -> float | None:
    """A positive number, with a decimal point or comma (Moodle's ``100,00``); else None."""
    text = (text or "").strip()
    if "," in text and "." not in text:
        text = text.replace(",", ".", 1)
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None


def _same(text: str, value: float) -> bool:
    try:
        return abs(float(text) - value) < 1e-9
    except ValueError:
        return False


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def _scale(header: list[str], rows: list[dict[str, str]], meta: list[dict[str, str]],
           lms: str, target: str | None, points: float | None, source: Path) -> float:
    """The LMS column's maximum: ``points`` if given, else what the export says."""
    if lms == "moodle" and WORKSHEET_ID in header and WORKSHEET_SCALE in header:
        raise SystemExit(f"{source}: this assignment is graded on a scale (the worksheet's "
                         f"'{WORKSHEET_SCALE}' column), and lms-export writes points: set its "
                         "Grade type to Point (the assignment's settings, Grade), download "
                         "the grading worksheet again and export to it")
    if points is not None:
        return points
    if lms == "canvas":
        row = next((r for r in meta if (r.get("Student") or "").strip() == "Points Possible"),
                   {})
        found = _number(row.get(target))
        if found is None:
            raise SystemExit(f"{source}: no Points Possible for '{target}' (the row Canvas "
                             "exports under the header): give the assignment's points with "
                             "POINTS=<n> (--points)")
        return found
    col = next((h for h in header if h.casefold() == WORKSHEET_MAX.casefold()), None)
    if col:
        found = {_number(r.get(col)) for r in rows}
        if len(found) == 1 and None not in found:
            return found.pop()
        raise SystemExit(f"{source}: the worksheet's '{WORKSHEET_MAX}' is missing or not one "
                         "number: give the maximum with "
                         "POINTS=<n> (--points)")
    raise SystemExit(f"{source}: Moodle's gradebook export carries no maximum grade: give "
                     "the grade item's maximum (Gradebook setup, its Maximum grade) with "
                     "POINTS=<n> (--points), or use the assignment's grading worksheet")


def _index(people: list[dict[str, str]], cols: list[str]) -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for i, row in enumerate(people):
        for col in cols:
            value = (row.get(col) or "").strip()
            if value:
                index.setdefault(value.casefold(), []).append(i)
                if "@" in value and col.lower().startswith("email"):
                    index.setdefault(value.split("@", 1)[0].casefold(), []).append(i)
                if col == WORKSHEET_ID and value.startswith(WORKSHEET_PREFIX):
                    index.setdefault(value[len(WORKSHEET_PREFIX):].strip(), []).append(i)
    return index


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.casefold())


def _canvas_title(header: list[str], assignment: str, source: Path) -> str:
    """The one Canvas column titled with the assignment's words in order (and its
    number, if any); else SystemExit. None is added: Canvas would make a second assignment."""
    words = _words(assignment)
    number = int(words.pop(0)) if words and words[0].isdigit() else None
    columns = [h for h in header if _CANVAS_ID.search(h) and h not in CANVAS_KEEP]
    found = []
    for h in columns:
        title = _words(_CANVAS_ID.sub("", h))
        numbers = {int(w) for w in title if w.isdigit()}
        runs = (title[i:i + len(words)] for i in range(len(title) - len(words) + 1))
        if words and words in runs and (number is None or not numbers or number in numbers):
            found.append(h)
    if len(found) == 1:
        return found[0]
    raise SystemExit(
        f"{source}: {'several' if found else 'no'} Canvas assignment column(s) named like "
        f"'{assignment}'{': ' + ', '.join(map(repr, found)) if found else ''}, and "
        "lms-export adds none (Canvas' import would make a second assignment of it): name "
        "the assignment's column, COLUMN=\"<its title>\" (--column). The export's "
        "assignment columns: " + (", ".join(repr(h) for h in columns) or "none"))


def _lms_id_column(lms: str, header: list[str]) -> str | None:
    """The column that holds the id a download of ``lms`` gives a student, if any."""
    if lms == "canvas":
        return "ID" if "ID" in header else None
    return WORKSHEET_ID if WORKSHEET_ID in header else None


def fill(graded: GradedClass, lms: str, source: Path, dest: Path,
         mapping: dict[str, str] | None = None, column: str | None = None,
         overwrite: bool = False, tasks: bool = False, points: float | None = None
         ) -> Export:
    """Write ``dest``: the LMS export ``source`` with ``graded``'s scores, on its scale."""
    if lms not in ID_COLUMNS:
        raise SystemExit(f"LMS must be one of {', '.join(ID_COLUMNS)}, not {lms!r}")
    header, rows, bom = _read(source)
    mapping = mapping or {}
    meta_ids = {id(r) for r in rows if lms == "canvas" and _is_canvas_meta(r)}
    meta = [r for r in rows if id(r) in meta_ids]
    people = [r for r in rows if id(r) not in meta_ids]
    id_cols = [c for c in ID_COLUMNS[lms] if c in header]
    if lms == "canvas" and not {"ID", "SIS Login ID", "SIS User ID"} & set(header):
        raise SystemExit(f"{source}: no ID, SIS Login ID or SIS User ID column: is this "
                         "Canvas' gradebook export (Grades > Export)?")
    if not id_cols:
        raise SystemExit(f"{source}: none of the columns {', '.join(ID_COLUMNS[lms])}: is "
                         f"this {lms.capitalize()}'s grade export?")

    # the assignment's column, and its scale
    wanted = _key(column or graded.assignment)
    decoration = _CANVAS_ID if lms == "canvas" else _MOODLE_ITEM
    target = next((h for h in header if _key(h) == wanted), None) or next(
        (h for h in header if _key(decoration.sub("", h)) == wanted), None)
    if lms == "moodle" and WORKSHEET_ID in header and WORKSHEET_GRADE in header:
        target = WORKSHEET_GRADE  # one assignment's worksheet: its grade column
    elif target is None and column:
        raise SystemExit(f"{source}: no column '{column}' (--column); its columns: "
                         + ", ".join(repr(h) for h in header))
    elif target is None and lms == "canvas":
        target = _canvas_title(header, graded.assignment, source)
    out = Export(Path(dest), target or graded.assignment)
    if target is None:
        out.notes.append(f"no column '{graded.assignment}' in the export: added as a new "
                         "column (map it to a grade item on Moodle's import)")
    task_cols = {t: f"{out.column}: {t}" for t in graded.tasks} if tasks else {}

    # match students by an id the LMS issued, never by a name
    index = _index(people, id_cols)
    own_col = _lms_id_column(lms, header)
    own = _index(people, [own_col]) if own_col else {}
    handins = read_handins(graded.assignment, graded.root)
    matched: dict[int, str] = {}
    needs_mapping: list[str] = []
    for sub in graded.submissions:
        handin = handins.get(sub.student, {})
        if sub.student in mapping:
            hits = index.get(mapping[sub.student].casefold(), [])
        elif handin.get("lms") == lms:  # the id the LMS's download gave
            if not own_col or sub.student.startswith("anon_"):
                needs_mapping.append(sub.student)
                continue
            hits = own.get(sub.student.casefold(), [])
        else:
            hits = index.get(sub.student.casefold(), [])
        hits = sorted(set(hits))
        if not hits and handin.get("lms") not in (None, "", lms):  # the other LMS's
            out.other_lms.setdefault(handin["lms"], []).append(sub.student)
        elif not hits:
            out.not_in_lms.append(sub.student)
        elif len(hits) > 1:
            out.ambiguous.append(sub.student)
        elif hits[0] in matched:
            out.ambiguous.append(f"{sub.student} (same row as {matched[hits[0]]})")
        else:
            matched[hits[0]] = sub.student
    if needs_mapping:
        where = "Canvas' anonymous ids" if lms == "canvas" else (
            "Moodle's participant ids (the download's), which only the assignment's "
            "grading worksheet carries")
        raise SystemExit(
            f"{source}: {len(needs_mapping)} student(s) were collected under {where}, and "
            f"this export has no column of them, so they cannot be found by an id (a name "
            f"is no id: anyone can hand in under another's): "
            + ", ".join(needs_mapping[:10]) + ". Use the assignment's grading worksheet "
            "(Moodle) or give MAPPING=<csv> (--mapping) with rows nbgrader_id,lms_id, the "
            "lms_id one of this export's columns " + ", ".join(id_cols) + "; "
            f"lms/{graded.assignment}_handins.csv pairs each id with the name the download "
            "gave. Nothing was written.")
    if not matched:
        raise SystemExit(f"{source}: no student of the gradebook was found in this export "
                         f"(by {', '.join(id_cols)}): is it this course's, and this LMS's? "
                         "Nothing was written.")
    ours = graded.max_score or max((s.max_score for s in graded.submissions), default=0)
    scale = _scale(header, people, meta, lms, target, points, Path(source))
    factor = scale / ours if ours else 1.0
    out.scales.append(f"'{out.column}': the course's {_fmt(ours)} points written out of "
                      f"{_fmt(scale)}")
    if task_cols:
        out.scales.append("task columns: the course's points (new columns)")
    by_id = {s.student: s for s in graded.submissions}
    for i, row in enumerate(people):
        who = row.get("Student") or row.get("Full name") or " ".join(
            row.get(c, "") for c in ("First name", "Last name") if row.get(c)) or \
            next((row[c] for c in id_cols if row.get(c)), f"row {i + 2}")
        if i not in matched:
            out.not_in_gradebook.append(who.strip())
            continue
        sub = by_id[matched[i]]
        values = {out.column: sub.score * factor}
        values.update({col: sub.task_score(t, graded.tests) for t, col in task_cols.items()})
        wrote = False
        for col, value in values.items():
            theirs = (row.get(col) or "").strip()
            ours_text = _fmt(value)
            if theirs not in _EMPTY and not overwrite:
                if not _same(theirs, value):
                    out.kept.append((f"{who.strip()} [{col}]", theirs, ours_text))
                continue
            row[col], wrote = ours_text, True
        if wrote:
            out.written[sub.student] = who.strip()

    # the columns written
    new_cols = [c for c in [out.column, *task_cols.values()] if c not in header]
    if lms == "canvas":
        columns = [c for c in CANVAS_KEEP if c in header] + [
            c for c in header if c == out.column or c in task_cols.values()] + new_cols
        given = {out.column: ours}
        given.update({col: graded.task_max(t) for t, col in task_cols.items()})
        for row in (r for r in meta if (r.get("Student") or "").strip() == "Points Possible"):
            for col, value in given.items():
                if not (row.get(col) or "").strip():
                    row[col] = _fmt(value)
    else:
        columns = header + new_cols
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(safe_dict(r) for r in rows)  # in the export's order
    return out
