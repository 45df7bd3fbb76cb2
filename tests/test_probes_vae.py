"""Tests for the VAE probes of helpers.grading.probes (task (d)) on small VAEs built right
and built wrong, in-process."""

from __future__ import annotations

import math

import numpy as np
import pytest

import helpers

helpers.import_quietly("keras", "tensorflow")
import keras  # noqa: E402

from helpers.grading import probes as vc  # noqa: E402
from tests.test_grading_vae import TRAIN_TEST_STEP  # noqa: E402

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
          swap_order=False, log_var_act=None, wide=1, swap_heads=False, decoder_wide=1):
    """A small functional VAE; the keyword arguments introduce one mistake each (``wide``,
    ``decoder_wide``: the encoder's, the decoder's hidden layers that many times the task's
    units)."""
    x = keras.Input((D,))
    h = x
    for units in H:
        units *= wide
        h = L.ReLU()(L.Dense(units)(h)) if separate_relu else L.Dense(units, "relu")(h)
    mean, log_var = L.Dense(K, activation=mean_act)(h), L.Dense(K, activation=log_var_act)(h)
    z = Sampling(log_sigma)([mean, log_var])
    encoder = keras.Model(x, [mean, log_var, z] if swap_order else
                          [z, log_var, mean] if swap_heads else [z, mean, log_var])
    c = keras.Input((K,))
    h = c
    for units in reversed(H):
        h = L.Dense(decoder_wide * units, "relu")(h)
    decoder = keras.Model(c, L.Dense(D, "sigmoid")(h))
    auto = keras.Model(x, decoder(AddKL(kl_factor)([z, mean, log_var])))
    scale = D if pixel_sum else 1
    auto.compile(optimizer="adam",
                 loss=lambda t, p: scale * keras.losses.binary_crossentropy(t, p))
    return encoder, decoder, auto


def test_kl_matches_closed_form():
    assert vc.kl_divergence([0.0, 0.0], [0.0, 0.0]) == 0.0
    expected = 0.5 * (1.5**2 + 4 - 1 - math.log(4))
    assert np.isclose(vc.kl_divergence([1.5], [math.log(4)]), expected)


def test_checks_fail_under_python_optimisations_too():
    """Explicit AssertionErrors, not ``assert`` statements (which ``python -O`` drops)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(vc))
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]


def rng(seed=0):
    return np.random.default_rng(seed)


def test_correct_model_passes_every_check():
    models = build()
    vc.expect_vae_shapes(*models, D, K)
    vc.expect_vae_order(models[0], D, H, K)
    vc.expect_linear_heads(build()[0], D, H, K)
    vc.expect_sampling(build()[0], D, H, K)
    vc.expect_reconstruction_loss(*build(), D, H, K)
    vc.expect_kl_loss(*build(), D, H, K)


def test_the_heads_are_found_by_what_they_do_in_either_order():
    """A sampling layer that takes (log_var, mean): the log variance's weights come first."""
    class Swapped(Sampling):
        def call(self, inputs):
            return super().call(inputs[::-1])

    def encoder():
        x = keras.Input((D,))
        h = L.Dense(H[0], "relu")(x)
        log_var = L.Dense(K)(h)
        mean = L.Dense(K)(h)
        return keras.Model(x, [Swapped()([log_var, mean]), mean, log_var])

    assert not vc.VaeEncoder(encoder(), D, H, K).mean_first
    assert vc.VaeEncoder(build()[0], D, H, K).mean_first
    vc.expect_linear_heads(encoder(), D, H, K)
    vc.expect_sampling(encoder(), D, H, K)
    vc.expect_vae_encoder(encoder(), D, H, K, rng())
    vc.expect_sampling_noise(encoder(), D, H, K, rng())


@pytest.mark.parametrize("mistake, check, message", [
    ({"swap_order": True}, lambda m: vc.expect_vae_order(m[0], D, H, K), "in this order"),
    ({"swap_heads": True}, lambda m: vc.expect_vae_order(m[0], D, H, K),
     r"as if it returned \(z, log_var, mean\)"),
    ({"mean_act": "relu"}, lambda m: vc.expect_linear_heads(m[0], D, H, K), "mean layer"),
    ({"log_sigma": True}, lambda m: vc.expect_sampling(m[0], D, H, K), "standard deviation"),
    ({"pixel_sum": False}, lambda m: vc.expect_reconstruction_loss(*m, D, H, K), "averaged"),
    ({"kl_factor": -1.0}, lambda m: vc.expect_kl_loss(*m, D, H, K), "KL term"),
    ({"kl_factor": 0.0}, lambda m: vc.expect_kl_loss(*m, D, H, K), "KL term"),
    ({"kl_factor": 0.5}, lambda m: vc.expect_kl_loss(*m, D, H, K), "KL term"),
])
def test_each_mistake_is_caught_with_a_message(mistake, check, message):
    with pytest.raises(AssertionError, match=message):
        check(build(**mistake))


def test_shapes_report_a_wrong_decoder():
    encoder, _, auto = build()
    c = keras.Input((K,))
    bad_decoder = keras.Model(c, L.Dense(D, "tanh")(c))
    with pytest.raises(AssertionError, match="decoder outputs should lie in"):
        vc.expect_vae_shapes(encoder, bad_decoder, auto, D, K)
    with pytest.raises(AssertionError, match=r"decoder.get_weights\(\) should list"):
        vc.expect_vae_decoder(bad_decoder, D, H, K, rng())


def build_stepped(own_test_step=True, test_kl=1.0):
    """build()'s encoder and decoder in the correct answer of test_grading_vae whose model
    has a train_step and a test_step of its own: without that test_step
    (``own_test_step=False``), or with the KL term weighted by ``test_kl`` in validation."""
    import tensorflow as tf

    namespace = {"keras": keras, "tf": tf}
    exec(TRAIN_TEST_STEP, namespace)

    class Variant(namespace["VAEModel"]):
        def test_step(self, data):
            return super().test_step(data) if own_test_step else keras.Model.test_step(self, data)

        def _loss(self, x, training):
            loss = super()._loss(x, training)
            if training or test_kl == 1.0:
                return loss
            _, mean, log_var = self.encoder(x)
            kl = -0.5 * keras.ops.sum(1 + log_var - mean**2 - keras.ops.exp(log_var), axis=-1)
            return loss - (1.0 - test_kl) * keras.ops.mean(kl)

    encoder, decoder, _ = build()
    auto = Variant(encoder, decoder)
    auto.compile(optimizer="adam")
    return encoder, decoder, auto


def test_validation_loss_passes_for_a_layer_and_for_both_steps():
    vc.expect_validation_loss(*build(), D, H, K)
    vc.expect_validation_loss(*build_stepped(), D, H, K)


def test_validation_loss_leaves_the_terms_to_their_own_checks():
    """A wrong KL term, the same in training and validation, costs the KL check only."""
    vc.expect_validation_loss(*build(kl_factor=-1.0), D, H, K)
    vc.expect_validation_loss(*build(pixel_sum=False), D, H, K)


@pytest.mark.parametrize("kwargs, message", [
    ({"own_test_step": False}, "needs its own test_step too"),
    ({"test_kl": 0.0}, "It lacks the KL term"),
    ({"test_kl": 0.5}, "validation should compute the loss as training does"),
])
def test_validation_loss_catches_a_missing_or_different_test_step(kwargs, message):
    with pytest.raises(AssertionError, match=message):
        vc.expect_validation_loss(*build_stepped(**kwargs), D, H, K)


# ---------------------------------------------------------------- probes with random weights
SEEDS = [0, 1, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_correct_models_pass_the_random_weight_probes(seed):
    forward_probes(build(), rng(seed))
    vc.expect_vae_encoder(build()[0], D, H, K, rng(seed), heads="either")
    vc.expect_vae_adam_step(*build(), D, H, K, rng(seed))
    vc.expect_vae_adam_step(*build(), D, H, K, rng(seed), log_var_head=True)
    vc.expect_vae_adam_step(*build_stepped(), D, H, K, rng(seed), log_var_head=True)


def forward_probes(models, draws):
    """The forward probes of the structure, linear and sampling tests."""
    vc.expect_vae_encoder(models[0], D, H, K, draws)
    vc.expect_vae_decoder(models[1], D, H, K, draws)
    vc.expect_sampling_noise(models[0], D, H, K, draws)
    vc.expect_vae_auto(*models, D, H, K, draws)


def test_probes_take_several_hidden_layers():
    draws = rng(5)
    global H
    saved, H = H, [8, 6]
    try:
        forward_probes(build(), draws)
        vc.expect_vae_adam_step(*build(), D, H, K, draws)
        vc.expect_vae_adam_step(*build(), D, H, K, draws, log_var_head=True)
    finally:
        H = saved


@pytest.mark.parametrize("mistake", [
    {"swap_order": True}, {"mean_act": "relu"}, {"log_sigma": True}, {"pixel_sum": False},
    {"kl_factor": -1.0}, {"kl_factor": 0.0},
])
def test_the_training_probe_leaves_each_mistake_to_its_own_test(mistake):
    """One mistake, one test: the decoder's Adam step and the structure test's forward
    probes (one linear head is enough there) pass for mistakes other tests catch."""
    vc.expect_vae_adam_step(*build(**mistake), D, H, K, rng())
    models = build(**mistake)
    vc.expect_vae_encoder(models[0], D, H, K, rng(), heads="either")
    vc.expect_vae_decoder(models[1], D, H, K, rng())
    vc.expect_vae_auto(*models, D, H, K, rng())


@pytest.mark.parametrize("mistake, check, message", [
    ({"mean_act": "relu"}, lambda m: vc.expect_vae_encoder(m[0], D, H, K, rng()), "mean layer"),
    ({"log_sigma": True}, lambda m: vc.expect_sampling_noise(m[0], D, H, K, rng()),
     "standard normal"),
    ({"kl_factor": -1.0}, lambda m: vc.expect_vae_adam_step(*m, D, H, K, rng(),
                                                            log_var_head=True), "did not"),
])
def test_the_probes_catch_what_the_special_weight_checks_catch(mistake, check, message):
    with pytest.raises(AssertionError, match=message):
        check(build(**mistake))


def test_the_kl_probe_catches_a_missing_kl_term_in_most_draws():
    """Without the KL term, the log variance's bias still gets the reconstruction term's
    gradient through z (about exp(-10) of it), above Adam's epsilon: Adam moves it by
    the learning rate in a direction that depends on the draw. So the probe catches a
    missing KL term in most draws only (6 of these 8 seeds); the KL test's special-weight
    check (expect_kl_loss) catches it in every one."""
    caught = 0
    for seed in range(8):
        try:
            vc.expect_vae_adam_step(*build(kl_factor=0.0), D, H, K, rng(seed),
                                    log_var_head=True)
        except AssertionError as err:
            assert "did not" in str(err)
            caught += 1
        with pytest.raises(AssertionError, match="KL term"):
            vc.expect_kl_loss(*build(kl_factor=0.0), D, H, K, rng(seed))
    assert caught >= 5, caught


class LyingDense(L.Dense):
    """Says relu (its ``activation`` attribute, what the structure test reads), computes tanh."""

    def call(self, inputs):
        return keras.ops.tanh(keras.ops.matmul(inputs, self.kernel) + self.bias)


class SecretScale(L.Layer):
    """Not a Dense layer, so no check that reads Dense layers sees it: halves its input."""

    def call(self, inputs):
        return 0.5 * inputs


class InputScaledSampling(L.Layer):
    """Spreads z by (1 + mean of the input): right for the zero inputs the special-weight
    checks use, wrong for any other."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seeds = keras.random.SeedGenerator(0)

    def call(self, inputs):
        mean, log_var, x = inputs
        scale = keras.ops.exp(0.5 * log_var) * (1.0 + keras.ops.mean(x, axis=-1, keepdims=True))
        return mean + scale * keras.random.normal(keras.ops.shape(mean), seed=self.seeds)


def build_liar(hidden_dense=L.Dense, decoder_dense=L.Dense, secret=False, sampler=False,
               optimizer="adam", own_decoder=False):
    """A VAE that reports the right structure but computes something else."""
    x = keras.Input((D,))
    h = x
    for units in H:
        h = hidden_dense(units, "relu")(h)
    if secret:
        h = SecretScale()(h)
    mean, log_var = L.Dense(K)(h), L.Dense(K)(h)
    z = InputScaledSampling()([mean, log_var, x]) if sampler else Sampling()([mean, log_var])
    encoder = keras.Model(x, [z, mean, log_var])

    def make_decoder():
        c = keras.Input((K,))
        h = c
        for units in reversed(H):
            h = decoder_dense(units, "relu")(h)
        return keras.Model(c, L.Dense(D, "sigmoid")(h))

    decoder = make_decoder()
    used = make_decoder() if own_decoder else decoder
    auto = keras.Model(x, used(AddKL()([z, mean, log_var])))
    auto.compile(optimizer=optimizer,
                 loss=lambda t, p: D * keras.losses.binary_crossentropy(t, p))
    return encoder, decoder, auto


class Adam(keras.optimizers.SGD):
    """Plain gradient descent under Adam's name (the name is what the structure test reads)."""


class RMSAdam(keras.optimizers.RMSprop):
    """RMSprop under Adam's name."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)


RMSAdam.__name__ = "Adam"


def _old_checks(models):
    """The special-weight checks (fresh models for each, as in the notebook)."""
    vc.expect_vae_shapes(*models(), D, K)
    vc.expect_vae_order(models()[0], D, H, K)
    vc.expect_linear_heads(models()[0], D, H, K)
    vc.expect_sampling(models()[0], D, H, K)
    vc.expect_kl_loss(*models(), D, H, K)


@pytest.mark.parametrize("liar, check, message", [
    ({"hidden_dense": LyingDense},
     lambda m: vc.expect_vae_encoder(m[0], D, H, K, rng(), heads="either"),
     "hidden layers relu"),
    ({"decoder_dense": LyingDense},
     lambda m: vc.expect_vae_decoder(m[1], D, H, K, rng()), "decoder computes something"),
    ({"secret": True},
     lambda m: vc.expect_vae_encoder(m[0], D, H, K, rng(), heads="either"),
     "hidden layers relu"),
    ({"sampler": True}, lambda m: vc.expect_sampling_noise(m[0], D, H, K, rng()),
     "standard normal"),
    ({"own_decoder": True}, lambda m: vc.expect_vae_auto(*m, D, H, K, rng()),
     "chain the encoder"),
    # plain SGD: a step of lr * g, too short or too long (which, depends on the draw)
    ({"optimizer": Adam()}, lambda m: vc.expect_vae_adam_step(*m, D, H, K, rng()),
     "should move each|more than the learning rate"),
    ({"optimizer": RMSAdam()}, lambda m: vc.expect_vae_adam_step(*m, D, H, K, rng()),
     "more than the "),
])
def test_the_probes_catch_liars_the_special_weight_checks_let_through(liar, check, message):
    """Each liar passes the checks that set special weights and read what models report;
    a probe with random weights catches it."""
    if "optimizer" in liar:
        def models():
            return build_liar(optimizer=type(liar["optimizer"])())
    else:
        def models():
            return build_liar(**liar)
    if not liar.get("own_decoder"):     # a copied decoder is not zeroed by the loss checks
        _old_checks(models)
    else:
        vc.expect_vae_shapes(*models(), D, K)
    with pytest.raises(AssertionError, match=message):
        check(models())


def test_the_adam_probe_checks_adams_first_step_against_the_keras_source():
    """The step the probe expects is the installed Keras Adam's first step at its
    defaults: -lr * g / (|g| + epsilon / sqrt(1 - beta_2))."""
    opt = keras.optimizers.Adam(learning_rate=vc.ADAM_LR)
    assert (opt.epsilon, opt.beta_2) == (vc.ADAM_EPSILON, vc.ADAM_BETA_2)
    g = np.array([1e-7, 1e-5, 1e-3, -0.5], dtype="float32")
    w = keras.Variable(np.zeros(4, dtype="float32"))
    opt.apply_gradients([(keras.ops.convert_to_tensor(g), w)])
    expected = -vc.ADAM_LR * g / (np.abs(g) + vc.ADAM_EPSILON / np.sqrt(1 - vc.ADAM_BETA_2))
    assert np.allclose(np.asarray(w), expected, rtol=1e-4, atol=1e-9)
    assert np.abs(np.asarray(w)[2:]).min() >= 0.5 * vc.ADAM_LR


def test_the_kl_tests_adam_probe_leaves_the_optimizer_to_the_training_test():
    """SGD under Adam's name fails the training test's probe only: the KL test's checks
    the direction of the log-variance layer's step, which any gradient step gets right."""
    vc.expect_vae_adam_step(*build_liar(optimizer=Adam()), D, H, K, rng(), log_var_head=True)
    vc.expect_vae_adam_step(*build(pixel_sum=False), D, H, K, rng(), log_var_head=True)


#: Every probe of the hidden and visible test cells of 08, by cell (fresh models for each).
CELLS = {
    "structure": [lambda m: vc.expect_vae_encoder(m[0], D, H, K, rng(), heads="either"),
                  lambda m: vc.expect_vae_decoder(m[1], D, H, K, rng()),
                  lambda m: vc.expect_vae_auto(*m, D, H, K, rng())],
    "training": [lambda m: vc.expect_vae_adam_step(*m, D, H, K, rng())],
    "validation": [lambda m: vc.expect_validation_loss(*m, D, H, K)],
    "order": [lambda m: vc.expect_vae_order(m[0], D, H, K)],
    "linear": [lambda m: vc.expect_linear_heads(m[0], D, H, K),
               lambda m: vc.expect_vae_encoder(m[0], D, H, K, rng())],
    "sampling": [lambda m: vc.expect_sampling(m[0], D, H, K),
                 lambda m: vc.expect_sampling_noise(m[0], D, H, K, rng())],
    "reconstruction": [lambda m: vc.expect_reconstruction_loss(*m, D, H, K, rng())],
    "kl": [lambda m: vc.expect_kl_loss(*m, D, H, K, rng()),
           lambda m: vc.expect_vae_adam_step(*m, D, H, K, rng(), log_var_head=True)],
}


@pytest.mark.parametrize("mistake, cell, message", [
    ({"wide": 2}, "structure", "of those sizes"),
    ({"decoder_wide": 2}, "structure", "decoder.get_weights() should list"),
    ({"log_var_act": "tanh"}, "linear", "the log-variance layer should be linear"),
    ({"log_var_act": "relu"}, "linear", "the log-variance layer should be linear"),
])
def test_one_mistake_fails_one_cell_with_its_message(mistake, cell, message):
    """Hidden layers of other sizes (the probes set the weights the models list) and a
    log-variance head with an activation (the probes find the heads by what moves, and
    the sampling and KL checks read the encoder's own outputs) fail their own cell only."""
    failed = {}
    for name, checks in CELLS.items():
        for check in checks:
            try:
                check(build(**mistake))
            except AssertionError as error:
                failed[name] = str(error)
                break
    assert set(failed) == {cell}, failed
    assert message in failed[cell]
