"""The answer process (instructor/engine/answer/__main__.py), in this process: its frames, its
values, and the requests it answers on the student's answer cells."""

from __future__ import annotations

import base64
import io
import os

import numpy as np
import pytest

from instructor.engine.answer.__main__ import Answers, capped_log
from instructor.engine.answer.wire import NotData, Reader, Unreadable, Writer
from tests import answer_cells


@pytest.mark.parametrize("dtype", ["float16", "float32", "int8", "uint64", "bool",
                                   "complex64"])
def test_arrays_keep_dtype_shape_and_values(dtype):
    array = (np.arange(6) % 3).reshape(2, 3).astype(dtype)
    got = Reader().decode(Writer().encode(array))
    assert got.dtype == array.dtype and got.shape == (2, 3) and np.array_equal(got, array)


def test_values_round_trip():
    value = [(1, "a", None), {"k": [True, 2.5]}, float("nan"), float("-inf"), np.int32(7)]
    got = Reader().decode(Writer().encode(value))
    assert got[:2] == [(1, "a", None), {"k": [True, 2.5]}] and isinstance(got[0], tuple)
    assert np.isnan(got[2]) and got[3] == float("-inf")
    assert got[4] == 7 and got[4].dtype == np.int32


def test_values_that_are_not_data_are_refused():
    with pytest.raises(NotData, match="an array of kind 'O'"):
        Writer().encode(np.array([None, 1], dtype=object))
    with pytest.raises(NotData, match="type object"):
        Writer().encode(object())
    with pytest.raises(NotData):
        Writer().encode({1: "a key that is no string"})
    with pytest.raises(Unreadable, match="unknown record"):
        Reader().decode({"pickle": "..."})
    with pytest.raises(Unreadable, match="names a file"):
        Reader().decode({"array": "../secret.npy"})  # inline only: no folder to read


# ------------------------------------------------------------------ Answers
BUILDER = answer_cells.STANDARD + """
def double(a):
    return a * 2

def broken(a):
    raise KeyError("not yet")
"""


@pytest.fixture
def answers(tmp_path):
    answers = Answers(tmp_path)
    answers.run_setup(["import numpy as np"])
    answers.run_tasks({"t@1": {"context": ["N = 3"], "answers": [BUILDER]},
                       "bad@1": {"context": [], "answers": ["raise ValueError('oops')"]}})
    assert answers.setup_error is None
    return answers


def call(answers, name, *args, task="t@1", **kwargs):
    return answers.handle({"op": "call", "task": task, "name": name,
                           "args": Writer().encode([list(args), kwargs])})


def _file(reply, name):
    return io.BytesIO(base64.b64decode(reply["files"][name]))


def test_a_numpy_function_is_called_and_its_array_sent_as_a_file(answers):
    reply = call(answers, "double", np.arange(3.0))
    assert reply["result"] == {"array": "r-1.npy"} and "changed_args" not in reply
    assert np.array_equal(np.load(_file(reply, "r-1.npy")), [0.0, 2.0, 4.0])


def test_a_builders_models_come_with_a_handle_and_one_keras_file(answers):
    reply = call(answers, "standard", 4)
    encoder, auto = reply["result"]["tuple"]
    assert auto["model"] == encoder["model"] == "r-1.keras" and encoder["path"] == ["encoder"]
    assert list(reply["files"]) == ["r-1.keras"]
    assert answers.objects[auto["handle"]].name == "auto"
    assert answers.objects[encoder["handle"]].name == "encoder"


def test_a_failing_answer_cell_is_named(answers):
    assert call(answers, "anything", task="bad@1") == {
        "failed": "ValueError: oops (in your answer cell)"}


def test_an_undefined_function_says_answers_run_alone(answers):
    reply = call(answers, "missing")
    assert "do not define missing" in reply["failed"]
    assert "define everything your answer uses" in reply["failed"]
    assert "do not define" in call(answers, "double", 1, task="unknown@9")["failed"]


def test_an_exception_of_the_function_comes_back_raised(answers):
    assert call(answers, "broken", 1) == {"raised": ["KeyError", "'not yet'"]}


def test_a_setup_failure_fails_every_call(tmp_path):
    answers = Answers(tmp_path)
    answers.run_setup(["import numpy", "1 / 0"])
    answers.run_tasks({"t@1": {"answers": ["def f():\n    return 1"]}})
    assert "ZeroDivisionError" in call(answers, "f")["failed"]


def describe(answers, handle):
    return answers.handle({"op": "describe", "handle": handle})["objects"]


def test_describe_reports_a_model_and_every_layer_inside_it(answers):
    auto = call(answers, "standard", 4)["result"]["tuple"][1]
    found = describe(answers, auto["handle"])
    model = found[str(auto["handle"])]
    assert model["kinds"][0][0] == "Functional" and model["name"] == "auto"
    assert model["optimizer"][0][0] == "Adam" and model["loss"] == "mean_squared_error"
    assert model["inputs"] == [[None, 4]]
    assert model["weights"] == [[4, 2], [2], [2, 4], [4]]
    encoder = next(info for info in found.values() if info["name"] == "encoder")
    [dense] = [found[str(h)] for h in encoder["layers"] if found[str(h)]["kinds"][0][0] == "Dense"]
    assert dense["attrs"]["units"] == 2 and dense["attrs"]["activation"] == "relu"
    assert dense["attrs"]["kernel_shape"] == [4, 2] and dense["weights"] == [[4, 2], [2]]


def method(answers, handle, name, *args, **kwargs):
    return answers.handle({"op": "method", "handle": handle, "name": name,
                           "args": Writer().encode([list(args), kwargs])})


def test_weights_set_there_are_read_back_and_used_in_a_call(answers):
    handle = call(answers, "standard", 4)["result"]["tuple"][1]["handle"]
    weights = [np.full(s, 0.5, "float32") for s in [(4, 2), (2,), (2, 4), (4,)]]
    assert method(answers, handle, "set_weights", weights) == {"value": None}
    got = Reader().decode(method(answers, handle, "get_weights")["value"])
    assert all(np.array_equal(g, w) for g, w in zip(got, weights, strict=True))
    out = Reader().decode(method(answers, handle, "call", np.ones((1, 4), "float32"))["value"])
    assert np.allclose(out, 3.0)  # relu(4*0.5 + 0.5) = 2.5 per unit; 2*2.5*0.5 + 0.5


def test_only_the_listed_methods_can_be_asked_for(answers):
    handle = call(answers, "standard", 4)["result"]["tuple"][1]["handle"]
    reply = method(answers, handle, "save", "/tmp/elsewhere.keras")
    assert reply == {"error": "the checker cannot ask for 'save'"}
    assert "unknown request" in answers.handle({"op": "exec", "source": "1"})["error"]


def test_answer_cells_may_use_what_ipython_gives_a_notebook(tmp_path):
    """Magics, display, get_ipython() and In work as in the kernel (an honest answer
    cell that uses them must not fail outside)."""
    answers = Answers(tmp_path)
    answers.run_setup(["import numpy as np"])
    answers.run_tasks({"t@1": {"context": [], "answers": [
        "%matplotlib inline\n"
        "def f(x):\n    display(x)\n    get_ipython()\n    return len(In[-1]) + x\n"]}})
    assert answers.errors == {}
    assert call(answers, "f", 1) == {"result": len(answers.base["In"][-1]) + 1, "files": {}}


def test_printing_past_the_log_cap_keeps_the_start_and_never_fails(tmp_path):
    fd = os.open(tmp_path / "answers.log", os.O_WRONLY | os.O_CREAT, 0o600)
    log = capped_log(fd, limit=10)
    try:
        for _ in range(3):
            print("x" * 7, file=log)   # 24 characters in all; a write past the cap
    finally:
        os.close(fd)
    assert (tmp_path / "answers.log").read_text() == "xxxxxxx\nxx"
    assert log.write("more") == 4      # past the cap: dropped, reported as written
    assert log.encoding == "utf-8" and log.writable() and not log.isatty()


def _report(path, _ran=None):
    from tests.test_protocol import read_back

    report = read_back(path)
    return report.outputs, report.ended


def test_answer_cells_report_their_outputs_as_a_kernel_would(tmp_path):
    """What an answer cell prints, displays and evaluates last, and its error with a
    traceback, are reported once per cell (not again in a second namespace), bounded; a
    cell that runs too long is stopped, each time it runs."""
    path = tmp_path / "report"
    answers = Answers(tmp_path)
    answers.report = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    answers.cell_timeout, answers.output_bytes = 2, 4096
    answers.run_setup(["import numpy as np"])
    answers.run_tasks({
        "t@5": {"answers": [[3, "print('hi')\nimport sys\nprint('warn', file=sys.stderr)\n"
                                "display({'a': 1})\ndef f():\n    return 2\nf() + 1"]]},
        "t@9": {"answers": [[3, "print('hi')"], [7, "print('x' * 5000)\ng = 1"],
                            [8, "def h():\n    return 1\n1 / 0"]]},
        "u@9": {"answers": [[2, "while True:\n    pass"]]},
        "u@12": {"answers": [[2, "while True:\n    pass"]]}})  # again: stopped again
    os.close(answers.report)
    outputs, ended = _report(path, {2, 3, 7, 8})
    assert list(outputs) == [3, 7, 8, 2] and ended == {2, 3, 7, 8}
    first = outputs[3]
    assert first[0] == {"output_type": "stream", "name": "stdout", "text": "hi\n"}
    assert first[1]["name"] == "stderr" and "warn" in first[1]["text"]
    assert first[2]["output_type"] == "display_data"
    assert first[2]["data"]["text/plain"] == "{'a': 1}"
    assert first[3]["output_type"] == "execute_result"
    assert first[3]["data"]["text/plain"] == "3"
    # past the cap, one byte more of what passed it, and nothing else: the grader's
    # measure of the report, not a word of this process, says the cell printed too much
    assert outputs[7] == [{"output_type": "stream", "name": "stderr", "text": "x" * 4097}]
    assert answers.errors.get("t@9", "").startswith("ZeroDivisionError")  # 7 ran on
    (error,) = outputs[8]
    assert error["ename"] == "ZeroDivisionError"
    assert any("1 / 0" in line or "line 3" in line for line in error["traceback"])
    (timeout,) = outputs[2]
    assert timeout["ename"] == "CellTimeoutError"
    assert "COURSE_CELL_TIMEOUT" in timeout["evalue"]
    assert "ran longer than 2 s" in answers.errors["u@9"] == answers.errors["u@12"]


def test_a_cell_that_dies_printing_leaves_what_it_printed_on_the_report(tmp_path):
    """A stream's writes are sent together, once FLUSH_SECONDS have passed (at the next
    write) or at flush(), and read back as one output: a cell the process dies in (it
    never ends) keeps what it printed up to then."""
    import time

    from instructor.engine.answer.__main__ import FLUSH_SECONDS, CellOutputs
    from instructor.engine.answer.protocol import read_frame

    path = tmp_path / "report"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    outputs = CellOutputs(4, fd, 2 ** 20)
    lines = [f"{i} \"quoted\" \u00e9\n" for i in range(300)]
    for line in lines:
        outputs.stream("stdout", line)
    time.sleep(FLUSH_SECONDS)
    outputs.stream("stdout", "after a pause\n")  # sends what waited, and itself
    outputs.stream("stdout", "unsent")             # the process dies before it is sent
    os.close(fd)
    report, ended = _report(path)
    assert report == {4: [{"output_type": "stream", "name": "stdout",
                           "text": "".join(lines) + "after a pause\n"}]}
    assert ended == set()
    frames = []
    with open(path, "rb") as file:
        while True:
            try:
                frames.append(read_frame(file.fileno()))
            except EOFError:
                break
    assert len(frames) == 2  # the cell's start, and 301 writes in one message


def test_a_write_to_a_cells_stream_after_it_ended_is_dropped(tmp_path):
    """A stream kept past its cell (by a thread, a logging handler) writes nothing more
    to the report: the next cell's outputs are its own."""
    path = tmp_path / "report"
    answers = Answers(tmp_path)
    answers.report = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    answers.run_setup([])
    answers.run_tasks({"t@5": {"answers": [
        [1, "import sys\nkept = sys.stdout\nprint('in 1')"],
        [2, "kept.write('late')\nprint('in 2')"]]}})
    os.close(answers.report)
    outputs, ended = _report(path, {1, 2})
    assert outputs == {i: [{"output_type": "stream", "name": "stdout", "text": f"in {i}\n"}]
                       for i in (1, 2)} and ended == {1, 2}


#: Three models sharing layers, none inside another (the Keras blog's style); ``{hook}``
#: is where an answer attaches code of its own after building them.
SHARED = """
import keras


def shared():
    inputs = keras.Input((4,))
    layer = keras.layers.Dense(2, activation="relu")
    code = layer(inputs)
    encoder = keras.Model(inputs, code)
    codes = keras.Input((2,))
    out = keras.layers.Dense(4, activation="sigmoid")
    decoder = keras.Model(codes, out(codes))
    auto = keras.Model(inputs, out(code))
    auto.compile(optimizer="adam", loss="binary_crossentropy")
{hook}
    return encoder, decoder, auto
"""
#: Code of one's own attached to the models (red team, round 2): no name decides here;
#: the checker proves what the models do (test_remote.py). And a constraint no file can
#: record (a lambda): saving raises, so the models stay here.
HOOKS = {
    "instance call": "    plain = auto.call\n    auto.call = lambda x, **kw: plain(x, **kw)",
    "instance loss": "    auto.compute_loss = lambda *a, **kw: 0.0",
    "a Keras class, through an alias": (
        "    D = keras.layers.Dense\n    plain = D.call\n"
        "    D.call = lambda self, x, **kw: plain(self, x, **kw)"),
    "a lambda constraint": "    out.kernel.constraint = lambda w: w",
}


@pytest.mark.parametrize("hook", [None, *HOOKS])
def test_every_model_is_sent_as_a_file_unless_saving_it_fails(tmp_path, hook):
    """The answer process sends every model Keras can save, whatever code of the
    answer's is attached to it (the checker loads it with Keras' classes alone and
    proves it); one whose saving raises stays here, asked through its handle."""
    import keras

    answers = Answers(tmp_path)
    answers.run_setup(["import numpy as np"])
    answers.run_tasks({"s@1": {"context": [], "answers": [
        SHARED.format(hook=HOOKS.get(hook, "    pass"))]}})
    saved = {"call": keras.layers.Dense.call}
    try:
        reply = call(answers, "shared", task="s@1")
    finally:
        keras.layers.Dense.call = saved["call"]
    entries = reply["result"]["tuple"]
    assert all(isinstance(entry["handle"], int) for entry in entries)
    if hook == "a lambda constraint":
        assert [entry["model"] for entry in entries] == [None] * 3 and not reply["files"]
    else:  # each sent as a file, and said to share layers
        assert all(entry["model"] for entry in entries) and reply.get("shared"), reply
