"""Behavioural checks of a Keras variational autoencoder, for the graded VAE task.

The graded task asks for ``encoder, decoder, auto = autoencoder(input_dims,
hidden_layers, latent_dims)``: an encoder mapping inputs to ``(z, mean, log_var)``, a
decoder mapping codes to pixel probabilities and a compiled model ``auto`` trained with
``auto.fit(x, x)`` on the summed binary cross-entropy plus the KL divergence.

Students build these in many correct ways (a layer that calls ``self.add_loss``, a
subclassed model with its own ``train_step`` or ``compute_loss``), so nothing here reads
source code, layer names or ``auto.loss``. Instead the checks set weights to known values
and look at what the models do:

* the random output of the encoder is ``z`` (it changes from call to call);
* with the kernels of the two ``latent_dims``-unit Dense layers at zero, their biases
  *are* the mean and log variance, so the spread of ``z`` is known exactly;
* with every Dense weight of the decoder at zero the decoder outputs 0.5 for every pixel,
  whatever ``z`` is, so the training loss is deterministic and known:
  ``input_dims * log 2`` for the reconstruction plus the closed-form KL divergence.

The loss is read from ``auto.train_on_batch`` with the learning rate set to 0 (a
subclassed model may have no compiled loss, so ``evaluate`` cannot be used). The task
also asks for ``val_loss`` in ``fit(..., validation_data=...)``: one check compares it
with the training loss of the same step, at a learning rate of 0. Every check
raises ``AssertionError`` with a message meant for the student. Layers, activations and
the optimizer are read with :mod:`helpers.grading.model_checks`, as for the other graded tasks.

Special weights can be met by a model that computes something else, and what a model
reports (Dense units and activations, the optimizer's class) is its own claim. So the
probes at the end (:func:`check_forward`, :func:`check_adam_step`) set every Dense
weight to random values and compare the outputs, and one Adam step, with a NumPy
computation of the specification.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from helpers.grading import model_checks as mc

#: Batch size for the loss checks: large, so that a Monte Carlo KL estimate is precise.
LOSS_BATCH = 8192
#: Relative tolerance of the loss checks (covers a one-sample Monte Carlo KL estimate).
LOSS_RTOL = 0.05
#: Samples drawn to measure the spread of ``z``.
SPREAD_SAMPLES = 4000


def expect(condition: bool, message: str) -> None:
    """Raise ``AssertionError(message)`` unless ``condition`` (kept under ``python -O``)."""
    if not condition:
        raise AssertionError(message)


def dense_summary(model) -> list[tuple[int, str]]:
    """``(units, activation)`` of each Dense layer of ``model``, in order: the activation
    its output finally goes through (:func:`helpers.grading.model_checks.effective_activations`)."""
    units = [int(layer.units) for layer in mc.dense_layers(model)]
    return list(zip(units, mc.effective_activations(model, "Dense"), strict=True))


def _outputs(model, x, training: bool = True) -> list[np.ndarray]:
    result = model(x, training=training)
    if not isinstance(result, list | tuple):
        result = [result]
    return [np.asarray(r) for r in result]


def check_structure(
    encoder, decoder, auto, input_dims: int, hidden_layers, latent_dims: int
) -> None:
    """Shapes, Dense layers and activations, and that ``auto`` is compiled with Adam.

    The activations of the mean and log-variance layers are left to
    :func:`check_linear_heads`, so that one mistake costs one test.
    """
    x = np.random.default_rng(0).uniform(size=(5, input_dims)).astype("float32")
    outputs = _outputs(encoder, x)
    expect(
        len(outputs) == 3,
        f"the encoder should return 3 outputs (z, mean, log_var), got {len(outputs)}",
    )
    for name, out in zip(("z", "mean", "log_var"), outputs, strict=True):
        expect(
            out.shape == (5, latent_dims),
            f"encoder output {name} should have shape (batch, {latent_dims}), got {out.shape}",
        )
    images = np.asarray(decoder(outputs[0]))
    expect(
        images.shape == (5, input_dims),
        f"the decoder should map (batch, {latent_dims}) codes to (batch, {input_dims}), "
        f"got {images.shape}",
    )
    expect(images.min() >= 0 and images.max() <= 1, "decoder outputs should lie in [0, 1]")
    rebuilt = np.asarray(auto(x))
    expect(
        rebuilt.shape == (5, input_dims),
        f"auto should map (batch, {input_dims}) to (batch, {input_dims}), got {rebuilt.shape}",
    )
    optimizer = mc.optimizer_name(auto)
    expect(optimizer is not None, "auto is not compiled: call auto.compile(optimizer=...)")
    expect(optimizer == "adam", "auto should be compiled with Adam at its default settings "
                                f"(the learning rate and epsilon may differ), got {optimizer}")

    hidden = [int(u) for u in hidden_layers]
    got_encoder = dense_summary(encoder)
    heads = [units for units, _ in got_encoder[len(hidden) :]]
    expect(
        got_encoder[: len(hidden)] == [(u, "relu") for u in hidden],
        f"the encoder should start with Dense layers of {hidden} units, relu: its Dense "
        f"layers (units, activation) are {got_encoder}",
    )
    expect(
        heads == [latent_dims, latent_dims],
        f"after its hidden layers the encoder should have two Dense layers of {latent_dims} "
        f"units (mean and log variance); its Dense layers are {got_encoder}",
    )
    want_decoder = [(u, "relu") for u in reversed(hidden)] + [(input_dims, "sigmoid")]
    got_decoder = dense_summary(decoder)
    expect(
        got_decoder == want_decoder,
        f"decoder Dense layers (units, activation): expected {want_decoder}, got {got_decoder}",
    )


def expect_follows_input(encoder, input_dims: int) -> None:
    """A freshly built encoder's mean and log variance change with its input (with the
    weights it was built with). The checks of the order, the reconstruction loss and the
    validation loss look at special weights or at outputs alone, where an encoder that
    ignores its input could pass; this ties them to the input."""
    x = np.random.default_rng(4).uniform(size=(64, input_dims)).astype("float32")
    first, second = _outputs(encoder, x), _outputs(encoder, x)
    fixed = [a for a, b in zip(first, second, strict=True) if np.allclose(a, b, atol=1e-6)]
    expect(
        bool(fixed) and all(float(np.std(a, axis=0).max()) > 1e-4 for a in fixed),
        "the encoder's mean and log variance should change with its input; for 64 "
        "different inputs they did not",
    )


def check_output_order(encoder, input_dims: int) -> None:
    """The first encoder output is the random one (z); mean and log variance are not."""
    expect_follows_input(encoder, input_dims)
    x = np.random.default_rng(1).uniform(size=(64, input_dims)).astype("float32")
    first, second = _outputs(encoder, x), _outputs(encoder, x)
    varies = [not np.allclose(a, b, atol=1e-6) for a, b in zip(first, second, strict=True)]
    expect(
        varies == [True, False, False],
        "the encoder should return (z, mean, log_var) in this order: z is sampled anew on "
        "each call, the mean and log variance are not. Outputs that changed between two "
        f"calls on the same input: {varies}",
    )


@dataclass
class LatentLayers:
    """The encoder's mean and log-variance Dense layers and where their outputs go."""

    mean: object
    log_var: object
    mean_index: int
    log_var_index: int
    z_index: int


def _set_dense(layer, bias: float) -> None:
    kernel, *rest = layer.get_weights()
    expect(rest, f"Dense layer {layer.name} has no bias; the checks need one")
    layer.set_weights([np.zeros_like(kernel), np.full_like(rest[0], bias)])


def find_latent_layers(encoder, input_dims: int, latent_dims: int) -> LatentLayers:
    """Find the mean and log-variance layers by what they do, not by name or order."""
    candidates = [layer for layer in mc.dense_layers(encoder) if int(layer.units) == latent_dims]
    expect(
        len(candidates) == 2,
        f"expected two Dense layers with {latent_dims} units in the encoder (mean and log "
        f"variance), found {len(candidates)}",
    )
    first, second = candidates
    _set_dense(first, 0.5)
    _set_dense(second, 1.5)
    x = np.zeros((SPREAD_SAMPLES, input_dims), dtype="float32")
    outputs = _outputs(encoder, x)
    spread = [float(out.std(axis=0).mean()) for out in outputs]
    random = [i for i, s in enumerate(spread) if s > 1e-3]
    expect(len(random) == 1, f"expected exactly one random encoder output (z), found {len(random)}")
    fixed = [i for i in range(len(outputs)) if i not in random]

    def index_of(value: float) -> int:
        hits = [i for i in fixed if np.allclose(outputs[i], value, atol=1e-4)]
        expect(
            len(hits) == 1,
            "with their kernels at zero, the mean and log-variance outputs should equal the "
            "biases of their Dense layers; are both layers linear and output directly?",
        )
        return hits[0]

    z_centre = float(outputs[random[0]].mean())
    mean_is_first = abs(z_centre - 0.5) < abs(z_centre - 1.5)
    mean, log_var = (first, second) if mean_is_first else (second, first)
    return LatentLayers(
        mean,
        log_var,
        index_of(0.5 if mean_is_first else 1.5),
        index_of(1.5 if mean_is_first else 0.5),
        random[0],
    )


def check_linear_heads(encoder, input_dims: int, latent_dims: int) -> None:
    """Mean and log variance come out of linear layers: both may be negative."""
    found = find_latent_layers(encoder, input_dims, latent_dims)
    _set_dense(found.mean, -2.0)
    _set_dense(found.log_var, -1.0)
    outputs = _outputs(encoder, np.zeros((8, input_dims), dtype="float32"))
    mean, log_var = outputs[found.mean_index], outputs[found.log_var_index]
    expect(
        np.allclose(mean, -2.0, atol=1e-4),
        "the mean layer should be linear: with its bias at -2 (kernel 0) the mean output "
        f"is {float(mean.mean()):.3f}, expected -2",
    )
    expect(
        np.allclose(log_var, -1.0, atol=1e-4),
        "the log-variance layer should be linear: with its bias at -1 (kernel 0) the output "
        f"is {float(log_var.mean()):.3f}, expected -1",
    )


def check_sampling(encoder, input_dims: int, latent_dims: int) -> None:
    """z = mean + exp(log_var / 2) * eps: its centre and spread match mean and log_var."""
    expect_follows_input(encoder, input_dims)
    found = find_latent_layers(encoder, input_dims, latent_dims)
    _set_dense(found.mean, 1.0)
    _set_dense(found.log_var, math.log(4.0))
    z = _outputs(encoder, np.zeros((SPREAD_SAMPLES, input_dims), dtype="float32"))
    z = z[found.z_index]
    centre, spread = float(z.mean()), float(z.std())
    expect(
        abs(centre - 1.0) < 0.1,
        f"z should be centred on the mean: mean 1 gave samples centred on {centre:.2f}",
    )
    expect(
        abs(spread - 2.0) < 0.15,
        "z = mean + exp(0.5 * log_var) * eps: with log_var = log 4 (variance 4) the "
        f"standard deviation of z should be 2, got {spread:.2f}",
    )


def kl_to_standard_normal(mean, log_var) -> np.ndarray:
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, summed over the last axis."""
    mean, log_var = np.asarray(mean, float), np.asarray(log_var, float)
    return 0.5 * np.sum(mean**2 + np.exp(log_var) - 1.0 - log_var, axis=-1)


def _constant_decoder(decoder, latent_dims: int) -> None:
    """Zero every Dense weight of the decoder: its output is then sigmoid(0) = 0.5."""
    for layer in mc.dense_layers(decoder):
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    codes = np.random.default_rng(2).normal(size=(4, latent_dims)).astype("float32")
    out = np.asarray(decoder(codes))
    expect(
        np.allclose(out, 0.5, atol=1e-5),
        "with all its Dense weights at zero the decoder should output 0.5 (sigmoid of 0) "
        "everywhere; does it end in a sigmoid Dense layer?",
    )


def training_loss(auto, x) -> float:
    """The loss ``auto`` reports for one training step on ``(x, x)``, learning rate 0.

    The metrics are reset first: Keras 3.13 (Colab's) reports the running mean over every
    ``train_on_batch`` since the last reset, Keras 3.15 the step's own loss."""
    auto.optimizer.learning_rate = 0.0
    auto.reset_metrics()
    auto.run_eagerly = True   # the same numbers, without seconds of tracing per model
    logs = auto.train_on_batch(x, x, return_dict=True)
    expect("loss" in logs, f"the training step should report 'loss', got {sorted(logs)}")
    return float(logs["loss"])


def _loss_at(auto, found: LatentLayers, x, mean: float, log_var: float) -> float:
    _set_dense(found.mean, mean)
    _set_dense(found.log_var, log_var)
    return training_loss(auto, x)


def _setup_loss(models, input_dims: int, latent_dims: int, rng=None):
    """The models, the latent layers, and a batch of binary images: ``LOSS_BATCH`` of
    them, or (``rng``: the hidden tests' generator, drawn per submission) between half
    that and that many, so that a model cannot know the checks by their batch size."""
    encoder, decoder, auto = models
    expect_follows_input(encoder, input_dims)
    found = find_latent_layers(encoder, input_dims, latent_dims)
    _constant_decoder(decoder, latent_dims)
    batch = LOSS_BATCH if rng is None else int(rng.integers(LOSS_BATCH // 2, LOSS_BATCH + 1))
    rng = np.random.default_rng(3) if rng is None else rng
    x = (rng.uniform(size=(batch, input_dims)) > 0.7).astype("float32")
    return auto, found, x


def _kl_settings(rng) -> list[tuple[float, float]]:
    """(mean, log variance) pairs of the KL check: fixed, or drawn from ``rng`` (one
    variance above 1, one below)."""
    if rng is None:
        return [(1.5, math.log(4.0)), (0.5, -1.5)]
    return [(float(rng.uniform(0.8, 2.0)), float(np.log(rng.uniform(2.0, 6.0)))),
            (float(rng.uniform(0.2, 0.8)), float(rng.uniform(-2.0, -1.0)))]


def check_reconstruction_loss(models, input_dims: int, latent_dims: int, rng=None) -> None:
    """With KL = 0 and outputs 0.5, the loss is the BCE summed over pixels: d * log 2.
    ``rng``: draw the batch size (:func:`_setup_loss`)."""
    auto, found, x = _setup_loss(models, input_dims, latent_dims, _generator_or_none(rng))
    loss = _loss_at(auto, found, x, 0.0, 0.0)
    expected = input_dims * math.log(2.0)
    hint = ""
    if abs(loss - math.log(2.0)) < 0.05:
        hint = " It looks averaged over the pixels: sum the cross-entropy over them."
    elif abs(loss / expected - len(x)) < 0.05 * len(x):
        hint = " It looks summed over the batch: Keras expects the mean over examples."
    expect(
        abs(loss - expected) < LOSS_RTOL * expected,
        f"with the decoder outputting 0.5 for every pixel and a KL of 0, the loss per "
        f"example should be {input_dims} * log 2 = {expected:.2f}, got {loss:.4g}.{hint}",
    )


def check_kl_loss(models, input_dims: int, latent_dims: int, rng=None) -> None:
    """The loss grows by exactly the closed-form KL when mean and log variance move.
    ``rng``: draw the batch size and the means and log variances (:func:`_setup_loss`)."""
    rng = _generator_or_none(rng)
    auto, found, x = _setup_loss(models, input_dims, latent_dims, rng)
    base = _loss_at(auto, found, x, 0.0, 0.0)
    for mean, log_var in _kl_settings(rng):
        kl = float(kl_to_standard_normal(np.full(latent_dims, mean), np.full(latent_dims, log_var)))
        extra = _loss_at(auto, found, x, mean, log_var) - base
        expect(
            abs(extra - kl) < LOSS_RTOL * kl + 1e-3,
            f"with mean {mean} and log variance {log_var:.3f} in each of {latent_dims} "
            f"latent dimensions, the KL term should add {kl:.3f} to the loss, it added "
            f"{extra:.3f}. KL = -0.5 * sum(1 + log_var - mean^2 - exp(log_var)) over the "
            "latent dimensions, averaged over the batch.",
        )


def check_validation_loss(models, input_dims: int, latent_dims: int) -> None:
    """``fit(..., validation_data=...)`` reports ``val_loss``, computed as in training.

    One ``fit`` epoch on one batch with the learning rate at 0 leaves the weights as they
    are, so the validation loss must equal the training loss of the same step (up to the
    sampling of ``z``). What the two terms should be is left to
    :func:`check_reconstruction_loss` and :func:`check_kl_loss`, so that one mistake costs
    one test. A model with its own ``train_step`` and Keras' ``test_step`` fails here:
    that ``test_step`` finds no compiled loss to compute.
    """
    auto, found, x = _setup_loss(models, input_dims, latent_dims)
    mean, log_var = 1.5, math.log(4.0)
    _set_dense(found.mean, mean)
    _set_dense(found.log_var, log_var)
    auto.optimizer.learning_rate = 0.0
    try:
        history = auto.fit(x, x, validation_data=(x, x), epochs=1, batch_size=LOSS_BATCH,
                           verbose=0).history
    except Exception as error:  # noqa: BLE001 - any failure is the student's to see
        raise AssertionError(
            "auto.fit(x, x, validation_data=(x_val, x_val)) failed in validation: "
            f"{type(error).__name__}: {str(error)[:300]}. A model with its own train_step "
            "needs its own test_step too: Keras' test_step finds no loss to compute."
        ) from None
    expect(
        "val_loss" in history,
        "fit(..., validation_data=...) should report the total loss as 'val_loss'; its "
        f"history has {sorted(history)}. A test_step of your own returns it as 'loss'.",
    )
    kl = float(kl_to_standard_normal(np.full(latent_dims, mean), np.full(latent_dims, log_var)))
    train, val = float(history["loss"][-1]), float(history["val_loss"][-1])
    hint = ""
    if abs(train - val - kl) < LOSS_RTOL * kl:
        hint = " It lacks the KL term: validation should add it as training does."
    expect(
        abs(val - train) < LOSS_RTOL * kl + 1e-3,
        "validation should compute the loss as training does (reconstruction plus KL): "
        f"with the learning rate at 0, one step on the same images gave loss {train:.4g} "
        f"and val_loss {val:.4g}.{hint}",
    )


# ---------------------------------------------------------------- probes with random weights
# The checks above set special weights (zero kernels, chosen biases), which a model can
# meet while computing something else. The probes below set every Dense weight to random
# values drawn from ``rng`` (``helpers.hidden_rng`` in the hidden tests) and compare what
# the models do with this module's own NumPy computation of the specification: a forward
# pass (relu hidden layers, linear mean and log-variance heads, sigmoid output) and the
# gradient of one Adam step. They reach the models only through ``mc.dense_layers``,
# ``layer.units``, ``layer.get_weights/set_weights``, ``model(x, training=...)``,
# ``auto.optimizer.learning_rate``, ``auto.reset_metrics`` and ``auto.train_on_batch``,
# so what a model reports about itself (layer classes, activation attributes, the
# optimizer's class) does not enter them. Their messages name no drawn value.

#: Absolute tolerance of the forward comparisons (float32 models, float64 NumPy).
FORWARD_ATOL = 2e-4
#: Log-variance bias that makes z the mean: exp(-30 / 2) ~ 3e-7.
LOG_VAR_OFF = -30.0
#: Log-variance bias of the Adam probe: z - mean ~ exp(-10) ~ 5e-5, negligible for the
#: loss yet far above float32 rounding (a Monte Carlo KL divides it by exp(log_var / 2)).
LOG_VAR_QUIET = -20.0
#: Learning rate of the Adam probe, and its smallest batch (it draws 64 to 128 images).
ADAM_LR = 0.01
ADAM_BATCH = 64
#: Keras' Adam (keras/src/optimizers/adam.py) at its defaults moves each weight, on its
#: first step, by -lr * m / (sqrt(v) + epsilon) * sqrt(1 - beta_2) / (1 - beta_1) with
#: m = (1 - beta_1) g and v = (1 - beta_2) g^2, that is by
#: -lr * g / (|g| + epsilon / sqrt(1 - beta_2)): lr against the sign of g wherever |g|
#: is well above epsilon / sqrt(1 - beta_2) ~ 3.2e-6, and never more than lr.
ADAM_EPSILON, ADAM_BETA_2 = 1e-7, 0.999
#: Weights whose (NumPy) gradient is at least this large must move by about lr.
ADAM_GRAD_MIN = 1e-2
#: Their step, as a fraction of lr: at least this (|g| / (|g| + 3.2e-6) > 0.999 for the
#: specified loss; a loss scaled down by up to 100, or an Adam whose epsilon is up to
#: 3e-4, still passes) and at most 1 + 1e-3.
ADAM_STEP_MIN, ADAM_STEP_MAX = 0.5, 1.001


def _generator(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _generator_or_none(rng) -> np.random.Generator | None:
    return None if rng is None else _generator(rng)


def _relu(a):
    return np.maximum(a, 0.0)


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


@dataclass
class RandomWeights:
    """The Dense weights a probe set (float64 ``(kernel, bias)`` pairs) and their layers.

    ``encoder_layers``: the hidden layers, then the mean and log-variance heads;
    ``decoder_layers``: the decoder's Dense layers (empty if its weights were not set).
    """

    encoder_hidden: list
    mean: tuple
    log_var: tuple
    decoder: list
    encoder_layers: list
    decoder_layers: list
    found: LatentLayers

    def encode(self, x):
        """NumPy: the pre-activations and features of the hidden layers, mean, log variance."""
        h, stages = np.asarray(x, float), []
        for kernel, bias in self.encoder_hidden:
            a = h @ kernel + bias
            stages.append((h, a))
            h = _relu(a)
        return stages, h, h @ self.mean[0] + self.mean[1], h @ self.log_var[0] + self.log_var[1]

    def decode(self, codes):
        """NumPy: the inputs and pre-activations of the decoder's layers, and its output."""
        h, stages = np.asarray(codes, float), []
        for i, (kernel, bias) in enumerate(self.decoder):
            a = h @ kernel + bias
            stages.append((h, a))
            h = _sigmoid(a) if i == len(self.decoder) - 1 else _relu(a)
        return stages, h


def _set_random(layer, fan_in: int, units: int, rng, *, bias_mean: float = 0.0,
                kernel_scale: float = 1.0) -> tuple:
    weights = layer.get_weights()
    expect(
        len(weights) == 2 and tuple(np.shape(weights[0])) == (fan_in, units),
        f"expected a Dense layer of {units} units on {fan_in} inputs, with a kernel and a "
        f"bias; found weights of shapes {[tuple(np.shape(w)) for w in weights]}",
    )
    kernel = rng.normal(0.0, kernel_scale / math.sqrt(fan_in), (fan_in, units))
    bias = bias_mean + rng.normal(0.0, 0.5, units)
    kernel, bias = kernel.astype("float32"), bias.astype("float32")
    layer.set_weights([kernel, bias])
    return kernel.astype(float), bias.astype(float)


def _expect_units(layers, want: list[int], what: str) -> None:
    got = [int(layer.units) for layer in layers]
    expect(got == want, f"the {what} Dense layers should have {want} units; they have {got}")


def randomise(encoder, decoder, input_dims: int, hidden_layers, latent_dims: int, rng, *,
              log_var_bias: float = 0.0, log_var_scale: float = 1.0) -> RandomWeights:
    """Set every Dense weight of ``encoder`` and ``decoder`` (``None``: leave it) to
    random values from ``rng``; return them.

    The mean and log-variance heads are found by :func:`find_latent_layers`; the log
    variance's bias is centred on ``log_var_bias`` and its kernel scaled by
    ``log_var_scale``.
    """
    rng = _generator(rng)
    hidden = [int(u) for u in hidden_layers]
    found = find_latent_layers(encoder, input_dims, latent_dims)
    mark = float(np.ravel(found.mean.get_weights()[1])[0])  # the bias it gave the mean
    layers = mc.dense_layers(encoder)
    heads = [layer for layer in layers if int(layer.units) == latent_dims]
    first_is_mean = np.isclose(float(np.ravel(heads[0].get_weights()[1])[0]), mark)
    mean_layer, log_var_layer = heads if first_is_mean else heads[::-1]
    body = [layer for layer in layers if int(layer.units) != latent_dims]
    _expect_units(body, hidden, "encoder's hidden")
    sizes = [input_dims, *hidden]
    encoder_hidden = [_set_random(layer, n, u, rng)
                      for layer, n, u in zip(body, sizes[:-1], hidden, strict=True)]
    mean = _set_random(mean_layer, sizes[-1], latent_dims, rng, )
    log_var = _set_random(log_var_layer, sizes[-1], latent_dims, rng,
                          bias_mean=log_var_bias, kernel_scale=log_var_scale)
    decoder_layers, decoder_weights = [], []
    if decoder is not None:
        decoder_layers = mc.dense_layers(decoder)
        sizes = [latent_dims, *reversed(hidden), input_dims]
        _expect_units(decoder_layers, sizes[1:], "decoder's")
        decoder_weights = [_set_random(layer, n, u, rng) for layer, n, u
                           in zip(decoder_layers, sizes[:-1], sizes[1:], strict=True)]
    return RandomWeights(encoder_hidden, mean, log_var, decoder_weights,
                         [*body, mean_layer, log_var_layer], decoder_layers, found)


def _centre_heads(weights: RandomWeights, x) -> None:
    """Shift the heads' biases so that, on ``x``, each mean and log-variance output is
    negative for half the examples and positive for the other half (a relu, say, on a
    head then shows)."""
    _, _, mean, log_var = weights.encode(x)
    for i, (head, out) in enumerate(((weights.mean, mean), (weights.log_var, log_var))):
        kernel, bias = head
        bias = (bias - np.median(out, axis=0)).astype("float32")
        weights.encoder_layers[len(weights.encoder_hidden) + i].set_weights(
            [kernel.astype("float32"), bias])
        if i == 0:
            weights.mean = (kernel, bias.astype(float))
        else:
            weights.log_var = (kernel, bias.astype(float))


def _inputs(rng, n: int, input_dims: int) -> np.ndarray:
    return rng.uniform(size=(n, input_dims)).astype("float32")


def check_decoder_forward(decoder, input_dims: int, hidden_layers, latent_dims: int,
                          rng=0) -> None:
    """With random weights the decoder computes relu hidden layers and a sigmoid output."""
    rng = _generator(rng)
    layers = mc.dense_layers(decoder)
    sizes = [latent_dims, *reversed([int(u) for u in hidden_layers]), input_dims]
    _expect_units(layers, sizes[1:], "decoder's")
    weights = RandomWeights([], (), (), [_set_random(layer, n, u, rng) for layer, n, u
                                         in zip(layers, sizes[:-1], sizes[1:], strict=True)],
                            [], layers, None)
    codes = rng.normal(0.0, 1.5, (64, latent_dims)).astype("float32")
    got = _outputs(decoder, codes, training=False)[0]
    want = weights.decode(codes)[1]
    expect(
        got.shape == want.shape and np.allclose(got, want, atol=FORWARD_ATOL),
        "with random weights the decoder should compute Dense layers mirroring the hidden "
        "layers (relu) and a Dense output with a sigmoid; its outputs differ from that",
    )


def check_encoder_forward(encoder, input_dims: int, hidden_layers, latent_dims: int,
                          rng=0, heads: str = "linear") -> None:
    """With random weights the encoder's mean and log variance are those of relu hidden
    layers and linear heads.

    ``heads="either"`` asks it of one head only: enough to see the hidden layers, and
    whether the heads are linear is left to the linear-heads test (one mistake, one test).
    """
    rng = _generator(rng)
    weights = randomise(encoder, None, input_dims, hidden_layers, latent_dims, rng)
    x = _inputs(rng, 64, input_dims)
    _centre_heads(weights, x)
    outputs = _outputs(encoder, x)
    _, _, mean, log_var = weights.encode(x)
    found = weights.found
    ok = [np.allclose(outputs[i], want, atol=FORWARD_ATOL)
          for i, want in ((found.mean_index, mean), (found.log_var_index, log_var))]
    if heads == "either":
        expect(
            any(ok),
            "with random weights neither the mean nor the log variance is what Dense "
            "hidden layers with relu and a linear Dense head on the last of them compute: "
            "are the encoder's hidden layers relu, one after the other?",
        )
        return
    if not any(ok):
        # both heads differ: the hidden layers are not the specification's, which the
        # structure test reports (one mistake, one test); the heads must still follow
        # the input, as linear layers on any hidden layers do
        follows = [float(np.std(outputs[i], axis=0).min()) > 1e-3
                   for i in (found.mean_index, found.log_var_index)]
        expect(all(follows), "with random weights the mean and log-variance outputs "
               "should change with the input: the encoder's heads ignore it")
        return
    for good, name in zip(ok, ("mean", "log-variance"), strict=True):
        expect(
            good,
            f"with random weights the {name} output is not what relu hidden layers and a "
            f"linear Dense {name} layer on the last of them compute: the {name} layer "
            "should be linear",
        )


def check_sampling_forward(encoder, input_dims: int, hidden_layers, latent_dims: int,
                           rng=0) -> None:
    """With random weights, eps = (z - mean) / exp(log_var / 2), from one call's outputs,
    is standard normal in each latent dimension, whether log_var is high or low."""
    rng = _generator(rng)
    weights = randomise(encoder, None, input_dims, hidden_layers, latent_dims, rng)
    outputs = _outputs(encoder, _inputs(rng, SPREAD_SAMPLES, input_dims))
    found = weights.found
    z, mean, log_var = (outputs[i].astype(float)
                        for i in (found.z_index, found.mean_index, found.log_var_index))
    eps = (z - mean) / np.exp(0.5 * log_var)
    for d in range(latent_dims):
        order = np.argsort(log_var[:, d], kind="stable")  # equal halves, even for ties
        low, high = order[:len(order) // 2], order[len(order) // 2:]
        for part in (eps[:, d], eps[high, d], eps[low, d]):
            expect(
                abs(part.mean()) < 0.12 and abs(part.std() - 1.0) < 0.12,
                "with random weights, (z - mean) / exp(log_var / 2) should be standard "
                "normal (mean 0, standard deviation 1) in each latent dimension, for low "
                "and high log variances alike: z = mean + exp(0.5 * log_var) * eps",
            )


def check_auto_forward(models, input_dims: int, hidden_layers, latent_dims: int,
                       rng=0) -> None:
    """With random weights and the log variance very negative (z = mean), ``auto(x)`` is
    the decoder's output at the encoder's mean, computed with NumPy."""
    encoder, decoder, auto = models
    rng = _generator(rng)
    weights = randomise(encoder, decoder, input_dims, hidden_layers, latent_dims, rng,
                        log_var_bias=LOG_VAR_OFF, log_var_scale=0.1)
    x = _inputs(rng, 64, input_dims)
    outputs = _outputs(encoder, x)
    if not _z_is_mean(outputs, weights.found):
        return  # a log variance that is not linear: the linear test's mistake
    mean = outputs[weights.found.mean_index]
    got = _outputs(auto, x, training=False)[0]
    want = weights.decode(mean)[1]
    expect(
        got.shape == want.shape and np.allclose(got, want, atol=FORWARD_ATOL),
        "with random weights and z equal to the mean, auto(x) should be the decoder's "
        "output at the encoder's z: auto should chain the encoder and decoder returned, "
        "with their weights",
    )


def _z_is_mean(outputs, found: LatentLayers) -> bool:
    """Whether z equals the mean, as it does with the log variance's bias very low."""
    return bool(np.max(np.abs(outputs[found.z_index] - outputs[found.mean_index])) < 1e-3)


def check_forward(models, input_dims: int, hidden_layers, latent_dims: int, rng=0) -> None:
    """Every forward probe: the encoder's mean and log variance, the decoder, the spread
    of z and ``auto``, each with its own random weights."""
    rng = _generator(rng)
    encoder, decoder, _ = models
    check_encoder_forward(encoder, input_dims, hidden_layers, latent_dims, rng)
    check_decoder_forward(decoder, input_dims, hidden_layers, latent_dims, rng)
    check_sampling_forward(encoder, input_dims, hidden_layers, latent_dims, rng)
    check_auto_forward(models, input_dims, hidden_layers, latent_dims, rng)


def numpy_gradients(weights: RandomWeights, x, codes) -> tuple[list, list]:
    """NumPy: the gradient of the specified loss (summed BCE + closed-form KL, averaged
    over the batch) for the encoder's and the decoder's ``(kernel, bias)`` pairs, with z
    the mean (the sampling noise negligible). ``codes``: the decoder's input (the
    encoder's own mean output, so that the decoder's gradient depends on nothing else)."""
    x = np.asarray(x, float)
    batch = len(x)
    stages, p = weights.decode(codes)
    delta = (p - x) / batch                     # sigmoid + summed BCE, mean over the batch
    decoder_grads = []
    for i in range(len(stages) - 1, -1, -1):
        h, _ = stages[i]
        decoder_grads.insert(0, (h.T @ delta, delta.sum(axis=0)))
        delta = delta @ weights.decoder[i][0].T
        if i > 0:
            delta = delta * (stages[i - 1][1] > 0)
    enc_stages, h, mean, log_var = weights.encode(x)
    d_mean = delta + mean / batch                                   # reconstruction + KL
    d_log_var = 0.5 * (np.exp(log_var) - 1.0) / batch               # KL (z hardly moves)
    heads = [(h.T @ d_mean, d_mean.sum(axis=0)), (h.T @ d_log_var, d_log_var.sum(axis=0))]
    delta = d_mean @ weights.mean[0].T + d_log_var @ weights.log_var[0].T
    hidden_grads = []
    for i in range(len(enc_stages) - 1, -1, -1):
        h_in, a = enc_stages[i]
        delta = delta * (a > 0)
        hidden_grads.insert(0, (h_in.T @ delta, delta.sum(axis=0)))
        delta = delta @ weights.encoder_hidden[i][0].T
    return hidden_grads + heads, decoder_grads


def check_adam_step(models, input_dims: int, hidden_layers, latent_dims: int, rng=0,
                    log_var_head: bool = False) -> None:
    """One ``train_on_batch`` of a freshly built ``auto`` at learning rate ``ADAM_LR``
    moves each weight as Adam's first step does: by at most the learning rate, and by
    about the learning rate against the sign of the gradient of the specified loss
    (NumPy's) wherever that gradient is clearly nonzero.

    The weights are random, but for the log variance's bias: very negative, so that z is
    the mean and the loss deterministic. No weight may move further than the learning
    rate; the decoder's must move by about it, their gradient the reconstruction term's
    alone (a wrong KL term does not change it). ``log_var_head`` instead checks only
    that the log-variance layer's bias moves against the sign of its gradient, then
    the KL term's alone (the KL test's probe: neither a wrong reconstruction term nor
    another optimizer changes that direction).
    """
    encoder, decoder, auto = models
    rng = _generator(rng)
    weights = randomise(encoder, decoder, input_dims, hidden_layers, latent_dims, rng,
                        log_var_bias=LOG_VAR_QUIET, log_var_scale=0.1)
    # the batch size drawn too (ADAM_BATCH to twice it): a model cannot know the probe by it
    batch = int(rng.integers(ADAM_BATCH, 2 * ADAM_BATCH + 1))
    x = (rng.uniform(size=(batch, input_dims)) > 0.6).astype("float32")
    if (mc.optimizer_name(auto) or "adam").split(" ")[0] != "adam":
        return  # another optimizer, as auto says: the structure test's mistake
    outputs = _outputs(encoder, x)
    if not _z_is_mean(outputs, weights.found):
        return  # a log variance that is not linear: the linear test's mistake
    codes = outputs[weights.found.mean_index]
    # a decoder that is not the specification's (the structure test's mistake): no NumPy
    # gradient to compare with, only the size of Adam's steps
    exact = np.allclose(_outputs(decoder, codes, training=False)[0],
                        weights.decode(codes)[1], atol=FORWARD_ATOL)
    encoder_grads, decoder_grads = numpy_gradients(weights, x, codes)
    # the reconstruction term's gradient at the log variance: through z, ~exp(-10) of it
    # (negligible); the KL term's: 0.5 * (exp(log_var) - 1) / batch
    layers = weights.encoder_layers + weights.decoder_layers
    before = [[np.asarray(w, float) for w in layer.get_weights()] for layer in layers]
    auto.optimizer.learning_rate = ADAM_LR
    auto.reset_metrics()
    auto.run_eagerly = True   # the same numbers, without seconds of tracing
    auto.train_on_batch(x, x, return_dict=True)
    after = [[np.asarray(w, float) for w in layer.get_weights()] for layer in layers]
    steps = [[b - a for a, b in zip(old, new, strict=True)]
             for old, new in zip(before, after, strict=True)]
    n_encoder = len(weights.encoder_layers)
    if log_var_head:
        # direction only: how far Adam moves is the training test's to check
        # the bias only: its gradient, 0.5 * (exp(log_var) - 1) per example, does not
        # depend on the hidden layers (a mistake there is the structure test's)
        pair, grads = steps[n_encoder - 1][1:], encoder_grads[-1][1:]
        total = wrong = 0
        for step, grad in zip(pair, grads, strict=True):
            big = np.abs(grad) >= ADAM_GRAD_MIN
            total += int(big.sum())
            wrong += int(np.sum(-np.sign(grad[big]) * step[big] <= 0))
        expect(total > 0, "internal: the Adam probe drew no weight with a clear gradient")
        expect(
            wrong == 0,
            "one training step should move each entry of the log-variance layer's bias "
            "against the gradient of the KL term (the only term that depends on the log "
            "variance when it is very low); some of them did not",
        )
        return
    largest = max(float(np.abs(s).max()) for pair in steps for s in pair)
    expect(
        largest <= ADAM_STEP_MAX * ADAM_LR + 1e-6,
        "one training step of a freshly built auto moved a weight by more than the "
        "learning rate: Adam's first step moves no weight further (is auto compiled with "
        "Adam, and does each step apply the optimizer once?)",
    )
    if not exact:
        moves = np.concatenate([np.abs(s).ravel() for pair in steps[n_encoder:] for s in pair])
        expect(
            np.mean(moves >= ADAM_STEP_MIN * ADAM_LR) >= 0.25,
            "one Adam step should move most of the decoder's weights by about the learning "
            "rate; most of them moved much less (is auto compiled with Adam?)",
        )
        return
    moved = total = 0
    for pair, grads in zip(steps[n_encoder:], decoder_grads, strict=True):
        for step, grad in zip(pair, grads, strict=True):
            big = np.abs(grad) >= ADAM_GRAD_MIN
            along = -np.sign(grad[big]) * step[big] / ADAM_LR
            total += int(big.sum())
            moved += int(np.sum((along >= ADAM_STEP_MIN) & (along <= ADAM_STEP_MAX)))
    expect(total > 0, "internal: the Adam probe drew no weight with a clear gradient")
    expect(
        moved == total,
        "one Adam step should move each of the decoder's weights by the learning rate "
        "against the sign of the loss's gradient (summed binary cross-entropy, averaged "
        "over the batch); some of the weights with a clear gradient did not",
    )
