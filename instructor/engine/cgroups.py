"""One control group per submission, with caps on the whole (memory, processes and
threads, a CPU weight); docs/grading.md, "One group of caps per submission".

Groups are made under the grader's own group, never beside it, so the caps of whatever
runs the grader still hold over them. In cgroup v2 a group that holds processes cannot
enable controllers for its children (EBUSY), hence the leaf :data:`LEAF`. Standard
library only (the launcher joins the group).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from dataclasses import dataclass, field

ROOT = "/sys/fs/cgroup"
#: The controllers a submission's group needs, v1 names.
CONTROLLERS = ("memory", "pids", "cpu")
#: The v2 controllers a submission's group needs, in the order they are enabled.
V2_CONTROLLERS = ("memory", "pids", "cpu")
#: How a submission's group is named: ``<PARENT>-<grader's pid>-<number>``.
PARENT = "course-grading"
#: v2: the leaf of the grader's delegated group that its processes move into.
LEAF = "course-grader"
#: The CPU weight of a submission, v2's scale (100: one process's default share): that
#: of the three processes a grading runs (nbgrader's, the answer and checking processes).
CPU_WEIGHT = 300
_names = itertools.count()


class Unavailable(Exception):
    """No group can be made here: the message says why (one line)."""


@dataclass
class Group:
    """A submission's group: one folder per v1 controller, or one v2 folder."""
    version: int
    paths: list[str] = field(default_factory=list)

    def pids(self) -> set[int]:
        """The processes in the group now."""
        found: set[int] = set()
        for path in self.paths:
            with contextlib.suppress(OSError), open(os.path.join(path, "cgroup.procs")) as f:
                found.update(int(line) for line in f if line.strip())
        return found

    def memory_peak(self) -> int | None:
        """The most memory the group has held, bytes (None: not known)."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        for path in self.paths:
            with contextlib.suppress(OSError, ValueError), open(os.path.join(path, name)) as f:
                return int(f.read())
        return None

    def remove(self, timeout: float = 10.0) -> None:
        """End every process left in the group (SIGKILL) and remove its folders."""
        deadline = time.monotonic() + timeout
        while left := self.pids():
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for path in self.paths:
            with contextlib.suppress(OSError):
                os.rmdir(path)


def own_path(controller: str, proc_cgroup: str = "/proc/self/cgroup") -> str | None:
    """This process's group in ``controller``'s v1 hierarchy (``""``: v2), or None."""
    with open(proc_cgroup) as f:
        for line in f:
            _id, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(","):
                return path
    return None


def _write(path: str, name: str, value: str) -> None:
    with open(os.path.join(path, name), "w") as f:
        f.write(value)


def _sweep(parent: str) -> None:
    """Remove the groups in ``parent`` left by graders that are gone (SIGKILL), if empty."""
    with contextlib.suppress(OSError):
        for entry in os.listdir(parent):
            pid = entry[len(PARENT) + 1:].split("-")[0]
            if not (entry.startswith(PARENT + "-") and pid.isdigit()):
                continue
            try:
                os.kill(int(pid), 0)  # alive (PermissionError: another user's)
            except ProcessLookupError:
                with contextlib.suppress(OSError):  # EBUSY: it still holds a process
                    os.rmdir(os.path.join(parent, entry))
            except PermissionError:
                pass


def _make_v1(group: Group, root: str, name: str, memory: int, processes: int,
             cpu_weight: int, proc_cgroup: str) -> None:
    for controller in CONTROLLERS:
        mount = os.path.join(root, controller)
        own = own_path(controller, proc_cgroup)
        if own is None or not os.path.isfile(os.path.join(mount, "cgroup.procs")):
            raise Unavailable(f"no cgroup v1 {controller} hierarchy at {mount}")
        # beside the grader's other groups, not in a folder of their own: in the
        # cpu hierarchy, a shared parent would hold every submission to one share
        _sweep(os.path.join(mount, own.lstrip("/")))
        path = os.path.join(mount, own.lstrip("/"), f"{PARENT}-{name}")
        os.makedirs(path)
        group.paths.append(path)
    memory_path, pids_path, cpu_path = group.paths
    _write(memory_path, "memory.limit_in_bytes", str(memory))
    with contextlib.suppress(OSError):  # no swap accounting: nothing to cap
        _write(memory_path, "memory.memsw.limit_in_bytes", str(memory))
    _write(pids_path, "pids.max", str(processes))
    _write(cpu_path, "cpu.shares", str(max(2, cpu_weight * 1024 // 100)))


def _delegated(root: str, own: str) -> str:
    """The grader's delegated v2 group, its controllers enabled for children once its
    processes moved into its leaf (a group with processes cannot hand controllers down)."""
    base = os.path.join(root, own.strip("/"))
    if os.path.basename(base) == LEAF:
        base = os.path.dirname(base)
    with open(os.path.join(base, "cgroup.controllers")) as f:
        offered = f.read().split()
    missing = [c for c in V2_CONTROLLERS if c not in offered]
    if missing:
        raise Unavailable(f"the grader's cgroup v2 group ({own}) is not delegated the "
                          f"{', '.join(sorted(missing))} controller(s)")
    with open(os.path.join(base, "cgroup.subtree_control")) as f:
        if set(V2_CONTROLLERS) <= set(f.read().split()):
            return base
    if os.path.normpath(base) != os.path.normpath(root):  # the root is exempt
        if not _is_delegated(base):  # a session's or a service's group is systemd's
            raise Unavailable(f"the grader's cgroup v2 group ({own}) is not delegated to "
                              "it: run it under systemd-run --scope -p Delegate=yes, or "
                              "set COURSE_CGROUP_DELEGATED=1 for a subtree of your own")
        leaf = os.path.join(base, LEAF)
        os.makedirs(leaf, exist_ok=True)
        with open(os.path.join(base, "cgroup.procs")) as f:
            pids = f.read().split()
        for pid in pids:  # the kernel takes one pid per write
            with contextlib.suppress(ProcessLookupError):
                _write(leaf, "cgroup.procs", pid)
    _write(base, "cgroup.subtree_control", " ".join(f"+{c}" for c in V2_CONTROLLERS))
    return base


def _is_delegated(base: str) -> bool:
    """Whether systemd delegated the group: its ``trusted.delegate`` (or ``user.``) xattr."""
    from helpers import settings  # the grader's side only: the launcher never asks

    if settings.flag("COURSE_CGROUP_DELEGATED"):
        return True
    for name in ("trusted.delegate", "user.delegate"):
        with contextlib.suppress(OSError):
            if os.getxattr(base, name) == b"1":
                return True
    return False


def _make_v2(group: Group, root: str, name: str, memory: int, processes: int,
             cpu_weight: int, proc_cgroup: str) -> None:
    own = own_path("", proc_cgroup)
    if own is None or not os.path.isfile(os.path.join(root, "cgroup.controllers")):
        raise Unavailable(f"no cgroup v2 hierarchy at {root}")
    base = _delegated(root, own)
    _sweep(base)
    group.paths.append(os.path.join(base, f"{PARENT}-{name}"))
    caps = {"memory": ("memory.max", str(memory)), "pids": ("pids.max", str(processes)),
            "cpu": ("cpu.weight", str(max(1, min(10000, cpu_weight))))}
    os.makedirs(group.paths[0])
    for controller in V2_CONTROLLERS:
        if controller in caps:
            _write(group.paths[0], *caps[controller])
    if "memory" in V2_CONTROLLERS:
        with contextlib.suppress(OSError):  # no swap accounting: nothing to cap
            _write(group.paths[0], "memory.swap.max", "0")


def make(memory_bytes: int, processes: int, cpu_weight: int = CPU_WEIGHT, root: str = ROOT,
         proc_cgroup: str = "/proc/self/cgroup") -> Group:
    """A new group under the grader's own, with caps (each given) and ``cpu_weight``: cgroup
    v1 where its controllers are mounted, else v2; :class:`Unavailable` saying why not."""
    name = f"{os.getpid()}-{next(_names)}"
    reasons = []
    v2 = os.path.join(root, "unified") if os.path.isdir(os.path.join(root, "unified")) \
        else root
    for version, maker, where in ((1, _make_v1, root), (2, _make_v2, v2)):
        group = Group(version)
        try:
            try:
                maker(group, where, name, memory_bytes, processes, cpu_weight, proc_cgroup)
            except BaseException:  # what was made of it is removed
                group.remove()
                raise
            return group
        except Unavailable as why:
            reasons.append(str(why))
        except OSError as err:
            reasons.append(f"{maker.__name__[-2:]}: {err.strerror} ({err.filename})")
    raise Unavailable("no cgroup for a submission: " + "; ".join(reasons))


def unavailable(root: str = ROOT) -> str | None:
    """Why no submission's group can be made here (one line), or None when one can."""
    try:
        make(0, 0, root=root).remove()
    except Unavailable as why:
        return str(why)
    return None
