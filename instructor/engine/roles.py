"""One spec per role of a sandboxed process: what it reads, its caps, its environment, its
hidden-test key (docs/grading.md, "The processes"). Every sandboxed process starts
through :func:`launch`, so a new process cannot forget a rule.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field, make_dataclass

from helpers.grading.hidden import KEY_VARIABLE
from helpers.settings import ALLOWED_CALLS, LIMITS, SETTINGS, checked_caps
from instructor import ROOT
from instructor.engine import limits, sandbox, untrusted

#: What a sandboxed process keeps of the environment besides
#: :data:`instructor.engine.sandbox.ENV_NAMES`: the course's settings and the key.
KEPT_ENV = frozenset(SETTINGS) | {KEY_VARIABLE}
#: Never in a sandbox: the file of the grader's secret the keys are drawn from.
SECRET = "COURSE_HIDDEN_SECRET_FILE"
#: The settings that name a file or folder: resolved, as the paths bound are.
PATH_SETTINGS = frozenset(name for name, s in SETTINGS.items() if s.kind == "path")


#: Where a sandbox sees the virtual environment and the course folder: neutral paths, so
#: nothing inside (``sys.prefix``, a traceback, the environment) names where the course lives.
VENV, COURSE = "/opt/venv", "/opt/course"


def places(box: Box, cwd: str | None = None) -> dict[str, str]:
    """Host folder -> where the sandbox sees it (none without bubblewrap); the process's
    own folder ``cwd`` stays where the grader sees it, so paths the grader names there (in
    arguments or files it writes) hold inside."""
    if box.isolation != "bubblewrap":
        return {}
    venv = {os.path.abspath(sys.prefix): VENV, os.path.realpath(sys.prefix): VENV}
    own = {p: p for p in {os.path.abspath(cwd), os.path.realpath(cwd)}} if cwd else {}
    return {str(ROOT): COURSE, **(venv if sys.prefix != sys.base_prefix else {}), **own}


#: The editable install's ``.pth`` and finder name the course folder: a sandbox sees them
#: empty, and finds the course's packages on ``PYTHONPATH`` (:data:`COURSE`).
EDITABLE = os.path.join(sysconfig.get_path("purelib"), "__editable__*")
#: ``importlib.metadata``'s ``direct_url.json``: the editable install's names it too.
ORIGINS = os.path.join(sysconfig.get_path("purelib"), "*.dist-info", "direct_url.json")


#: TensorFlow's and OpenMP's thread pools, which they size by the host's cores.
THREAD_POOLS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def pool_size(box: Box) -> int:
    """Threads per pool of a sandboxed process: the grader's cores, at most what keeps
    a submission's three TensorFlow processes within half its process cap."""
    cores = len(os.sched_getaffinity(0))
    return max(1, min(cores, (box.processes // 2 - 30) // 9))


@dataclass(frozen=True)
class Role:
    """What a sandboxed process of one kind gets."""
    name: str
    key: bool = False           # the submission's hidden-test key in its environment
    course: bool = True         # reads the course's own helpers (else: a stripped copy)
    instructor: bool = False    # reads the grader's package
    server: bool = False        # PID 1 of a read-only view, forks checking processes
    submission: bool = True     # in the submission's cgroup, its folder a capped tmpfs


ANSWERS = Role("answer process", course=False)
CHECK = Role("checking process", key=True, instructor=True)
SERVER = Role("check server", instructor=True, server=True, submission=False)
PREFLIGHT = Role("preflight", submission=False)


@dataclass
class _Box:
    """One grading's sandbox: what its processes read, the cgroup folders, the environment
    (None: this process's), the checks' time, and a field per row of ``settings.LIMITS``
    (its default), each above 0 (else ``settings.CapMissing``)."""
    readable: list[str] = field(default_factory=list)
    isolation: str = "bubblewrap"
    groups: list[str] = field(default_factory=list)
    environment: dict[str, str] | None = None
    checks_timeout: int = 600

    def __post_init__(self) -> None:
        checked_caps(vars(self))

    @classmethod
    def from_settings(cls, env: dict[str, str], caps: dict | None = None, **fields) -> Box:
        """The box of ``caps`` (default: the settings in ``env``), ``fields`` over them."""
        caps = caps or limits.safe_execute(env)
        return cls(**{"readable": limits.readable_paths(env), "environment": dict(env),
                      **caps, **fields})


Box = make_dataclass("Box", [(limit.name, type(limit.default), field(default=limit.default))
                             for limit in LIMITS], bases=(_Box,))
Box.__module__, Box.__doc__ = __name__, _Box.__doc__


def environment(role: Role, box: Box, cwd: str | None = None) -> dict[str, str]:
    """The environment of ``role``: the allow-list and the course's settings (paths as
    the sandbox sees them), the key only if the role holds it; with ``cwd``, its ``.tmp``."""
    env = {k: v for k, v in (box.environment or os.environ).items()
           if k in sandbox.ENV_NAMES or k in KEPT_ENV or k.startswith(sandbox.ENV_PREFIXES)}
    env.pop(SECRET, None)
    if not role.key:
        env.pop(KEY_VARIABLE, None)
    for name in THREAD_POOLS:  # unless the instructor sized them
        env.setdefault(name, str(pool_size(box)))
    moved = places(box)
    for name, value in env.items():  # as bound: /a/b/../data is /a/data only if b is
        value = os.path.realpath(value) if name in PATH_SETTINGS and value else value
        env[name] = os.pathsep.join(sandbox.seen_at(p, moved) for p in value.split(os.pathsep))
    if moved:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [COURSE, env.get("PYTHONPATH")]))
    if cwd is not None:
        os.makedirs(os.path.join(cwd, ".tmp"), exist_ok=True)
        env.update({"TMPDIR": os.path.join(cwd, ".tmp"), "PYTHONDONTWRITEBYTECODE": "1",
                    "IPYTHONDIR": os.path.join(cwd, ".ipython"),
                    "MPLCONFIGDIR": os.path.join(cwd, ".tmp", "matplotlib")})
        _copy_font_lists(os.path.join(cwd, ".tmp"))
    return env


def _copy_font_lists(folder: str) -> None:
    """The grader's matplotlib font lists, copied into ``folder``'s ``matplotlib``
    (given to the grading user): else each sandboxed matplotlib reads every font again
    (about 0.2 s). The grader imports no matplotlib: where its account has no list yet (a
    fresh container or account), one process makes it, once. Nothing is touched through
    a link."""
    cache = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib")
    pattern = os.path.join(glob.escape(cache), "fontlist-v*.json")
    if not glob.glob(pattern):
        _make_font_list(cache)
    found = glob.glob(pattern)
    if not found:
        return
    user = sandbox.grading_user()
    try:
        parent = untrusted.open_folder(folder, "")
    except OSError:
        return
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir("matplotlib", 0o755, dir_fd=parent)
        fd = os.open("matplotlib", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                     dir_fd=parent)
    except OSError:
        return
    finally:
        os.close(parent)
    try:
        if user:
            os.fchown(fd, *user)
        for path in found:
            with contextlib.suppress(OSError), open(path, "rb") as source:
                out = os.open(os.path.basename(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL
                              | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=fd)
                if user:
                    os.fchown(out, *user)
                with os.fdopen(out, "wb") as target:
                    target.write(source.read(limits.MIB))
    finally:
        os.close(fd)


@functools.cache
def _make_font_list(cache: str) -> None:
    """matplotlib's font list made in ``cache``, tried once per process (where it cannot be
    written, matplotlib keeps it elsewhere and sandboxes list the fonts themselves)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)


def launch(role: Role, cmd: list[str], cwd: str, box: Box, files: list[str] = (),
           extra: list[str] = ()) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of ``cmd`` run as ``role`` in ``box``: writing
    only ``cwd``, reading the box's paths (less the course's helpers for a role given a
    stripped copy in ``extra``), ``extra`` and ``files``; through the launcher's caps, then
    bwrap, or the caps alone (``limits-only``, the instructor's explicit choice), or the
    caps, the grading user and the seccomp filter (``grading-user``: Gradescope's
    container, where bwrap cannot start)."""
    env = environment(role, box, cwd)  # makes cwd/.tmp, which the view binds
    for folder in (cwd, os.path.join(cwd, ".tmp")):
        sandbox.hand_over(folder)
    mine, moved = role.submission, places(box, cwd)
    user = sandbox.grading_user() if box.isolation != "limits-only" else None
    caps = [sys.executable, "-I", "-S", sandbox.LAUNCHER,
            f"--allow={','.join(map(str, ALLOWED_CALLS.values()))}",
            *(f"--{name}={getattr(box, name)!r}" for name in sandbox.CAPS),
            *(f"--group={g}" for g in box.groups if mine),
            *([f"--user={user[0]}:{user[1]}"] if user else []),
            *(["--filter"] if box.isolation == "grading-user" else []), "--"]
    if box.isolation in ("limits-only", "grading-user"):
        return [*caps, *cmd], env
    if box.isolation != "bubblewrap":
        raise ValueError(f"unknown isolation {box.isolation!r}: 'bubblewrap', "
                         "'grading-user' or 'limits-only'")
    bwrap = sandbox.bwrap_path()
    if not bwrap:
        raise RuntimeError(sandbox.unavailable(bwrap))
    reads = [p for p in box.readable if role.course or os.path.realpath(p) != limits.HELPERS]
    reads += [str(ROOT / "instructor")] if role.instructor else []
    view = sandbox.bwrap_args(cwd, [*reads, *extra], files, server=role.server,
                              disk_mb=box.disk_mb if mine else 0, places=moved,
                              blank=[*glob.glob(EDITABLE), *glob.glob(ORIGINS)] if moved else [])
    return [*caps, bwrap, *view, "--", *(sandbox.seen_at(arg, moved) for arg in cmd)], env
