"""Bounded input: what a student sends the grader's own processes is checked for size
before it is parsed, kept or unpacked (engine/limits.py, engine/answer/wire.py).

Behaviour only: refused with the message, the cell or test fails, honest work passes.
The memory these caps save is measured in docs/results.md, not asserted here.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from instructor.engine import limits
from instructor.engine.answer import protocol, wire
from instructor.engine.judge import WITHHELD_MESSAGE, verdict_outputs, withheld
from instructor.engine.outcomes import OUTCOMES
from instructor.engine.release import Release
from instructor.engine.repair import RepairSubmission, repaired
from instructor.workflow.submission import check_submission

MIB = 2 ** 20


# ------------------------------------------------------------------ the submitted file
def _release() -> nbformat.NotebookNode:
    meta = {"nbgrader": {"grade": False, "grade_id": "answer", "locked": False,
                         "schema_version": 3, "solution": True, "task": False}}
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def f():\n    raise NotImplementedError", metadata=meta)])


def _submit(folder: Path, nb: nbformat.NotebookNode) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "hw.ipynb")
    return folder / "hw.ipynb"


def test_a_notebook_over_the_cap_is_set_aside_unread(tmp_path):
    release = Release.of(_release())
    nb = _release()
    nb.cells.append(nbformat.v4.new_markdown_cell("x" * (2 * MIB)))
    _submit(tmp_path, nb)
    notes = check_submission(tmp_path, "hw", release, {"COURSE_SUBMISSION_MB": "1"})
    assert len(notes) == 1 and "over the grader's limit of 1 MiB for a notebook" in notes[0]
    assert "COURSE_SUBMISSION_MB" in notes[0] and "scores 0" in notes[0]
    assert not (tmp_path / "hw.ipynb").exists()
    assert (tmp_path / "hw.ipynb.unreadable").exists()  # nbgrader ignores it: 0 points


def test_a_notebook_of_millions_of_json_values_is_set_aside_unparsed(tmp_path):
    """A list of empty objects in a markdown cell's metadata, 3 bytes each in the file
    and about 100 parsed (issue 56: 31.5 MiB took the grading machine's 23 GiB): counted
    before any parser, over the bound the notebook is set aside; honest ones are read."""
    release = Release.of(_release())
    nb = _release()
    nb.cells.append(nbformat.v4.new_markdown_cell("hi", metadata={"x": [{}] * 400_000}))
    _submit(tmp_path, nb)
    notes = check_submission(tmp_path, "hw", release)
    assert len(notes) == 1 and "JSON values" in notes[0] and "scores 0" in notes[0], notes
    assert (tmp_path / "hw.ipynb.unreadable").exists()
    strings = _release()  # as many brackets and commas inside strings: read
    strings.cells[0].outputs = [nbformat.v4.new_output("stream", text="{}, [" * 400_000)]
    _submit(tmp_path / "strings", strings)
    assert check_submission(tmp_path / "strings", "hw", release) == []
    assert protocol.json_values(b'{"a": [1, {"b": "x,]"}], "c": "\\"\\", "d": 2}') == 6


def test_a_notebook_nested_thousands_deep_is_set_aside_unparsed(tmp_path):
    """50,000 nested lists (100 KB) make a parser recurse past Python's limit: the
    nesting is counted before any parser; brackets inside strings are text."""
    release = Release.of(_release())
    text = nbformat.writes(_release())
    bomb = '"metadata": {"x": ' + "[" * 50_000 + "]" * 50_000 + ", "
    (tmp_path / "hw.ipynb").write_text(text.replace('"metadata": {', bomb, 1))
    [note] = check_submission(tmp_path, "hw", release)
    assert "nested over 100 deep" in note and "scores 0" in note, note
    assert (tmp_path / "hw.ipynb.unreadable").exists()
    assert not protocol.json_deeper(b'{"a": "' + b"[" * 500 + b'", "b": [[{}]]}')
    assert protocol.json_deeper(b"[" * 101 + b"]" * 101) and protocol.json_deeper(b"[" * 200)
    assert not protocol.json_deeper(b"[" * 100 + b"]" * 100 + b"[]" * 10_000)


def test_a_cell_over_the_cap_fails_without_being_run(tmp_path):
    nb = _release()
    nb.cells[0].source = "def f():\n    return 1\n_data = '" + "x" * 200_000 + "'\n"
    nbformat.write(_release(), tmp_path / "release.ipynb")
    nb, _ = RepairSubmission(release_notebook=str(tmp_path / "release.ipynb"),
                             cell_source_limit_kb=64).preprocess(nb, {})
    notes = repaired(nb)
    assert any("over the grader's limit of 64 KiB for one cell" in n for n in notes), notes
    source = nb.cells[0].source
    assert len(source) < 1000 and "_data" not in source
    namespace: dict = {}
    with pytest.raises(Exception) as raised:
        exec(compile(source, "<cell>", "exec"), namespace)  # noqa: S102 - our own code
    assert type(raised.value).__name__ == limits.CELL_TOO_LARGE
    assert "COURSE_CELL_SOURCE_KB" in str(raised.value) and "f" not in namespace
    assert limits.CELL_TOO_LARGE in OUTCOMES


def test_stored_outputs_over_the_cap_are_dropped_and_the_code_kept(tmp_path):
    release = Release.of(_release())
    nb = _release()
    nb.cells[0].source = "def f():\n    return 1\n"
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                  text="y" * (3 * MIB))]
    path = _submit(tmp_path, nb)
    notes = check_submission(tmp_path, "hw", release, {"COURSE_CELL_OUTPUT_MB": "1"})
    assert any("were dropped before grading" in n for n in notes), notes
    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.outputs == [] and cell.source == "def f():\n    return 1\n"


def test_an_honest_notebook_is_untouched(tmp_path):
    release = Release.of(_release())
    nb = _release()
    nb.cells[0].source = "def f():\n    return 1\n"
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n")]
    path = _submit(tmp_path, nb)
    assert check_submission(tmp_path, "hw", release) == []
    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.source == "def f():\n    return 1\n" and cell.outputs[0].text == "ok\n"


# ------------------------------------------------------------------ records
def _zip_bomb(path: Path, unpacked_mb: int = 300) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("model.weights.h5", "w", force_zip64=True) as out:
            for _ in range(unpacked_mb):
                out.write(bytes(MIB))


def _npy_header(path: Path, shape: tuple) -> None:
    with open(path, "wb") as out:
        np.lib.format.write_array_header_1_0(
            out, {"descr": "<f8", "fortran_order": False, "shape": shape})


@pytest.mark.parametrize("bomb", ["keras-zip", "keras-members", "keras-h5", "npy"])
def test_records_that_unpack_past_the_cap_are_refused_unread(tmp_path, bomb):
    if bomb == "keras-zip":
        _zip_bomb(tmp_path / "r-1.keras")
        assert (tmp_path / "r-1.keras").stat().st_size < 2 * MIB
    elif bomb == "keras-members":
        with zipfile.ZipFile(tmp_path / "r-1.keras", "w") as zf:
            for i in range(wire.MAX_MEMBERS + 1):
                zf.writestr(f"{i}.json", "{}")
    elif bomb == "keras-h5":  # a small file whose weights declare 4 GB
        import h5py

        h5 = io.BytesIO()
        with h5py.File(h5, "w") as f:
            f.create_dataset("w", shape=(10 ** 9,), dtype="f4", chunks=(2 ** 16,),
                             compression="gzip")
        with zipfile.ZipFile(tmp_path / "r-1.keras", "w") as zf:
            zf.writestr("model.weights.h5", h5.getvalue())
    else:
        _npy_header(tmp_path / "r-1.npy", (10 ** 9,))
    with pytest.raises(wire.RecordTooLarge, match="COURSE_RECORD_MB|holds"):
        wire.Reader(tmp_path, max_bytes=256 * MIB)
    wire.Reader(tmp_path / "empty")  # without a cap nothing is refused


def test_honest_records_are_read(tmp_path):
    writer = wire.Writer(tmp_path, "r")
    encoded = writer.encode(np.arange(1000.0))
    assert 8000 <= wire.record_size(tmp_path, 256 * MIB) < 10_000
    reader = wire.Reader(tmp_path, max_bytes=256 * MIB)
    assert np.array_equal(reader.decode(encoded), np.arange(1000.0))


def test_a_refused_reply_fails_its_test_with_the_message():
    """A reply announcing more than the cap is refused before it is read: the outside
    check's verdict is failed (not 'needs review'), and the test cell gets a
    RecordTooLarge error (0 points)."""
    import os
    import struct

    from instructor.engine import checking
    from instructor.engine.remote import AnswerChannel, AnswerFailed

    requests_r, requests_w = os.pipe()
    replies_r, replies_w = os.pipe()
    try:
        os.write(replies_w, struct.pack(">Q", 2 ** 40))  # the header of a 1 TiB reply
        channel = AnswerChannel(requests_w, replies_r, timeout=5)
        job = {"record_limit": 256 * MIB,
               "cells": [{"grade_id": "000-t", "task": "t", "names": ["f"], "context": [],
                          "answers": "t@0", "source": "assert f() is not None"}]}
        verdict = checking.run({}, None, job, channel)["000-t"]
        with pytest.raises(AnswerFailed, match="more than the grader.s limit"):
            channel.function("t@0", "f")()  # the rest of the reply is never read
    finally:
        for fd in (requests_r, requests_w, replies_r, replies_w):
            os.close(fd)
    assert verdict["checked"] and not verdict["passed"]
    assert verdict["error"].startswith("RecordTooLarge: ")
    [output] = verdict_outputs(verdict, [], "", [])
    assert output.ename == "RecordTooLarge" and "COURSE_RECORD_MB" in output.evalue
    # the grader's words alone (no size the answer chose): shown under hidden tests too
    assert "1099511627776" not in output.evalue
    assert withheld(verdict)["error"] == verdict["error"] != f"RecordTooLarge: {WITHHELD_MESSAGE}"


# ------------------------------------------------------------------ collecting
def test_a_zip_member_over_the_cap_is_left_out_with_a_note(tmp_path, monkeypatch):
    from instructor.workflow.collect import collect

    monkeypatch.setenv("COURSE_SUBMISSION_MB", "1")
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    nb = _release()
    with zipfile.ZipFile(incoming / "dana.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("hw.ipynb", nbformat.writes(nb))
        with zf.open("data.bin", "w") as out:  # 2 MiB of zeros in a few KiB
            for _ in range(2):
                out.write(bytes(MIB))
    report = collect(incoming, "hw", root=tmp_path)
    assert any("data.bin unpacks to 2,097,152 bytes" in n for n in report["dana"]), report
    folder = tmp_path / "submitted" / "dana" / "hw"
    assert (folder / "hw.ipynb").exists() and not (folder / "data.bin").exists()
