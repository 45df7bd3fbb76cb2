"""The protocol between the grader and its sandboxed processes
(instructor/engine/answer/protocol.py): frames, and the answer cells' report as the grader reads
it, whatever the student's process writes there."""

from __future__ import annotations

import json
import os
import threading

import pytest

from instructor.engine.answer.protocol import (
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
    """Two ends of a pipe, both closed after the test (not for a Report: it owns its end)."""
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
    out = []
    for message in messages:
        data = message if isinstance(message, bytes) else json.dumps(message).encode()
        out += [HEADER.pack(len(data)), data]
    return b"".join(out)


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


def test_nothing_read_after_it_is_taken_is_kept():
    """What the answer process writes after the grader took the report (a graded
    function called with a test's inputs) is drained, never kept."""
    r, w = os.pipe()  # r is the report's: its thread closes it, after the pipe's end
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


def test_many_small_messages_stop_at_the_reports_count_of_values():
    """Each message within its bounds, but together more values than a report may keep
    (an attack: 223 messages of 100,000 ``[]`` each, one per made-up cell, grew the
    grader by 1.5 GiB for 64 MiB read): the reading ends, the last cell is too large."""
    many = [{"cell": i, "output": {"output_type": "display_data",
                                   "data": {"x": [[]] * 40_000}}} for i in range(8)]
    report = report_of(*many, {"done": True}, cell_bytes=2 ** 20)
    assert report.broken and not report.done
    kept = sum(len(o["data"]["x"]) for outputs in report.outputs.values() for o in outputs)
    assert kept <= 200_000 and report.too_large
    cells = report_of(*({"cell": i} for i in range(200_001)), {"done": True})
    assert cells.broken and len(cells.outputs) == 200_000


def test_a_message_that_is_not_utf8_is_not_parsed():
    """JSON in UTF-16 would hide its brackets from the count of values (the count reads
    bytes): a message that is not UTF-8 ends the reading."""
    utf16 = json.dumps({"cell": 1, "output": {"output_type": "display_data",
                                              "data": {"x": "\u2200" * 10}}}).encode("utf-16")
    report = report_of({"cell": 1}, utf16, {"done": True})
    assert report.broken and report.too_large == {1}
    with pytest.raises(ValueError):
        read_back_frame(utf16)


def read_back_frame(data: bytes):
    r, w = os.pipe()
    os.write(w, framed(data))
    os.close(w)
    try:
        return read_frame(r, max_values=100)
    finally:
        os.close(r)


def test_a_message_finished_after_the_report_was_taken_changes_nothing():
    """The reader may be inside a message when the report is taken; what that message
    says (here, not JSON: it would end the reading and mark the cell too large) changes
    nothing once taken: a graded function called with a hidden test's inputs cannot
    choose how its answer cell looks."""
    import time

    r, w = os.pipe()  # r is the report's: its thread closes it, after the pipe's end
    report = Report(r, 2 ** 20, 2 ** 24, 2 ** 26)
    os.write(w, framed({"cell": 1}, stream(1, "ok")))
    os.write(w, HEADER.pack(10))                   # a message begun, its body to come
    deadline = time.monotonic() + 10
    while not report.outputs.get(1) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    report.take()
    os.write(w, b"not json!!")
    os.close(w)
    assert report.wait(10)
    assert report.outputs == {1: [{"output_type": "stream", "name": "stdout", "text": "ok"}]}
    assert not report.too_large and not report.broken


def test_odd_outputs_and_lone_surrogates_are_read_without_harm():
    """An output without a type followed by a stream (it raised KeyError in the reading
    thread), and a lone surrogate, which parses but no UTF-8 file can hold: the report
    reads on, the surrogate replaced."""
    report = report_of({"cell": 1}, {"cell": 1, "output": {}},
                       {"cell": 1, "output": {"output_type": "stream", "text": "x"}},
                       stream(1, "\ud800 "), {"cell": 1, "end": True}, {"done": True})
    assert report.done and not report.broken
    assert report.outputs[1][-1] == {"output_type": "stream", "name": "stdout", "text": "? "}
    assert json.dumps(report.outputs, ensure_ascii=False).encode("utf-8")
