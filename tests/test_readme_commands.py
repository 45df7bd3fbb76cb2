"""The instructor guide's plain nbgrader commands, exactly as written, in a fresh copy.

A copy of the tracked files (as a clean clone has them) gets the course's environment as
``.venv`` (a link: installing it again would take minutes) and nothing else: no activated
environment, so ``.venv/bin`` is not on ``PATH``. nbgrader then has to find ``alembic``
(which it runs to create the gradebook) through the course's configuration.
"""

from __future__ import annotations

import csv
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from instructor.workflow.sample_class import make_notebook
from tests.course_copy import fresh_copy

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
A = "02_stacked_autoencoders"
AUTOGRADE = f".venv/bin/nbgrader autograde {A} --student alice"


def _run(command: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(shlex.split(command), cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_plain_nbgrader_commands_work_without_an_activated_environment(tmp_path, data_dir):
    guide = (ROOT / "docs" / "instructors.md").read_text()
    assert AUTOGRADE in guide, "docs/instructors.md no longer shows this command: update the test"
    course = tmp_path / "course"
    course.mkdir()
    fresh_copy(course)
    venv_bin = str(ROOT / ".venv" / "bin")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and ".venv" not in p and not Path(p, "alembic").exists()]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(PATH=os.pathsep.join(path), COURSE_DATA_DIR=str(data_dir))
    assert shutil.which("alembic", path=env["PATH"]) is None
    assert venv_bin not in env["PATH"]
    # the first command that creates gradebook.db (nbgrader runs alembic for it)
    _run(f".venv/bin/nbgrader generate_assignment {A} --force", course, env)
    assert (course / "gradebook.db").exists()
    answer = course / "submitted" / "alice" / A
    answer.mkdir(parents=True)
    # the released notebook with both tasks done (the answer key's answers)
    nbformat.write(make_notebook(A, "correct", course), answer / f"{A}.ipynb")
    _run(AUTOGRADE, course, env)
    assert (course / "autograded" / "alice" / A / f"{A}.ipynb").exists()
    _run("make grades", course, env)  # docs/instructors.md: "make grades  # -> grades.csv"
    rows = list(csv.DictReader((course / "grades.csv").open()))
    alice = next(r for r in rows if r["student_id"] == "alice")
    assert float(alice["score"]) == float(alice["max_score"]) == 12, alice
