"""The grader's touches of a folder a sandbox can write (instructor/engine/untrusted.py):
no link is followed, whatever the sandbox planted. The real sandboxed runs are in
tests/test_hidden_tests.py ("links a sandbox plants")."""

from __future__ import annotations

import os

import pytest

from instructor.engine import untrusted
from instructor.engine.answer import protocol


@pytest.fixture
def planted(tmp_path):
    """A sandbox's folder with a file, and links to a folder of the grading machine."""
    box, outside = tmp_path / "box", tmp_path / "outside"
    (box / "own").mkdir(parents=True)
    outside.mkdir()
    (outside / "precious").write_text("keep me\n")
    (box / "own" / "file").write_text("the sandbox's\n")
    os.symlink(outside, box / "link-to-folder")
    os.symlink(outside / "precious", box / "own" / "link-to-file")
    return box, outside


def test_a_link_on_the_way_is_refused(planted):
    box, _ = planted
    with pytest.raises(OSError):
        untrusted.open_folder(box, "link-to-folder")
    with pytest.raises(OSError):
        untrusted.open_folder(box, "../outside")
    fd = untrusted.open_folder(box, "own")
    assert sorted(os.listdir(fd)) == ["file", "link-to-file"]
    os.close(fd)


def test_remove_takes_the_link_never_what_it_names(planted):
    box, outside = planted
    assert not untrusted.remove(box, "link-to-folder/precious")
    assert untrusted.remove(box, "own/link-to-file")
    assert untrusted.remove(box, "own/file")
    assert (outside / "precious").read_text() == "keep me\n"
    assert sorted(os.listdir(box / "own")) == []


def test_verdicts_are_read_through_the_descriptor_whatever_the_name_now_names(planted):
    """As the judge reads the checking process's verdicts: one frame, from the file the
    grader opened, never by its name."""
    box, outside = planted
    path = box / "own" / "out.json"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        protocol.write_frame(fd, {"verdict": 1})
        path.unlink()
        os.symlink(outside / "precious", path)   # the name now names the machine's file
        os.lseek(fd, 0, os.SEEK_SET)
        assert protocol.read_frame(fd, 1 << 20) == {"verdict": 1}
        os.lseek(fd, 0, os.SEEK_SET)
        with pytest.raises(protocol.FrameTooLarge):
            protocol.read_frame(fd, 4)
    finally:
        os.close(fd)
