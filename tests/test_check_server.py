"""The check server (instructor/engine/check_server.py), probed from inside the checking
processes it forks: each runs sandboxed as a spawned one does, cannot read, stop or kill
its server, finds nothing the one before it left (processes, files), and a server that
is gone sends the next grading back to a spawned checking process.

The probes are test cells the forked checking process runs (instructor.engine.checking)
with no answer process behind them: each assertion is a property, and its verdict says
whether it held.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from instructor.engine import check_server, forking, roles, sandbox
from instructor.engine.answer import protocol
from instructor.workflow.canary import grading_env
from tests import needs
from tests.test_forking import gone_before_telling

pytestmark = needs.bwrap()

INSIDE = """
import os
assert os.getuid() == 65534 and os.getgid() == 65534, (os.getuid(), os.getgid())
status = open("/proc/self/status").read()
assert "CapEff:\\t0000000000000000" in status, status
# its server: alive, in the same sandbox, but not readable (PR_SET_DUMPABLE 0)
server = os.getppid()
assert os.path.exists(f"/proc/{server}"), server
for what in ("mem", "environ"):
    try:
        open(f"/proc/{server}/{what}", "rb").read(1)
    except PermissionError:
        pass
    else:
        raise AssertionError(f"read the server's {what}")
assert os.environ.get("GRADER_HIDDEN_KEY") == "key-of-this-one", os.environ.get("GRADER_HIDDEN_KEY")
"""

LEAVE = """
import os, subprocess
for place in ("/tmp", "/dev/shm", os.getcwd(), os.environ["TMPDIR"]):
    open(os.path.join(place, "left-behind"), "w").write("x")
for place in ("/", "/etc", os.path.expanduser("~")):  # the root bwrap built: read-only
    try:
        open(os.path.join(place, "left-behind"), "w").write("x")
    except OSError:
        pass
    else:
        raise AssertionError(f"wrote into {place}")
subprocess.Popen(["sleep", "300"], start_new_session=True)
"""

FIND = """
import os
for place in ("/tmp", "/dev/shm", os.getcwd(), os.environ["TMPDIR"]):
    assert not os.path.exists(os.path.join(place, "left-behind")), place
alive = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
assert alive == sorted({1, os.getppid(), os.getpid()}), alive
"""


@contextlib.contextmanager
def _server(folder: Path, libraries: bool, **settings: str):
    """One sandboxed check server in ``folder`` (with ``settings`` added to the grading
    environment), leased: the path of its socket."""
    env = grading_env({"COURSE_GRADING_ISOLATION": "bubblewrap", **settings})
    with check_server.running(1, folder, env, libraries=libraries), \
            check_server.lease({}) as leased:
        yield leased[check_server.SERVER]


@pytest.fixture
def server(tmp_path):
    """A check server with TensorFlow and what loads with it preloaded (the forked
    children inherit them), as for checks that name TensorFlow."""
    with _server(tmp_path, True) as path:
        yield path


@pytest.fixture
def numpy_server(tmp_path):
    """A check server for checks in NumPy (no TensorFlow preloaded: 5 to 6 CPU-s less),
    for what does not depend on what the server loaded: its signals, its end."""
    with _server(tmp_path, False) as path:
        yield path


def _check(path: str, source: str, key: str = "", env: dict | None = None,
           setup: str = "import os") -> dict | None:
    """One checking process forked by the server at ``path`` runs ``setup``, then
    ``source`` as a test cell, in ``env`` (default: none but the key); its verdict (None:
    it did not end normally)."""
    requests_r, requests_w = os.pipe()
    replies_r, replies_w = os.pipe()
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False)
    try:
        env = {**(env or {}), **({"GRADER_HIDDEN_KEY": key} if key else {})}
        forked = forking.Forked(path, env, (out.fileno(), requests_w, replies_r))
        for fd in (requests_w, replies_r):
            os.close(fd)
        forked.stdin.write(protocol.frame({"setup": [setup]}))
        job = {"cells": [{"grade_id": "probe", "task": "t", "names": [], "context": [],
                          "source": source}]}
        forked.communicate(protocol.frame(job), timeout=120)
        if forked.returncode != 0:
            return None
        with open(out.name, "rb") as verdicts:  # one frame, as the judge reads it
            return protocol.read_frame(verdicts.fileno())["probe"]
    finally:
        for fd in (requests_r, replies_w):
            os.close(fd)
        out.close()
        os.unlink(out.name)


def test_a_forked_checking_process_is_sandboxed_and_cannot_read_its_server(server):
    verdict = _check(server, INSIDE, key="key-of-this-one")
    assert verdict and verdict["passed"], verdict


def test_nothing_one_submission_leaves_reaches_the_next(server):
    assert _check(server, LEAVE)["passed"]
    verdict = _check(server, FIND)
    assert verdict and verdict["passed"], verdict
    # the other way round too: a probe that finds what it left fails
    assert not _check(server, LEAVE + FIND)["passed"]


def test_a_server_whose_data_sits_under_tmp_empties_around_its_mount(tmp_path):
    """The data folder under /tmp is bound inside the sandbox's /tmp, in folders a checking
    process may write: the server empties /tmp between children all but that mount."""
    data = tmp_path / "data"
    data.mkdir()
    beside = f"open({str(tmp_path / 'left-behind')!r}, 'w').write('x')\n"
    with _server(tmp_path, False, COURSE_DATA_DIR=str(data)) as path:
        assert _check(path, LEAVE + beside)["passed"]
        verdict = _check(path, FIND + f"assert os.path.isdir({str(data)!r})"
                         f"\nassert not os.path.exists({str(tmp_path / 'left-behind')!r})")
    assert verdict and verdict["passed"], verdict


PREPARED = """
import numpy as np
from helpers import datasets
kept = dict(datasets._KEPT)
assert ("mnist", 5000, None, None, *map(str, datasets.search_dirs())) in kept, list(kept)
flat, channels = (datasets.load_mnist(shape=s).x_train for s in ("flat", "channels"))
assert datasets._KEPT == kept, "this process prepared its own"
assert not flat.flags.writeable and np.shares_memory(flat, channels)
"""


def test_a_checking_process_finds_mnist_prepared_by_its_server(tmp_path, data_dir):
    env = grading_env({"COURSE_GRADING_ISOLATION": "bubblewrap",
                       "COURSE_DATA_DIR": str(data_dir)})
    # the data are prepared with or without TensorFlow: a server for checks in NumPy
    with check_server.running(1, tmp_path, env, libraries=False), \
            check_server.lease({}) as leased:
        box = roles.Box.from_settings(env)
        verdict = _check(leased[check_server.SERVER], PREPARED,
                         env=roles.environment(roles.CHECK, box))
    assert verdict and verdict["passed"], verdict


LOADED = """
import importlib, sys
TF = "tensor" + "flow"  # not named: only the third case names a library
def state(name):
    return type(sys.modules.get(name)).__name__
assert state(TF) == WAS, state(TF)
importlib.import_module("ker" + "as").ops.zeros(2)  # touched, never named
assert state(TF) == "module", state(TF)
level = importlib.import_module(TF).get_logger().level
assert level == 40, f"TensorFlow's logger at {level}, not ERROR as helpers.setup() sets it"
"""


@pytest.mark.parametrize(("libraries", "source", "was"), [
    (True, LOADED, "module"),                    # a check names TensorFlow: all loaded
    (False, LOADED, "NoneType"),                 # checks in NumPy: loaded where touched
    (False, "# keras.ops\n" + LOADED, "module"),  # named: loaded before the check runs
])
def test_a_server_loads_tensorflow_only_for_checks_that_name_it(tmp_path, libraries, source,
                                                                was):
    """Told that no check names TensorFlow or a library loaded with it, the server imports
    none (5 to 6 CPU-seconds): its child loads them before a test whose sources name them,
    and where a check touches them, as the answer process does (answer/lazy.py)."""
    env = grading_env({"COURSE_GRADING_ISOLATION": "bubblewrap"})
    with check_server.running(1, tmp_path, env, libraries=libraries), \
            check_server.lease({}) as leased:
        verdict = _check(leased[check_server.SERVER], f"WAS = {was!r}\n" + source,
                         setup="import helpers\nhelpers.setup(verbose=False)\nimport keras")
    assert verdict and verdict["passed"], verdict


def test_a_checking_process_whose_grader_went_away_before_telling_it_ends_quietly(
        numpy_server):
    """The grader closed the child's standard input before its first frame (it went
    away): the child has nothing to do, and ends with status 0 and no traceback."""
    assert gone_before_telling(numpy_server, 5) == ([b"forked", b"0"], b"")


def test_a_checking_process_can_neither_stop_nor_kill_its_server(numpy_server):
    """The server is PID 1 of its sandbox: signals from inside do not reach it."""
    attack = ("import os, signal\nfor sig in (signal.SIGSTOP, signal.SIGKILL):\n"
              "    os.kill(os.getppid(), sig)\nassert os.getppid() == 1")
    assert _check(numpy_server, attack)["passed"]
    verdict = _check(numpy_server, "assert True")
    assert verdict and verdict["passed"], verdict


def test_a_server_that_is_gone_sends_the_grading_back_to_spawning(numpy_server):
    assert _check(numpy_server, "assert True")["passed"]
    work = numpy_server.removesuffix(".sock")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if work.encode() in command:
            os.kill(int(pid), signal.SIGKILL)
    time.sleep(1)
    with pytest.raises(OSError):
        forking.Forked(numpy_server, {}, [os.open(os.devnull, os.O_WRONLY)] * 3)


@pytest.mark.skipif(sandbox.grading_user() is None, reason="the grader is not root here")
def test_a_server_that_cannot_start_says_why(tmp_path, monkeypatch):
    """A folder above the server's made private again between its hand-over and bwrap's
    start (what every pytest session's start does to ``pytest-of-<user>``): the server
    stops at once, and the grading's error says why, from its log, not a bare reset."""
    closed = tmp_path / "shut"
    closed.mkdir(mode=0o755)
    launch = roles.launch

    def then_closed(*args, **kwargs):
        found = launch(*args, **kwargs)  # hands the server's folder over
        closed.chmod(0o700)  # root's alone: the grading user can no longer pass
        return found

    monkeypatch.setattr(roles, "launch", then_closed)
    env = grading_env({"COURSE_GRADING_ISOLATION": "bubblewrap"})
    with check_server.running(1, closed, env) as [(path, server)]:
        with pytest.raises(OSError) as stopped:
            _check(path, "assert True")
        server.wait()
    assert "its log" in str(stopped.value) and "Permission denied" in str(stopped.value) \
        and "check server ended: exit status 1" in str(stopped.value), stopped.value


@pytest.mark.skipif(sandbox.grading_user() is None, reason="the grader is not root here")
def test_another_pytest_session_starting_leaves_this_ones_sandboxed_folders_reachable(
        tmp_path):
    """Every pytest session makes ``pytest-of-<user>`` private again as it starts: this
    session's folders are elsewhere (conftest.py), so a folder handed to the grading user
    stays reachable by it while other sessions start on the machine."""
    folder = tmp_path / "sandboxed"
    folder.mkdir()
    sandbox.hand_over(str(folder))
    assert sandbox.reachable(str(folder), sandbox.grading_user())
    other = tmp_path / "other"  # a session of no project's, with pytest's own defaults
    other.mkdir()
    (other / "test_other.py").write_text("def test_other(tmp_path):\n    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "--rootdir", str(other), str(other)],
                          cwd=other, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sandbox.reachable(str(folder), sandbox.grading_user()), tmp_path
