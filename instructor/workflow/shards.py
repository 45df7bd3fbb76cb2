"""Grading a class on several machines: shards of students, and merging their results.

``autograde --shard I/N`` writes each assignment only into ``shards/<assignment>/I-of-N/``,
``done.json`` last (written, then renamed: whole or absent), once every submission of the
shard is filed; it names the release the shard graded. ``merge-shards`` reads each
assignment's run begun last, every ``done.json`` once, before it copies anything: it brings
in what each shard that finished grading the current release lists, and names each other
shard (running or stopped, from an older release, unreadable), exiting non-zero until it
is graded again (docs/schedulers.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from helpers import settings
from instructor.workflow.gradebook import (
    in_gradebook,
    merge_scores,
    read_submission,
    release_digest,
    sync_gradebook,
)

SHARDS = "shards"
#: Written into a shard's folder when every submission of the shard is filed.
DONE = "done.json"
#: Touched in a shard's folder when a run of it begins.
BEGUN = "begun"
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_FOLDER = re.compile(r"^(\d+)-of-(\d+)$")


def submissions(root: Path, assignment: str, students: list[str] | None = None) -> list[str]:
    """Who handed ``assignment`` in, or ``students``; SystemExit naming any who did not."""
    base = Path(root) / "submitted"
    found = sorted(p.parent.name for p in base.glob(f"*/{assignment}") if p.is_dir())
    if students:
        missing = set(students) - set(found)
        if missing:
            raise SystemExit(f"no submission of {assignment} from: {', '.join(sorted(missing))}")
        found = [s for s in found if s in students]
    return found


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

    def folder(self, root: Path, assignment: str) -> Path:
        return Path(root) / SHARDS / assignment / f"{self.index}-of-{self.count}"

    def begin(self, root: Path, assignment: str) -> Path:
        """The shard's folder, unmarked as finished, marked as the run begun last."""
        folder = self.folder(root, assignment)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / DONE).unlink(missing_ok=True)
        (folder / BEGUN).touch()  # its time: the file system's, the same for every node
        return folder

    def finish(self, root: Path, assignment: str, students: list[str],
               release: str | None) -> None:
        """Mark the shard of ``assignment`` finished: every one of ``students`` filed,
        graded against ``release`` (:func:`~instructor.workflow.gradebook.release_digest`)."""
        graded = sorted([s, assignment] for s in students)
        text = json.dumps({"shard": str(self), "release": release, "graded": graded},
                          indent=1)
        tmp = self.folder(root, assignment) / f".{DONE}.tmp"
        tmp.write_text(text)
        tmp.replace(self.folder(root, assignment) / DONE)  # whole or absent, even if killed

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(student: str, count: int) -> int:
    """The shard (1 to ``count``) of ``student``: from a hash of the id alone."""
    digest = hashlib.sha256(student.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def _runs(folders: list[Path]) -> dict[tuple[str, int], dict[int, Path]]:
    """``folders`` (``<assignment>/I-of-N``) by (assignment, N), then by I."""
    found: dict[tuple[str, int], dict[int, Path]] = {}
    for folder in folders:
        match = _FOLDER.match(folder.name)
        if not match:
            raise SystemExit(f"{folder}: a shard folder is named <assignment>/I-of-N (as "
                             "autograde --shard I/N names it)")
        found.setdefault((folder.parent.name, int(match[2])), {})[int(match[1])] = folder
    return found


def current(folders: list[Path]) -> tuple[list[Path], list[Path]]:
    """Each assignment's folders of the run begun last, and those of older runs."""
    runs = _runs(folders)
    latest: dict[str, tuple[int, int]] = {}
    for (assignment, count), present in runs.items():
        begun = max((f / BEGUN).stat().st_mtime_ns if (f / BEGUN).exists() else 0
                    for f in present.values())
        latest[assignment] = max(latest.get(assignment, (-1, 0)), (begun, count))
    keep = {f for (a, n), present in runs.items() if latest[a][1] == n
            for f in present.values()}
    return sorted(keep), sorted(set(folders) - keep)


#: What a shard without a done.json is: the scheduler knows which (squeue, sacct).
RUNNING = "not finished: still running, or stopped before it finished (killed, cancelled)"
#: A finished shard of another release than the current one's, or of one not recorded.
OLDER, UNKNOWN = "from an older release", "an unknown release"


def read_done(root: Path, folders: list[Path]) -> dict[Path, dict | str]:
    """Each shard folder's ``done.json``, read once: the finished shard's record if it
    graded the current release, else a line saying what the shard is."""
    found: dict[Path, dict | str] = {}
    for folder in folders:
        try:
            done = json.loads((folder / DONE).read_text())
            graded = [(s, a) for s, a in done["graded"]]
        except FileNotFoundError:
            found[folder] = RUNNING
            continue
        except (OSError, ValueError, TypeError, KeyError) as err:
            found[folder] = (f"its {DONE} cannot be read ({type(err).__name__}: {err}), "
                             "nothing of it was merged")
            continue
        release = release_digest(root, folder.parent.name)
        if done.get("release") is None:
            found[folder] = (f"finished before shards recorded their release ({UNKNOWN}), "
                             "not merged")
        elif done["release"] != release:
            found[folder] = f"finished, {OLDER} (a test changed since), not merged"
        else:
            found[folder] = {**done, "graded": graded}
    return found


def unfinished(root: Path, folders: list[Path], done: dict | None = None) -> list[str]:
    """One line for each shard of each run among ``folders`` that has no finished run
    of the current release holding every submission of its assignment it owns (``done``:
    :func:`read_done` of ``folders``, read before merging)."""
    done = read_done(root, folders) if done is None else done
    problems = []
    for (assignment, count), present in sorted(_runs(folders).items()):
        owed = submissions(root, assignment)
        for index in range(1, count + 1):
            shard, folder = Shard(index, count), present.get(index)
            record = done.get(folder, "never ran") if folder else "never ran"
            if isinstance(record, str):
                problems.append(f"{assignment} shard {shard}: {record}")
                continue
            graded = {s for s, a in record["graded"] if a == assignment}
            missing = [s for s in owed if shard.has(s) and s not in graded]
            if missing:
                problems.append(f"{assignment} shard {shard}: {len(missing)} submission(s) "
                                f"not graded ({', '.join(missing[:5])}"
                                f"{' ...' if len(missing) > 5 else ''})")
    return problems


def _again(problems: list[str]) -> str:
    """The commands that grade these shards again, per assignment and count."""
    tasks: dict[tuple[str, str], list[str]] = {}
    for line in problems:
        match = re.match(r"(\S+) shard (\d+)/(\d+):", line)
        tasks.setdefault((match[1], match[3]), []).append(match[2])
    return "\n  ".join(f"deploy/slurm/submit.sh {a} {n} <JOBS> {','.join(t)}   (Slurm; one "
                       f"machine: make autograde ASSIGNMENT={a} SHARD=I/{n} for each)"
                       for (a, n), t in tasks.items())


def job_limits(per_shard: int | list[int], jobs: int, environ=None) -> dict[str, str]:
    """A scheduler's limits for one shard job grading ``per_shard`` submissions
    ``jobs`` at a time (a list: per assignment, one after another): a CPU per submission at
    once, each one's memory cap plus :data:`GRADER_GB`, and its notebook budget plus
    :data:`START_S`, plus :data:`SETUP_S` per assignment."""
    memory = jobs * settings.read("COURSE_SUBMISSION_MEMORY_GB", environ) + GRADER_GB
    each = settings.read("COURSE_NOTEBOOK_TIMEOUT", environ) + START_S
    seconds = sum(math.ceil(max(1, n) / max(1, jobs)) * each + SETUP_S
                  for n in (per_shard if isinstance(per_shard, list) else [per_shard]))
    return {"cpus-per-task": str(jobs), "mem": f"{math.ceil(memory)}G",
            "time": str(math.ceil(seconds / 60))}


#: A margin for a shard job's own processes (autograde, the servers), outside any cap.
GRADER_GB = 2
#: Seconds a submission spends outside its notebook (copies, nbgrader, the checks).
START_S = 60
#: Seconds a shard job spends before its first submission (the gradebook, the release).
SETUP_S = 600


def _replace_tree(src: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)


def merge(root: Path, folders: list[Path] | None = None, drop_older: bool = False,
          ) -> list[tuple[str, str, float, float]]:
    """Bring the finished shards of each assignment's run begun last into the course;
    ``(student, assignment, score, max_score)`` each, printed. A shard not finished, or
    finished from an older release (unless ``drop_older``: left out, named): SystemExit
    naming it (merging again once it is graded brings it in, changing nothing else)."""
    root = Path(root).resolve()
    folders = [Path(f) for f in folders] if folders else sorted(
        p for p in (root / SHARDS).glob("*/*-of-*") if p.is_dir())
    gone = sorted({f.parent.name for f in folders if release_digest(root, f.parent.name)
                   is None})
    if gone:
        print(f"not read, shards of an assignment the course no longer has (no "
              f"notebooks/<name>/): {', '.join(gone)}; their folders in {SHARDS}/ are left "
              "as they are")
        folders = [f for f in folders if f.parent.name not in gone]
    if not folders:
        raise SystemExit(f"no shard folders in {root / SHARDS}: run autograde --shard first")
    folders, older = current(folders)
    if older:
        print("not read, of an older run (another shard count) of the same assignment: "
              + ", ".join(str(f) for f in older))
    done = read_done(root, folders)  # one pass: a shard finishing from now on is not read
    graded = [(folder, s, a) for folder, record in done.items() if isinstance(record, dict)
              for s, a in record["graded"] if a == folder.parent.name
              and (folder / "autograded" / s / a).is_dir()]
    missing = sorted({a for _, _, a in graded if not in_gradebook(a, root)})
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
    # a shard begun again while it was copied: its files may be half of each run
    again = {f for f, record in read_done(root, list(done)).items() if record != done[f]
             and isinstance(done[f], dict)}
    problems = [*unfinished(root, folders, done),
                *(f"{f.parent.name} shard {f.name.replace('-of-', '/')}: began again while "
                  "it was merged, merge again once it finishes" for f in sorted(again))]
    dropped = [p for p in problems if drop_older and (OLDER in p or UNKNOWN in p)]
    problems = [p for p in problems if p not in dropped]
    if dropped:
        print("left out (--drop-older), their students keep the grades they had, marked "
              "STALE in grades.csv and the report:\n  " + "\n  ".join(dropped))
    for student, assignment, score, max_score in merged:
        print(f"{student:<20} {assignment:<32} {score:5.1f}/{max_score:<5.1f}")
    if problems:
        older = any(OLDER in p or UNKNOWN in p for p in problems)
        raise SystemExit(
            f"merged {len(merged)} submission(s) of the finished shards; not merged:\n  "
            + "\n  ".join(problems) + "\ngrade these shards again, then merge again:\n  "
            + _again(problems) + ("\n(or leave out the shards from an older release: "
                                  "make merge-shards DROP_OLDER=1)" if older else ""))
    return merged


def main(argv: list[str] | None = None) -> None:
    """``python -m instructor.workflow.shards limits --assignment A[,B] --shards N --jobs J``:
    one shard job's scheduler limits, as options (deploy/slurm/submit.sh)."""
    parser = argparse.ArgumentParser(prog="python -m instructor.workflow.shards")
    parser.add_argument("what", choices=["limits"])
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--shards", type=int, required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--per-shard", type=int, default=None,
                        help="submissions of a job, of each assignment (default: the "
                             "largest shard's)")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    per_shard = []
    for assignment in (a.strip() for a in args.assignment.split(",") if a.strip()):
        sizes = Counter(shard_of(s, args.shards) for s in submissions(args.root, assignment))
        per_shard.append(args.per_shard or max(sizes.values(), default=1))
    limits = job_limits(per_shard, args.jobs)
    print(" ".join(f"--{k}={v}" for k, v in limits.items()))


if __name__ == "__main__":
    main()
