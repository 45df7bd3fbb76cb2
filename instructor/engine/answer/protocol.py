"""Every message between the grader and its sandboxed processes (docs/grading.md, "The
protocol", lists them): one frame each, its length (8 bytes), then that many bytes of
JSON. A reader checks the length before it reads a byte of the message and counts the
message's JSON values before it parses it (:func:`read_frame`), so what a student's
process sends is parsed in memory bounded by the reader's limits. Standard library only:
the answer process imports it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import struct
import threading

HEADER = struct.Struct(">Q")
#: Most JSON values a notebook, or one message of the report, may hold: parsed, each takes
#: 8 to 100 bytes for 2 to 4 in the file (a 3 MiB list of ``{}`` grows to 2 GiB).
MAX_JSON_VALUES = 200_000
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"')  # a JSON string, escapes and all
#: Deepest nesting of arrays and objects in it: a notebook with outputs nests under 10;
#: thousands deep, a parser recurses past Python's limit.
MAX_JSON_DEPTH = 100
_PAIR = re.compile(rb"[\[{][\]}]")
_NOT_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))
#: The Keras package the setup's and context's classes are registered under in the answer
#: process, and read by in the checking process: a student's namesake is not one of them.
KERAS_PACKAGE = "course"


def json_values(raw: bytes) -> int:
    """How many values parsing ``raw`` makes at most: commas and brackets outside strings."""
    bare = _STRING.sub(b"", raw)
    return bare.count(b",") + bare.count(b"[") + bare.count(b"{") + 1


def json_deeper(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``raw`` nests arrays and objects over ``limit`` deep, found without
    parsing it: the innermost bracket pairs outside strings taken away once per level."""
    bare = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    for depth in range(limit + 1):
        bare, found = _PAIR.subn(b"", bare)
        if not found:  # what is left opens or closes nothing more (not JSON, if anything)
            return depth + bare.count(b"[") + bare.count(b"{") > limit
    return True


class FrameTooLarge(ValueError):
    """A frame over its reader's bytes or values (nothing of it is parsed)."""


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def frame(message: dict) -> bytes:
    """``message`` as one frame."""
    data = json.dumps(message).encode()
    return HEADER.pack(len(data)) + data


def write_frame(fd: int, message: dict) -> None:
    """``message`` as one frame, written whole: a signal (the cell timeout's alarm)
    arriving meanwhile is handled after it, so no frame is left half written."""
    data = frame(message)
    blocked = threading.current_thread() is threading.main_thread()
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        write_all(fd, data)
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})


def read_exactly(fd: int, size: int, keep: bool = True) -> bytes:
    """``size`` bytes of ``fd`` (``keep=False``: read and dropped, in chunks)."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other process closed the channel")
        if keep:
            chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def parse(data: bytes, max_values: int | None = None) -> tuple[object, int]:
    """The message in ``data`` and its count of JSON values (0: not counted): the one
    reader of JSON a student's process or file sent. UTF-8 only (UTF-16 would hide its
    brackets from the count); with ``max_values``, :class:`FrameTooLarge` before parsing
    past that count or :data:`MAX_JSON_DEPTH`; any failure a ``ValueError``."""
    text = data.decode("utf-8")  # UnicodeDecodeError: a ValueError
    values = 0 if max_values is None else json_values(data)
    if values > (max_values or 0):
        raise FrameTooLarge(f"over {max_values:,} JSON values")
    if max_values is not None and json_deeper(data):
        raise FrameTooLarge(f"arrays or objects nested over {MAX_JSON_DEPTH} deep")
    try:
        return json.loads(text), values
    except RecursionError:  # unbounded (a frame of the grader's), nested past Python's limit
        raise ValueError("arrays or objects nested too deep") from None


def clean(value):
    """``value`` with each lone surrogate in its strings replaced by ``?``: JSON's
    ``"\\ud800"`` parses to one, and no UTF-8 file can hold it (the graded notebook)."""
    if isinstance(value, str):
        return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    return value


def read_frame(fd: int, max_bytes: int | None = None, max_values: int | None = None,
               ) -> dict:
    """One message; :class:`FrameTooLarge` past ``max_bytes`` or ``max_values``; EOFError."""
    (size,) = HEADER.unpack(read_exactly(fd, HEADER.size))
    if max_bytes is not None and size > max_bytes:
        raise FrameTooLarge(f"a message of {size} bytes (the limit is {max_bytes})")
    return parse(read_exactly(fd, size), max_values)[0]


def told() -> dict | None:
    """The next frame on standard input, or None when the grader closed it (it went away)."""
    try:
        return read_frame(0)
    except EOFError:
        return None


#: Outputs kept of one answer cell (a run of writes to one stream is one).
MAX_OUTPUTS = 10_000


class Report:
    """The answer cells' report, read by a thread of the grader as it arrives.

    Written by the student's process, which can write the pipe itself: only its bounds are
    trusted. Per cell, prints and displays are kept up to ``cell_bytes``, errors apart up to
    as much, else the cell is :attr:`too_large`; all cells share :data:`MAX_JSON_VALUES`. A
    frame past ``frame_bytes`` or ``total_bytes``, or unreadable, ends the reading
    (:attr:`broken`), as :meth:`take` does before any test calls an answer with its inputs."""

    def __init__(self, fd: int, cell_bytes: int, frame_bytes: int, total_bytes: int):
        self.fd, self.cell_bytes, self.frame_bytes = fd, cell_bytes, frame_bytes
        self.left, self.values_left = total_bytes, MAX_JSON_VALUES
        self.outputs: dict[int, list[dict]] = {}   # in the order the cells started
        self.ended: set[int] = set()
        self.too_large: set[int] = set()
        self.done = self.broken = False            # every answer cell ran; reading ended
        self.finished = threading.Event()          # done, broken or the pipe closed
        self._sizes: dict[int, list[int]] = {}     # cell -> [printed, errors]
        self._cell: int | None = None              # the cell last started
        self._lock = threading.Lock()
        self._open = True
        threading.Thread(target=self._read, name="answer-report", daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                (size,) = HEADER.unpack(read_exactly(self.fd, HEADER.size))
                with self._lock:
                    keep = self._open and size <= min(self.frame_bytes, self.left)
                    if self._open and not keep:
                        self._stop()
                data = read_exactly(self.fd, size, keep)
                if keep:
                    self._message(data)
        except (EOFError, OSError):
            pass
        finally:
            self.finished.set()
            with contextlib.suppress(OSError):
                os.close(self.fd)

    def _stop(self) -> None:
        if self._cell is not None:
            self._too_large(self._cell)
        self._open, self.broken = False, True
        self.finished.set()  # nothing more is read: no reason to wait for it

    def _message(self, data: bytes) -> None:
        try:
            message, values = parse(data, MAX_JSON_VALUES)
        except ValueError:
            message, values = None, 0
        with self._lock:
            if not self._open:  # taken meanwhile: nothing read now changes the report
                return
            self.left -= len(data)
            if message is None:
                return self._stop()
            try:
                self._read_message(message, values)
            except Exception:  # noqa: BLE001 - whatever the student's process wrote
                self._stop()
        return None

    def _read_message(self, message, values: int) -> None:
        if not isinstance(message, dict):
            return
        if message.get("done") is True:
            self.done = True
            self.finished.set()
            return
        index = message.get("cell")
        if type(index) is not int:
            return
        if index not in self.outputs:
            self.values_left -= 1
            if self.values_left < 0:
                return self._stop()
            self.outputs[index] = []
        self._cell = index
        output = message.get("output")
        if isinstance(output, dict) and index not in self.too_large:
            self._keep(index, output, values)
        if message.get("end") is True:
            self.ended.add(index)
        return None

    def _keep(self, index: int, output: dict, values: int) -> None:
        outputs, kind = self.outputs[index], output.get("output_type")
        if kind == "stream":
            name, text = output.get("name"), output.get("text")
            if not isinstance(name, str) or not isinstance(text, str):
                return None
            size = len(text)
        else:
            self.values_left -= values
            if self.values_left < 0:
                return self._stop()
            size = len(json.dumps(output))
        sizes = self._sizes.setdefault(index, [0, 0])
        sizes[kind == "error"] += size
        if max(sizes) > self.cell_bytes:
            return self._too_large(index)
        if kind == "stream" and outputs and outputs[-1].get("name") == name \
                and outputs[-1].get("output_type") == "stream":
            outputs[-1]["text"].append(clean(text))  # joined once, when taken
        elif len(outputs) >= MAX_OUTPUTS:
            return self._too_large(index)
        else:
            outputs.append({"output_type": "stream", "name": name, "text": [clean(text)]}
                           if kind == "stream" else clean(output))
        return None

    def _too_large(self, index: int) -> None:
        self.too_large.add(index)
        self.outputs.setdefault(index, []).clear()

    def wait(self, seconds: float) -> bool:
        """Whether the report is finished within ``seconds``."""
        return self.finished.wait(max(0.0, seconds))

    def take(self) -> Report:
        """The report as it is now (each stream's text whole); nothing read later is kept."""
        with self._lock:
            self._open = False
            for outputs in self.outputs.values():
                for output in outputs:
                    if output.get("output_type") == "stream" and isinstance(output["text"], list):
                        output["text"] = "".join(output["text"])
        return self


def error_message(err: BaseException) -> str:
    """``Name: message``, or the name alone (the checking process's words too)."""
    text = str(err).strip()
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
