"""Benchmark: what the defences of issues 53 and 56 cost per submission, in CPU-seconds.

    .venv/bin/python benchmarks/defence_costs.py

- the JSON values of each course notebook, and of a 32 MiB one, counted before parsing
  (``protocol.json_values``, run by ``check_submission`` once per submission);
- a returned model of the student's own class: saved in the answer process, its load
  refused here (``wire.Writer.save_models``, ``wire.Reader``), what no inventory of names
  decides any more;
- the proof of each returned model's copy against the answer process's model
  (``AnswerChannel.proof``: at return, and at the copy's first training),
  for task (a)'s reference, answer process included (read from its ``/proc/<pid>/stat``).

CPU-seconds (``time.process_time``), so a busy machine changes them less than wall time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instructor.engine.answer import protocol  # noqa: E402
from instructor.engine.remote import AnswerChannel  # noqa: E402
from tests import grading  # noqa: E402


def cpu_of(pid: int) -> float:
    """User and system CPU-seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_call(function, repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        function()
    return (time.process_time() - start) / repeat


def json_values() -> None:
    for path in sorted(ROOT.glob("notebooks/*/*.ipynb")):
        raw = path.read_bytes()
        cost = per_call(lambda raw=raw: protocol.json_values(raw), 20)
        print(f"json_values  {path.name:<42} {len(raw) / 2 ** 10:7.0f} KiB "
              f"{protocol.json_values(raw):>7,} values  {cost * 1000:6.2f} ms")
    text = json.dumps({"cells": [{"source": "x" * (32 * 2 ** 20)}]}).encode()
    print(f"json_values  a 32 MiB notebook of text        "
          f"{per_call(lambda: protocol.json_values(text), 3) * 1000:8.1f} ms")


def model_checks() -> None:
    reference = grading.reference_solution("02_stacked_autoencoders.ipynb", "vanilla")
    setup = "import keras\nimport numpy as np\n"
    requests_r, requests_w = os.pipe()
    replies_r, replies_w = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "instructor.engine.answer", str(requests_r), str(replies_w), ""],
        cwd="/tmp",
        pass_fds=(requests_r, replies_w), stdin=subprocess.PIPE)
    os.close(requests_r)
    os.close(replies_w)
    process.stdin.write(protocol.frame({"setup": [setup]}) + protocol.frame(
        {"tasks": {"a": {"context": [], "answers": [reference]}}}))
    process.stdin.close()
    channel = AnswerChannel(requests_w, replies_r)
    build = channel.function("a", "autoencoder")
    build(784, [128, 64], 32)  # warm: TensorFlow imported, functions traced
    proof, rounds = AnswerChannel.proof, 5
    for name, compare in (("without the proof", lambda *_: None), ("with the proof", proof)):
        AnswerChannel.proof = compare
        before_here, before_there = time.process_time(), cpu_of(process.pid)
        for _ in range(rounds):
            build(784, [128, 64], 32)
        here = (time.process_time() - before_here) / rounds
        there = (cpu_of(process.pid) - before_there) / rounds
        print(f"one call of task (a)'s autoencoder (3 models), {name}: checker "
              f"{here:.3f} s, answer process {there:.3f} s")
    AnswerChannel.proof = proof
    import numpy as np

    x = np.random.default_rng(0).random((32, 784)).astype("float32")
    costs = {"first": [], "second": []}
    for _ in range(rounds):  # the first training of a copy waits for the rest of its proof
        auto = build(784, [128, 64], 32)[2]
        for which in costs:
            before_here, before_there = time.process_time(), cpu_of(process.pid)
            auto.train_on_batch(x, x)
            costs[which].append((time.process_time() - before_here)
                                + cpu_of(process.pid) - before_there)
    print(f"a copy's first train_on_batch (the proof's second part in it): "
          f"{np.mean(costs['first']):.3f} CPU-s; its second: {np.mean(costs['second']):.3f}")
    os.close(requests_w)
    os.close(replies_r)
    process.wait(timeout=30)


def own_class() -> None:
    import tempfile

    import keras

    from instructor.engine.answer import wire

    class Mine(keras.layers.Dense):  # a class of the student's own: refused here
        pass

    x = keras.Input(shape=(784,))
    model = keras.Model(x, Mine(784, activation="sigmoid")(keras.layers.Dense(32)(x)))

    def round_trip():
        with tempfile.TemporaryDirectory() as folder:
            writer = wire.Writer(Path(folder), "r")
            entry = writer.encode(model)
            writer.save_models()
            try:
                wire.Reader(folder).decode(entry)
            except wire.Unreadable:
                return
            raise AssertionError("a class of the student's own was loaded")

    print(f"a model of the student's own class saved there, refused here: "
          f"{per_call(round_trip, 5) * 1000:.0f} ms")


if __name__ == "__main__":
    json_values()
    model_checks()
    own_class()
