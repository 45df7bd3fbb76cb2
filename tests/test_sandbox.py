"""The grading sandbox alone (instructor/engine/sandbox.py): a short Python command run
through the launcher, probing what it leaves behind and what it can reach.

Each probe is bounded (a timeout on every process, a bounded loop). The probes of a
namespace or a Landlock feature are skipped where this machine lacks it; the fallback
(a subreaper) is tested with namespaces switched off.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from instructor.engine import sandbox
from instructor.engine.kernel import sandbox_env

SANDBOX = Path(sandbox.__file__)
ABI = sandbox.landlock_abi()


def _namespaces_work() -> bool:
    probe = subprocess.run([sys.executable, str(SANDBOX), "--no-landlock", "--",
                            sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, timeout=60)
    return probe.stdout.strip() == "2"


NAMESPACES = _namespaces_work()
needs_namespaces = pytest.mark.skipif(not NAMESPACES, reason="no PID/mount namespaces here")


def _readable() -> list[str]:
    paths = ["/usr", "/lib", "/lib64", "/etc", "/proc", "/sys", sys.prefix, sys.base_prefix,
             os.path.dirname(os.path.realpath(sys.executable))]
    return [p for p in paths if os.path.exists(p)]


def _run(code: str, tmp_path: Path, *args: str, env: dict | None = None,
         landlock: bool = True) -> subprocess.CompletedProcess:
    """``code`` in the sandbox, reading the system and Python, writing ``tmp_path``."""
    rules = [a for p in _readable() for a in ("--ro", p)] + ["--rw", str(tmp_path)]
    command = [sys.executable, str(SANDBOX), *(rules if landlock else ["--no-landlock"]),
               *args, "--", sys.executable, "-c", code]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=env)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _alive_with(marker: str) -> list[int]:
    """Host processes whose command line holds ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


#: A grandchild that detaches (double fork, setsid), holds stdout/stderr, and sleeps;
#: its command line carries a marker to find it by.
DETACH = """
import os, subprocess, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", MARK])
        os._exit(0)
    os._exit(0)
os.wait()
print("parent done")
"""


@pytest.mark.parametrize("isolation", ["namespaces", "subreaper"])
def test_a_detached_grandchild_ends_with_the_sandboxed_process(tmp_path, isolation):
    if isolation == "namespaces" and not NAMESPACES:
        pytest.skip("no PID/mount namespaces here")
    marker = f"sleeper-{uuid.uuid4().hex}"
    code = f"MARK = {marker!r}\n" + DETACH
    proc = _run_with_fallback(code, tmp_path, isolation)
    # subprocess.run returned: nothing held its pipes open
    assert "parent done" in proc.stdout, proc.stderr
    deadline = time.monotonic() + 10  # the kill is done when the launcher exits; allow reaping
    while _alive_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive_with(marker), "a detached grandchild outlived the sandbox"
    if isolation == "subreaper":
        assert "subreaper" in proc.stderr


def _run_with_fallback(code: str, tmp_path: Path, isolation: str):
    if isolation == "namespaces":
        return _run(code, tmp_path, landlock=False)
    # the fallback: the launcher as where unshare is refused
    command = [sys.executable, "-c",
               "import sys\n"
               "sys.path.insert(0, sys.argv[1])\n"
               "import sandbox\n"
               "sandbox.new_namespaces = lambda: 'no PID and mount namespaces (test)'\n"
               "sandbox.main(sys.argv[2:])",
               str(SANDBOX.parent), "--no-landlock", "--", sys.executable, "-c", code]
    # (an environment the launcher keeps whole: it does not start again, unpatched)
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=sandbox.allowed_env(dict(os.environ)))


@needs_namespaces
def test_proc_shows_only_the_sandboxs_processes(tmp_path):
    proc = _run("import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
                "try:\n    open('/proc/1/environ').read(); print('init environ readable')\n"
                "except OSError as err:\n    print('blocked', err.errno)\n",
                tmp_path)
    lines = proc.stdout.splitlines()
    assert lines[0] == "[1, 2]", proc.stderr  # the init and this process
    # process 1 is the sandbox's own init, whose environment is the filtered one anyway;
    # the grader (this test) is not in the namespace at all
    assert str(os.getpid()) not in lines[0]


#: What a kernel graded as root once could do with root's capabilities and all of /dev:
#: read other kernels' loopback traffic, change the machine's network, replace devices.
ROOT_POWERS = """
import os, socket
status = open("/proc/self/status").read().splitlines()
print(*[line.split()[1] for line in status if line.startswith(("CapEff", "CapPrm", "CapBnd"))])
for what, attempt in [
        ("raw socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 768)),
        ("new file in /dev", lambda: open("/dev/probe-%d" % os.getpid(), "w")),
        ("device node", lambda: os.mknod("node", 0o20600, os.makedev(1, 3))),
        ("another uid", lambda: os.setuid(12345))]:
    try:
        attempt()
        print(what, "ALLOWED")
    except OSError as err:
        print(what, "refused", err.errno)
for device in ("/dev/null", "/dev/zero", "/dev/urandom"):
    with open(device, "r+b" if device == "/dev/null" else "rb") as f:
        f.read(1)
print("devices usable")
"""


def test_it_holds_no_capability_and_only_its_devices(tmp_path):
    """Graded as root (CI) too: no capability left, no raw socket, nothing made in /dev."""
    proc = _run(ROOT_POWERS, tmp_path)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stderr
    caps = lines[0].split()
    assert int(caps[0], 16) == int(caps[1], 16) == 0, proc.stdout   # effective, permitted
    if os.geteuid() == 0:
        assert int(caps[2], 16) == 0, proc.stdout                   # bounding: none to regain
    assert lines[1].startswith("raw socket refused"), proc.stdout
    assert lines[3].startswith("device node refused"), proc.stdout
    assert lines[4].startswith("another uid refused"), proc.stdout
    if ABI >= 1:
        assert lines[2].startswith("new file in /dev refused"), proc.stdout
    assert lines[5] == "devices usable"
    assert not list(Path("/dev").glob("probe-*"))


@needs_namespaces
def test_dev_shm_is_private_capped_and_gone_afterwards(tmp_path):
    name = f"probe-{uuid.uuid4().hex}"
    code = (f"import os\nopen('/dev/shm/{name}', 'wb').write(b'x')\n"
            f"print('host file seen' if os.path.exists('/dev/shm/{name}-host') else 'private')\n"
            "n = 0\ntry:\n    for n in range(1, 65):\n"
            f"        open(f'/dev/shm/{name}-{{n}}', 'wb').write(bytes(2 ** 20))\n"
            "except OSError as err:\n    print('capped after', n, err.strerror)\n")
    host = Path("/dev/shm") / f"{name}-host"
    host.write_bytes(b"grader")
    try:
        proc = _run(code, tmp_path, "--shm-mb", "8")
    finally:
        host.unlink()
    out = proc.stdout.splitlines()
    assert out[0] == "private", proc.stderr
    assert out[1].startswith("capped after") and "No space left" in out[1], proc.stdout
    assert int(out[1].split()[2]) <= 9  # the write that failed: at most the 9th MiB
    assert not list(Path("/dev/shm").glob(f"{name}*")), "the sandbox's /dev/shm leaked"


def test_the_environment_is_an_allow_list(tmp_path):
    env = {**os.environ, "GRADER_SECRET": "hunter2", "LANG": "C.UTF-8"}
    code = ("import os\nprint(os.environ.get('GRADER_SECRET'), os.environ.get('LANG'))\n"
            "for pid in ('1', str(os.getppid())):\n"
            "    try:\n        text = open(f'/proc/{pid}/environ', 'rb').read()\n"
            "        print('LEAK' if b'hunter2' in text else 'clean')\n"
            "    except OSError:\n        print('blocked')\n")
    proc = _run(code, tmp_path, env=sandbox_env(str(tmp_path), env))
    lines = proc.stdout.split()
    assert lines[:2] == ["None", "C.UTF-8"], proc.stderr
    assert "LEAK" not in lines, proc.stdout
    # and the launcher's own filter, given the grader's whole environment
    proc = _run(code, tmp_path, env=env)
    assert proc.stdout.split()[0] == "None", proc.stderr
    if NAMESPACES:
        assert "LEAK" not in proc.stdout.split(), proc.stdout


def test_kernel_environment_keeps_the_course_settings():
    env = sandbox_env("/tmp", {"COURSE_DATA_DIR": "/data", "AWS_SECRET_ACCESS_KEY": "k",
                               "JPY_PARENT_PID": "1", "PATH": "/usr/bin"})
    assert env["COURSE_DATA_DIR"] == "/data" and env["PATH"] == "/usr/bin"
    assert "AWS_SECRET_ACCESS_KEY" not in env and "JPY_PARENT_PID" not in env


@pytest.mark.skipif(ABI < 4, reason="Landlock network rules need ABI 4")
def test_it_binds_its_own_port_and_connects_nowhere(tmp_path):
    with socket.socket() as outside, socket.socket() as spare:
        outside.bind(("127.0.0.1", 0))
        outside.listen(1)
        spare.bind(("127.0.0.1", 0))
        own = spare.getsockname()[1]
        spare.close()
        target = outside.getsockname()[1]
        code = ("import socket\n"
                f"s = socket.socket(); s.bind(('127.0.0.1', {own})); s.listen(1)\n"
                "print('bound own')\n"
                "try:\n    s2 = socket.socket(); s2.bind(('127.0.0.1', 0)); print('bound other')\n"
                "except OSError as err:\n    print('bind other blocked', err.errno)\n"
                "c = socket.socket(); c.settimeout(5)\n"
                f"try:\n    c.connect(('127.0.0.1', {target})); print('CONNECTED')\n"
                "except OSError as err:\n    print('connect blocked', err.errno)\n")
        proc = _run(code, tmp_path, "--bind-port", str(own))
    out = proc.stdout.splitlines()
    assert out[0] == "bound own", proc.stderr
    assert out[1].startswith("bind other blocked"), out
    assert out[2].startswith("connect blocked"), out


@pytest.mark.skipif(ABI < 6, reason="Landlock signal scoping needs ABI 6")
def test_it_cannot_signal_a_process_outside(tmp_path):
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        code = (f"import os, signal\ntry:\n    os.kill({victim.pid}, signal.SIGKILL)\n"
                "    print('KILLED')\nexcept OSError as err:\n    print('blocked', err.errno)\n")
        # without namespaces the pid is addressable: Landlock's scope must refuse it
        proc = _run_with_pid_visible(code, tmp_path)
        assert proc.stdout.startswith("blocked"), (proc.stdout, proc.stderr)
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait(timeout=10)


def _run_with_pid_visible(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    rules = [a for p in _readable() for a in ("--ro", p)] + ["--rw", str(tmp_path)]
    command = [sys.executable, str(SANDBOX), *rules, "--no-isolation", "--",
               sys.executable, "-c", code]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)


@needs_namespaces
def test_signals_reach_the_sandboxed_process_and_its_exit_is_reported(tmp_path):
    """jupyter_client interrupts a kernel with SIGINT to the launcher's process group: it
    must reach the kernel once (a KeyboardInterrupt), and the launcher ends as it ends."""
    ready = tmp_path / "ready"
    code = (f"import time\nopen({str(ready)!r}, 'w').close()\n"
            "try:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    print('interrupted')\n"
            "raise SystemExit(3)\n")
    rules = [a for p in _readable() for a in ("--ro", p)] + ["--rw", str(tmp_path)]
    proc = subprocess.Popen([sys.executable, str(SANDBOX), *rules, "--", sys.executable,
                             "-c", code], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert out.strip() == "interrupted"
    assert proc.returncode == 3


@needs_namespaces
def test_killing_the_launcher_ends_everything_inside(tmp_path):
    marker = f"inside-{uuid.uuid4().hex}"
    ready = tmp_path / "ready"
    code = ("import subprocess, sys, time\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', "
            f"{marker!r}])\n"
            f"open({str(ready)!r}, 'w').close()\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, str(SANDBOX), "--no-landlock", "--",
                             sys.executable, "-c", code], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not (ready.exists() and _alive_with(marker)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _alive_with(marker)
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive_with(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive_with(marker)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.parametrize("isolation", ["namespaces", "subreaper"])
def test_killing_the_grader_ends_the_launcher_and_everything_inside(tmp_path, isolation):
    """The grader killed mid-run (SIGKILL: no cleanup of its own): its launcher is
    reparented, notices, and ends the kernel and what the kernel started."""
    if isolation == "namespaces" and not NAMESPACES:
        pytest.skip("no PID/mount namespaces here")
    marker = f"orphan-{uuid.uuid4().hex}"
    ready = tmp_path / "ready"
    code = ("import subprocess, sys, time\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', "
            f"{marker!r}])\n"
            f"open({str(ready)!r}, 'w').close()\ntime.sleep(120)\n")
    launch = [sys.executable, str(SANDBOX), "--no-landlock", "--", sys.executable, "-c", code]
    if isolation == "subreaper":
        launch[1:2] = ["-c", "import sys\nsys.path.insert(0, sys.argv[1])\nimport sandbox\n"
                       "sandbox.new_namespaces = lambda: 'no namespaces (test)'\n"
                       "sandbox.main(sys.argv[2:])", str(SANDBOX.parent)]
    grader = subprocess.Popen(  # a stand-in grader: starts the launcher, waits on it
        [sys.executable, "-c", "import subprocess, sys\n"
         "p = subprocess.Popen(sys.argv[2:], stderr=subprocess.DEVNULL)\n"
         "open(sys.argv[1], 'w').write(str(p.pid))\np.wait()", str(tmp_path / "launcher"),
         *launch],
        cwd=tmp_path, env=sandbox.allowed_env(dict(os.environ)))
    try:
        deadline = time.monotonic() + 60
        while not (ready.exists() and _alive_with(marker)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _alive_with(marker)
        launcher = int((tmp_path / "launcher").read_text())
        grader.kill()
        grader.wait(timeout=10)
        deadline = time.monotonic() + 20
        while (_alive_with(marker) or _running(launcher)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive_with(marker), "the kernel's child outlived the killed grader"
        assert not _running(launcher), "the launcher outlived the killed grader"
    finally:
        if grader.poll() is None:
            grader.kill()
            grader.wait(timeout=10)
        for pid in _alive_with(marker):
            os.kill(pid, signal.SIGKILL)


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/setpriv")
                    or not os.path.exists(SYSTEM_PYTHON),
                    reason="needs root (to become nobody), setpriv and a system Python")
def test_not_root_the_sandbox_uses_a_user_namespace():
    """As an unprivileged user (nobody), through a user namespace: the same PID namespace,
    private /dev/shm and end of a detached grandchild."""
    work = Path(tempfile.mkdtemp(prefix="sandbox-nobody-"))  # pytest's folders are root's
    try:
        _as_nobody(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _as_nobody(work: Path) -> None:
    launcher = work / "sandbox.py"
    launcher.write_bytes(SANDBOX.read_bytes())
    for path in (work, launcher):
        path.chmod(0o777)
    marker = f"nobody-{uuid.uuid4().hex}"
    code = ("import os\nprint(os.getuid(), os.getpid())\n"
            "s = os.statvfs('/dev/shm'); print(s.f_blocks * s.f_frsize // 2 ** 20)\n"
            "if os.fork() == 0:\n    os.setsid()\n"
            f"    os.execv({SYSTEM_PYTHON!r}, ['python3', '-c', 'import time; time.sleep(120)', "
            f"{marker!r}])\n")
    rules = [a for p in ("/usr", "/lib", "/lib64", "/etc", "/proc") for a in ("--ro", p)]
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "-i",
         "PATH=/usr/bin:/bin", SYSTEM_PYTHON, str(launcher), *rules, "--rw", str(work),
         "--shm-mb", "16", "--", SYSTEM_PYTHON, "-c", code],
        cwd=work, capture_output=True, text=True, timeout=120)
    if "no PID and mount namespaces" in proc.stderr:
        pytest.skip(f"user namespaces refused here: {proc.stderr.strip()}")
    assert proc.stdout.split() == ["65534", "2", "16"], proc.stderr
    deadline = time.monotonic() + 10
    while _alive_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive_with(marker)
