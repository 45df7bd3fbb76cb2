"""The limits a graded notebook runs under (nbgrader_config.py); their defaults, and the
reasons for them, are declared in :mod:`helpers.settings`."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from helpers import settings
from helpers.pretrained import weights_dir
from instructor import ROOT
from instructor.engine.answer.protocol import MAX_JSON_VALUES, FrameTooLarge, parse
from instructor.engine.outcomes import CELL_TOO_LARGE

Environ = Mapping[str, str] | None

#: ``SafeExecute``'s traits that a setting gives (nbgrader_config.py), and the settings:
#: the sandbox's limits (:data:`helpers.settings.LIMITS`) and its isolation.
SAFE_EXECUTE = {**{limit.name: limit.setting for limit in settings.LIMITS},
                "isolation": "COURSE_GRADING_ISOLATION"}


def safe_execute(environ: Environ = None) -> dict[str, settings.Value]:
    """The values of :data:`SAFE_EXECUTE`'s traits, read from ``environ``."""
    return {trait: settings.read(name, environ) for trait, name in SAFE_EXECUTE.items()}


# ------------------------------------------------------------------ bounded input
# What a student sends reaches the grader's unsandboxed processes: each is checked for
# size before it is parsed, unpacked or kept.
MIB = 2 ** 20


def submission_limit(environ: Environ = None) -> int:
    """The largest notebook file the grader reads, in bytes (``COURSE_SUBMISSION_MB``)."""
    return int(settings.number("COURSE_SUBMISSION_MB", environ) * MIB)


def notebook_too_large(name: str, size: int, cap: int) -> str:
    """The note on a notebook file over ``COURSE_SUBMISSION_MB``, which is not read."""
    return (f"{name} has {size / MIB:.1f} MiB, over the grader's limit of {cap / MIB:g} MiB "
            "for a notebook (COURSE_SUBMISSION_MB); it was not read and scores 0. Clear the "
            "outputs (Edit > Clear Outputs of All Cells), save, and resubmit.")


def submission_total_limit(environ: Environ = None) -> int:
    """Bytes ``collect`` keeps of one student's files in all."""
    return int(settings.number("COURSE_SUBMISSION_TOTAL_MB", environ) * MIB)


def submission_file_count(environ: Environ = None) -> int:
    """How many files ``collect`` keeps of one student (``COURSE_SUBMISSION_FILES``)."""
    return settings.integer("COURSE_SUBMISSION_FILES", environ)


class NotebookUnread(ValueError):
    """A student's notebook file the grader did not read; the message is the note."""


def read_notebook(path: Path, environ: Environ = None) -> dict:
    """A student's notebook's JSON, read and parsed within bounds; else :class:`NotebookUnread`."""
    path = Path(path)
    cap = submission_limit(environ)
    try:
        with path.open("rb") as f:
            raw = f.read(cap + 1)
    except OSError as err:
        raise NotebookUnread(_unreadable(path.name, type(err).__name__)) from None
    if len(raw) > cap:
        raise NotebookUnread(notebook_too_large(path.name, path.stat().st_size, cap))
    try:
        data = parse(raw, MAX_JSON_VALUES)[0]
    except FrameTooLarge as err:
        raise NotebookUnread(
            f"{path.name} holds {err} (its metadata or outputs, most likely), over the "
            "grader's limit; it was not read and scores 0. Clear the outputs, remove the "
            "metadata you added, save, and resubmit.") from None
    except ValueError as err:
        raise NotebookUnread(_unreadable(path.name, err)) from None
    if not isinstance(data, dict):
        raise NotebookUnread(_unreadable(path.name, "the file is JSON but not a notebook"))
    return data


def _unreadable(name: str, why) -> str:
    return (f"{name} could not be read as a notebook ({why}); it scores 0. Was the file "
            "truncated or edited outside Jupyter? Download it again from Jupyter (File > "
            "Download) and resubmit.")


def text_size(value) -> int:
    """The bytes of the text in a JSON-like value, without serialising it."""
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, dict):
        return sum(text_size(k) + text_size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(text_size(v) for v in value)
    return 8


def refuse_large_sources(cells, limit_kb: int) -> list[tuple[dict, str]]:
    """Replace the source of every cell over ``limit_kb`` KiB before anything
    parses it (a code cell then fails with :data:`CELL_TOO_LARGE`); each such cell and a note."""
    notes = []
    for position, cell in enumerate(cells):
        if not isinstance(cell, dict):
            continue
        size = text_size(cell.get("source", ""))
        if size <= limit_kb * 1024:
            continue
        if cell.get("cell_type") == "code":  # the cell fails, saying why
            message = (f"this cell has {size:,} bytes of code, over the grader's limit of "
                       f"{limit_kb} KiB (COURSE_CELL_SOURCE_KB): it was not run")
            cell["source"] = (f"class {CELL_TOO_LARGE}(Exception):\n    pass\n\n\n"
                              f"raise {CELL_TOO_LARGE}({message!r})\n")
            what = "was not run and fails (if it was an answer, its tests score 0)"
        else:
            cell["source"] = (f"*(this cell had {size:,} bytes, over the grader's limit "
                              f"of {limit_kb} KiB: dropped)*")
            what = "was dropped"
        notes.append((cell, f"Cell {position + 1} has {size:,} bytes, over the grader's "
                            f"limit of {limit_kb} KiB for one cell (COURSE_CELL_SOURCE_KB); "
                            f"it {what}."))
    return notes


def drop_large_outputs(cells, limit_mb: float) -> list[str]:
    """Drop stored outputs over ``limit_mb`` MiB (grading clears them anyway); notes."""
    notes = []
    for position, cell in enumerate(cells):
        if not isinstance(cell, dict) or not isinstance(cell.get("outputs"), list):
            continue
        size = text_size(cell["outputs"])
        if size > limit_mb * MIB:
            cell["outputs"] = []
            notes.append(f"The stored outputs of cell {position + 1} ({size / MIB:.1f} MiB) "
                         f"are over the grader's limit of {limit_mb:g} MiB per cell "
                         "(COURSE_CELL_OUTPUT_MB); they were dropped before grading.")
    return notes


#: The course's ``helpers`` a sandboxed process imports, on its ``PYTHONPATH``, never installed.
HELPERS = str(ROOT / "helpers")


#: What of ``/etc`` a sandboxed process sees: the loader, users' names, time zone, fonts.
#: Not the rest (a root-owned secret there would be readable in a sandbox of root's).
ETC = tuple(f"/etc/{name}" for name in (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf",
    "localtime", "timezone", "hosts", "host.conf", "fonts", "alternatives", "mime.types",
    "matplotlibrc", "os-release", "debian_version"))


def readable_paths(environ: Environ = None) -> list[str]:
    """What a sandboxed process may read besides its own folder (docs/grading.md)."""
    env = os.environ if environ is None else environ
    home = Path.home()
    data = settings.path("COURSE_DATA_DIR", env)
    candidates = [
        "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", *ETC, sys.prefix,
        sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
        HELPERS,
        str(data or ""),
        str(weights_dir(env)),
        env.get("KERAS_HOME", "") or str(home / ".keras"),
        str(home / ".cache" / "matplotlib"), str(home / ".config" / "matplotlib"),
    ]
    seen = list(dict.fromkeys(os.path.realpath(p) for p in candidates
                              if p and os.path.exists(p)))
    # a top-level link (/lib -> usr/lib) stays a link in the sandbox's view; a path
    # reached through another link (a course folder's .venv) is seen at that path too
    return [*seen, *(p for p in map(os.path.abspath, filter(None, candidates))
                     if os.path.exists(p) and p not in seen)]
