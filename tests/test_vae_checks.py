"""Tests for helpers.grading.vae_checks on small VAEs built right and built wrong, in-process."""

from __future__ import annotations

import math

import numpy as np
import pytest

import helpers

helpers.import_quietly("keras", "tensorflow")
import keras  # noqa: E402

from helpers.grading import vae_checks as vc  # noqa: E402

L = keras.layers
D, H, K = 12, [8], 2          # input size, hidden layers, latent size of the test models


class Sampling(L.Layer):
    def __init__(self, log_sigma=False, **kwargs):
        super().__init__(**kwargs)
        self.log_sigma = log_sigma
        self.seeds = keras.random.SeedGenerator(0)

    def call(self, inputs):
        mean, log_var = inputs
        scale = keras.ops.exp(log_var if self.log_sigma else 0.5 * log_var)
        return mean + scale * keras.random.normal(keras.ops.shape(mean), seed=self.seeds)


class AddKL(L.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        z, mean, log_var = inputs
        kl = -0.5 * keras.ops.sum(1 + log_var - mean**2 - keras.ops.exp(log_var), axis=-1)
        self.add_loss(self.factor * keras.ops.mean(kl))
        return z


def build(mean_act=None, log_sigma=False, kl_factor=1.0, pixel_sum=True, separate_relu=False,
          swap_order=False):
    """A small functional VAE; the keyword arguments introduce one mistake each."""
    x = keras.Input((D,))
    h = x
    for units in H:
        h = L.ReLU()(L.Dense(units)(h)) if separate_relu else L.Dense(units, "relu")(h)
    mean, log_var = L.Dense(K, activation=mean_act)(h), L.Dense(K)(h)
    z = Sampling(log_sigma)([mean, log_var])
    encoder = keras.Model(x, [mean, log_var, z] if swap_order else [z, mean, log_var])
    c = keras.Input((K,))
    h = c
    for units in reversed(H):
        h = L.Dense(units, "relu")(h)
    decoder = keras.Model(c, L.Dense(D, "sigmoid")(h))
    auto = keras.Model(x, decoder(AddKL(kl_factor)([z, mean, log_var])))
    scale = D if pixel_sum else 1
    auto.compile(optimizer="adam",
                 loss=lambda t, p: scale * keras.losses.binary_crossentropy(t, p))
    return encoder, decoder, auto


def test_kl_matches_closed_form():
    assert vc.kl_to_standard_normal([0.0, 0.0], [0.0, 0.0]) == 0.0
    expected = 0.5 * (1.5**2 + 4 - 1 - math.log(4))
    assert np.isclose(vc.kl_to_standard_normal([1.5], [math.log(4)]), expected)


def test_dense_summary_reads_separate_activation_layers():
    encoder, decoder, _ = build(separate_relu=True)
    assert vc.dense_summary(encoder) == [(8, "relu"), (K, "linear"), (K, "linear")]
    assert vc.dense_summary(decoder) == [(8, "relu"), (D, "sigmoid")]


def test_a_dense_subclass_counts_as_dense_as_in_model_checks():
    class MyDense(L.Dense):
        pass

    x = keras.Input((D,))
    model = keras.Model(x, MyDense(4, "relu")(x))
    assert vc.dense_summary(model) == [(4, "relu")]


def test_checks_fail_under_python_optimisations_too():
    """Explicit AssertionErrors, not ``assert`` statements (which ``python -O`` drops)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(vc))
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]


def test_correct_model_passes_every_check():
    models = build()
    vc.check_structure(*models, D, H, K)
    vc.check_output_order(models[0], D)
    vc.check_linear_heads(build()[0], D, K)
    vc.check_sampling(build()[0], D, K)
    vc.check_reconstruction_loss(build(), D, K)
    vc.check_kl_loss(build(), D, K)


@pytest.mark.parametrize("mistake, check, message", [
    ({"swap_order": True}, lambda m: vc.check_output_order(m[0], D), "in this order"),
    ({"mean_act": "relu"}, lambda m: vc.check_linear_heads(m[0], D, K), "mean layer"),
    ({"log_sigma": True}, lambda m: vc.check_sampling(m[0], D, K), "standard deviation"),
    ({"pixel_sum": False}, lambda m: vc.check_reconstruction_loss(m, D, K), "averaged"),
    ({"kl_factor": -1.0}, lambda m: vc.check_kl_loss(m, D, K), "KL term"),
    ({"kl_factor": 0.0}, lambda m: vc.check_kl_loss(m, D, K), "KL term"),
    ({"kl_factor": 0.5}, lambda m: vc.check_kl_loss(m, D, K), "KL term"),
])
def test_each_mistake_is_caught_with_a_message(mistake, check, message):
    with pytest.raises(AssertionError, match=message):
        check(build(**mistake))


def test_structure_reports_wrong_decoder():
    encoder, _, auto = build()
    c = keras.Input((K,))
    bad_decoder = keras.Model(c, L.Dense(D, "sigmoid")(L.Dense(8, "tanh")(c)))
    with pytest.raises(AssertionError, match="decoder Dense layers"):
        vc.check_structure(encoder, bad_decoder, auto, D, H, K)


class StepVAE(keras.Model):
    """A VAE with its own train_step, and a test_step of its own unless ``test_step=None``;
    ``test_kl`` weights the KL term in validation (1: as in training)."""

    def __init__(self, encoder, decoder, own_test_step=True, test_kl=1.0, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.own_test_step, self.test_kl = own_test_step, test_kl
        self.tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.tracker]

    def call(self, x):
        return self.decoder(self.encoder(x)[0])

    def loss_value(self, x, kl_weight):
        z, mean, log_var = self.encoder(x)
        rebuilt = self.decoder(z)
        bce = keras.ops.sum(keras.ops.binary_crossentropy(x, rebuilt), axis=-1)
        kl = -0.5 * keras.ops.sum(1 + log_var - mean**2 - keras.ops.exp(log_var), axis=-1)
        return keras.ops.mean(bce + kl_weight * kl)

    def train_step(self, data):
        import tensorflow as tf

        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            loss = self.loss_value(x, 1.0)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}

    def test_step(self, data):
        if not self.own_test_step:
            return super().test_step(data)
        x = data[0] if isinstance(data, tuple) else data
        self.tracker.update_state(self.loss_value(x, self.test_kl))
        return {"loss": self.tracker.result()}


def build_stepped(**kwargs):
    encoder, decoder, _ = build()
    auto = StepVAE(encoder, decoder, **kwargs)
    auto.compile(optimizer="adam")
    return encoder, decoder, auto


def test_validation_loss_passes_for_a_layer_and_for_both_steps():
    vc.check_validation_loss(build(), D, K)
    vc.check_validation_loss(build_stepped(), D, K)


def test_validation_loss_leaves_the_terms_to_their_own_checks():
    """A wrong KL term, the same in training and validation, costs the KL check only."""
    vc.check_validation_loss(build(kl_factor=-1.0), D, K)
    vc.check_validation_loss(build(pixel_sum=False), D, K)


@pytest.mark.parametrize("kwargs, message", [
    ({"own_test_step": False}, "needs its own test_step too"),
    ({"test_kl": 0.0}, "It lacks the KL term"),
    ({"test_kl": 0.5}, "validation should compute the loss as training does"),
])
def test_validation_loss_catches_a_missing_or_different_test_step(kwargs, message):
    with pytest.raises(AssertionError, match=message):
        vc.check_validation_loss(build_stepped(**kwargs), D, K)
