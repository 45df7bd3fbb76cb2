"""The proof's self-test (docs/grading.md, "The canary"): before a class is graded, models
forged as attacks on the proof (:data:`FORGED`) come back from a real answer process
through :class:`~instructor.engine.remote.AnswerChannel` on this installation; each must
need review and the honest one must be proven, else no student is graded (a Keras release
that changes what the proof reads must not leave it switched off in silence). Run in a
process of its own (``python -m instructor.workflow.proof_check``); a pass is cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: An honest model and forged ones, as answer cells: each forged model is Keras' own, so
#: only the proof can tell it from its copy. ``guard`` fails on a negative input only
#: (the tests' inputs are in [0, 1]), which switched off the proof of 0edfe89.
CELLS = '''
import keras

def honest(n, guard=False):
    x = keras.Input(shape=(n,))
    out = keras.layers.Dense(n, activation="sigmoid")(keras.layers.Dense(2)(x))
    if guard:
        index = keras.ops.cast(keras.ops.minimum(x, 0.0) * 1e6, "int32")
        out = out + keras.ops.take_along_axis(out, index, axis=-1) * 0.0
    auto = keras.Model(x, out)
    auto.compile(optimizer="adam", loss="binary_crossentropy")
    return auto

def borrowed(kind, auto, outputs=None):  # another model's function, Keras' own
    model = keras.Model(auto.inputs, outputs if outputs is not None else auto.outputs)
    model.compile(optimizer="sgd", loss="mse")
    getattr(model, f"make_{kind}_function")()
    setattr(auto, f"{kind}_function", getattr(model, f"{kind}_function"))
    return auto

def borrowed_train_function(n):
    return borrowed("train", honest(n, guard=True))

def borrowed_predict_function(n):  # the identity: "perfect" reconstructions
    auto = honest(n)
    return borrowed("predict", auto, auto.inputs[0])

def borrowed_test_function(n):
    return borrowed("test", honest(n))
'''
FORGED = ("borrowed_train_function", "borrowed_predict_function", "borrowed_test_function")


def problems() -> list[str]:
    """What the proof got wrong here: a forged model taken as proven, the honest one not."""
    import numpy as np

    from instructor.engine.answer import protocol, wire
    from instructor.engine.remote import AnswerChannel

    found: list[str] = []
    requests_r, requests_w = os.pipe()
    replies_r, replies_w = os.pipe()
    with tempfile.TemporaryDirectory(prefix="proof-check-") as work:
        process = subprocess.Popen(
            [sys.executable, "-m", "instructor.engine.answer", str(requests_r),
             str(replies_w), ""], cwd=work, pass_fds=(requests_r, replies_w),
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        os.close(requests_r)
        os.close(replies_w)
        process.stdin.write(protocol.frame({"setup": ["import numpy as np"]}) + protocol.frame(
            {"tasks": {"t": {"context": [], "answers": [CELLS]}}}))
        process.stdin.close()
        channel = AnswerChannel(requests_w, replies_r, timeout=300.0)
        channel.own_classes = False
        try:
            for name in ("honest", *FORGED):
                channel.unproven = None
                try:
                    model = channel.function("t", name)(4)
                    model.predict(np.ones((2, 4), "float32"), verbose=0)
                    why = None
                except wire.Unreadable as err:
                    why = str(err)
                except Exception as err:  # noqa: BLE001 - the self-test says what
                    found.append(f"{name}: the self-test failed ({type(err).__name__}: {err})")
                    continue
                if name == "honest" and why:
                    found.append(f"an honest model was not proven: {why}")
                elif name != "honest" and not why:
                    found.append(f"a model with {name.replace('_', ' ')} (another model's) "
                                 "was taken for Keras' own: the proof is not working here")
        finally:
            os.close(requests_w)
            os.close(replies_r)
            process.wait(timeout=30)
    return found


def check(cache: Path) -> list[str]:
    """:func:`problems`, run in a process of its own unless ``cache`` holds a pass for
    this code and these packages (``canary.cache_key``'s inputs)."""
    from instructor import ROOT
    from instructor.workflow.gradebook import digest, files_digest, grader_files, installed_packages

    key = digest(files_digest(grader_files(), ROOT), sys.version, *installed_packages())
    passed = Path(cache) / f"proof-{key}.json"
    if passed.exists():
        return []
    run = subprocess.run([sys.executable, "-m", "instructor.workflow.proof_check"],
                         capture_output=True, text=True, timeout=900, check=False)
    try:
        found = json.loads(run.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        found = [f"the self-test ended without an answer (exit status {run.returncode}): "
                 f"{run.stderr.strip()[-500:]}"]
    if not found:
        passed.parent.mkdir(parents=True, exist_ok=True)
        passed.write_text("[]\n")
    return found


if __name__ == "__main__":
    print(json.dumps(problems()))
