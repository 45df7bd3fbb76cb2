"""nbgrader with the course's configuration: its command line and its config file."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

from helpers import settings
from instructor import ROOT
from instructor.engine.forking import Forked
from instructor.workflow.formgrader import RUN_BY_THE_COURSE

NBGRADER = str(Path(sys.executable).with_name("nbgrader"))
#: What nbgrader runs with unless the environment or the caller says otherwise: fast mode
#: (the one place this default is set; ``nbgrader autograde`` forces it anyway).
NBGRADER_DEFAULTS = {"COURSE_MODE": "fast"}


def grading_env(env: dict | None = None) -> dict[str, str]:
    """The environment nbgrader and the grading run with; a relative folder setting
    is made absolute from where the command was typed (grading runs elsewhere)."""
    full = {**NBGRADER_DEFAULTS, **os.environ, **(env or {})}
    for name, setting in settings.SETTINGS.items():
        if setting.kind == "path" and full.get(name) and not os.path.isabs(full[name]):
            full[name] = os.path.abspath(full[name])
    return full


def nbgrader(*args: str, root: Path = ROOT, check: bool = True, env: dict | None = None,
             capture: bool = False, timeout: float | None = None, db: Path | None = None,
             server: str | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` with the course's configuration in :func:`grading_env`;
    output captured through files, not pipes a process outliving nbgrader could hold open;
    with ``server``, forked from that nbgrader server, or spawned if it does not fork."""
    full_env = {**grading_env(env), RUN_BY_THE_COURSE: "1"}
    command = [NBGRADER, *args]
    if Path(root).resolve() != ROOT:
        command.append(f"--CourseDirectory.root={root}")
    if Path(root).resolve() != ROOT or db is not None:
        command.append(f"--CourseDirectory.db_url=sqlite:///{db or Path(root) / 'gradebook.db'}")
    if not capture:
        return subprocess.run(command, cwd=ROOT, env=full_env, check=check, text=True,
                              timeout=timeout)
    done = _forked(server, command, full_env, timeout) if server else None
    if done is None:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            ran = subprocess.run(command, cwd=ROOT, env=full_env, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=err, timeout=timeout)
            texts = []
            for f in (out, err):
                f.seek(0)
                texts.append(f.read().decode("utf-8", errors="replace"))
        done = subprocess.CompletedProcess(command, ran.returncode, *texts)
    if check:
        done.check_returncode()
    return done


def _forked(server: str, command: list[str], env: dict, timeout: float | None,
            ) -> subprocess.CompletedProcess | None:
    """``command`` run by a child of the nbgrader server; None when it is not forked."""
    try:
        child = Forked(server, {"argv": command, "cwd": str(ROOT), "env": env})
    except OSError:
        return None
    try:
        text, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        raise
    return subprocess.CompletedProcess(command, child.returncode, text, "")


def load_config(root: Path = ROOT):
    """The course's nbgrader config, pointed at course folder ``root``."""
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    cfg.CourseDirectory.root = str(root)
    cfg.CourseDirectory.db_url = f"sqlite:///{Path(root) / 'gradebook.db'}"
    return cfg
