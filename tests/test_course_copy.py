"""The course copies some tests grade in (tests/course_copy.py): a copy never sets up the
environment it links, which would point the editable install and kernel at itself; and
setup is due when what it installs from changes, not when a clone writes it anew."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests import course_copy


def _course(root) -> None:
    """A course at ``root``: the Makefile, what setup installs from, a .venv, a git repo."""
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "nbgrader").touch()
    shutil.copy2(course_copy.ROOT / "Makefile", root / "Makefile")
    for name in course_copy.SETUP_SOURCES:
        (root / name).write_text(f"# {name}\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", *course_copy.SETUP_SOURCES], check=True)


def _set_up(root) -> None:
    """What setup's recipe leaves when it has run: its stamp (as make -n names it)."""
    recipe = subprocess.run(["make", "-n", "setup"], cwd=root, capture_output=True,
                            text=True, check=True).stdout
    stamp = next(line.split()[1] for line in recipe.splitlines() if line.startswith("touch "))
    (root / stamp).touch()


def test_setup_is_done_in_a_fresh_clone_of_the_same_sources(tmp_path):
    """A clone, a checkout or a copy writes requirements.txt and pyproject.toml anew:
    make compared their times with its stamp's and ran setup's pip install again. The
    stamp is now named by their content: due only when that changes."""
    _course(tmp_path)
    assert course_copy.setup_due(tmp_path)
    _set_up(tmp_path)
    assert not course_copy.setup_due(tmp_path)
    later = (tmp_path / "Makefile").stat().st_mtime + 3600
    for name in course_copy.SETUP_SOURCES:  # as a fresh clone writes them
        os.utime(tmp_path / name, (later, later))
    assert not course_copy.setup_due(tmp_path)
    with (tmp_path / "requirements.txt").open("a") as f:
        f.write("numpy==2.0.0\n")
    assert course_copy.setup_due(tmp_path)


@pytest.mark.parametrize("due", [False, True])
def test_a_copy_is_made_only_when_setup_is_not_due(tmp_path, monkeypatch, due):
    root, dest = tmp_path / "course", tmp_path / "copy"
    _course(root)
    _set_up(root)
    if due:
        (root / "pyproject.toml").write_text("# changed\n")
    monkeypatch.setattr(course_copy, "ROOT", root)
    if due:
        with pytest.raises(pytest.skip.Exception, match="run make setup"):
            course_copy.fresh_copy(dest)
        assert not dest.exists()
    else:
        assert course_copy.fresh_copy(dest) == dest
        assert (dest / ".venv").resolve() == (root / ".venv").resolve()
        assert (dest / "pyproject.toml").exists()
