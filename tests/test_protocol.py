"""The protocol between the grader and its sandboxed processes
(instructor/engine/protocol.py): frames, and the answer cells' report as the grader reads
it, whatever the student's process writes there."""

from __future__ import annotations

import json
import os
import threading

import pytest

from instructor.engine.protocol import (
    HEADER,
    MAX_OUTPUTS,
    FrameTooLarge,
    Report,
    json_values,
    read_frame,
    write_frame,
)


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def test_frames_cross_a_pipe_whole(pipe):
    r, w = pipe
    write_frame(w, {"op": "call", "args": [1, "x" * 1000]})
    write_frame(w, {"second": True})
    assert read_frame(r, max_bytes=2000) == {"op": "call", "args": [1, "x" * 1000]}
    assert read_frame(r) == {"second": True}


def test_a_frame_over_the_cap_is_refused_and_a_closed_pipe_ends(pipe):
    r, w = pipe
    write_frame(w, {"many": [0] * 1000})
    with pytest.raises(FrameTooLarge, match="JSON values"):
        read_frame(r, max_values=500)
    write_frame(w, {"big": "x" * 100})
    with pytest.raises(FrameTooLarge, match="the limit is 50"):
        read_frame(r, max_bytes=50)
    os.close(w)
    with pytest.raises(EOFError):
        read_frame(r)


def framed(*messages: bytes | dict) -> bytes:
    """Frames of ``messages``: a dict as JSON, bytes as they are (forged ones)."""
    out = b""
    for message in messages:
        data = message if isinstance(message, bytes) else json.dumps(message).encode()
        out += HEADER.pack(len(data)) + data
    return out


def read_back(path, cell_bytes: int = 2 ** 20, frame_bytes: int = 2 ** 24,
              total_bytes: int = 2 ** 26) -> Report:
    """The report in the file ``path``, read to its end as the grader reads the pipe."""
    report = Report(os.open(path, os.O_RDONLY), cell_bytes, frame_bytes, total_bytes)
    assert report.wait(30)
    return report.take()


def report_of(*messages, **limits) -> Report:
    r, w = os.pipe()
    report = Report(r, **{"cell_bytes": 2 ** 20, "frame_bytes": 2 ** 24,
                          "total_bytes": 2 ** 26, **limits})
    threading.Thread(target=lambda: (os.write(w, framed(*messages)), os.close(w))).start()
    assert report.wait(30)
    return report.take()


def stream(cell: int, text: str, name: str = "stdout") -> dict:
    return {"cell": cell, "output": {"output_type": "stream", "name": name, "text": text}}


def test_a_run_of_writes_is_one_output_and_cells_keep_their_order():
    report = report_of({"cell": 4}, stream(4, "a"), stream(4, "b"), stream(4, "!", "stderr"),
                       {"cell": 4, "end": True}, {"cell": 2}, stream(2, "c"), {"done": True})
    assert list(report.outputs) == [4, 2] and report.ended == {4}
    assert report.outputs[4] == [{"output_type": "stream", "name": "stdout", "text": "ab"},
                                 {"output_type": "stream", "name": "stderr", "text": "!"}]
    assert not report.too_large


@pytest.mark.parametrize("forged", ["big", "big_error", "many", "infinity", "nested",
                                    "not_json", "huge_frame", "flood"])
def test_a_report_the_students_code_wrote_itself_is_bounded(forged):
    """The student's process can write the report itself: a cell past its cap (what it
    prints, or its errors, measured apart), or past MAX_OUTPUTS outputs, keeps nothing and
    is too large; a cell index that is not an int is skipped; a message over the values'
    bound (deep nesting; issue 53's 63 MiB of ``{}``, which grew the unsandboxed grader to
    1.9 GiB) is not parsed, nor one that is not JSON, nor a frame over its bound: the
    reading ends there, unread, and the cell last started is too large."""
    messages = {
        "big": [stream(1, "x" * 2000)],
        "big_error": [{"cell": 1, "output": {"output_type": "error", "ename": "ValueError",
                                            "evalue": "x" * 2000, "traceback": []}}],
        "many": [stream(1, "", name) for name in ["stdout", "stderr"] * (MAX_OUTPUTS // 2 + 1)],
        "infinity": [b'{"cell": Infinity, "end": true}'],
        "nested": [b'{"cell": 1, "output": ' + b"[" * 300_000 + b"]" * 300_000 + b"}"],
        "not_json": [b'{"cell": 1, "output": {'],
        "huge_frame": [{"cell": 1, "output": {"output_type": "display_data",
                                              "data": {"x": "y" * 10_000}}}],
        "flood": [b'{"cell": 1, "output": {"x": [' + b"{}, " * 300_000 + b"{}]}}"],
    }[forged]
    report = report_of({"cell": 1}, stream(1, "ok"), *messages, {"cell": 1, "end": True},
                       {"cell": 2}, stream(2, "later"), {"done": True},
                       cell_bytes=1024, frame_bytes=8192)
    if forged == "infinity":
        assert report.outputs == {1: [{"output_type": "stream", "name": "stdout",
                                       "text": "ok"}], 2: [report.outputs[2][0]]}
        return
    assert report.too_large == {1} and report.outputs[1] == []
    if forged in ("big", "big_error", "many"):  # the cap is the cell's: the next is read
        assert report.ended == {1} and report.outputs[2][0]["text"] == "later"
    else:  # the rest is not read
        assert 2 not in report.outputs and report.ended == set()


def test_the_report_past_its_total_is_not_read():
    cells = [m for i in range(10) for m in ({"cell": i}, stream(i, "x" * 500))]
    report = report_of(*cells, total_bytes=2000)
    assert report.too_large and max(report.outputs) < 9


def test_nothing_read_after_it_is_taken_is_kept(pipe):
    """What the answer process writes after the grader took the report (a graded
    function called with a test's inputs) is drained, never kept."""
    r, w = pipe
    report = Report(r, 2 ** 20, 2 ** 24, 2 ** 26)
    os.write(w, framed({"cell": 1}, stream(1, "before"), {"done": True}))
    assert report.wait(10)
    report.take()
    os.write(w, framed(stream(1, "LEAK"), {"cell": 3}) * 1000)  # more than a pipe holds
    os.close(w)
    assert report.wait(10)
    assert report.outputs == {1: [{"output_type": "stream", "name": "stdout",
                                   "text": "before"}]}


def test_values_are_counted_outside_strings():
    assert json_values(b'{"a": [1, {"b": "x,]"}], "c": "\\"\\", "d": 2}') == 6
