"""The pool of preforked servers (instructor/engine/forking.py, ``Pool``) that the check
server and the nbgrader server both use: each request leases a server of its own until it
is done, the servers end with the block, and servers that cannot start leave the run to
spawn its processes, with a warning.

The servers here are plain processes that wait: what is tested is the pool, not the
forking (tests/test_check_server.py and tests/test_nbgrader_server.py fork through it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import tempfile
import threading

import pytest

from instructor.engine import forking
from instructor.engine.forking import Pool

WAIT = [sys.executable, "-c", "import time; time.sleep(300)"]


def _waiting(fd: int, stem: str):
    return WAIT, {}


def _leased(pool: Pool) -> str | None:
    with pool.lease() as path:
        return path


def test_each_lease_holds_a_server_of_its_own_and_the_servers_end_with_the_block(tmp_path):
    pool = Pool("test server", "processes are spawned")
    with pool.running(2, tmp_path, _waiting) as servers:
        assert [path for path, _ in servers] == [str(tmp_path / "test-server-0.sock"),
                                                 str(tmp_path / "test-server-1.sock")]
        assert all(process.poll() is None for _, process in servers)
        paths = {path for path, _ in servers}
        got: list[str | None] = []
        waiter = threading.Thread(target=lambda: got.append(_leased(pool)))
        with pool.lease() as first, pool.lease() as second:
            assert {first, second} == paths
            waiter.start()  # a third request waits while both are held
            waiter.join(0.5)
            assert waiter.is_alive() and got == []
        waiter.join()
        assert got[0] in paths  # given back
    assert all(process.poll() is not None for _, process in servers)
    with pool.lease() as none:
        assert none is None


def test_servers_that_cannot_start_leave_the_run_to_spawn_with_a_warning(tmp_path, capsys):
    deep = tmp_path / ("x" * 120)  # a unix socket's path has at most 107 bytes
    deep.mkdir()
    pool = Pool("test server", "processes are spawned")
    with pool.running(2, deep, _waiting) as servers:
        assert servers == []
        with pool.lease() as path:
            assert path is None
    err = capsys.readouterr().err
    assert err.startswith("warning: no test server (") and \
        err.rstrip().endswith("); processes are spawned"), err


def test_a_pool_started_again_inside_its_block_keeps_the_servers_it_has(tmp_path):
    pool = Pool("test server", "processes are spawned")
    (tmp_path / "inner").mkdir()
    with pool.running(1, tmp_path, _waiting) as servers:
        with pool.running(1, tmp_path / "inner", _waiting) as inner:
            assert inner == []
        with pool.lease() as path:
            assert path == servers[0][0]
        assert servers[0][1].poll() is None


def test_the_grader_reads_only_the_end_of_a_childs_output():
    """A checking process's output (forked or spawned, a file under its own size cap) is
    read from its end: a flood never fills the grader's memory, its last line is kept."""
    import tempfile

    with tempfile.TemporaryFile() as out:
        out.write(b"x" * (3 * forking.TAIL_BYTES) + b"\nGraderCheckFailed: why\n")
        text = forking.tail(out)
    assert len(text) == forking.TAIL_BYTES
    assert text.splitlines()[-1] == "GraderCheckFailed: why"


SAYS_WHY = """
import sys, time
from instructor.engine import forking

def body():
    time.sleep(float(sys.argv[1]))
    raise RuntimeError("cannot reach its folder")

forking.run("test server", body)
"""


def _failing(fd: int, stem: str):
    return [sys.executable, "-c", SAYS_WHY, "1"], {}


def test_a_server_that_stops_before_its_first_fork_says_why_and_the_requester_reports_it(
        tmp_path):
    """The server's last line and its exit status, in its log, are in the error the
    requester raises (the grader's warning), not a bare connection reset."""
    pool = Pool("test server", "processes are spawned")
    with pool.running(1, tmp_path, _failing) as [(path, server)]:
        with pytest.raises(OSError) as refused:
            forking.Forked(path, {}, patience=60)  # connected while it starts
        server.wait()
        said = str(refused.value)
        assert "test server stopped: RuntimeError: cannot reach its folder" in said, said
        assert "test server ended: exit status 1" in said, said
        log = (tmp_path / "test-server-0.log").read_text()
        assert log.splitlines()[-1] == "grader: test server ended: exit status 1", log


def test_a_server_killed_from_outside_has_its_end_in_its_log(tmp_path):
    pool = Pool("test server", "processes are spawned")
    with pool.running(1, tmp_path, _waiting) as [(path, server)]:
        server.send_signal(signal.SIGKILL)
        server.wait()
        with pytest.raises(OSError, match=r"test server ended: exit status -9 \(SIGKILL\)"):
            forking.Forked(path, {})
    # a server the pool stops at the end of its block ended as it should: no line
    (tmp_path / "stopped").mkdir()
    with pool.running(1, tmp_path / "stopped", _waiting):
        pass
    log = (tmp_path / "stopped" / "test-server-0.log").read_text()
    assert log == "grader: test server started\n", log


#: A forking server whose child ends at once, reading nothing of its request.
QUITS = ("import socket, sys\nfrom instructor.engine import forking\n"
         "listen = socket.socket(fileno=int(sys.argv[1]))\n"
         "forking.run('test server', lambda: forking.serve(listen, lambda fds: None))")


def test_a_child_that_ends_before_reading_its_request_is_reported_by_its_status(
        tmp_path):
    """The request fills the pipe, so its write meets a child already gone: the
    requester gets the child's exit status and output as for any other child (the
    failed write raised, leaking the handle's socket and file, and sent the work back
    to spawning, which hid why)."""
    pool = Pool("test server", "processes are spawned")
    command = lambda fd, _stem: ([sys.executable, "-c", QUITS, str(fd)], {})  # noqa: E731
    with pool.running(1, tmp_path, command) as [(path, _server)]:
        forked = forking.Forked(path, {"filler": "x" * (4 << 20)})
        output, _ = forked.communicate(timeout=60)
        assert forked.returncode == 0 and output == "", (forked.returncode, output)


def test_the_servers_two_lines_in_one_read_are_two_answers(tmp_path):
    """A child that ends at once: its server's ``forked`` and its exit status may reach
    the requester in one read; the first is the answer to the request, the second the
    status (they were read as one answer, and the request refused)."""
    path = str(tmp_path / "server.sock")
    listen = socket.socket(socket.AF_UNIX)
    listen.bind(path)
    listen.listen(1)

    def server():
        conn, _ = listen.accept()
        with conn:
            _message, fds, _flags, _address = socket.recv_fds(conn, 64, 2)
            for fd in fds:
                os.close(fd)
            conn.sendall(b"forked\n7\n")

    thread = threading.Thread(target=server)
    thread.start()
    try:
        forked = forking.Forked(path, {})
        thread.join(30)
        assert forked.poll() == 7 and forked.wait() == 7
    finally:
        listen.close()


def gone_before_telling(path: str, count: int) -> tuple[list[bytes], bytes]:
    """Ask the server at ``path`` for a child (``count`` descriptors: its standard input,
    its output, then ``/dev/null`` for the rest) whose standard input is closed before a
    frame is written, as when the grader goes away: what the server said (``forked``, then
    the child's exit status) and what the child wrote."""
    stdin_r, stdin_w = os.pipe()
    os.close(stdin_w)
    null = os.open(os.devnull, os.O_WRONLY)
    with tempfile.TemporaryFile() as out, socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(60)
        conn.connect(path)
        socket.send_fds(conn, [b"fork"], [stdin_r, out.fileno(), *[null] * (count - 2)])
        for fd in (stdin_r, null):
            os.close(fd)
        said = b""
        while said.count(b"\n") < 2 and (chunk := conn.recv(64)):
            said += chunk
        out.seek(0)
        return said.split(), out.read()


@pytest.mark.parametrize(("cells", "libraries"), [
    (["x = np.zeros(2)", "assert f(x) == 1"], False),           # a NumPy task
    (["x = np.zeros(2)", "### BEGIN HIDDEN TESTS\nkeras.ops.ones(1)"], True),  # hidden tests too
    (["model = keras.Sequential()", "assert f(1)"], True),     # the answer key names Keras
    (["# tfp.distributions", "assert f(1)"], True),            # a library loaded with it
    (None, True),                                               # no source: as if named
])
def test_autograde_starts_check_servers_with_tensorflow_only_if_a_task_names_it(
        monkeypatch, tmp_path, cells, libraries):
    """The check servers import TensorFlow (5 to 6 CPU-s each) only when a task graded
    names it or a library loaded with it, in its answer key, context or tests."""
    import nbformat

    from instructor.workflow import autograde as run

    if cells is not None:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            "import keras\nimport numpy as np", metadata={"tags": ["grade-setup"]})] + [
            nbformat.v4.new_code_cell(c, metadata={"tags": ["task-t"]}) for c in cells])
        (tmp_path / "notebooks" / "a").mkdir(parents=True)
        nbformat.write(nb, tmp_path / "notebooks" / "a" / "a.ipynb")
    asked = []

    def check_servers(count, *args, **kwargs):
        asked.append(kwargs.get("libraries", True))
        raise StopIteration

    monkeypatch.setattr(run.check_server, "running", check_servers)
    monkeypatch.setattr(run, "isolation_problem", lambda env: None)
    monkeypatch.setattr(run, "submissions", lambda root, name, who: ["s1"])
    with pytest.raises(StopIteration):
        run.autograde(["a"], root=tmp_path)
    assert asked == [libraries]


@pytest.mark.parametrize(("students", "jobs", "started"), [
    (["s1"], 2, 1),            # a regrade of one student: one of each kind loads
    (["s1", "s2", "s3"], 2, 2),
    (["s1", "s2", "s3"], 1, 1),
    ([], 2, 2),                # --canary-only: the key and the stub
])
def test_autograde_starts_a_server_of_each_kind_per_grading_it_can_run_at_once(
        monkeypatch, tmp_path, students, jobs, started):
    from instructor.workflow import autograde as run

    asked = []

    def check_servers(count, *args, **kwargs):
        asked.append(("check", count))
        return contextlib.nullcontext([])

    def nbgrader_servers(count, *args):
        asked.append(("nbgrader", count))
        raise StopIteration  # what the counts are, and no further

    monkeypatch.setattr(run.check_server, "running", check_servers)
    monkeypatch.setattr(run.nbgrader_server, "running", nbgrader_servers)
    monkeypatch.setattr(run, "isolation_problem", lambda env: None)
    monkeypatch.setattr(run, "submissions", lambda root, name, who: students)
    with pytest.raises(StopIteration):
        run.autograde(["a"], jobs=jobs, root=tmp_path, canary_only=not students)
    assert asked == [("check", started), ("nbgrader", started)]
