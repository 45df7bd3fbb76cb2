"""Checking processes forked from a sandboxed server that has imported the checks once,
TensorFlow too when a task graded names it.

Importing TensorFlow, Keras and the checks costs each checking process 3 to 5
CPU-seconds; how the server runs and is walled is docs/grading.md, "The check server",
the forking is :mod:`instructor.engine.forking`'s. A grading finds its server in its
environment (:data:`SERVER`, set by :func:`lease`). A checking process taken over
through what student code sends could, as a spawned one could, forge its own
submission's verdicts; it could also end its server (the next submissions then spawn
their checking processes) or leave SysV IPC objects for the next.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import tempfile
import time

from instructor.engine import forking
from instructor.engine.answer import protocol

#: The environment variable naming the server's socket that a grading's checking process
#: is forked from (unset: it is spawned). Not a course setting: set by :func:`lease`.
SERVER = "INSTRUCTOR_CHECK_SERVER"
#: What the server imports once (if installed): what the setup cells import and the
#: checks; not matplotlib, which no check draws with. The libraries first (:func:`preload`).
LIBRARIES = ("tensorflow", "keras", "sklearn", "sklearn.linear_model", "sklearn.neighbors",
             "tensorflow_probability")
PRELOAD = (*LIBRARIES, "numpy", "helpers", "helpers.datasets",
           "helpers.grading.model_checks", "helpers.grading.probes",
           "instructor.engine.answer.wire", "instructor.engine.remote",
           "instructor.engine.checking")
#: What the test cells load (each time, to take a few images): prepared once per server.
DATASETS = ("mnist",)
_PR_SET_DUMPABLE = 4


# ---------------------------------------------------------------- in the sandbox
def preload(libraries: bool = True) -> None:
    """Import :data:`PRELOAD` and prepare :data:`DATASETS`, shared with every child; without
    ``libraries``, TensorFlow and what loads with it only where a child touches them
    (``answer/lazy.py``; 5 to 6 CPU-seconds a server saves for checks in NumPy)."""
    from helpers import datasets
    from helpers.session import import_quietly
    from instructor.engine.answer import lazy

    if not libraries:
        lazy.install()
    for name in PRELOAD if libraries else PRELOAD[len(LIBRARIES):]:
        with contextlib.suppress(ImportError):
            import_quietly(name)
    datasets.keep(*DATASETS)


def serve(listen: socket.socket, folder: str, libraries: bool = True) -> None:
    """Fork one checking process per connection, one at a time, for ever."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    preload(libraries)
    work = os.path.join(folder, "check")

    def fresh() -> None:
        _clean(folder)
        os.makedirs(os.path.join(work, ".tmp"), exist_ok=True)

    fresh()
    print("check server ready", file=sys.stderr, flush=True)
    forking.serve(listen, lambda fds: _child(fds, work), fds=5, clean=fresh)


def _child(fds: list[int], work: str) -> None:
    """In the forked process: become one submission's checking process, its environment
    (the hidden-test key too) its input's first frame, which the server never reads."""
    verdicts, requests, replies = fds
    os.chdir(work)
    given = protocol.told()
    if given is None:
        return  # the grader went away before telling it anything
    env = {str(k): str(v) for k, v in dict(given).items()}
    env.update(TMPDIR=os.path.join(work, ".tmp"), IPYTHONDIR=os.path.join(work, ".ipython"),
               PYTHONDONTWRITEBYTECODE="1")
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # the server's TMPDIR was read when it imported
    from instructor.engine import checking

    sys.argv = [checking.__file__, str(verdicts), str(requests), str(replies)]
    checking.main()


def _clean(folder: str) -> None:
    """Kill and reap every process but PID 1, empty the writable folders; stop if one stays."""
    deadline = time.monotonic() + 30
    while True:  # PID 1 of the sandbox: every process left is its child, or orphaned to it
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            break  # none left
        if time.monotonic() > deadline:
            raise SystemExit("processes left in its sandbox would not end")
        time.sleep(0.01)
    for place in (folder, "/tmp", "/dev/shm"):
        if _empty(place):
            raise SystemExit(f"{place} could not be emptied")


def _empty(place: str, device: int | None = None) -> list[str]:
    """Remove what ``place`` holds on its own file system (bwrap's binds stay: no process
    inside can mount); returns what is left that should not be."""
    device = os.lstat(place).st_dev if device is None else device
    left = []
    try:
        with os.scandir(place) as found:
            entries = [e for e in found if e.stat(follow_symlinks=False).st_dev == device]
    except OSError:
        return [place] if os.path.lexists(place) else []
    for entry in entries:  # nothing else runs: every other process was killed
        try:
            if not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
            elif inside := _empty(entry.path, device):
                left += inside
            else:
                with contextlib.suppress(OSError):  # not empty: a mount point is in it
                    os.rmdir(entry.path)
        except OSError:
            left.append(entry.path)
    return left


# ---------------------------------------------------------------- the grader's side
POOL = forking.Pool("check server", "checking processes are spawned")


@contextlib.contextmanager
def lease(env: dict[str, str]):
    """``env`` naming a free server while the block runs (unchanged when none runs)."""
    with POOL.lease() as path:
        yield env if path is None else {**env, SERVER: path}


def running(count: int, folder, env: dict[str, str], libraries: bool = True):
    """``count`` servers, each in its own sandbox, for the block; none without bubblewrap.
    ``libraries=False`` when no check graded names TensorFlow (:func:`preload`)."""
    from instructor.engine import roles

    box = roles.Box.from_settings(env)

    def command(fd: int, work: str) -> tuple[list[str], dict]:
        os.makedirs(work, exist_ok=True)
        argv, environment = roles.launch(roles.SERVER, [
            sys.executable, __file__, str(fd), work, *([] if libraries else ["lazy"])],
            work, box)
        return argv, {"cwd": work, "env": environment}

    return POOL.running(count if box.isolation == "bubblewrap" else 0, folder, command)


if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if p != os.path.dirname(os.path.abspath(__file__))]
    forking.run(POOL.name, lambda: serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2],
                                         libraries=sys.argv[3:] != ["lazy"]))
