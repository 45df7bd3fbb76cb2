"""Grading a class on several machines: shards of students, and merging their results.

``autograde --shard I/N`` writes only into ``shards/I-of-N/``; ``merge-shards`` brings
every shard into the course, ``feedback/`` too when a shard made it (docs/jupyterhub.md,
"Grading a class on many machines").
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from instructor.workflow.gradebook import (
    in_gradebook,
    merge_scores,
    read_submission,
    sync_gradebook,
)

SHARDS = "shards"
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1 to ``count``) of a class."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/8"`` -> ``Shard(2, 8)``; anything else is a clear error."""
        match = _SPEC.match(text or "")
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise ValueError(f"--shard takes I/N with 1 <= I <= N (for example 2/8), "
                             f"not {text!r}")
        return cls(int(match[1]), int(match[2]))

    def has(self, student: str) -> bool:
        """Whether ``student`` belongs to this shard."""
        return shard_of(student, self.count) == self.index

    def folder(self, root: Path) -> Path:
        return Path(root) / SHARDS / f"{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(student: str, count: int) -> int:
    """The shard (1 to ``count``) of ``student``: from a hash of the id alone."""
    digest = hashlib.sha256(student.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def _replace_tree(src: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)


def merge(root: Path, folders: list[Path] | None = None) -> list[tuple[str, str, float, float]]:
    """Bring the shards' results into the course at ``root``; ``(student, assignment,
    score, max_score)`` for each submission merged."""
    root = Path(root).resolve()
    folders = [Path(f) for f in folders] if folders else sorted(
        p for p in (root / SHARDS).glob("*-of-*") if p.is_dir())
    if not folders:
        raise SystemExit(f"no shard folders in {root / SHARDS}: run autograde --shard first")
    graded = [(f, p.parent.name, p.name) for f in folders
              for p in sorted((f / "autograded").glob("*/*")) if p.is_dir()]
    assignments = sorted({a for _, _, a in graded})
    missing = [a for a in assignments if not in_gradebook(a, root)]
    if missing:
        sync_gradebook(missing, root=root)
    (root / "grading_logs").mkdir(exist_ok=True)
    merged = []
    for folder, student, assignment in graded:
        found = read_submission(folder / "gradebook.db", assignment, student)
        score, max_score = merge_scores(root / "gradebook.db", assignment, student, found)
        _replace_tree(folder / "autograded" / student / assignment,
                      root / "autograded" / student / assignment)
        feedback = folder / "feedback" / student / assignment
        if feedback.is_dir():
            _replace_tree(feedback, root / "feedback" / student / assignment)
        log = folder / "grading_logs" / f"{student}__{assignment}.log"
        if log.is_file():
            shutil.copy2(log, root / "grading_logs" / log.name)
        merged.append((student, assignment, score, max_score))
    return merged
