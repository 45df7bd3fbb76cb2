"""Start a grading kernel under limits: a memory cap and a file-system allow-list.

Used as a command prefix by :class:`SandboxedKernelManager`::

    python instructor/engine/sandbox.py --memory-gb 8 --file-mb 256 --cpu-seconds 1800 \\
        --processes 256 --rw /tmp/scratch --ro /usr ... -- \\
        python -m ipykernel_launcher -f kernel.json

then ``exec``\\ s the kernel, which inherits the limits (as does anything it starts):

- ``--file-mb``, ``--cpu-seconds`` and ``--processes`` cap the size of a file it
  writes, its CPU time and its processes (a fork loop): see :func:`cap_files`,
  :func:`cap_cpu`, :func:`cap_processes`.

- ``RLIMIT_AS`` caps the address space: an allocation beyond it fails with
  ``MemoryError`` in the student's cell (or, inside a C library, kills the kernel,
  which the grader treats as a crash) instead of swapping the grading machine to death.
- Linux Landlock (kernel 5.13+, no privileges needed) limits the files the kernel can
  touch: read (and execute) only the ``--ro`` paths, read and write only the ``--rw``
  paths. The repository (notebooks with hidden tests, the answer key, the gradebook)
  and the grader's folders are on neither list, so student code cannot read the hidden
  tests or write a grade. Without Landlock (an old kernel, another OS), the launcher
  says so on stderr and runs with the memory cap only.

This file runs before anything else in the kernel's process, so it imports only the
standard library.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import resource
import sys

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


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


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


def restrict_files(read_only: list[str], read_write: list[str]) -> bool:
    """Allow this process (and its children) only the given paths. False if unsupported."""
    abi = landlock_abi()
    if abi < 1:
        return False
    create, add_rule, restrict = _SYSCALLS[platform.machine()]
    libc = _libc()
    handled = _handled(abi)
    attr = _RulesetAttr(handled)
    ruleset = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
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
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        if libc.syscall(restrict, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
            return False
    finally:
        os.close(ruleset)
    return True


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
    parser.add_argument("--ro", action="append", default=[], help="a readable path")
    parser.add_argument("--rw", action="append", default=[], help="a read-write path")
    parser.add_argument("--no-landlock", action="store_true",
                        help="skip the file-system rules (memory cap only)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    if args.memory_gb > 0:
        cap_memory(args.memory_gb)
    if args.file_mb > 0:
        cap_files(args.file_mb)
    if args.cpu_seconds > 0:
        cap_cpu(args.cpu_seconds)
    if args.processes > 0 and cap_processes(args.processes) == "none":
        print("[grading sandbox] no process limit: no writable cgroup, and RLIMIT_NPROC "
              "does not apply to root. Grade as another user or in a container.",
              file=sys.stderr)
    if not args.no_landlock and not restrict_files(args.ro, args.rw):
        print("[grading sandbox] Landlock is not available: the kernel can read and write "
              "every file this user can. Grade in a container or as a separate user.",
              file=sys.stderr)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
