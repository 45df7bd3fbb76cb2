"""Start a grading kernel under limits, alone: caps, a file and network allow-list, its
own process and mount namespaces, and an environment allow-list.

Used as a command prefix by :class:`SandboxedKernelManager`::

    python instructor/engine/sandbox.py --memory-gb 8 --file-mb 256 --cpu-seconds 1800 \\
        --processes 256 --shm-mb 64 --bind-port 50001 ... --rw /tmp/scratch --ro /usr ... \\
        -- python -m ipykernel_launcher -f kernel.json

It runs the kernel under a small init of its own (:func:`isolate`), which ends
everything the kernel started when the kernel ends:

- ``--file-mb``, ``--cpu-seconds`` and ``--processes`` cap the size of a file it
  writes, its CPU time and its processes (a fork loop): see :func:`cap_files`,
  :func:`cap_cpu`, :func:`cap_processes`.
- ``RLIMIT_AS`` caps the address space: an allocation beyond it fails with
  ``MemoryError`` in the student's cell (or, inside a C library, kills the kernel,
  which the grader treats as a crash) instead of swapping the grading machine to death.
- Its own PID namespace (the init is its process 1: when the kernel ends, the init ends
  and Linux kills every process left in the namespace, however detached), mount
  namespace (a fresh ``/proc`` that shows only the namespace's processes, a private
  ``/dev/shm`` of ``--shm-mb`` MiB that disappears with it) and IPC namespace; a user
  namespace too when not root. No network namespace: the grader reaches the kernel's
  ports on loopback.
- Linux Landlock (kernel 5.13+, no privileges needed) limits the files the kernel can
  touch: read (and execute) only the ``--ro`` paths, read and write only the ``--rw``
  paths. The repository (notebooks with hidden tests, the answer key, the gradebook)
  and the grader's folders are on neither list, so student code cannot read the hidden
  tests or write a grade. With Landlock ABI 4+ it may bind only the ``--bind-port``
  TCP ports (its own, from the connection file) and connect to none; with ABI 6+ it can
  neither signal nor reach (abstract unix sockets) a process outside its sandbox.
- Its environment is an allow-list (:func:`allowed_env`): a secret in the grader's
  environment does not reach it.
- It holds no capability, even when the grader runs as root (:func:`drop_capabilities`):
  no raw sockets to read the loopback traffic of other kernels, no changes to the
  machine's network, its sockets or its device files.
- Of ``/dev`` it may use only the devices in :data:`DEVICES` (read and write them, never
  create, remove or rename anything there) and its private ``/dev/shm``.

Where something is missing (no namespaces, an old kernel, another OS) the launcher
says what on one line of stderr and does what it can: without namespaces it stays the
kernel's parent as a child subreaper and kills every descendant when the kernel ends.

This file runs before anything else in the kernel's process, so it imports only the
standard library.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import resource
import select
import signal
import sys
import time
from pathlib import Path

# Landlock ABI (linux/landlock.h)
_SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_FS = {
    "execute": 1 << 0, "write_file": 1 << 1, "read_file": 1 << 2, "read_dir": 1 << 3,
    "remove_dir": 1 << 4, "remove_file": 1 << 5, "make_char": 1 << 6, "make_dir": 1 << 7,
    "make_reg": 1 << 8, "make_sock": 1 << 9, "make_fifo": 1 << 10, "make_block": 1 << 11,
    "make_sym": 1 << 12, "refer": 1 << 13, "truncate": 1 << 14, "ioctl_dev": 1 << 15,
}
_READ = _FS["execute"] | _FS["read_file"] | _FS["read_dir"]
_FILE_ONLY = _FS["execute"] | _FS["write_file"] | _FS["read_file"] | _FS["truncate"] \
    | _FS["ioctl_dev"]


#: The devices a sandboxed process may read and write (no other file of ``/dev``: the
#: host's device folder is shared by every process of the machine).
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
           "/dev/tty", "/dev/ptmx", "/dev/pts")
#: Whether this process is in a sandbox of its own with a private ``/dev/shm``
#: (:func:`private_mounts`): only then may the kernel write there.
_PRIVATE_SHM = False

_RULE_NET_PORT = 2
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _NetPortAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers; 0 when there is none."""
    numbers = _SYSCALLS.get(platform.machine())
    if not numbers or not sys.platform.startswith("linux"):
        return 0
    abi = _libc().syscall(numbers[0], None, ctypes.c_size_t(0),
                          ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(0, int(abi))


def _handled(abi: int) -> int:
    access = (1 << 13) - 1                # ABI 1: execute .. make_sym
    if abi >= 2:
        access |= _FS["refer"]
    if abi >= 3:
        access |= _FS["truncate"]
    if abi >= 5:
        access |= _FS["ioctl_dev"]
    return access


def restrict_files(read_only: list[str], read_write: list[str],
                   bind_ports: list[int] | None = None) -> bool:
    """Allow this process (and its children) only the given paths. False if unsupported.

    Where the kernel's Landlock has them, also: bind only the TCP ports ``bind_ports``
    and connect to none (ABI 4+; ``bind_ports=None`` leaves the network alone), and
    signal or reach by abstract unix socket no process outside this sandbox (ABI 6+).
    What applied is in :func:`missing`'s answer for the same ABI.
    """
    abi = landlock_abi()
    if abi < 1:
        return False
    create, add_rule, restrict = _SYSCALLS[platform.machine()]
    libc = _libc()
    handled = _handled(abi)
    network = bind_ports is not None and abi >= 4
    attr = _RulesetAttr(handled, _NET_BIND_TCP | _NET_CONNECT_TCP if network else 0,
                        _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8  # the fields this ABI knows
    ruleset = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        return False
    try:
        for paths, access in ((read_only, _READ), (read_write, handled)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue  # a path that does not exist needs no rule
                try:
                    allowed = access if os.path.isdir(path) else access & _FILE_ONLY & handled
                    rule = _PathBeneathAttr(allowed, fd)
                    if libc.syscall(add_rule, ctypes.c_int(ruleset),
                                    ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule),
                                    ctypes.c_uint32(0)) < 0:
                        err = ctypes.get_errno()
                        raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
                finally:
                    os.close(fd)
        for port in sorted(set(bind_ports or [])) if network else []:
            rule = _NetPortAttr(_NET_BIND_TCP, int(port))
            if libc.syscall(add_rule, ctypes.c_int(ruleset), ctypes.c_int(_RULE_NET_PORT),
                            ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
                err = ctypes.get_errno()
                raise OSError(err, f"landlock_add_rule(port {port}): {os.strerror(err)}")
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        if libc.syscall(restrict, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
            return False
    finally:
        os.close(ruleset)
    return True


# ---------------------------------------------------------------- capabilities
_PR_CAPBSET_DROP, _PR_SET_SECUREBITS, _PR_CAP_AMBIENT = 24, 28, 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
#: SECBIT_NOROOT, SECBIT_NO_SETUID_FIXUP, SECBIT_NO_CAP_AMBIENT_RAISE and SECBIT_KEEP_CAPS'
#: lock, each locked: uid 0 gains no capability at exec, for good.
_SECUREBITS = 0b11101111
_CAPABILITY_VERSION_3 = 0x20080522


def drop_capabilities() -> str | None:
    """Give up every capability of this process and of what it will run, for good: the
    bounding and ambient sets emptied, the effective, permitted and inheritable sets
    cleared, root's privilege at exec switched off (securebits) and no new privileges at
    exec (a program's file capabilities). Run as root, the kernel is then an ordinary
    process of uid 0 that Landlock confines like any other. None when none is left, else
    what is (another user's full bounding set is harmless: nothing can raise into it)."""
    libc = _libc()
    try:
        last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        last = 63
    for cap in range(last + 1):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)   # fails where it is not held: fine
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    libc.prctl(_PR_SET_SECUREBITS, _SECUREBITS, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()                   # two words each, all zero
    libc.capset(header, data)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    try:
        status = Path("/proc/self/status").read_text()
    except OSError as err:
        return f"capabilities unknown ({err.strerror})"
    held = [line for line in status.splitlines()
            if line.startswith(("CapEff:", "CapPrm:", *(("CapBnd:",) if os.geteuid() == 0
                                                        else ())))
            and int(line.split()[1], 16)]
    return f"capabilities kept ({', '.join(held)})" if held else None


def missing(abi: int, network: bool = True) -> list[str]:
    """What Landlock ABI ``abi`` cannot do of what :func:`restrict_files` asks."""
    gaps = []
    if abi < 1:
        return ["Landlock (the kernel can read and write every file this user can)"]
    if network and abi < 4:
        gaps.append("Landlock network rules (ABI 4: the kernel can connect to any port)")
    if abi < 6:
        gaps.append("Landlock scopes (ABI 6: the kernel can signal this user's processes)")
    return gaps


def cap_memory(gigabytes: float) -> None:
    """Cap this process's address space (RLIMIT_AS) at ``gigabytes`` GiB."""
    limit = int(gigabytes * 1024 ** 3)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def cap_files(megabytes: float) -> None:
    """Cap the size of any file this process writes (RLIMIT_FSIZE): a larger write fails
    with ``OSError: File too large`` (Python ignores the SIGXFSZ signal)."""
    limit = int(megabytes * 1024 ** 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def cap_cpu(seconds: float) -> None:
    """Cap this process's CPU time, all threads together (RLIMIT_CPU): past it the kernel
    gets SIGXCPU and stops, which the grader reports as a crash of that cell."""
    limit = max(1, int(seconds))
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    hard = limit + 5 if hard == resource.RLIM_INFINITY else min(hard, limit + 5)
    resource.setrlimit(resource.RLIMIT_CPU, (min(limit, hard), hard))


#: Where a cgroup (v1) pids controller lets this user make groups, if anywhere.
PIDS_CGROUP = "/sys/fs/cgroup/pids"


def cap_processes(count: int) -> str:
    """Cap the processes and threads this process and its children may have.

    With a writable cgroup pids controller (v1) the process moves into a new group
    with ``pids.max = count``; it counts only this kernel's tasks. Otherwise the limit is
    RLIMIT_NPROC, which counts every process of the user (so ``count`` must leave room
    for the grader itself) and which Linux does not apply to root. Returns which one
    applies.
    """
    base = os.path.join(PIDS_CGROUP, "course-grading")
    try:
        os.makedirs(base, exist_ok=True)
        for old in os.listdir(base):  # groups of kernels that have ended
            if old.isdigit() and not os.path.exists(f"/proc/{old}"):
                try:
                    os.rmdir(os.path.join(base, old))
                except OSError:
                    pass
        group = os.path.join(base, str(os.getpid()))
        os.makedirs(group, exist_ok=True)
        with open(os.path.join(group, "pids.max"), "w") as out:
            out.write(str(int(count)))
        with open(os.path.join(group, "cgroup.procs"), "w") as out:
            out.write(str(os.getpid()))
        return "cgroup"
    except OSError:
        pass
    resource.setrlimit(resource.RLIMIT_NPROC, (int(count), int(count)))
    return "rlimit" if os.geteuid() != 0 else "none"


# ---------------------------------------------------------------- the environment
#: Names of the grader's environment a sandboxed process keeps; everything else (a token,
#: a password, ``JPY_PARENT_PID``) is dropped. ``--keep-env`` adds names (the course's
#: declared settings, see instructor.engine.kernel).
ENV_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR",
    "VIRTUAL_ENV", "IPYTHONDIR", "MPLBACKEND", "MPLCONFIGDIR", "KERAS_HOME",
    "KERAS_BACKEND", "XLA_FLAGS", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "PYTHONPATH",
    "PYTHONHASHSEED", "PYTHONIOENCODING", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
    "PYTHONWARNINGS", "NBGRADER_EXECUTION", "NBGRADER_VALIDATING",
})
#: Prefixes of kept names: locale, TensorFlow's own switches.
ENV_PREFIXES = ("LC_", "TF_")


def allowed_env(env: dict[str, str], keep: frozenset[str] | set[str] = frozenset()
                ) -> dict[str, str]:
    """``env`` with only the names on the allow-list (:data:`ENV_NAMES`,
    :data:`ENV_PREFIXES`) and ``keep``."""
    return {k: v for k, v in env.items()
            if k in ENV_NAMES or k in keep or k.startswith(ENV_PREFIXES)}


# ---------------------------------------------------------------- namespaces
_CLONE_NEWNS, _CLONE_NEWIPC = 0x00020000, 0x08000000
_CLONE_NEWUSER, _CLONE_NEWPID = 0x10000000, 0x20000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
_MS_REC, _MS_PRIVATE = 0x4000, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER = 1, 36
#: Signals the launcher passes on to the kernel (jupyter_client interrupts with SIGINT).
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2)


def _unshare(flags: int) -> None:
    libc = _libc()
    if libc.unshare(ctypes.c_int(flags)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    libc = _libc()
    if libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                  ctypes.c_ulong(flags), data.encode() if data else None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _die_with_parent() -> None:
    _libc().prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def new_namespaces() -> str | None:
    """Move this process's future children into new PID, mount and IPC namespaces (and a
    user namespace when not root, mapping this user to itself). None if done, else why
    not."""
    uid, gid = os.geteuid(), os.getegid()
    flags = _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWIPC
    try:
        if uid != 0:
            _unshare(flags | _CLONE_NEWUSER)
            with open("/proc/self/setgroups", "w") as out:
                out.write("deny")
            with open("/proc/self/uid_map", "w") as out:
                out.write(f"{uid} {uid} 1")
            with open("/proc/self/gid_map", "w") as out:
                out.write(f"{gid} {gid} 1")
        else:
            _unshare(flags)
    except OSError as err:
        return f"no PID and mount namespaces ({err.strerror})"
    return None


def private_mounts(shm_mb: float) -> list[str]:
    """In a new mount namespace, as process 1 of a new PID namespace: mount changes stay
    here, a fresh ``/proc`` (this namespace's processes only) and a private ``/dev/shm``
    of ``shm_mb`` MiB. What failed, if anything."""
    problems = []
    try:
        _mount("none", "/", None, _MS_REC | _MS_PRIVATE)
    except OSError as err:
        return [f"no private mounts ({err.strerror})"]
    try:
        _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    except OSError as err:
        problems.append(f"no fresh /proc ({err.strerror}): the host's processes are visible")
    global _PRIVATE_SHM
    if os.path.isdir("/dev/shm"):
        try:
            _mount("tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV,
                   f"size={max(1, int(shm_mb * 1024))}k,mode=1777")
            _PRIVATE_SHM = True
        except OSError as err:
            problems.append(f"no private /dev/shm ({err.strerror}): it may not use it")
    return problems


def _forward(target: list[int]):
    def handler(signum, _frame):
        if target[0] > 0:
            try:
                os.kill(target[0], signum)
            except OSError:
                pass
    for signum in FORWARDED:
        signal.signal(signum, handler)


def _wait_for(pid: int, starter: int | None = None, every: float = 0.2) -> int:
    """Reap children until ``pid`` ends; its wait status.

    With ``starter`` (the launcher's parent, the grader), kill ``pid`` once this process
    is no longer its child: a grader killed mid-run would otherwise leave the launcher
    and its kernel running, reparented. (``PR_SET_PDEATHSIG`` fires when the starting
    *thread* ends, which may be long before the grader does; and a process that has
    entered new PID namespaces cannot start a thread to watch. So it polls.)"""
    while starter is not None:
        try:
            done, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return 0
        if done == pid:
            return status
        if done:
            continue
        if os.getppid() != starter:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            break  # reaped below
        time.sleep(every)
    while True:
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if done == pid:
            return status


def _exit_like(status: int) -> None:
    """End this process as a process that ended with wait status ``status`` did."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        signal.signal(signum, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.kill(os.getpid(), signum)
        os._exit(128 + signum)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _descendants() -> list[int]:
    found = []
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as f:
                found += [int(pid) for pid in f.read().split()]
    except OSError:
        pass
    return found


def kill_descendants(rounds: int = 200) -> None:
    """As a child subreaper: kill and reap every process left below this one (processes
    that double-forked or called setsid are reparented here, not to init)."""
    for _ in range(rounds):
        children = _descendants()
        if not children:
            return
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break


def _start(run_kernel) -> None:
    """In a forked child: signals back to their defaults, then ``run_kernel()``, which
    execs; if it cannot, say why and end (never return into the launcher's code)."""
    try:
        for signum in FORWARDED:
            signal.signal(signum, signal.SIG_DFL)
        run_kernel()
    except BaseException as err:  # noqa: BLE001 - a forked child must not return
        print(f"[grading sandbox] could not start the command: {err}", file=sys.stderr)
    finally:
        sys.stderr.flush()
        os._exit(127)


def isolate(run_kernel, shm_mb: float) -> None:
    """Run ``run_kernel()`` (which execs the kernel) in a child, alone, and end as it ends.

    With namespaces: this process stays outside and passes signals on. Its child is
    process 1 (the init) of a new PID namespace: it mounts ``/proc`` and ``/dev/shm``
    afresh, starts the kernel, reaps orphans and ends when the kernel ends; Linux then
    kills whatever else is in the namespace. The init dies with this process
    (``PR_SET_PDEATHSIG``), so killing the launcher kills it all; and the launcher kills
    the init when its own starter (the grader) ends (:func:`_wait_for`).
    Without namespaces: this process is a child subreaper and kills every descendant
    when the kernel ends.
    """
    why = new_namespaces()
    target = [0]
    if why is not None:
        print(f"[grading sandbox] {why}: what the kernel starts is killed when it ends "
              "(subreaper), but it sees the host's /proc and shares /dev/shm.",
              file=sys.stderr)
        _libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    alive_r, alive_w = os.pipe()       # closed when this process dies
    status_r, status_w = os.pipe()     # the init sends the kernel's wait status
    _forward(target)
    pid = os.fork()
    if pid == 0:
        os.close(alive_w)
        os.close(status_r)
        _die_with_parent()
        if select.select([alive_r], [], [], 0)[0]:
            os._exit(1)  # the launcher died before PR_SET_PDEATHSIG applied
        os.setpgid(0, 0)  # the kernel's signals come from this process, not a killpg
        if why is None:
            for problem in private_mounts(shm_mb):
                print(f"[grading sandbox] {problem}", file=sys.stderr)
            target[0] = 0
            kernel = os.fork()
            if kernel == 0:
                os.close(status_w)
                os.close(alive_r)
                _start(run_kernel)
            target[0] = kernel
            status = _wait_for(kernel)
            os.write(status_w, str(status).encode())
            os._exit(0)  # process 1 ends: Linux kills the rest of the namespace
        os.close(status_w)
        os.close(alive_r)
        _start(run_kernel)
    os.close(alive_r)
    os.close(status_w)
    target[0] = pid
    status = _wait_for(pid, starter=os.getppid())
    if why is None:
        sent = b""
        while chunk := os.read(status_r, 64):
            sent += chunk
        status = int(sent) if sent.strip().isdigit() else status
    else:
        kill_descendants()
    _exit_like(status)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-gb", type=float, default=0.0,
                        help="address-space cap in GiB (0: none)")
    parser.add_argument("--file-mb", type=float, default=0.0,
                        help="largest file the process may write, in MiB (0: no cap)")
    parser.add_argument("--cpu-seconds", type=float, default=0.0,
                        help="CPU time of the process, all threads (0: no cap)")
    parser.add_argument("--processes", type=int, default=0,
                        help="processes and threads of the process and its children "
                             "(0: no cap)")
    parser.add_argument("--shm-mb", type=float, default=64.0,
                        help="size of the private /dev/shm, MiB")
    parser.add_argument("--ro", action="append", default=[], help="a readable path")
    parser.add_argument("--rw", action="append", default=[], help="a read-write path")
    parser.add_argument("--bind-port", action="append", type=int, default=[],
                        help="a TCP port the process may bind (it may connect to none)")
    parser.add_argument("--keep-env", action="append", default=[],
                        help="an environment variable kept besides the allow-list")
    parser.add_argument("--no-landlock", action="store_true",
                        help="skip the file-system and network rules")
    parser.add_argument("--no-isolation", action="store_true",
                        help="exec the command directly: no namespaces, no subreaper")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    env = allowed_env(dict(os.environ), set(args.keep_env))
    if env != dict(os.environ):
        # start again with only the allowed environment: the init forked from this
        # process shows its environment in /proc/1/environ, which a fork cannot rewrite
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__),
                                   *(sys.argv[1:] if argv is None else argv)], env)
    if args.processes > 0 and cap_processes(args.processes) == "none":
        print("[grading sandbox] no process limit: no writable cgroup, and RLIMIT_NPROC "
              "does not apply to root. Grade as another user or in a container.",
              file=sys.stderr)

    def run_kernel() -> None:
        if args.memory_gb > 0:
            cap_memory(args.memory_gb)
        if args.file_mb > 0:
            cap_files(args.file_mb)
        if args.cpu_seconds > 0:
            cap_cpu(args.cpu_seconds)
        gaps = []
        if not args.no_landlock:
            abi = landlock_abi()
            # the devices, file by file, and /dev/shm where it is this sandbox's own
            devices = [*DEVICES, *(["/dev/shm"] if _PRIVATE_SHM else [])]
            if not restrict_files(args.ro, [*args.rw, *devices], args.bind_port):
                abi = 0
            gaps = missing(abi)
        kept = drop_capabilities()
        if kept:
            gaps.append(kept)
        if gaps:
            print(f"[grading sandbox] missing: {'; '.join(gaps)}. Grade in a container "
                  "or as a separate user.", file=sys.stderr)
        os.execvpe(command[0], command, env)

    if args.no_isolation:
        run_kernel()
    isolate(run_kernel, args.shm_mb)


if __name__ == "__main__":
    main()
