"""Grading notes: what went wrong with a submission, in the words a student reads."""

from __future__ import annotations

from pathlib import Path

#: Notes for one submission: collection and grading problems, kept beside it.
NOTES_FILE = "GRADING_NOTES.txt"


#: The longest note kept (a note quotes a student's error message or metadata).
NOTE_CHARS = 1000


def one_line(note) -> str:
    """``note`` as one line of at most :data:`NOTE_CHARS` characters."""
    text = " ".join(str(note).splitlines())
    return text if len(text) <= NOTE_CHARS else text[:NOTE_CHARS] + " [...]"


def read_notes(folder: Path) -> list[str]:
    path = Path(folder) / NOTES_FILE
    return path.read_text().splitlines() if path.is_file() else []


def write_notes(folder: Path, notes: list[str]) -> None:
    path = Path(folder) / NOTES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    unique = list(dict.fromkeys(one_line(n) for n in notes if str(n).strip()))
    if unique:
        # replaced, not rewritten: nbgrader's autograde leaves the copy it made read-only
        # (its permissions, 444), which only root could write over
        path.unlink(missing_ok=True)
        path.write_text("\n".join(unique) + "\n")
    elif path.exists():
        path.unlink()
