"""The course copies some tests grade in (tests/course_copy.py): a copy never sets up the
environment it links, which would point the editable install and kernel at itself."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests import course_copy


def _course(root, stamp_age: float) -> None:
    """A course at ``root`` whose setup stamp is ``stamp_age`` seconds older than its pins."""
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "nbgrader").touch()
    for name in course_copy.SETUP_SOURCES:
        (root / name).write_text("")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", *course_copy.SETUP_SOURCES], check=True)
    stamp = root / course_copy.SETUP_STAMP
    stamp.touch()
    now = stamp.stat().st_mtime
    os.utime(stamp, (now - stamp_age, now - stamp_age))


@pytest.mark.parametrize("due", [False, True])
def test_a_copy_is_made_only_when_setup_is_not_due(tmp_path, monkeypatch, due):
    root, dest = tmp_path / "course", tmp_path / "copy"
    _course(root, 60 if due else -60)
    monkeypatch.setattr(course_copy, "ROOT", root)
    if due:
        with pytest.raises(pytest.skip.Exception, match="run make setup"):
            course_copy.fresh_copy(dest)
        assert not dest.exists()
    else:
        assert course_copy.fresh_copy(dest) == dest
        assert (dest / ".venv").resolve() == (root / ".venv").resolve()
        assert (dest / "pyproject.toml").exists()
