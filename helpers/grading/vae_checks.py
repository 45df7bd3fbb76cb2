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
    expect(optimizer == "adam", f"auto should be compiled with Adam, got {optimizer}")

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


def check_output_order(encoder, input_dims: int) -> None:
    """The first encoder output is the random one (z); mean and log variance are not."""
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
    logs = auto.train_on_batch(x, x, return_dict=True)
    expect("loss" in logs, f"the training step should report 'loss', got {sorted(logs)}")
    return float(logs["loss"])


def _loss_at(auto, found: LatentLayers, x, mean: float, log_var: float) -> float:
    _set_dense(found.mean, mean)
    _set_dense(found.log_var, log_var)
    return training_loss(auto, x)


def _setup_loss(models, input_dims: int, latent_dims: int):
    encoder, decoder, auto = models
    found = find_latent_layers(encoder, input_dims, latent_dims)
    _constant_decoder(decoder, latent_dims)
    rng = np.random.default_rng(3)
    x = (rng.uniform(size=(LOSS_BATCH, input_dims)) > 0.7).astype("float32")
    return auto, found, x


def check_reconstruction_loss(models, input_dims: int, latent_dims: int) -> None:
    """With KL = 0 and outputs 0.5, the loss is the BCE summed over pixels: d * log 2."""
    auto, found, x = _setup_loss(models, input_dims, latent_dims)
    loss = _loss_at(auto, found, x, 0.0, 0.0)
    expected = input_dims * math.log(2.0)
    hint = ""
    if abs(loss - math.log(2.0)) < 0.05:
        hint = " It looks averaged over the pixels: sum the cross-entropy over them."
    elif abs(loss / expected - LOSS_BATCH) < 0.05 * LOSS_BATCH:
        hint = " It looks summed over the batch: Keras expects the mean over examples."
    expect(
        abs(loss - expected) < LOSS_RTOL * expected,
        f"with the decoder outputting 0.5 for every pixel and a KL of 0, the loss per "
        f"example should be {input_dims} * log 2 = {expected:.2f}, got {loss:.4g}.{hint}",
    )


def check_kl_loss(models, input_dims: int, latent_dims: int) -> None:
    """The loss grows by exactly the closed-form KL when mean and log variance move."""
    auto, found, x = _setup_loss(models, input_dims, latent_dims)
    base = _loss_at(auto, found, x, 0.0, 0.0)
    for mean, log_var in ((1.5, math.log(4.0)), (0.5, -1.5)):
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
