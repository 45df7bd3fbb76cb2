"""The class's feedback pages as one zip each LMS's bulk feedback upload takes.

Each student collected from an LMS download (``lms/<assignment>_handins.csv``) gets the
feedback pages of ``feedback/<id>/<assignment>/`` and ``GRADING_NOTES.txt``, nothing
else, named as the LMS's importer parses them (docs/instructors.md, "Feedback back to
the students", cites its code): Canvas by the user and attachment ids of the hand-in (a
hand-in with no attached file, or graded anonymously, is listed, not zipped); Moodle by
the participant id. Every member is one flat name (:func:`_part`), so no unzip puts a
file outside its folder.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from instructor import ROOT
from instructor.engine.notes import NOTES_FILE
from instructor.workflow.lms_download import CANVAS, read_handins

#: what no part of a member's name keeps: path separators (``/ \\ :``) and the other
#: characters Windows reserves, control and direction characters
_UNSAFE = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]+')


def _part(text: str, fallback: str, keep: str = "") -> str:
    """``text`` as one part of a member's name: no :data:`_UNSAFE` character, no run of
    dots, no leading dot or ``~`` (Moodle skips such files); ``fallback`` if empty."""
    text = re.sub(r"\.{2,}", ".", _UNSAFE.sub(" ", text)).strip(" .~")
    return text or fallback


def _canvas_prefix(row: dict[str, str]) -> str | None:
    """``<name>_<user id>_<attachment id>_`` of the first attached file (letters-only name)."""
    downloads = [d for d in row.get("download", "").split(" | ") if d]
    downloads.sort(key=lambda d: not d.endswith(".ipynb"))
    for name in downloads:
        m = CANVAS.match(name)
        if m and m["attachment"] and m["id"].isdigit():
            letters = re.sub(r"[\W\d_]+", "", m["name"]) or "student"
            return f"{letters}_{m['id']}_{m['attachment']}_"
    return None


def _moodle_prefix(row: dict[str, str]) -> str:
    name = _part(row.get("name", "").replace("_", " "), "Participant")
    return f"{name}_{row['lms_id']}_assignsubmission_file_"


def write_feedback_zip(assignment: str, lms: str | None = None, root: Path = ROOT,
                       dest: Path | None = None) -> tuple[Path, list[str], list[str]]:
    """``lms/<assignment>_feedback_<lms>.zip``, the students zipped, those left out."""
    root = Path(root)
    handins = read_handins(assignment, root)
    kinds = sorted({r["lms"] for r in handins.values() if r.get("lms")})
    lms = lms or (kinds[0] if len(kinds) == 1 else None)
    if lms not in ("canvas", "moodle"):
        raise SystemExit(f"lms-feedback: lms/{assignment}_handins.csv lists hand-ins from "
                         f"{' and '.join(kinds) or 'no LMS (collect its download first)'}: "
                         "give LMS=canvas|moodle")
    dest = Path(dest or root / "lms" / f"{assignment}_feedback_{lms}.zip")
    names = sorted(f"{nb.stem}.html" for nb in (root / "release" / assignment).glob("*.ipynb"))
    names.append(NOTES_FILE)
    zipped: list[str] = []
    left: list[str] = []
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for student, row in sorted(handins.items()):
            if row.get("lms") != lms:
                continue
            folder = root / "feedback" / student / assignment
            files = [folder / n for n in names if (folder / n).is_file()] if \
                folder.is_dir() and not folder.is_symlink() else []
            if not files:
                left.append(f"{student}: no feedback in feedback/{student}/{assignment}/ "
                            "(make feedback first)")
                continue
            prefix = _canvas_prefix(row) if lms == "canvas" else _moodle_prefix(row)
            if prefix is None:
                left.append(f"{student}: Canvas matches an uploaded file by the id of a file "
                            "the student handed in, and this hand-in has none (a text entry "
                            "or URL, or anonymous grading): upload the feedback in "
                            "SpeedGrader")
                continue
            for path in files:
                if not path.is_symlink():
                    zf.write(path, prefix + _part(path.name, "feedback"))
            zipped.append(student)
    return dest, zipped, left
