"""Hidden tests stay unguessable: per-submission inputs, and outputs withheld.

Two halves, both used by :class:`instructor.engine.execute.SafeExecute`:

- **The key.** The grader's secret (a file no sandbox can read) never enters a
  sandbox. For each submission the grader derives a key from it, the student's id and
  the submission's timestamp (:func:`helpers.grading.hidden.submission_key`) and puts
  only that key into the environment of the checking process, which alone runs the
  hidden tests; ``helpers.hidden_rng(name)`` draws their inputs from it. The kernel
  runs only the visible part of a test cell and gets no key.
- **Withholding.** The answer process is called with the hidden inputs, and the kernel
  runs the visible tests: what a test cell with hidden tests printed or displayed is
  dropped from the graded notebook (so from the feedback) and replaced by one note; an
  error keeps its message only if the message is the course's own: a string constant
  of the test cell or of the released notebook (the tests' ``assert ..., "..."``, the
  stub's message), or an error raised by the test cell's own code or the course's
  ``helpers`` (an ``mc.expect_*`` check, a dataset that is missing) with no frame of the
  student's code on the way.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
import secrets
import sys
import tempfile
from pathlib import Path

from instructor.engine.cells import BEGIN_HIDDEN

#: The secret's file in the course folder when ``COURSE_HIDDEN_SECRET_FILE`` is unset.
DEFAULT_SECRET_FILE = ".grader-secret"

#: What a hidden test cell shows in place of what ran during it printed or displayed.
WITHHELD_NOTE = ("[output withheld: what ran during this hidden test printed or displayed "
                 "is not shown, as it could show the hidden tests' inputs]\n")
#: The message of an error in a hidden test cell that did not come from the course.
WITHHELD_MESSAGE = ("a hidden test failed; the message is withheld, as it did not come from "
                    "the test's own checks (it could show the hidden tests' inputs)")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_FRAME = re.compile(r"Cell\s+In\s*\[(\d+)\]")
_FILE_FRAME = re.compile(r"File\s+(/[^\n:]+?):\d+")
_ERRNO = re.compile(r"\[Errno (\d+)\] (.*)")


def read_secret(path: str | os.PathLike, create: bool = True) -> bytes:
    """The grader's secret in ``path``; a new random one is written there (readable by
    its owner only) if the file does not exist and ``create``."""
    path = Path(path)
    if not path.exists() and create:
        # written whole, then linked into place: graders started at once (JOBS=2) all
        # read the one secret that was linked first
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_hex(32) + "\n")
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    secret = path.read_bytes().strip()
    if not secret:
        raise ValueError(f"the grader's secret file {path} is empty")
    return secret


def submission_stamp(folder: str | os.PathLike) -> str:
    """The submission's timestamp (nbgrader's ``timestamp.txt`` beside it), or ''."""
    stamp = Path(folder) / "timestamp.txt"
    try:
        return stamp.read_text().strip()
    except OSError:
        return ""


def has_hidden_tests(cell) -> bool:
    return cell.get("cell_type") == "code" and BEGIN_HIDDEN in cell.get("source", "")


def hidden_lines(source: str) -> set[int]:
    """The lines (1-based) of ``source`` in its hidden-test regions, delimiters included."""
    lines, inside = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        if BEGIN_HIDDEN in line:
            inside = True
        if inside:
            lines.add(number)
        if "END HIDDEN TESTS" in line:
            inside = False
    return lines


def string_constants(sources) -> set[str]:
    """Every string constant in ``sources`` (code that does not parse gives none)."""
    found: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        # an f-string's literal parts are not messages on their own
        parts = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                 for part in node.values}
        found |= {node.value.strip() for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in parts}
    found.discard("")
    return found


def course_dirs() -> list[str]:
    """Folders whose code raises the course's own messages: ``helpers`` and Python's
    and the environment's libraries (never the kernel's scratch folder)."""
    import helpers

    dirs = {os.path.realpath(d) for d in helpers.__path__}
    dirs |= {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}
    return sorted(dirs)


def raised_by_course(traceback: list[str], dirs: list[str]) -> bool:
    """Whether an error's ``traceback`` shows it raised by the test cell itself (its
    first frame, ``Cell In[n]``) or by code in ``dirs`` called from it, with no frame of
    another cell or file on the way."""
    text = _ANSI.sub("", "\n".join(traceback))
    cells = [int(n) for n in _CELL_FRAME.findall(text)]
    if not cells or any(n != cells[0] for n in cells):
        return False
    for path in _FILE_FRAME.findall(text):
        real = os.path.realpath(path.strip())
        if not any(real == d or real.startswith(d + os.sep) for d in dirs):
            return False
    return True


def _system_message(evalue: str) -> bool:
    """An operating-system error's own words (``[Errno 27] File too large``)."""
    match = _ERRNO.fullmatch(evalue.strip())
    return bool(match) and os.strerror(int(match.group(1))) == match.group(2)


def withhold(cell, trusted: set[str], dirs: list[str]) -> bool:
    """Drop what a hidden test cell printed or displayed (one note instead) and withhold
    an error's message unless it is the course's own; whether anything was withheld."""
    kept, dropped = [], False
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind != "error":
            dropped = True
            continue
        ename, evalue = str(output.get("ename", "")), str(output.get("evalue", ""))
        own = (evalue.strip() in trusted or _system_message(evalue)
               or raised_by_course(output.get("traceback", []), dirs))
        if not own:
            if not (ename.isidentifier() and isinstance(getattr(builtins, ename, None), type)):
                ename = "Exception"
            output["ename"], output["evalue"] = ename, WITHHELD_MESSAGE
            dropped = True
        output["traceback"] = [f"\x1b[0;31m{output['ename']}\x1b[0m: {output['evalue']}"]
        kept.append(output)
    if dropped:
        import nbformat

        kept.insert(0, nbformat.v4.new_output("stream", name="stdout", text=WITHHELD_NOTE))
    cell["outputs"] = kept
    return dropped


def snapshot(folder: str | os.PathLike, skip: str = "") -> dict[str, tuple[int, int]]:
    """Every regular file under ``folder`` (not under ``skip``): size and mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) != skip]
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            found[path] = (info.st_size, info.st_mtime_ns)
    return found


def undo_writes(folder: str | os.PathLike, before: dict, source: str | os.PathLike,
                skip: str = "") -> list[str]:
    """Files written under ``folder`` since ``before`` (:func:`snapshot`): a new one is
    removed, a changed one is copied again from ``source`` (the assignment's folder)
    or removed; the paths undone."""
    import shutil

    undone = []
    for path, state in snapshot(folder, skip).items():
        if before.get(path) == state:
            continue
        original = Path(source) / os.path.relpath(path, folder)
        try:
            os.remove(path)
            if path in before and original.is_file():
                shutil.copy2(original, path)
        except OSError:
            continue
        undone.append(path)
    return undone
