"""Tests for helpers.grading.model_checks: the same architecture, built in different styles."""

from __future__ import annotations

import numpy as np
import pytest

import helpers

helpers.import_quietly("keras")
import keras  # noqa: E402

from helpers.grading import model_checks as mc  # noqa: E402

L = keras.layers


def functional_ae(reg=None, extra_layer=False):
    """An 8-4-2 encoder and mirrored decoder, functional, with an explicit Input."""
    inp = keras.Input((8,))
    h = L.Dense(4, activation="relu")(inp)
    z = L.Dense(2, activation="relu", activity_regularizer=reg)(h)
    if extra_layer:
        z = L.ActivityRegularization(l1=1e-3)(z)
    encoder = keras.Model(inp, z)
    code = keras.Input((2,))
    h = L.Dense(4, activation="relu")(code)
    out = L.Dense(8, activation="sigmoid")(h)
    decoder = keras.Model(code, out)
    auto = keras.Model(inp, decoder(encoder(inp)))
    auto.compile(optimizer="adam", loss="binary_crossentropy")
    return encoder, decoder, auto


def sequential_ae():
    """The same 8-4-2 autoencoder with Sequential, input_shape on the first layer,
    activations as separate layers."""
    encoder = keras.Sequential([L.Dense(4, input_shape=(8,)), L.ReLU(), L.Dense(2),
                                L.Activation("relu")])
    decoder = keras.Sequential([keras.Input((2,)), L.Dense(4, activation="relu"),
                                L.Dense(8, activation="sigmoid")])
    auto = keras.Sequential([encoder, decoder])
    auto.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.BinaryCrossentropy())
    return encoder, decoder, auto


@pytest.fixture(scope="module")
def both():
    # seeded: unseeded, a decoder whose ReLU layer is dead for the codes drawn maps any
    # encoder's codes alike, and the check on composition passes (4 seeds in 300)
    keras.utils.set_random_seed(0)
    with helpers.quiet():
        return functional_ae(), sequential_ae()


def test_layers_of_flattens_and_skips_inputs(both):
    (_, _, f_auto), (_, _, s_auto) = both
    assert [type(layer).__name__ for layer in mc.layers_of(f_auto)] == ["Dense"] * 4
    assert mc.layer_kinds(s_auto) == ["Dense"] * 4
    assert len(mc.layers_of_type(s_auto, "Dense")) == 4
    assert mc.conv_layers(s_auto) == []


def test_activations_same_for_both_styles(both):
    (_, _, f_auto), (_, _, s_auto) = both
    expected = ["relu", "relu", "relu", "sigmoid"]
    assert mc.effective_activations(f_auto) == expected
    assert mc.effective_activations(s_auto) == expected
    assert mc.activation_name(L.Dense(3)) == "linear"
    assert mc.activation_name(L.ReLU()) == "relu"


def test_weight_shapes_and_counts(both):
    (f_enc, f_dec, f_auto), (s_enc, s_dec, s_auto) = both
    assert mc.weight_shapes(f_auto) == mc.weight_shapes(s_auto)
    assert mc.kernel_shapes(f_auto) == [(8, 4), (4, 2), (2, 4), (4, 8)]
    mc.expect_io(s_enc, (8,), (2,))
    mc.expect_io(f_dec, (2,), (8,))


def test_compilation_names(both):
    (_, _, f_auto), (_, _, s_auto) = both
    for auto in (f_auto, s_auto):
        assert mc.optimizer_name(auto) == "adam"
        assert mc.loss_name(auto) == "binary_crossentropy"
    model = keras.Sequential([keras.Input((2,)), L.Dense(1)])
    assert mc.optimizer_name(model) is None and mc.loss_name(model) is None
    model.compile(optimizer="sgd", loss="mse")
    assert (mc.optimizer_name(model), mc.loss_name(model)) == ("sgd", "mean_squared_error")
    model.compile(optimizer="sgd", loss=keras.losses.binary_crossentropy)
    assert mc.loss_name(model) == "binary_crossentropy"
    # Adam's update settings: the learning rate and epsilon are free, the rest its defaults
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01, epsilon=1e-4))
    assert mc.optimizer_name(model) == "adam"
    model.compile(optimizer=keras.optimizers.Adam(use_ema=True, ema_overwrite_frequency=1))
    assert mc.optimizer_name(model) == "adam (use_ema=True)"
    for same in (keras.optimizers.Adam(weight_decay=0.0),
                 keras.optimizers.Adam(beta_1=float(np.float32(0.9)))):   # a float32 round trip
        model.compile(optimizer=same)
        assert mc.optimizer_name(model) == "adam"
    model.compile(optimizer=keras.optimizers.Adam(beta_1=0.5, clipnorm=1.0))
    assert mc.optimizer_name(model) == "adam (beta_1=0.5, clipnorm=1.0)"


@pytest.mark.parametrize("style", ["L1", "L1L2", "layer"])
def test_l1_penalty_on_code_any_style(style):
    lam = 1e-3
    with helpers.quiet():
        if style == "L1":
            encoder, _, _ = functional_ae(reg=keras.regularizers.L1(lam))
        elif style == "L1L2":
            encoder, _, _ = functional_ae(reg=keras.regularizers.L1L2(l1=lam))
        else:
            encoder, _, _ = functional_ae(extra_layer=True)
    code = np.array([[1.0, -2.0], [3.0, 0.0]], dtype=np.float32)
    # lam * mean over the 2 examples of sum |z| = lam * (3 + 3) / 2
    assert mc.l1_penalty_on_code(encoder, code) == pytest.approx(3 * lam, rel=1e-5)
    x = np.random.default_rng(0).random((16, 8), dtype=np.float32)
    z = np.asarray(encoder(x))
    assert mc.activity_loss(encoder, x) == pytest.approx(
        lam * np.abs(z).sum() / len(x), rel=1e-4, abs=1e-7)


def test_l1_penalty_elsewhere_is_not_on_code():
    with helpers.quiet():
        inp = keras.Input((8,))
        h = L.Dense(4, activation="relu", kernel_initializer="ones",  # active on ones
                    activity_regularizer=keras.regularizers.L1(0.1))(inp)
        encoder = keras.Model(inp, L.Dense(2)(h))
    assert mc.l1_penalty_on_code(encoder, np.ones((3, 2), np.float32)) == 0.0
    assert mc.activity_loss(encoder, np.ones((3, 8), np.float32)) > 0


def test_training_steps_lower_loss():
    keras.utils.set_random_seed(0)
    with helpers.quiet():
        _, _, auto = functional_ae()
        x = np.random.default_rng(1).random((128, 8)).astype(np.float32)
        before, after = mc.train_losses(auto, x, steps=5)
        assert after < before


def test_expectations_name_what_is_wrong(both):
    (f_enc, f_dec, f_auto), _ = both
    mc.expect_io(f_auto, (8,), (8,), "auto")
    with pytest.raises(AssertionError,
                       match=r"encoder: output shape .* expected \(3,\), got \(2,\)"):
        mc.expect_io(f_enc, (8,), (3,), "encoder")
    with pytest.raises(AssertionError, match="should be a Keras model"):
        mc.expect_io("not a model", (8,), (8,), "decoder")
    x = np.random.default_rng(2).random((32, 8), dtype=np.float32)
    mc.expect_composed(f_auto, f_enc, f_dec, x)
    keras.utils.set_random_seed(3)
    with helpers.quiet():
        other_enc, _, _ = functional_ae()
    assert np.abs(np.asarray(other_enc(x)) - np.asarray(f_enc(x))).max() > 1e-3
    with pytest.raises(AssertionError, match="decoder\\(encoder\\(x\\)\\)"):
        mc.expect_composed(f_auto, other_enc, f_dec, x)
    mc.expect_close(1.0000001, 1.0, "x")
    with pytest.raises(AssertionError, match="penalty: expected 1, got 2"):
        mc.expect_close(2.0, 1.0, "penalty")
    with pytest.raises(AssertionError, match="no defined input"):
        mc.expect_io(keras.Sequential([L.Dense(2)]), (8,), (2,))


def test_layer_kinds_see_a_subclass_as_its_keras_base():
    class MyDense(keras.layers.Dense):
        pass

    model = keras.Sequential([keras.Input((4,)), MyDense(3, activation="relu"),
                              keras.layers.Dense(4)])
    assert mc.layer_kinds(model) == ["Dense", "Dense"]
    assert mc.keras_kind(model.layers[0]) == "Dense"


def test_activity_loss_is_per_example_on_a_keras_that_adds_it_up(monkeypatch):
    """Keras 3.13 (Colab's) records an activity loss summed over the batch, 3.15 its
    mean: activity_loss reports the mean on both."""
    with helpers.quiet():
        encoder, _, _ = functional_ae(reg=keras.regularizers.L1(0.1))
    x = np.random.default_rng(0).random((16, 8), dtype=np.float32)
    recorded = mc.activity_loss(encoder, x)
    assert mc.activity_loss_is_averaged() != keras.__version__.startswith("3.13.")
    monkeypatch.setattr(mc, "activity_loss_is_averaged", lambda: False)
    assert mc.activity_loss(encoder, x) == pytest.approx(recorded / len(x))


def test_activity_weight_trains_the_same_penalty_on_either_keras(monkeypatch):
    """helpers.activity_weight: lambtha where Keras averages the activity loss over the
    batch (3.15), lambtha / batch_size where it adds it up (3.13); so the penalty a batch
    records is lambtha * mean over examples of sum(|code|) on both."""
    from helpers import keras_versions

    x = np.random.default_rng(1).random((32, 8), dtype=np.float32)
    expected = 0.5 * np.abs(x).sum() / len(x)
    weight = helpers.activity_weight(0.5, batch_size=len(x))
    layer = keras.layers.Activation("linear", activity_regularizer=keras.regularizers.L1(weight))
    layer(x)
    recorded = sum(float(keras.ops.convert_to_numpy(loss)) for loss in layer.losses)
    assert recorded == pytest.approx(expected, rel=1e-5)
    monkeypatch.setattr(keras_versions, "activity_loss_is_averaged", lambda: False)
    assert helpers.activity_weight(0.5, batch_size=128) == 0.5 / 128
    monkeypatch.setattr(keras_versions, "activity_loss_is_averaged", lambda: True)
    assert helpers.activity_weight(0.5, batch_size=128) == 0.5
    with pytest.raises(ValueError, match="batch_size"):
        helpers.activity_weight(0.5, batch_size=0)
