"""Touching what a sandbox could write, from outside it (docs/grading.md, "What the grader
touches"): a sandboxed process may make any name there a link at any moment, and the
grader is often root, so each name is looked up from a folder's descriptor with
``O_NOFOLLOW``.
"""

from __future__ import annotations

import os

#: Flags of a directory opened on the way: never through a link, never a device.
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_folder(base: str | os.PathLike, relative: str) -> int:
    """A descriptor of the folder ``relative`` under ``base`` (``base`` itself is the
    grader's, made by it), each part opened with ``O_NOFOLLOW``: a link on the way
    raises ``OSError`` (``ELOOP`` or ``ENOTDIR``) instead of being followed."""
    fd = os.open(base, _DIRECTORY)
    try:
        for part in [p for p in relative.split(os.sep) if p not in ("", ".")]:
            if part == "..":
                raise OSError(f"{relative!r} leaves {base}")
            inner = os.open(part, _DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove(base: str | os.PathLike, relative: str) -> bool:
    """Remove ``relative`` under ``base`` (a link itself); a link on the way removes nothing."""
    folder, name = os.path.split(relative)
    try:
        fd = open_folder(base, folder)
    except OSError:
        return False
    try:
        os.unlink(name, dir_fd=fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)

