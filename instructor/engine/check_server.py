"""Checking processes forked from a sandboxed server that has imported TensorFlow once.

Every graded notebook starts a checking process (:mod:`instructor.engine.checking`), and
each one imported TensorFlow, Keras and the course's checks before it could check
anything: 3 to 5 CPU-seconds a submission, on a machine whose cores the kernels need.
The checking process never runs student code, so ``instructor autograde`` starts, per
grader (``JOBS``), one server in the grading sandbox (bubblewrap, the view, caps and
environment of a checking process), which imports those modules once and then, per
submission, forks a fresh checking process. A server serves one submission at a time;
between two, it kills every process left in its sandbox (``kill(-1)``) and empties the
folders its processes may write (its own, ``/tmp``, ``/dev/shm``), so a checking process
starts as a spawned one would, bar the modules already imported. The server is not
dumpable (``PR_SET_DUMPABLE``): a process of its sandbox can neither trace it nor read
its memory. Requests come over a unix socket that the grader made outside the sandbox
and handed to the server as an open descriptor: nothing in the sandbox can reach its
path.

What a checking process receives from student code is data (the answer process's
replies, :mod:`instructor.engine.remote`), which it parses and never runs. A checking
process taken over through such data could, as before, forge its own submission's
verdicts; it could also end its server, whose next submissions then spawn their
checking processes as plain ``nbgrader autograde`` does (:data:`SERVER`), or leave
SysV IPC objects (not emptied) behind for the next.

The grader side (:class:`Forked`) offers the part of :class:`subprocess.Popen` that
:class:`instructor.engine.outside.OutsideCheck` uses. Which server a grading uses is
in the environment of its ``nbgrader autograde`` process (:data:`SERVER`), set by
:func:`lease` while :func:`running` servers are up.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

#: The environment variable naming the server's socket that a grading's checking process
#: is forked from (unset: it is spawned). Not a course setting: set by :func:`lease`.
SERVER = "INSTRUCTOR_CHECK_SERVER"
#: What the server imports once: what the graded notebooks' setup cells import
#: (``helpers.setup`` and the lines after it) and the checks; not matplotlib, which
#: makes a temporary folder when imported here. A module that is not installed is left
#: out.
PRELOAD = ("tensorflow", "keras", "numpy", "sklearn",
           "sklearn.linear_model", "sklearn.neighbors", "tensorflow_probability",
           "helpers", "helpers.datasets", "helpers.grading.model_checks",
           "helpers.grading.probes", "helpers.grading.vae_checks",
           "instructor.engine.wire", "instructor.engine.remote",
           "instructor.engine.checking")
_PR_SET_DUMPABLE = 4


# ---------------------------------------------------------------- in the sandbox
def preload() -> None:
    from helpers.session import import_quietly

    for name in PRELOAD:
        try:
            import_quietly(name)
        except ImportError:
            pass


def serve(listen: socket.socket, folder: str) -> None:
    """Fork one checking process per connection, one at a time, for ever."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    preload()
    while True:
        conn, _ = listen.accept()
        with conn:
            conn.settimeout(30)
            status = _serve_one(conn, listen, folder)
            if status is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(f"{status}\n".encode())


def _serve_one(conn: socket.socket, listen: socket.socket, folder: str) -> int | None:
    """Fork the checking process the grader asks for; its exit status once it ended and
    the sandbox is clean. The grader reads ``forked`` first, or ``refused`` (then it
    spawns one)."""
    fds: list[int] = []
    try:
        message, fds, _flags, _address = socket.recv_fds(conn, 4096, 5)
        if len(fds) != 5 or message != b"fork":
            raise ValueError("not a request")
        work = os.path.join(folder, "check")
        os.makedirs(os.path.join(work, ".tmp"), exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
    except (OSError, ValueError):
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            conn.sendall(b"refused\n")
        return None
    if pid == 0:
        _child(fds, work, (listen, conn))
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):
        conn.sendall(b"forked\n")
    status = _wait(pid, conn)
    _clean(folder)
    return status


def _child(fds: list[int], work: str, sockets) -> None:
    """In the forked process: become the checking process of one submission. Its
    environment is the first line on its standard input (the server never reads it:
    it holds the submission's hidden-test key)."""
    code = 1
    try:
        for sock in sockets:
            sock.close()
        stdin, stdout, verdicts, requests, replies = fds
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stdout, 2)
        os.close(stdin)
        os.close(stdout)
        os.chdir(work)
        given = json.loads(sys.stdin.readline() or "{}")
        env = {str(k): str(v) for k, v in dict(given).items()}
        env.update(TMPDIR=os.path.join(work, ".tmp"), IPYTHONDIR=os.path.join(work, ".ipython"),
                   PYTHONDONTWRITEBYTECODE="1")
        os.environ.clear()
        os.environ.update(env)
        tempfile.tempdir = None  # the server's TMPDIR was read when it imported
        from instructor.engine import checking

        sys.argv = [checking.__file__, str(verdicts), str(requests), str(replies)]
        checking.main()
        code = 0
    except SystemExit as end:
        code = end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported on its output, as a spawned one would
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, conn: socket.socket) -> int:
    """The checking process's exit status; it is killed when the grader hangs up (or
    sends anything)."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if select.select([conn], [], [], 0.05)[0]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _clean(folder: str) -> None:
    """Kill every process left in the sandbox but this one (PID 1), reap them, and
    empty the folders a checking process may write; stop if one stays."""
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
            raise SystemExit("check server: processes left in its sandbox would not end")
        time.sleep(0.01)
    for place in (folder, "/tmp", "/dev/shm"):
        if _empty(place, keep=folder if place != folder else None):
            raise SystemExit(f"check server: {place} could not be emptied; stopping")


def _empty(place: str, keep: str | None) -> list[str]:
    """Remove what ``place`` holds but the folders on the way to ``keep`` (the server's
    own folder, bound inside ``/tmp``); what is left that should not be."""
    left = []
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(place):
            path = os.path.join(place, name)
            if keep and (keep == path or keep.startswith(path + os.sep)):
                left += [] if keep == path else _empty(path, keep)
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            if os.path.lexists(path):
                left.append(path)
    return left


# ---------------------------------------------------------------- the grader's side
class Forked:
    """A checking process forked by the server at ``path``: ``stdin``, ``poll``,
    ``kill``, ``wait`` and ``communicate`` as :class:`subprocess.Popen` has them.
    Raises :class:`OSError` when the server does not fork it (gone, refusing, or not
    answering within ``patience`` seconds): the caller then spawns one."""

    def __init__(self, path: str, env: dict[str, str], verdicts: int, requests: int,
                 replies: int, patience: float = 120.0):
        self.args, self.returncode, self._killed = [path], None, False
        self._conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        try:
            self._conn.settimeout(patience)
            self._conn.connect(path)
            socket.send_fds(self._conn, [b"fork"],
                            [stdin_r, stdout_w, verdicts, requests, replies])
            if self._line() != b"forked":
                raise ConnectionRefusedError(f"the check server at {path} did not fork")
        except (OSError, ValueError) as err:
            for fd in (stdin_w, stdout_r):
                os.close(fd)
            self._conn.close()
            raise OSError(str(err)) from err
        finally:
            os.close(stdin_r)
            os.close(stdout_w)
        self.stdin = open(stdin_w, "w")  # noqa: SIM115 - closed by communicate
        self.stdin.write(json.dumps(env) + "\n")  # the child's environment, first
        self.stdin.flush()
        self._stdout = open(stdout_r, errors="replace")  # noqa: SIM115
        self._out: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _line(self) -> bytes:
        data = b""
        while not data.endswith(b"\n"):
            chunk = self._conn.recv(64)
            if not chunk:
                break
            data += chunk
        return data.strip()

    def _read(self) -> None:
        with self._stdout:
            self._out.append(self._stdout.read())

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            # once killed, the server answers at once; one that does not is given up on
            self._conn.settimeout(60 if self._killed and timeout is None else timeout)
            try:
                data = self._line()
            except TimeoutError:
                if not self._killed:
                    raise subprocess.TimeoutExpired(self.args, timeout) from None
                data = b""
            except OSError:
                data = b""
            self.returncode = int(data) if data.lstrip(b"-").isdigit() else -9
            self._conn.close()
        return self.returncode

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._conn], [], [], 0)[0]:
            self.wait()
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            self._killed = True
            with contextlib.suppress(OSError):
                self._conn.shutdown(socket.SHUT_WR)  # the server kills it

    def _send(self, text: str | None) -> None:
        with contextlib.suppress(OSError, ValueError):
            if text:
                self.stdin.write(text)
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()

    def communicate(self, input: str | None = None, timeout: float | None = None):
        if not self.stdin.closed:  # written aside, so that a full pipe cannot outlast timeout
            threading.Thread(target=self._send, args=(input,), daemon=True).start()
        start = time.monotonic()
        self.wait(timeout)
        self._reader.join(None if timeout is None
                          else max(1.0, timeout - (time.monotonic() - start)))
        return "".join(self._out), None


_free: queue.Queue | None = None


@contextlib.contextmanager
def lease(env: dict[str, str]):
    """``env`` naming a free server, held until the block ends (unchanged when no server
    runs)."""
    free = _free
    if free is None:
        yield env
        return
    path = free.get()
    try:
        yield {**env, SERVER: path}
    finally:
        free.put(path)


@contextlib.contextmanager
def running(count: int, folder, env: dict[str, str]):
    """``count`` servers, each in its own sandbox, for the block (:func:`lease`); none
    when grading is not sandboxed by bubblewrap."""
    global _free
    from instructor.engine import limits

    caps = limits.safe_execute(env)
    if caps["isolation"] != "bubblewrap" or _free is not None or count < 1:
        yield
        return
    readable = [*limits.readable_paths(env), *limits.package_dirs("instructor")]
    try:
        servers = _start(count, folder, env, caps, readable)
    except OSError as err:  # e.g. a socket path too long: grade with spawned ones
        print(f"warning: no check server ({err}); checking processes are spawned",
              file=sys.stderr)
        yield
        return
    free = queue.Queue()
    for path, _server in servers:
        free.put(path)
    _free = free
    try:
        yield
    finally:
        _free = None
        for _path, server in servers:
            server.kill()
            server.wait()


def _start(count: int, folder, env: dict[str, str], caps: dict, readable: list[str],
           ) -> list[tuple[str, subprocess.Popen]]:
    """Start ``count`` servers; (socket path, process) each."""
    from helpers.grading.hidden import KEY_VARIABLE
    from instructor.engine.kernel import KEPT_ENV, sandbox_command, sandbox_env
    from instructor.engine.sandbox import allowed_env

    base = {k: v for k, v in allowed_env(env, KEPT_ENV).items()
            if k not in (KEY_VARIABLE, "COURSE_HIDDEN_SECRET_FILE")}
    servers: list[tuple[str, subprocess.Popen]] = []
    try:
        for i in range(count):
            work = os.path.join(str(folder), f"check-server-{i}")
            os.makedirs(work, exist_ok=True)
            path = os.path.join(str(folder), f"check-server-{i}.sock")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listen:
                listen.bind(path)
                listen.listen(4)
                command = sandbox_command(
                    [sys.executable, __file__, str(listen.fileno()), work], work, readable,
                    float(caps["memory_limit_gb"]), isolation="bubblewrap",
                    file_mb=float(caps.get("file_limit_mb", 0)),
                    cpu_seconds=float(caps.get("cpu_limit_seconds", 0)),
                    processes=int(caps.get("process_limit", 0)), server=True)
                with open(f"{work}.log", "ab") as log:  # outside its view
                    servers.append((path, subprocess.Popen(
                        command, cwd=work, env=sandbox_env(work, base),
                        pass_fds=(listen.fileno(),), stdin=subprocess.DEVNULL,
                        stdout=log, stderr=subprocess.STDOUT)))
            # closed here: the server's alone, so when it ends, connecting fails at once
    except OSError:
        for _path, server in servers:
            server.kill()
            server.wait()
        raise
    return servers


if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if p != os.path.dirname(os.path.abspath(__file__))]
    serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2])
