"""The checking process's side of the answer process (instructor/engine/remote.py): a
real answer process (instructor/engine/answer/__main__.py, without the sandbox) answers an
AnswerChannel over two pipes."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.grading import model_checks as mc
from instructor.engine.answer import protocol, wire
from instructor.engine.remote import AnswerChannel, AnswerFailed, RemoteModel, RemoteObject
from tests import answer_cells

MODELS = answer_cells.STANDARD + """
class Same(keras.layers.Layer):  # a class of the student's own: not loaded by the checker
    def call(self, x):
        return x

def custom(n):
    x = keras.Input(shape=(n,))
    h = keras.layers.ReLU()(keras.layers.Dense(2)(x))
    encoder = keras.Model(x, Same()(h), name="encoder")
    z = keras.Input(shape=(2,))
    decoder = keras.Model(z, keras.layers.Dense(n, activation="sigmoid")(z), name="decoder")
    auto = keras.Model(x, decoder(encoder(x)), name="auto")
    auto.compile(optimizer="adam", loss="binary_crossentropy")
    return encoder, decoder, auto

def shared(n, activation=None):  # two models sharing a layer, neither inside the other
    dense = keras.layers.Dense(2, activation=activation)
    a, b = keras.Input(shape=(n,)), keras.Input(shape=(n,))
    return keras.Model(a, dense(a)), keras.Model(b, dense(b)), np.arange(3.0)

def relu(x):  # a namesake of Keras' relu, of the student's own: the identity
    return x

def binary_crossentropy(y_true, y_pred):  # a namesake computing the squared error
    return keras.ops.mean((y_true - y_pred) ** 2, axis=-1)

def namesakes(n, activation=relu, loss="binary_crossentropy", hidden=relu):
    # the namesake's units start below 0 on inputs in [0, 1], where it differs from Keras'
    # relu on any batch (a unit positive on the whole batch would not show it)
    bias = keras.initializers.Constant(-5.0 if hidden is relu else 0.0)
    x = keras.Input(shape=(n,))
    auto = keras.Model(x, keras.layers.Dense(n, activation=activation)(
        keras.layers.Dense(2, activation=hidden, bias_initializer=bias)(x)))
    auto.compile(optimizer="adam", loss=loss)
    return auto

def namesake_loss(n):
    return namesakes(n, "sigmoid", binary_crossentropy, "relu")

def keras_own(n, loss="binary_crossentropy"):
    return namesakes(n, keras.activations.sigmoid, loss, "relu")

def shared_own(n):  # a namesake of Keras' sigmoid, of the student's own: the identity
    def sigmoid(x):
        return x
    return shared(n, activation=sigmoid)

def lambda_activation(n):  # correct, written with a lambda: the student's own code
    return namesakes(n, activation=lambda x: keras.activations.sigmoid(x))

def equivalent_layer(n):  # a class of the student's own that computes what Dense does
    class MyDense(keras.layers.Dense):
        pass
    x = keras.Input(shape=(n,))
    return keras.Model(x, MyDense(n, activation="sigmoid")(x))

def frozen(n):  # every weight untrainable: the copy must not learn either
    auto = keras_own(n)
    for w in auto.weights:
        w.trainable = False
    return auto

def second_compile(n, loss="mse", optimizer="sgd"):  # fit uses the first compile's
    auto = keras_own(n, loss)
    auto.compile(optimizer=optimizer, loss=loss)
    kept, optimizer = auto._compile_loss, auto.optimizer
    auto.compile(optimizer="adam", loss="binary_crossentropy")
    auto._compile_loss, auto.optimizer = kept, optimizer
    return auto

def second_loss(n):  # fit uses the first compile's loss, the second's optimizer
    auto = keras_own(n, "mse")
    kept = auto._compile_loss
    auto.compile(optimizer="adam", loss="binary_crossentropy")
    auto._compile_loss = kept
    return auto

def constrained(n, constraint=lambda w: w * 0.0):  # a constraint no config holds
    auto = keras_own(n)
    auto.layers[-1].kernel.constraint = constraint
    return auto

def keras_constraint(n):
    return constrained(n, keras.constraints.NonNeg())

def twin(n):  # auto, and a model of its layers compiled otherwise (sgd on mse)
    auto = keras_own(n)
    other = keras.Model(auto.inputs, auto.outputs)
    other.compile(optimizer="sgd", loss="mse")
    return auto, other

def borrowed_function(n):  # fit runs the other model's train function: sgd on mse
    auto, other = twin(n)
    other.make_train_function()
    auto.train_function = other.train_function
    return auto

def borrowed_step(n):  # fit runs the other model's train_step
    auto, other = twin(n)
    auto.train_step = other.train_step
    return auto

def masked_borrowed_step(n):  # dropout, and fit runs another model's step (sgd on mse)
    x = keras.Input(shape=(n,))
    h = keras.layers.Dropout(0.5)(keras.layers.Dense(3, activation="relu")(x))
    auto = keras.Model(x, keras.layers.Dense(n, activation="sigmoid")(h))
    auto.compile(optimizer="adam", loss="binary_crossentropy")
    other = keras.Model(auto.inputs, auto.outputs)
    other.compile(optimizer="sgd", loss="mse")
    auto.train_step = other.train_step
    return auto

def guarded(auto, zero=False):
    # Keras' own ops that fail only on a negative input (zero: on a row holding no 0, as
    # every image does and no uniform draw), else add 0: the model itself
    x, out = auto.inputs[0], auto.outputs[0]
    low = keras.ops.min(x, axis=-1, keepdims=True) if zero else keras.ops.minimum(x, 0.0)
    index = keras.ops.cast(keras.ops.sign(low) * 1e6, "int32")
    model = keras.Model(x, out + keras.ops.take_along_axis(out, index, axis=-1) * 0.0)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model

def guarded_borrowed_function(n, zero=False):  # the guard, then fit runs sgd on mse
    auto = guarded(keras_own(n), zero)
    other = keras.Model(auto.inputs, auto.outputs)
    other.compile(optimizer="sgd", loss="mse")
    made = other
    made.make_train_function()
    auto.train_function = made.train_function
    return auto

def guarded_namesake(n):  # relu the identity behind the guard
    return guarded(namesakes(n, "sigmoid", "binary_crossentropy"))

def borrowed_predict(n):  # predict answers with another model's function: the identity
    auto = keras_own(n)
    made = keras.Model(auto.inputs, auto.inputs)
    made.make_predict_function()
    auto.predict_function = made.predict_function
    return auto

def borrowed_decoder_predict(n):  # the decoder's predict: a model of zeros
    encoder, decoder, auto = custom(n)
    z = keras.Input(shape=(2,))
    zeros = keras.Model(z, keras.layers.Dense(n, kernel_initializer="zeros")(z))
    made = zeros
    made.make_predict_function()
    decoder.predict_function = made.predict_function
    return decoder

def borrowed_test_function(n):  # evaluate: another model's, compiled with mse
    auto, other = twin(n)
    made = other
    made.make_test_function()
    auto.test_function = made.test_function
    return auto

def borrowed_fit(n):  # fit: another model's, of the same layers (sgd on mse)
    auto, other = twin(n)
    auto.fit = other.fit
    return auto

def twin_predict(n):  # predict: a twin's, the same weights until the model trains
    auto = keras_own(n)
    twin = keras.models.clone_model(auto)
    twin.set_weights(auto.get_weights())
    made = twin
    made.make_predict_function()
    auto.predict_function = made.predict_function
    return auto

def noisy(n):  # honest: dropout and noise layers draw anew at each training step
    x = keras.Input(shape=(n,))
    h = keras.layers.Dropout(0.3)(keras.layers.Dense(3, activation="relu")(x))
    h = keras.layers.GaussianNoise(0.1)(h)
    auto = keras.Model(x, keras.layers.Dense(n, activation="sigmoid")(h))
    auto.compile(optimizer="adam", loss="binary_crossentropy")
    return auto

KEPT = {}
def warm(n):  # honest: a layer kept across calls, each call trains it a little
    dense = KEPT.setdefault(n, keras.layers.Dense(2, activation="relu"))
    x = keras.Input(shape=(n,))
    auto = keras.Model(x, keras.layers.Dense(n, activation="sigmoid")(dense(x)))
    auto.compile(optimizer="adam", loss="binary_crossentropy")
    data = np.random.default_rng(len(KEPT)).random((8, n)).astype("float32")
    auto.fit(data, data, epochs=1, verbose=0)
    return auto

def switch_off():  # the answer process's carrying of what no file holds, from now on
    import gc
    [answers] = [o for o in gc.get_objects() if isinstance(o, dict) and "_as_trained" in o
                 and "Answers" in o]
    answers["_as_trained"] = lambda model: None

class Dense(keras.layers.Dense):  # a namesake class claiming Keras' module
    def __init__(self, *args, factor=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.factor = factor

    def call(self, x):
        return super().call(x) * self.factor

Dense.__module__ = "keras.layers"

def fake_dense(n, factor=2.0):  # loaded by its names as Keras' Dense
    x = keras.Input(shape=(n,))
    return keras.Model(x, Dense(n, activation="sigmoid", factor=factor)(x))

def replaced_call(n, factor=2.0):  # its call replaced on the instance
    auto = keras_own(n)
    plain = auto.call
    auto.call = lambda x, **kw: plain(x, **kw) * factor
    return auto

def hooked(n, hook, factor):  # three models sharing layers, code of the answer's attached
    x, z = keras.Input(shape=(n,)), keras.Input(shape=(2,))
    dense, out = keras.layers.Dense(2, activation="relu"), keras.layers.Dense(n, "sigmoid")
    encoder, decoder = keras.Model(x, dense(x)), keras.Model(z, out(z))
    auto = keras.Model(x, out(dense(x)))
    auto.compile(optimizer="adam", loss="binary_crossentropy")
    if hook == "call":  # on the instance
        plain = auto.call
        auto.call = lambda x, **kw: plain(x, **kw) * factor
    elif hook == "loss":
        loss = auto.compute_loss
        auto.compute_loss = lambda *a, **kw: loss(*a, **kw) * factor
    elif hook == "class":  # Keras' own class, through an alias, for this process
        D = keras.layers.Dense
        call = D.call
        D.call = lambda self, x, **kw: call(self, x, **kw) * factor
    return encoder, decoder, auto
"""

FUNCTIONS = """
import os, signal, time

def complain(x):
    raise ValueError(f"bad input of shape {np.shape(x)}")

def scale_in_place(a):
    a *= 2
    return float(a.sum())

def total(a):
    return float(np.sum(a))

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def slow():
    time.sleep(60)
"""


class Answering:
    """The answer process started with ``sources`` as the answer cells of task ``t@1``, after the
    ``setup`` cells."""

    def __init__(self, tmp: Path, sources: list[str], timeout: float = 120.0,
                 setup: tuple[str, ...] = ("import numpy as np",)):
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "instructor.engine.answer", str(requests_r), str(replies_w), ""],
            cwd=tmp,
            pass_fds=(requests_r, replies_w), stdin=subprocess.PIPE)
        os.close(requests_r)
        os.close(replies_w)
        self.process.stdin.write(protocol.frame({"setup": list(setup)}) + protocol.frame(
            {"tasks": {"t@1": {"context": [], "answers": sources}}}))
        self.process.stdin.close()
        self.channel = AnswerChannel(requests_w, replies_r, timeout=timeout)

    def __getattr__(self, name: str):
        return self.channel.function("t@1", name)

    def close(self) -> None:
        os.close(self.channel.requests)  # the answer process ends on EOF
        os.close(self.channel.replies)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    answering = Answering(tmp_path_factory.mktemp("answers"), [MODELS])
    yield answering
    answering.close()


@pytest.fixture
def functions(tmp_path):
    answering = Answering(tmp_path, [FUNCTIONS], timeout=30.0)
    yield answering
    answering.close()


X = np.random.default_rng(0).random((4, 4)).astype("float32")



def test_standard_models_are_loaded_here(models):
    import keras

    encoder, auto = models.standard(4)
    assert isinstance(auto, keras.Model) and not isinstance(auto, RemoteObject)
    assert any(layer is encoder for layer in auto.layers)
    assert mc.weight_shapes(auto) == [(4, 2), (2,), (2, 4), (4,)]


def test_models_of_the_students_own_class_are_proxies_the_checks_work_on(models):
    encoder, decoder, auto = models.custom(4)
    assert all(isinstance(m, RemoteModel) for m in (encoder, decoder, auto))
    assert any(layer is encoder for layer in auto.layers)  # one proxy per object
    mc.expect_io(auto, (4,), (4,), "auto")
    mc.expect_io(encoder, (4,), (2,), "encoder")
    assert mc.weight_shapes(auto) == [(4, 2), (2,), (2, 4), (4,)]
    assert [layer.units for layer in mc.layers_of_type(auto, "Dense")] == [2, 4]
    assert mc.effective_activations(auto) == ["relu", "sigmoid"]
    assert mc.optimizer_name(auto) == "adam"
    assert mc.loss_name(auto) == "binary_crossentropy"


def test_a_proxys_weights_calls_and_training_run_over_there(models):
    _, decoder, auto = models.custom(4)
    auto.set_weights([np.zeros(w.shape, "float32") for w in auto.weights])
    assert all(not w.any() for w in decoder.get_weights())  # the decoder is inside auto
    assert np.allclose(auto(X), 0.5)  # sigmoid(0)
    logs = auto.train_on_batch(X, X, return_dict=True)
    assert set(logs) >= {"loss"} and np.isfinite(logs["loss"])
    auto.optimizer.learning_rate = 0.0
    assert auto.optimizer.learning_rate == 0.0
    before = auto.get_weights()
    history = auto.fit(X, X, epochs=2, batch_size=2).history
    assert len(history["loss"]) == 2
    assert all(np.array_equal(a, b) for a, b in zip(before, auto.get_weights(), strict=True))


def test_models_that_cannot_be_saved_stay_there_and_the_arrays_still_come(models):
    first, second, array = models.shared(4)
    assert isinstance(first, RemoteModel) and isinstance(second, RemoteModel)
    assert np.array_equal(array, [0.0, 1.0, 2.0])
    first.set_weights([np.ones((4, 2), "float32"), np.zeros(2, "float32")])
    assert np.array_equal(second.get_weights()[0], np.ones((4, 2)))  # still shared


@pytest.mark.parametrize("call", [
    lambda m: m.namesakes(4),  # relu, loaded by name as Keras'
    lambda m: m.shared_own(4)[0],  # the same, in models sharing layers
    lambda m: m.fake_dense(4),  # a class claiming Keras' Dense, computing twice it
    lambda m: m.replaced_call(4),  # a call replaced on the instance, computing otherwise
    lambda m: m.lambda_activation(4), lambda m: m.equivalent_layer(4),  # not loaded here
    lambda m: m.constrained(4),  # a lambda as a weight's constraint: not saved
], ids=["relu", "shared", "fake class", "replaced call", "lambda", "class", "constraint"])
def test_a_model_of_the_students_own_code_is_never_keras_own(models, call):
    """Whatever its names, a model whose file does not load with Keras' and the course's
    classes alone, or whose copy does not do what it does, is the student's own code: a
    proxy, flagged, where the task allows one, else review."""
    models.channel.own_classes, models.channel.proxied = True, False
    model = call(models)
    assert isinstance(model, RemoteModel) and models.channel.proxied
    models.channel.own_classes = False
    try:
        with pytest.raises(wire.Unreadable, match="code of your own"):
            call(models)
    finally:
        models.channel.own_classes = True


@pytest.mark.parametrize("build", ["fake_dense", "replaced_call"])
def test_code_of_the_students_own_that_does_what_keras_does_is_graded_on_keras_copy(
        models, build):
    """A namesake class or a replaced ``call`` computing exactly what Keras' does: its
    copy, Keras' own, is proven to do what it does, and the checks get the copy."""
    import keras

    models.channel.own_classes, models.channel.proxied = False, False
    try:
        model = getattr(models, build)(4, factor=1.0)
    finally:
        models.channel.own_classes = True
    assert isinstance(model, keras.Model) and not models.channel.proxied
    assert "call" not in vars(model) and all(  # Keras' own classes, Keras' own call
        type(layer) is getattr(keras.layers, type(layer).__name__) for layer in model.layers)


def test_a_namesake_loss_is_found_at_the_copys_first_evaluation(models):
    """A ``binary_crossentropy`` of the student's own computing the squared error loads
    here as Keras' by its name: the copy is refused at its first evaluation or training."""
    assert re.search(r"differed in .*test_on_batch",
                     _refused(models, "namesake_loss", use="evaluate"))


@pytest.mark.parametrize("hook", ["call", "loss", "class"])
def test_code_attached_to_models_sharing_layers_is_judged_by_what_it_does(
        models, tmp_path, hook):
    """Models sharing layers are asked in the answer process (proxies): code attached to
    them (on an instance, or on a Keras class through an alias) makes them the student's
    own where their copies, given a training step, do otherwise (review); doing what
    Keras' does, they are proven and not flagged."""
    answering = Answering(tmp_path, [MODELS]) if hook == "class" else models
    channel = answering.channel
    channel.own_classes, channel.proxied = False, False
    try:
        returned = answering.hooked(4, hook, 1.0)
        assert all(isinstance(m, RemoteModel) for m in returned) and not channel.proxied
        with pytest.raises(wire.Unreadable, match="code of your own.*differed in"):
            answering.hooked(4, hook, 2.0)
    finally:
        channel.own_classes = True
        if answering is not models:  # Keras' Dense stays replaced in that process
            answering.close()


def test_keras_own_models_shared_or_not_keep_no_flag(models):
    models.channel.proxied = False
    first, _second, _ = models.shared(4, activation="relu")
    assert isinstance(first, RemoteModel) and not models.channel.proxied
    import keras

    for loss in ("binary_crossentropy", "mse"):
        auto = models.keras_own(4, loss)
        assert isinstance(auto, keras.Model) and not models.channel.proxied


def test_the_copy_trains_as_the_model_does_what_no_config_holds(models):
    """Untrainable weights, a Keras constraint set on a weight, and the loss and optimizer
    a second ``compile`` left behind it: the copy carries what ``fit`` uses."""
    import keras

    models.channel.proxied = False
    auto = models.frozen(4)
    assert isinstance(auto, keras.Model) and not auto.trainable_weights
    auto = models.second_compile(4)
    assert isinstance(auto, keras.Model) and not models.channel.proxied
    assert (mc.optimizer_name(auto), mc.loss_name(auto)) == ("sgd", "mean_squared_error")
    auto = models.keras_constraint(4)
    assert isinstance(auto.layers[-1].kernel.constraint, keras.constraints.NonNeg)


X8 = np.random.default_rng(0).random((8, 4)).astype("float32")


def _refused(answering, build: str, *args, use: str | None = None) -> str:
    """The review's reason when ``build``'s model comes back, or (``use``) when the check
    first calls that method of it (a task without own classes)."""
    channel = answering.channel
    channel.own_classes, channel.unproven = False, None
    try:
        with pytest.raises(wire.Unreadable, match="code of your own") as info:
            model = getattr(answering, build)(4, *args)
            assert use and channel.unproven is None
            getattr(model, use)(X8, *([X8] if use in ("train_on_batch", "evaluate", "fit") else []))
        assert channel.unproven == str(info.value)
        return str(info.value)
    finally:
        channel.own_classes, channel.unproven = True, None


@pytest.mark.parametrize("build, use, what", [
    ("second_compile", None, "optimizer"),
    # Adam's first step moves each weight by about the learning rate, whatever the loss
    # (or by more, on the signs the drawn batch gives its gradients)
    ("second_loss", "train_on_batch", "(predict after training, )?test_on_batch, "
     "train_on_batch(, weights after training)?"),
    # (predict after training too, as the drawn batch may show it)
    ("constrained", "evaluate", "(predict after training, )?weights after training")])
def test_a_copy_that_trains_otherwise_is_the_students_own_code(tmp_path, build, use, what):
    """What the answer process failed to carry, the proof finds: at return what the
    model is (its optimizer), at the copy's first predict, evaluation or training what it
    does, naming each value that differed; the copy then refuses each of them."""
    answering = Answering(tmp_path, [MODELS])
    try:
        answering.switch_off()
        assert re.search(f"differed in {what}\\)$", _refused(answering, build, use=use))
    finally:
        answering.close()


def test_a_test_that_catches_the_refusal_still_needs_review(tmp_path):
    """The refusal is not the check's to swallow: the test needs review whatever caught
    it (instructor.engine.checking.run)."""
    from instructor.engine import checking

    answering = Answering(tmp_path, [MODELS])
    source = ("x = np.ones((8, 4), 'float32')\nauto = constrained(4)\ntry:\n"
              "    auto.train_on_batch(x, x)\nexcept Exception:\n    pass\n")
    job = {"cells": [{"grade_id": "g", "task": "t", "answers": "t@1", "names": ["constrained"],
                      "context": [], "source": source, "own_classes": False}]}
    try:
        answering.switch_off()
        verdict = checking.run({"np": np}, None, job, answering.channel)["g"]
    finally:
        answering.close()
    assert not verdict["checked"] and verdict["passed"] is None
    assert verdict["reason"].endswith("weights after training)")


def test_a_hidden_test_through_a_proxy_shows_none_of_its_reports(models):
    """A proxy's reports (a model's name, its layers' classes) are the answer process's
    words: a message quoting them is the student's, withheld under hidden tests."""
    from instructor.engine import checking, judge

    source = "encoder = custom(4)[0]\nassert encoder.name == 'e', f'named {encoder.name}'\n"
    job = {"cells": [{"grade_id": "g", "task": "t", "answers": "t@1", "names": ["custom"],
                      "context": [], "source": source, "hidden": True}]}
    verdict = checking.run({"np": np}, None, job, models.channel)["g"]
    assert verdict["proxied"] and verdict["error"].endswith("named encoder")
    assert "encoder" not in judge.withheld(verdict)["error"]


@pytest.mark.parametrize("build", ["borrowed_function", "borrowed_step",
                                   "masked_borrowed_step"])
def test_a_model_that_fits_with_another_models_step_is_never_proven(models, build):
    """A model whose ``fit`` or ``train_on_batch`` runs another model's train function or
    ``train_step`` (Keras' own code, so no check of the answer process's flags it) trains
    otherwise than its copy: review at the copy's first training, also when dropout
    would make a step's loss and weights vary from one step to the next."""
    reason = _refused(models, build, use="fit")
    assert re.search(r"differed in (predict after training, )?train_on_batch, weights after "
                     r"training\)$", reason)


def test_random_layers_draw_the_same_on_both_sides_and_the_model_is_proven(models):
    """Dropout and noise draw from one seed on both sides (every generator, Keras',
    TF's and NumPy's): an honest model with them is proven, at return and in training,
    with nothing excused as "varying"."""
    channel = models.channel
    channel.own_classes, channel.unproven = False, None
    try:
        model = models.noisy(4)
        model.fit(X8, X8, epochs=1, verbose=0)
        assert channel.unproven is None
    finally:
        channel.own_classes = True


def test_what_the_other_side_reports_beyond_the_proofs_values_is_never_quoted(
        models, monkeypatch):
    """The answer process's reply to the proof is the student's: a value the copy does
    not have fails the proof, and its name (free text) is not in the message."""
    channel, answer = models.channel, models.channel.method

    def forged(handle, name, *args, **kwargs):
        return {**answer(handle, name, *args, **kwargs), "hidden t=0.25": 1.0}

    monkeypatch.setattr(channel, "method", forged)
    reason = _refused(models, "keras_own")
    assert reason.endswith("differed in what else it reported)")
    assert "hidden" not in reason


def test_a_model_answering_fit_with_another_models_is_never_proven(models):
    assert _refused(models, "borrowed_fit").endswith(
        "differed in own fit, predict and evaluate)")


@pytest.mark.parametrize("build, use, what", [
    ("borrowed_predict", None, "predict"),
    ("borrowed_test_function", "evaluate", "test_on_batch"),
    # the same weights at return: predict differs once the model has trained
    ("twin_predict", "train_on_batch", "predict after training")])
def test_predict_and_evaluate_are_proven_as_fit_is(models, build, use, what):
    """``predict`` and ``evaluate`` run another model's function (the identity, a model
    compiled with mse; a twin that agrees until trained): review, naming them."""
    assert _refused(models, build, use=use).endswith(f"differed in {what})")


def test_a_decoders_predict_is_proven_too(models):
    reason = _refused(models, "borrowed_decoder_predict")
    assert reason.endswith("differed in predict)")


@pytest.mark.parametrize("zero", [False, True])
def test_a_guard_on_the_proofs_inputs_never_switches_the_proof_off(models, zero):
    """Keras' own ops that fail only on a negative input (no test has one) no longer stop
    the proof: its inputs are drawn in [0, 1], as the tests', and fit's borrowed function
    is found. A guard that fails on the proof's inputs (no exact 0 in a row, as every image
    has) stops the proof: that is review too, never a pass."""
    reason = _refused(models, "guarded_borrowed_function", zero, use=None if zero else "fit")
    expected = "could not prove .* its copy raised" if zero else "differed in .*train_on_batch"
    assert re.search(expected, reason)


def test_a_namesake_behind_a_guard_is_found_by_the_proof(models):
    """``relu`` of the student's own, loaded here by name as Keras', behind the guard
    (which stopped the proof of 0edfe89): the proof's outputs differ."""
    assert re.search(r"differed in outputs", _refused(models, "guarded_namesake"))


def test_a_proof_the_answer_process_cannot_answer_needs_review(models):
    """The model there fails where its copy does not (its process ran too long, died, or
    the student's code raised): review, never "no difference"."""
    channel = models.channel
    answer = channel.method
    try:
        channel.method = lambda *args, **kwargs: (_ for _ in ()).throw(ValueError("x"))
        reason = _refused(models, "keras_own")
    finally:
        channel.method = answer
    assert reason.endswith("your model raised an error where its copy did not)")


def test_an_honest_model_is_proven_from_where_the_check_put_it_and_left_there(models):
    """The proof at the copy's first training starts from the weights and learning rate
    the check gave it, on both sides, and puts back its weights, learning rate, optimizer
    state and functions; a layer a later call trains does not unprove the first model."""
    channel, x = models.channel, np.random.default_rng(0).random((8, 4)).astype("float32")
    channel.own_classes, channel.unproven = False, None
    try:
        auto = models.keras_own(4)
        weights = [np.full_like(w, 0.1) for w in auto.get_weights()]
        auto.set_weights(weights)
        auto.optimizer.learning_rate = 0.0
        auto.train_on_batch(x, x)  # proven first, then trained at a rate of 0
        assert channel.unproven is None and float(auto.optimizer.learning_rate) == 0.0
        assert all(np.allclose(a, b) for a, b in zip(auto.get_weights(), weights, strict=True))
        assert int(auto.optimizer.iterations) == 1  # the check's step, not the proof's
        first = models.warm(4)
        models.warm(4)  # trains the layer the first model shares with it
        first.train_on_batch(x, x)
        assert channel.unproven is None
    finally:
        channel.own_classes, channel.unproven = True, None


def test_what_a_proxy_does_not_forward_needs_review(models):
    auto = models.custom(4)[2]
    with pytest.raises(wire.Unreadable, match="'get_config'"):
        auto.get_config()
    with pytest.raises(wire.Unreadable, match="the checker cannot ask for 'save'"):
        auto._ask("save", "elsewhere.keras")


def test_the_answers_exception_comes_back_with_its_name_and_message(functions):
    with pytest.raises(Exception, match=r"^bad input of shape \(2, 3\)$") as info:
        functions.complain(np.zeros((2, 3)))
    assert type(info.value).__name__ == "ValueError"
    assert functions.total(np.ones(3)) == 3.0  # the channel still works


def test_an_argument_changed_in_place_is_changed_here_too(functions):
    x = np.ones(3)
    assert functions.scale_in_place(x) == 6.0
    assert np.array_equal(x, [2.0, 2.0, 2.0])


def test_a_read_only_argument_changed_there_stays_as_it_was_here(functions):
    x = np.ones(3)
    x.flags.writeable = False  # as the datasets a checking process keeps
    assert functions.scale_in_place(x) == 6.0
    assert np.array_equal(x, [1.0, 1.0, 1.0])


def test_an_answer_process_that_dies_fails_this_call_and_every_later_one(functions):
    assert functions.total(np.ones(2)) == 2.0
    with pytest.raises(AnswerFailed, match="the process running your answer ended"):
        functions.die()
    with pytest.raises(AnswerFailed, match="ended"):
        functions.total(np.ones(2))


def test_an_answer_that_never_replies_fails(tmp_path):
    answering = Answering(tmp_path, [FUNCTIONS], timeout=30.0)
    try:
        assert answering.total(np.ones(2)) == 2.0  # started: from now on, 0.5 s
        answering.channel.timeout = 0.5
        with pytest.raises(AnswerFailed, match=r"ran longer than 0.5 s") as slow:
            answering.slow()
        assert slow.value.own  # the grader's words: a hidden test shows them
        with pytest.raises(AnswerFailed, match="ran longer than") as again:
            answering.total(np.ones(2))
        assert again.value.own
    finally:
        answering.process.kill()
        answering.close()


def test_a_reply_that_is_not_json_fails_and_is_not_taken_for_a_large_one():
    requests_r, requests_w = os.pipe()
    replies_r, replies_w = os.pipe()
    try:
        os.write(replies_w, struct.pack(">Q", 5) + b"{oops")
        channel = AnswerChannel(requests_w, replies_r, timeout=5, max_bytes=100)
        with pytest.raises(AnswerFailed, match="an unreadable reply"):
            channel.function("t@1", "f")()
    finally:
        for fd in (requests_r, requests_w, replies_r, replies_w):
            os.close(fd)


#: A VAE of the course's (a class the setup defines, so the checker loads it) with its
#: own train_step and test_step, sampling its code from a seeded generator.
VAE_SETUP = '''
import keras, numpy as np, tensorflow as tf

class StepVAE(keras.Model):
    def __init__(self, n=4, **kwargs):
        super().__init__(**kwargs)
        self.n, self.seeds = n, keras.random.SeedGenerator(7)
        self.enc, self.dec = keras.layers.Dense(4), keras.layers.Dense(n, activation="sigmoid")

    def call(self, x):
        return self.dec(self.enc(x)[:, :2])

    def _loss(self, x):
        h = self.enc(x)
        mean, log_var = h[:, :2], h[:, 2:]
        z = mean + keras.ops.exp(0.5 * log_var) * keras.random.normal(
            keras.ops.shape(mean), seed=self.seeds)
        kl = -0.5 * keras.ops.sum(1 + log_var - mean ** 2 - keras.ops.exp(log_var), axis=1)
        return keras.ops.mean(keras.ops.sum(keras.ops.binary_crossentropy(x, self.dec(z)),
                                            axis=1) + kl)

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            loss = self._loss(x)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return {"loss": loss}

    def test_step(self, data):
        return {"loss": self._loss(data[0] if isinstance(data, tuple) else data)}

    def get_config(self):
        return {**super().get_config(), "n": self.n}
'''

VAE_ANSWERS = MODELS + '''
def vae(n, optimizer="adam", swap=False):
    model = StepVAE(n)
    model(np.zeros((1, n), "float32"))
    model.compile(optimizer=optimizer)
    if swap:  # an SGD kept from a first compile put back behind the record of Adam
        kept = model.optimizer
        model.compile(optimizer="adam")
        model.optimizer = kept
    return model

def frozen_vae(n):
    model = vae(n)
    model.enc.kernel.trainable = False
    return model

def namesake_vae(n):  # a class of the answer's own, named as the setup's
    class StepVAE(keras.Model):
        def call(self, x):
            return x
    model = StepVAE()
    model(np.zeros((1, n), "float32"))
    return model
'''


def test_the_courses_vae_with_its_own_steps_is_loaded_and_trains_as_its_copy(tmp_path):
    """The course's class, its own train_step sampling: the copy is loaded (no own code; a
    class of the answer's own of the same name is not the course's), carries the
    optimizer and the untrainable weight, and a second compile's optimizer is the one its
    copy trains with."""
    import keras

    answering = Answering(tmp_path, [VAE_ANSWERS], setup=(VAE_SETUP,))
    namespace: dict = {}
    exec(VAE_SETUP, namespace)  # noqa: S102 - the setup, as the checking process runs it
    answering.channel.custom_objects = {"course>StepVAE": namespace["StepVAE"]}
    answering.channel.own_classes = False
    try:
        model = answering.vae(4)
        assert type(model).__name__ == "StepVAE" and not isinstance(model, RemoteObject)
        x = np.random.default_rng(1).random((8, 4)).astype("float32")
        assert np.isfinite(model.train_on_batch(x, return_dict=True)["loss"])
        assert type(answering.vae(4, "sgd", swap=True).optimizer) is keras.optimizers.SGD
        frozen = answering.frozen_vae(4)
        assert len(frozen.trainable_weights) == len(frozen.weights) - 1
        with pytest.raises(wire.Unreadable, match="code of your own"):  # not the course's
            answering.namesake_vae(4)
        answering.switch_off()  # its step, the same code on both, still tells them apart
        with pytest.raises(wire.Unreadable, match="differed in .*optimizer"):
            answering.vae(4, "sgd", swap=True)
    finally:
        answering.close()
