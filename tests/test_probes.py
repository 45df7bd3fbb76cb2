"""Tests for helpers.grading.probes: correct models in several styles pass every probe;
wrong models, and models whose structure says one thing while they compute another, fail
with a message naming what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import helpers

helpers.import_quietly("keras")
import keras  # noqa: E402

from helpers.grading import model_checks as mc  # noqa: E402
from helpers.grading import probes  # noqa: E402
from helpers.keras_versions import activity_loss_is_averaged  # noqa: E402

L = keras.layers
N, HIDDEN, K, LAM = 12, [8, 6], 3, 0.05
CONV = ((12, 12, 1), [4, 3, 2], (2, 2, 2))  # 12 -> 6 -> 3 -> 2, back up to 12


# ---------------------------------------------------------------- builders
def dense_ae(*, style="functional", lam=None, l1="L1", code_act="relu", out_act="sigmoid",
             reverse=True, middle_act="relu", penalty_at="code", optimizer="adam",
             loss="binary_crossentropy"):
    """Task (a) (``lam`` None) or (b), with one choice changed to make it wrong."""
    def dense(units, act):
        if style == "separate" and act != "linear":
            return [L.Dense(units), L.Activation(act) if act != "relu" else L.ReLU()]
        return [L.Dense(units, activation=act)]

    enc_layers = [keras.Input((N,))]
    for i, units in enumerate(HIDDEN):
        enc_layers += dense(units, middle_act if i == 1 else "relu")
        if penalty_at == "hidden" and lam and i == len(HIDDEN) - 1:
            enc_layers.append(L.ActivityRegularization(l1=lam))
    if lam and penalty_at == "before_relu":
        enc_layers += [L.Dense(K, activity_regularizer=keras.regularizers.L1(lam)), L.ReLU()]
    elif lam and penalty_at in ("code", "code_and_decoder") and l1 in ("L1", "L1L2", "L2", "10x"):
        reg = {"L1": keras.regularizers.L1(lam), "L1L2": keras.regularizers.L1L2(l1=lam),
               "L2": keras.regularizers.L2(lam), "10x": keras.regularizers.L1(10 * lam)}[l1]
        enc_layers.append(L.Dense(K, activation=code_act, activity_regularizer=reg))
    else:
        enc_layers += dense(K, code_act)
        if lam and penalty_at in ("code", "code_and_decoder") and l1 == "layer":
            enc_layers.append(L.ActivityRegularization(l1=lam))
    dec_layers = [keras.Input((K,))]
    if penalty_at == "code_and_decoder":
        dec_layers.append(L.ActivityRegularization(l1=lam))
    for units in (HIDDEN[::-1] if reverse else HIDDEN):
        dec_layers += dense(units, "relu")
    dec_layers += dense(N, out_act)
    if style == "functional":
        encoder, decoder = _functional(enc_layers), _functional(dec_layers)
        x = keras.Input((N,))
        auto = keras.Model(x, decoder(encoder(x)))
    else:
        encoder, decoder = keras.Sequential(enc_layers), keras.Sequential(dec_layers)
        auto = keras.Sequential([encoder, decoder])
    auto.compile(optimizer=optimizer, loss=loss)
    return encoder, decoder, auto


def _functional(layers):
    x = inputs = layers[0]
    for layer in layers[1:]:
        x = layer(x)
    return keras.Model(inputs, x)


def conv_ae(*, style="functional", out_act="sigmoid", valid_at=-1, pool_first=False,
            reverse=True, optimizer="adam", loss="binary_crossentropy"):
    """Task (c), or with one choice changed."""
    input_dims, filters, latent_dims = CONV

    def conv(f, padding, act):
        if style == "separate":
            return [L.Conv2D(f, 3, padding=padding), L.Activation(act)]
        return [L.Conv2D(f, (3, 3), padding=padding, activation=act)]

    enc = [keras.Input(input_dims)]
    for f in filters:
        pair = [*conv(f, "same", "relu"), L.MaxPooling2D(2, padding="same")]
        enc += pair[::-1] if pool_first else pair
    dec = [keras.Input(latent_dims)]
    backwards = filters[::-1] if reverse else list(filters)
    for i, f in enumerate(backwards):
        padding = "valid" if i == len(backwards) + valid_at else "same"
        dec += [*conv(f, padding, "relu"), L.UpSampling2D(2)]
    dec += conv(input_dims[-1], "same", out_act)
    encoder, decoder = keras.Sequential(enc), keras.Sequential(dec)
    auto = keras.Sequential([encoder, decoder])
    auto.compile(optimizer=optimizer, loss=loss)
    return encoder, decoder, auto


class Liar(keras.Model):
    """A model with the weights of ``inner`` (get_weights and set_weights work) whose
    call computes something other: ``mode`` "zeros" or "linear" (inputs times the first
    kernel, cut or padded to the output's width)."""

    def __init__(self, inner, mode, **kwargs):
        super().__init__(**kwargs)
        self.inner, self.mode = inner, mode

    def call(self, x):
        out = self.inner(x)
        if self.mode == "zeros":
            return out * 0.0
        first = self.inner.trainable_weights[0]
        return keras.ops.sigmoid(keras.ops.matmul(x, first))[:, :1] + out * 0.0


class Adam(keras.optimizers.SGD):
    """SGD in disguise: its class name says Adam."""


class AscendingAdam(keras.optimizers.Adam):
    """Adam's steps of the right size, in the wrong direction."""

    def update_step(self, gradient, variable, learning_rate):
        super().update_step(-gradient, variable, learning_rate)


def binary_crossentropy(y_true, y_pred):
    """The mean squared error, named like the cross-entropy."""
    return keras.ops.mean((y_true - y_pred) ** 2, axis=-1)


def build(fn, **kwargs):
    with helpers.quiet():
        return fn(**kwargs)


def dense_probe(models):
    encoder, decoder, auto = models
    probes.expect_call_shapes(encoder, decoder, auto, (N,), (K,), (N,))
    probes.expect_dense_forward(encoder, decoder, auto, N, HIDDEN, K)


def conv_probe(models):
    encoder, decoder, auto = models
    probes.expect_call_shapes(encoder, decoder, auto, CONV[0], CONV[2], CONV[0])
    probes.expect_conv_forward(encoder, decoder, auto, *CONV)


# ---------------------------------------------------------------- NumPy pieces
def test_numpy_layers_match_keras():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(2, 7, 5, 3)).astype(np.float32)
    kernel, bias = probes.random_weights([(3, 3, 3, 4), (4,)], rng)
    for padding in ("same", "valid"):
        layer = L.Conv2D(4, 3, padding=padding)
        layer.build(x.shape)
        layer.set_weights([kernel, bias])
        np.testing.assert_allclose(probes.conv2d(x, kernel, bias, padding), layer(x), atol=1e-5)
    np.testing.assert_allclose(probes.max_pool(x), L.MaxPooling2D(2, padding="same")(x))
    np.testing.assert_allclose(probes.upsample(x), L.UpSampling2D(2)(x))


def test_bce_matches_keras_with_clipping():
    rng = np.random.default_rng(1)
    target = rng.uniform(size=(3, 4, 4, 2))
    output = rng.uniform(size=(3, 4, 4, 2))
    output[0, 0, 0] = [0.0, 1.0]  # clipped to [eps, 1 - eps]
    want = float(keras.losses.BinaryCrossentropy()(target, output))
    assert probes.bce(target, output) == pytest.approx(want, rel=1e-5)


def test_dense_grads_match_keras():
    import tensorflow as tf

    encoder, decoder, auto = build(dense_ae)
    enc_ops, dec_ops = probes.dense_ops(N, HIDDEN, K)
    rng = np.random.default_rng(2)
    weights = probes.random_weights(probes.weight_shapes(enc_ops + dec_ops, (N,)), rng)
    x = rng.uniform(size=(5, N)).astype(np.float32)
    auto.set_weights(weights)
    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy()(x, auto(x))
    want = tape.gradient(loss, auto.trainable_weights)
    got = probes.dense_grads(enc_ops + dec_ops, weights, x, x)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-6)


# ---------------------------------------------------------------- forward probes
@pytest.mark.parametrize("style", ["functional", "sequential", "separate"])
def test_dense_forward_accepts_correct_styles(style):
    dense_probe(build(dense_ae, style=style))
    dense_probe(build(dense_ae, style=style, lam=LAM))


@pytest.mark.parametrize(("change", "message"), [
    ({"out_act": "relu"}, "computes something other"),
    ({"code_act": "linear"}, "encoder computes something other"),
    ({"middle_act": "sigmoid"}, "encoder computes something other"),
    ({"reverse": False}, r"decoder.get_weights\(\) should list"),
])
def test_dense_forward_rejects_wrong_models(change, message):
    with pytest.raises(AssertionError, match=message):
        dense_probe(build(dense_ae, **change))


@pytest.mark.parametrize("mode", ["zeros", "linear"])
def test_dense_forward_rejects_a_liar(mode):
    encoder, decoder, auto = build(dense_ae)
    liar = Liar(decoder, mode)
    liar(np.zeros((1, K), np.float32))
    assert mc.weight_shapes(liar) == mc.weight_shapes(decoder)  # its structure looks right
    with pytest.raises(AssertionError, match="decoder"):
        if mode == "zeros":
            probes.expect_call_shapes(encoder, liar, auto, (N,), (K,), (N,))
        else:
            probes.expect_dense_forward(encoder, liar, auto, N, HIDDEN, K)


@pytest.mark.parametrize("style", ["functional", "separate"])
def test_conv_forward_accepts_correct_styles(style):
    conv_probe(build(conv_ae, style=style))


@pytest.mark.parametrize(("change", "message"), [
    ({"out_act": "relu"}, "decoder computes something other"),
    ({"pool_first": True}, "encoder computes something other"),
    ({"valid_at": -2}, "decoder called on a batch of 3 inputs"),
    ({"reverse": False}, r"decoder.get_weights\(\) should list"),
])
def test_conv_forward_rejects_wrong_models(change, message):
    with pytest.raises(AssertionError, match=message):
        conv_probe(build(conv_ae, **change))


def test_conv_forward_rejects_a_liar():
    encoder, decoder, auto = build(conv_ae)
    liar = Liar(encoder, "zeros")
    liar(np.zeros((1, *CONV[0]), np.float32))
    with pytest.raises(AssertionError, match="encoder returns the same output"):
        conv_probe((liar, decoder, auto))


# ---------------------------------------------------------------- loss and Adam's step
@pytest.mark.parametrize("lam", [None, LAM])
def test_dense_training_accepts_the_reference(lam):
    _, _, auto = build(dense_ae, lam=lam, style="sequential")
    probes.expect_dense_training(auto, N, HIDDEN, K, code_off=lam is not None)


def test_dense_training_ignores_layer_mistakes():
    """A wrong activation is the forward probe's to report: the training probe checks the
    loss of what the model outputs and Adam's step, whatever the layers."""
    _, _, auto = build(dense_ae, out_act="relu")
    probes.expect_dense_training(auto, N, HIDDEN, K)


@pytest.mark.parametrize(("change", "message"), [
    ({"optimizer": "sgd"}, "only 0% of the weights moved"),
    ({"optimizer": Adam()}, "only 0% of the weights moved"),
    ({"optimizer": "rmsprop"}, "at most the learning rate"),
    ({"optimizer": AscendingAdam()}, "did not move as Adam moves them"),
    ({"loss": "mse"}, "That is the mean squared error"),
    ({"loss": binary_crossentropy}, "That is the mean squared error"),
])
def test_dense_training_rejects_wrong_compilation(change, message):
    _, _, auto = build(dense_ae, **change)
    if isinstance(change.get("optimizer"), Adam):
        assert mc.optimizer_name(auto) == "adam"  # the structure lies
    if change.get("loss") is binary_crossentropy:
        assert mc.loss_name(auto) == "binary_crossentropy"
    with pytest.raises(AssertionError, match=message):
        probes.expect_dense_training(auto, N, HIDDEN, K)


def test_conv_training_accepts_the_reference():
    _, _, auto = build(conv_ae, style="separate")
    probes.expect_conv_training(auto, CONV[0])


@pytest.mark.parametrize(("change", "message"), [
    ({"optimizer": "sgd"}, "only 0% of the weights moved"),
    ({"loss": "mse"}, "That is the mean squared error"),
])
def test_conv_training_rejects_wrong_compilation(change, message):
    _, _, auto = build(conv_ae, **change)
    with pytest.raises(AssertionError, match=message):
        probes.expect_conv_training(auto, CONV[0])


# ---------------------------------------------------------------- the L1 penalty
@pytest.mark.parametrize(("style", "l1"), [("functional", "L1"), ("sequential", "layer"),
                                           ("functional", "L1L2")])
def test_l1_penalty_accepts_every_style(style, l1):
    encoder, _, auto = build(dense_ae, style=style, lam=LAM, l1=l1)
    probes.expect_l1_penalty(auto, N, HIDDEN, K, LAM, encoder=encoder)


@pytest.mark.parametrize("change", [
    {"lam": None}, {"penalty_at": "hidden"}, {"penalty_at": "before_relu"}, {"l1": "10x"},
    {"l1": "L2"}, {"loss": "mse", "lam": LAM / 2},
    {"penalty_at": "code_and_decoder"},
])
def test_l1_penalty_rejects_wrong_penalties(change):
    encoder, _, auto = build(dense_ae, **{"lam": LAM, **change})
    with pytest.raises(AssertionError, match="should include an L1 penalty of weight"):
        probes.expect_l1_penalty(auto, N, HIDDEN, K, LAM, encoder=encoder)


def test_l1_penalty_does_not_depend_on_the_reconstruction_loss():
    encoder, _, auto = build(dense_ae, lam=LAM, loss="mse")
    probes.expect_l1_penalty(auto, N, HIDDEN, K, LAM, encoder=encoder)


def test_l1_loss_follows_the_keras_version():
    code = np.array([[1.0, -2.0], [3.0, 0.0]])
    want = 0.6 / 2 if activity_loss_is_averaged() else 0.6
    assert probes.l1_loss(code, 0.1) == pytest.approx(want)


def test_l1_penalty_judges_the_penalty_not_the_layers():
    """The code is the encoder's own output: a code layer with the wrong activation (the
    layers test's mistake) still carries a right penalty here."""
    encoder, _, auto = build(dense_ae, lam=LAM, code_act="sigmoid")
    probes.expect_l1_penalty(auto, N, HIDDEN, K, LAM, encoder=encoder)


def test_l1_penalty_refuses_an_encoder_whose_code_is_all_zeros():
    """An encoder that outputs zeros would make any missing penalty look right."""
    class Zeros:
        def set_weights(self, weights):
            pass

        def __call__(self, x):
            return np.zeros((len(x), K), np.float32)

    _, _, auto = build(dense_ae, lam=None)
    with pytest.raises(AssertionError, match="not be \\(nearly\\) all zeros"):
        probes.expect_l1_penalty(auto, N, HIDDEN, K, LAM, encoder=Zeros())
