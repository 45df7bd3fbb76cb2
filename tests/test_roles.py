"""Every sandboxed process starts through its role's spec (instructor.engine.roles), and,
when the grader is root, runs as the unprivileged grading user, who cannot write the
course: probed from a real sandboxed run, on the host side (/proc/<pid>/status of bwrap)
and inside."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers.grading.hidden import KEY_VARIABLE
from instructor.engine import limits, roles, sandbox
from tests import needs

ROOT = Path(__file__).resolve().parents[1]
needs_bwrap = needs.bwrap()
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the grader is not root here")

PROBE = f"""
import json, os, sys, traceback
sys.stdin.readline()  # held until the grader has looked at it from outside
found = {{}}
for name in ("helpers.grading", "instructor.engine.answer.wire"):
    try:
        found[name] = __import__(name, fromlist=["_"]).__file__
    except ImportError:
        found[name] = None
try:
    from helpers import settings
    settings.read("NOT_A_DECLARED_SETTING")
except Exception:
    found["traceback"] = traceback.format_exc()
try:
    from importlib.metadata import distribution
    found["origin"] = distribution("autoencoders-course").read_text("direct_url.json")
except Exception:
    found["origin"] = None
modules = list(sys.modules.values())
view = [str(found["origin"]), sys.prefix, sys.exec_prefix, sys.executable, os.getcwd(), *sys.path,
        *map(str, sys.meta_path), *sys.path_importer_cache, *os.environ.values(),
        *(str(getattr(m, "__file__", None)) for m in modules),
        *(str(getattr(m, "MAPPING", "")) for m in modules), open("/proc/self/cmdline").read()]
print(json.dumps({{"key": os.environ.get({KEY_VARIABLE!r}), "found": found, "view": view,
                  "secret": "COURSE_HIDDEN_SECRET_FILE" in os.environ,
                  "write": os.access(".", os.W_OK)}}))
"""
#: Where the course lives on the host: no sandboxed process may see it named.
HOST_PATHS = {str(ROOT), os.path.realpath(sys.prefix), os.path.abspath(sys.prefix)}


def host_uid(pid: int) -> int:
    """The real uid of ``pid`` as the host sees it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def probe(role: roles.Role, cwd: Path) -> tuple[dict, int]:
    """What ``role`` sees inside, and the host uid of its bwrap process."""
    cwd.mkdir(parents=True)
    box = roles.Box(limits.readable_paths(), environment={
        **os.environ, KEY_VARIABLE: "the key", "COURSE_HIDDEN_SECRET_FILE": "/secret"})
    argv, env = roles.launch(role, [sys.executable, "-c", PROBE], str(cwd), box)
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30  # the launcher execs bwrap: same pid
        while not Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")[0].endswith(
                b"bwrap") and time.monotonic() < deadline:
            time.sleep(0.05)
        uid = host_uid(proc.pid)
        out, err = proc.communicate("go\n", timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1]), uid


@needs_bwrap
def test_each_role_gets_its_rules_and_only_them(tmp_path):
    """The key reaches the checking process alone, the grader's secret none; the answer
    process does not see the course's helpers, only the checking process and its server
    the grader's package; each writes its own folder."""
    seen = {role.name: probe(role, tmp_path / role.name.replace(" ", "-"))[0]
            for role in (roles.ANSWERS, roles.CHECK, roles.SERVER,
                         roles.PREFLIGHT)}
    for name, inside in seen.items():
        assert inside["key"] == ("the key" if name == roles.CHECK.name else None), name
        assert not inside["secret"] and inside["write"], name
        assert bool(inside["found"]["helpers.grading"]) == (name != roles.ANSWERS.name), name
        assert bool(inside["found"]["instructor.engine.answer.wire"]) == (
            name in (roles.CHECK.name, roles.SERVER.name)), name


@needs_bwrap
def test_the_answer_package_is_all_the_answer_process_reads_of_the_grader(tmp_path):
    """Launched as the grading launches it, the answer process imports every module of
    its package (the standard library and the package suffice), and finds neither
    ``helpers`` nor any other module of the grader's."""
    from instructor.engine import judge

    names = sorted(p.stem for p in judge.ANSWER.glob("*.py"))
    code = ("import importlib, json\n"
            f"for name in {names!r}:  # __main__ runs nothing when imported by name\n"
            "    importlib.import_module('instructor.engine.answer.' + name)\n"
            "found = []\n"
            "for name in ('helpers', 'instructor.engine.checking', 'instructor.engine.roles'):\n"
            "    try:\n"
            "        found.append(importlib.import_module(name).__name__)\n"
            "    except ImportError:\n"
            "        pass\n"
            "print(json.dumps(found))\n")
    box = roles.Box(limits.readable_paths())
    argv, env = roles.launch(roles.ANSWERS, [sys.executable, "-P", "-c", code], str(tmp_path),
                             box, extra=[str(judge.ANSWER)])
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@needs_bwrap
def test_no_role_sees_where_the_course_lives(tmp_path):
    """Inside every role's sandbox, nothing names the course folder or the virtual
    environment on the host: not sys.prefix, sys.path, a module's file, a traceback through
    the course's code, the working folder, the environment nor the command line."""
    for role in (roles.ANSWERS, roles.CHECK, roles.SERVER, roles.PREFLIGHT):
        inside = probe(role, tmp_path / role.name.replace(" ", "-"))[0]
        leaks = {line for line in [*inside["view"], *map(str, inside["found"].values())]
                 if any(course in line for course in HOST_PATHS)}
        assert not leaks, (role.name, leaks)
        if role is not roles.ANSWERS:
            assert inside["found"]["helpers.grading"].startswith(roles.COURSE + "/")
            assert roles.COURSE + "/helpers/settings.py" in inside["found"]["traceback"]


def test_a_process_sees_its_own_folder_where_the_grader_does():
    """Even in the course folder (a TMPDIR there): paths the grader names there, in
    arguments or in files it writes, hold inside."""
    own = str(ROOT / "build" / "grading-kernel-x")
    moved = roles.places(roles.Box(), own)
    assert sandbox.seen_at(f"{own}/.ipc-1/kernel.json", moved) == f"{own}/.ipc-1/kernel.json"
    assert sandbox.seen_at(str(ROOT / "helpers"), moved) == f"{roles.COURSE}/helpers"
    assert sandbox.seen_at(sys.prefix, moved) == roles.VENV
    assert roles.places(roles.Box(isolation="limits-only"), own) == {}


@needs_bwrap
@as_root
def test_started_as_root_every_role_runs_as_the_grading_user(tmp_path):
    user = sandbox.grading_user()
    assert user and user[0] != 0
    for role in (roles.ANSWERS, roles.CHECK, roles.SERVER, roles.PREFLIGHT):
        assert probe(role, tmp_path / role.name.replace(" ", "-"))[1] == user[0], role.name





@as_root
def test_the_grading_user_cannot_write_the_course(tmp_path):
    """What an escape from a sandbox would run as: it can write none of the course's
    code, configuration, gradebook or a student's submitted folder."""
    uid, gid = sandbox.grading_user()
    student = tmp_path / "submitted" / "alice" / "ps1"
    student.mkdir(parents=True)
    (student / "ps1.ipynb").write_text("{}")
    (tmp_path / "gradebook.db").write_bytes(b"")
    targets = [ROOT / "nbgrader_config.py", ROOT / "helpers" / "__init__.py",
               ROOT / "instructor" / "engine" / "sandbox.py", tmp_path / "gradebook.db",
               student / "ps1.ipynb", student / "new.py"]
    os.chmod(tmp_path, 0o755)
    pid = os.fork()
    if pid == 0:  # becomes the grading user, as the launcher does, and tries each
        wrote = 0
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            for path in targets:
                try:
                    open(path, "a").close()
                    wrote += 1
                except PermissionError:
                    pass
        finally:
            os._exit(wrote if os.getuid() == uid else 99)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def test_thread_pools_are_sized_by_the_process_cap_not_the_host(monkeypatch):
    """On 64 cores, TensorFlow's and OpenMP's pools of the three processes of a submission
    stay within its process cap (512): 25 threads each, not 64; an instructor's own
    value is kept."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    base = {"PATH": "/usr/bin"}
    env = roles.environment(roles.ANSWERS, roles.Box(processes=512, environment=base))
    sizes = [int(env[name]) for name in roles.THREAD_POOLS]
    assert sizes == [25, 25, 25] and 3 * (3 * 25 + 10) <= 512
    assert roles.environment(roles.CHECK, roles.Box(processes=4096, environment=base))[
        "OMP_NUM_THREADS"] == "64"
    mine = roles.environment(roles.CHECK, roles.Box(processes=512, environment={
        **base, "OMP_NUM_THREADS": "1"}))
    assert mine["OMP_NUM_THREADS"] == "1" and mine["TF_NUM_INTRAOP_THREADS"] == "25"


@as_root
def test_root_binds_for_the_user_only_what_the_user_cannot_swap(tmp_path):
    """What the launcher binds as root for the grading user (sandbox.stage) is never in a
    folder the user owns, nor reached through a link: the user could swap it for a link
    to any file between the check and the bind."""
    user = sandbox.grading_user()
    mine = tmp_path / "handed"
    mine.mkdir()
    sandbox.hand_over(str(mine))
    (mine / "data.npz").write_bytes(b"")
    os.chmod(mine / "data.npz", 0o600)  # root's, unreachable by the user
    (tmp_path / "link").symlink_to("/etc")
    assert not sandbox.reachable(str(mine / "data.npz"), user)
    assert not sandbox.fixed(str(mine / "data.npz"), user)
    assert not sandbox.fixed(str(tmp_path / "link" / "hostname"), user)
    assert sandbox.fixed("/usr/bin", user) and sandbox.fixed(sys.base_prefix, user)
    cmd = ["bwrap", "--ro-bind", str(mine / "data.npz"), "/data.npz", "--", "true"]
    assert sandbox.stage(cmd, user) == cmd  # left to bwrap, as the user: it fails


@as_root
def test_the_grading_user_alone_passes_through_the_graders_folders(tmp_path):
    """A folder handed to the grading user lies in the grader's own temporary folders
    (the gradebook copies sit beside it): the user may pass through them, no other user
    of the machine may (a hub's students share its /tmp)."""
    user = sandbox.grading_user()
    run = Path(tempfile.mkdtemp(prefix="autograde-run-"))  # 0700, root's, as autograde's
    try:
        (run / "gradebook.db").write_bytes(b"SQLite format 3\0")
        handed = run / "grade-s01" / "answers"
        handed.mkdir(parents=True)
        os.chmod(run / "grade-s01", 0o700)
        sandbox.hand_over(str(handed))
        assert sandbox.reachable(str(handed), user)
        for folder in (run, run / "grade-s01"):
            mode = os.lstat(folder).st_mode
            assert not mode & (stat.S_IROTH | stat.S_IWOTH | stat.S_IXOTH), oct(mode)
        other = (65534, 65534)  # nobody: any other user
        assert not sandbox.reachable(str(run / "gradebook.db"), other)
    finally:
        shutil.rmtree(run)


def test_the_font_lists_are_copied_never_through_a_link(tmp_path, monkeypatch):
    """A folder a kernel ran in may hold links where the copies go: the grader (root)
    then makes, writes and hands over nothing outside it."""
    cache, empty, theirs = tmp_path / "graders-cache", tmp_path / "empty", tmp_path / "theirs"
    for folder in (cache, empty, theirs / "matplotlib"):
        folder.mkdir(parents=True)
    (cache / "fontlist-v390.json").write_text("{}")
    monkeypatch.setenv("MPLCONFIGDIR", str(cache))
    box = roles.Box(isolation="limits-only")

    def launched(name: str, plant) -> Path:
        cwd = tmp_path / name
        cwd.mkdir()
        plant(cwd / ".tmp")
        env = roles.launch(roles.ANSWERS, ["true"], str(cwd), box)[1]
        return Path(env["MPLCONFIGDIR"])

    config = launched("fresh", lambda tmp: None)
    assert (config / "fontlist-v390.json").read_text() == "{}"
    launched("whole", lambda tmp: tmp.symlink_to(empty))
    launched("folder", lambda tmp: (tmp.mkdir(), (tmp / "matplotlib").symlink_to(
        theirs / "matplotlib")))
    launched("file", lambda tmp: ((tmp / "matplotlib").mkdir(parents=True), (
        tmp / "matplotlib" / "fontlist-v390.json").symlink_to(theirs / "f")))
    assert list(empty.iterdir()) == [] and list(theirs.rglob("*")) == [theirs / "matplotlib"]
    assert os.stat(theirs / "matplotlib").st_uid == os.getuid()
