"""Servers that fork, per request, a child from a process that has imported its modules
once (:mod:`instructor.engine.check_server`, :mod:`instructor.workflow.nbgrader_server`):
the server's loop, the requester's :class:`subprocess.Popen`-like handle, and the pool.

The requester sends ``fork`` with the child's descriptors over a unix socket; the server
answers ``forked`` (or ``refused``: the requester then spawns the process itself), kills
the child's process group when the requester hangs up, and sends its exit status. The
child's work is the first frame of its standard input, which the server never reads.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable

from instructor.engine.answer import protocol
from instructor.engine.sandbox import die_with_parent


# ---------------------------------------------------------------- the server's side
def run(name: str, body: Callable[[], None]) -> None:
    """A server's life: ``body``, then why it stopped as its log's last line."""
    faulthandler.enable()
    try:
        body()
        reason = "it returned"
    except SystemExit as end:
        reason = str(end.code)
    except BaseException as err:  # noqa: BLE001 - said, then the server ends
        traceback.print_exc()
        reason = f"{type(err).__name__}: {err}"
    print(f"{name} stopped: {reason}", file=sys.stderr, flush=True)
    sys.exit(1)


def serve(listen: socket.socket, child: Callable[[list[int]], None], fds: int = 2,
          clean: Callable[[], None] = lambda: None) -> None:
    """Fork one child per connection, one at a time, for ever: ``child(extra)`` with
    its standard streams in place and ``extra`` the other descriptors; its exit status is
    its :class:`SystemExit`'s. ``clean`` runs after each child."""
    while True:
        conn, _ = listen.accept()
        with conn:
            conn.settimeout(30)
            status = _serve_one(conn, listen, child, fds)
            clean()
            if status is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(f"{status}\n".encode())


def _serve_one(conn: socket.socket, listen: socket.socket, child, count: int) -> int | None:
    """Fork the requested child; its exit status, or None if it was refused."""
    fds: list[int] = []
    try:
        message, fds, _flags, _address = socket.recv_fds(conn, 4096, count)
        if len(fds) != count or message != b"fork":
            raise ValueError("not a request")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
    except (OSError, ValueError) as err:
        print(f"refused a request: {err}", file=sys.stderr, flush=True)
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            conn.sendall(b"refused\n")
        return None
    if pid == 0:
        _become(child, fds, (listen, conn))
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # as the child does: whichever runs first
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):
        conn.sendall(b"forked\n")
    status = _wait(pid, conn)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)  # what it started in its own group ends with it
    return status


def _become(child, fds: list[int], sockets) -> None:
    """In the forked process: sockets closed, streams in place, ``child`` run."""
    code = 1
    try:
        faulthandler.disable()  # the server's: a child reports as a spawned one would
        os.setpgid(0, 0)
        die_with_parent()  # ends with its server
        for sock in sockets:
            sock.close()
        stdin, stdout, *extra = fds
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stdout, 2)
        os.close(stdin)
        os.close(stdout)
        child(extra)
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
    """The child's exit status; its group is killed when the requester hangs up."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if select.select([conn], [], [], 0.05)[0]:
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(pid, signal.SIGKILL)
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


# ---------------------------------------------------------------- the requester's side
class Forked:
    """A child forked by the server at ``path``, told ``request`` and handed ``fds``,
    with :class:`subprocess.Popen`'s methods; :class:`OSError` if not forked within
    ``patience`` seconds (the caller then spawns it)."""

    def __init__(self, path: str, request: dict, fds: list[int] | tuple = (),
                 patience: float = 120.0):
        self.args, self.returncode, self._killed = [path], None, False
        self._said = b""  # what the server sent that no line has taken yet
        self._conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stdin_r, stdin_w = os.pipe()
        # its output into a file, not a pipe: a process it leaves behind that still held
        # a pipe would keep its reader waiting
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 - closed with this object
        answer = b""
        try:
            self._conn.settimeout(patience)
            self._conn.connect(path)
            socket.send_fds(self._conn, [b"fork"], [stdin_r, self._out.fileno(), *fds])
            answer = self._line()
            if answer != b"forked":
                raise ConnectionRefusedError(f"the server at {path} did not fork")
        except (OSError, ValueError) as err:
            os.close(stdin_w)
            self._out.close()
            self._conn.close()
            gone = not isinstance(err, TimeoutError) and answer != b"refused"
            raise OSError(f"{err}{said(path, wait=2.0 if gone else 0.0)}") from err
        finally:
            os.close(stdin_r)
        self.stdin = open(stdin_w, "wb", buffering=0)  # noqa: SIM115 - closed by communicate
        with contextlib.suppress(OSError):  # a child gone at once: its status says why
            protocol.write_frame(stdin_w, request)  # what the child is to do

    def _line(self) -> bytes:
        """The server's next line; one read may have brought two (a child ended at once)."""
        while b"\n" not in self._said and (chunk := self._conn.recv(64)):
            self._said += chunk
        line, _, self._said = self._said.partition(b"\n")
        return line.strip()

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
        if self.returncode is None and (b"\n" in self._said
                                        or select.select([self._conn], [], [], 0)[0]):
            self.wait()
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            self._killed = True
            with contextlib.suppress(OSError):
                self._conn.shutdown(socket.SHUT_WR)  # the server kills it

    def _send(self, data: bytes | None) -> None:
        with contextlib.suppress(OSError, ValueError):
            if data:
                protocol.write_all(self.stdin.fileno(), data)
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()

    def communicate(self, input: bytes | None = None, timeout: float | None = None):
        if not self.stdin.closed:  # written aside, so that a full pipe cannot outlast timeout
            threading.Thread(target=self._send, args=(input,), daemon=True).start()
        self.wait(timeout)
        return tail(self._out), None


#: What the grader reads of a child's output, from its end: its last line says why it failed.
TAIL_BYTES = 2 ** 20


def tail(out, size: int = TAIL_BYTES) -> str:
    """The last ``size`` bytes of a child's output file, never all of it in memory."""
    out.seek(0, os.SEEK_END)
    out.seek(max(0, out.tell() - size))
    return out.read().decode("utf-8", "replace")


#: How the grader's own lines in a server's log begin: ``grader: <name> started`` when it
#: starts it, ``grader: <name> ended: <exit status>`` when the server ends unasked.
GRADER, STARTED, ENDED = "grader: ", " started", " ended: "


def said(path: str, wait: float = 0.0) -> str:
    """The last three lines of the log of the server at ``path``, as ``; its log ...
    ends: ...``; a server gone is waited for up to ``wait`` seconds to say how it ended."""
    log = path.removesuffix(".sock") + ".log"
    deadline = time.monotonic() + wait
    while True:
        try:
            with open(log, "rb") as f:
                lines = [line.strip() for line in tail(f, 8192).splitlines() if line.strip()]
        except OSError:
            return ""
        starts = [i for i, line in enumerate(lines)
                  if line.startswith(GRADER) and line.endswith(STARTED)]
        lines = lines[starts[-1] + 1:] if starts else lines
        ended = lines and lines[-1].startswith(GRADER) and ENDED in lines[-1]
        if ended or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return f"; its log ({log}) ends: " + " | ".join(line[:300] for line in lines[-3:]) \
        if lines else f"; its log ({log}) says nothing"


# ---------------------------------------------------------------- the grading run's pool
class Pool:
    """Servers of one kind, started for a block and leased one per request (:meth:`lease`)."""

    def __init__(self, name: str, fallback: str):
        self.name, self.fallback = name, fallback
        self._free: queue.Queue | None = None

    @contextlib.contextmanager
    def running(self, count: int, folder, command: Callable[[int, str], tuple[list, dict]]):
        """``count`` servers started with ``command(fd, stem)``; (socket, process) each, or none."""
        servers: list[tuple[str, subprocess.Popen]] = []
        try:
            try:
                for i in range(count if self._free is None else 0):
                    stem = os.path.join(str(folder), f"{self.name.replace(' ', '-')}-{i}")
                    servers.append((f"{stem}.sock", _start(self.name, stem, command)))
            except OSError as err:  # e.g. a socket path too long
                print(f"warning: no {self.name} ({err}); {self.fallback}", file=sys.stderr)
                _stop(servers)
                servers = []
            if servers:
                self._free = queue.Queue()
                for path, _server in servers:
                    self._free.put(path)
            yield servers
        finally:
            if servers:
                self._free = None
                _stop(servers)

    @contextlib.contextmanager
    def lease(self):
        """The socket of a free server (None when none runs), held until the block ends."""
        free = self._free
        if free is None:
            yield None
            return
        path = free.get()
        try:
            yield path
        finally:
            free.put(path)


def _start(name: str, stem: str, command) -> subprocess.Popen:
    # the listening socket is closed here once the server holds it: the server's alone,
    # so when the server ends, connecting fails at once
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listen:
        listen.bind(f"{stem}.sock")
        listen.listen(4)
        argv, options = command(listen.fileno(), stem)
        with open(f"{stem}.log", "ab") as log:  # outside any sandbox's view
            log.write(f"{GRADER}{name}{STARTED}\n".encode())
            log.flush()
            server = subprocess.Popen(argv, pass_fds=(listen.fileno(),),
                                      stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, **options)
    threading.Thread(target=_watch, args=(name, server, f"{stem}.log"), daemon=True).start()
    return server


def _watch(name: str, server: subprocess.Popen, log: str) -> None:
    """Once ``server`` ends unasked, its exit status in its log (it cannot write it)."""
    status = server.wait()
    if getattr(server, "stopping", False):
        return
    # bwrap, the sandbox's first process, ends with 128 + the signal that ended the server
    signal_number = -status if status < 0 else status - 128 if status > 128 else 0
    how = f"exit status {status}"
    with contextlib.suppress(ValueError):
        how += f" ({signal.Signals(signal_number).name})" if signal_number else ""
    with contextlib.suppress(OSError), open(log, "a") as out:
        out.write(f"{GRADER}{name}{ENDED}{how}\n")


def _stop(servers: list[tuple[str, subprocess.Popen]]) -> None:
    for _path, server in servers:
        server.stopping = True  # no line in its log (:func:`_watch`)
        server.kill()
        server.wait()
