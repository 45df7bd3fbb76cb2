"""Diffusion models for notebook 11: a small denoiser, its training, and its samplers.

- :func:`build_denoiser`: a compact U-Net that predicts the noise in ``x_t`` from ``x_t``,
  the step ``t`` (through a sinusoidal time embedding) and a class label (the label
  ``classes`` means "no label", for classifier-free guidance);
- :func:`train_denoiser`: the DDPM objective, the squared error of the predicted noise at
  a step drawn uniformly, the label dropped with probability ``p_uncond``;
- :func:`ddim_step` and :func:`sample`: the DDIM update (``eta = 0`` deterministic,
  ``eta = 1`` on all steps is DDPM's ancestral sampler), with guidance;
- :func:`multiply_adds`: a model's multiply-adds per example, from its layers' shapes;
- :func:`frechet_distance`: the Fréchet distance between Gaussians fitted to two sets of
  feature vectors.

The noise schedule and ``q_sample`` come from :mod:`helpers.diffusion`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from helpers.diffusion import q_sample


def _keras():
    import keras

    return keras


def time_embedding(t: Any, dim: int) -> Any:
    """Sines and cosines of ``t`` at ``dim // 2`` geometric frequencies (1 to 1/10,000)."""
    from keras import ops

    half = dim // 2
    freqs = ops.exp(-math.log(10_000.0) * ops.arange(half, dtype="float32") / half)
    angles = ops.cast(ops.reshape(t, (-1, 1)), "float32") * freqs
    return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)


def build_denoiser(shape: tuple[int, int, int], width: int = 32, classes: int = 10,
                   name: str = "denoiser") -> Any:
    """A U-Net on grids of ``shape`` (side divisible by 4): inputs ``[x_t, t, label]``,
    output the predicted noise, of ``shape``. Two stride-2 levels below the input's; the
    time and label embeddings are added after the first convolution of each of the three
    levels on the way down (the way up gets none)."""
    keras = _keras()
    from keras import layers

    x_in = keras.Input(shape, name="x_t")
    t_in = keras.Input((), dtype="int32", name="t")
    y_in = keras.Input((), dtype="int32", name="label")
    emb = layers.Lambda(lambda t: time_embedding(t, 4 * width), name="time_embedding")(t_in)
    emb = layers.Dense(4 * width, activation="swish")(emb)
    emb = emb + layers.Embedding(classes + 1, 4 * width, name="label_embedding")(y_in)
    emb = layers.Dense(4 * width, activation="swish")(emb)

    def block(h, filters, strides=1):
        h = layers.Conv2D(filters, 3, strides=strides, padding="same")(h)
        h = layers.Activation("swish")(h + layers.Reshape((1, 1, filters))(
            layers.Dense(filters)(emb)))
        return layers.Conv2D(filters, 3, padding="same", activation="swish")(h)

    h1 = block(x_in, width)
    h2 = block(h1, 2 * width, strides=2)
    h3 = block(h2, 2 * width, strides=2)
    u2 = layers.Conv2D(2 * width, 3, padding="same", activation="swish")(
        layers.Concatenate()([layers.UpSampling2D(2)(h3), h2]))
    u1 = layers.Conv2D(width, 3, padding="same", activation="swish")(
        layers.Concatenate()([layers.UpSampling2D(2)(u2), h1]))
    out = layers.Conv2D(shape[-1], 3, padding="same", name="noise")(u1)
    model = keras.Model([x_in, t_in, y_in], out, name=name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def multiply_adds(model: Any) -> int:
    """Multiply-adds of one example through ``model``'s ``Conv2D`` and ``Dense`` layers
    (every tap of a kernel, those on the zero padding too); other layers are not counted."""
    keras = _keras()
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel = layer.kernel.shape            # (kh, kw, in, out)
            _, h, w, _ = layer.output.shape
            total += h * w * int(np.prod(kernel))
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return int(total)


def train_denoiser(model: Any, x0: np.ndarray, labels: np.ndarray, abar: np.ndarray,
                   examples: int, batch_size: int = 128, p_uncond: float = 0.1,
                   classes: int = 10, seed: int = 0) -> dict[str, list[float]]:
    """Train ``model`` to predict the noise of ``q_sample`` on ``examples`` draws (passes
    over ``x0``, the last one partial). Each pass draws new steps, noise and dropped
    labels; returns ``{"loss": [mean loss of each pass]}``."""
    rng = np.random.default_rng(seed)
    losses, left = [], int(examples)
    while left > 0:
        order = rng.permutation(len(x0))[:left]
        x = x0[order]
        t = rng.integers(0, len(abar), size=len(x)).astype("int32")
        noise = rng.normal(size=x.shape).astype("float32")
        y = np.where(rng.random(len(x)) < p_uncond, classes, labels[order]).astype("int32")
        x_t = q_sample(x, t, noise, abar).astype("float32")
        history = model.fit([x_t, t, y], noise, batch_size=batch_size, epochs=1, verbose=0)
        losses.append(float(history.history["loss"][-1]))
        left -= len(x)
    return {"loss": losses}


def predict_noise(model: Any, x_t: np.ndarray, t: int, labels: np.ndarray | None = None,
                  guidance: float = 1.0, classes: int = 10) -> np.ndarray:
    """The model's noise estimate at step ``t``; with labels and a guidance scale ``s``,
    ``eps(x, none) + s * (eps(x, label) - eps(x, none))`` (``s = 1``: the conditional
    estimate alone, ``s = 0``: the unconditional one)."""
    n = len(x_t)
    steps = np.full(n, t, dtype="int32")
    none = np.full(n, classes, dtype="int32")
    if labels is None or guidance == 0:
        return np.asarray(model.predict_on_batch([x_t, steps, none]))
    labels = np.asarray(labels, dtype="int32")
    if guidance == 1:
        return np.asarray(model.predict_on_batch([x_t, steps, labels]))
    both = np.asarray(model.predict_on_batch(
        [np.concatenate([x_t, x_t]), np.concatenate([steps, steps]),
         np.concatenate([labels, none])]))
    conditional, unconditional = both[:n], both[n:]
    return unconditional + guidance * (conditional - unconditional)


def ddim_step(x_t: np.ndarray, eps: np.ndarray, t: int, t_prev: int, abar: np.ndarray,
              eta: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """One DDIM update from step ``t`` to ``t_prev`` (``-1``: to the data, where the
    cumulative product is 1), given the noise estimate ``eps``. ``eta = 0`` adds no noise;
    ``eta = 1`` adds the variance of DDPM's posterior q(x_prev | x_t, x_0)."""
    a_t = abar[t]
    a_prev = abar[t_prev] if t_prev >= 0 else 1.0
    x0_hat = (x_t - np.sqrt(1 - a_t) * eps) / np.sqrt(a_t)
    sigma = eta * np.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
    x_prev = np.sqrt(a_prev) * x0_hat + np.sqrt(1 - a_prev - sigma ** 2) * eps
    if sigma > 0:
        x_prev = x_prev + sigma * (rng or np.random.default_rng()).normal(size=x_t.shape)
    return x_prev.astype(x_t.dtype)


def schedule_steps(T: int, steps: int) -> np.ndarray:
    """``steps`` whole steps from ``T - 1`` down to 0, evenly spaced."""
    return np.unique(np.round(np.linspace(0, T - 1, steps)).astype(int))[::-1]


def sample(model: Any, n: int, shape: tuple[int, ...], abar: np.ndarray, steps: int = 50,
           eta: float = 0.0, labels: np.ndarray | None = None, guidance: float = 1.0,
           seed: int = 0, batch: int = 500, classes: int = 10) -> np.ndarray:
    """``n`` samples of ``shape`` by the DDIM update on ``steps`` evenly spaced steps,
    from Gaussian noise drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)).astype("float32")
    ts = schedule_steps(len(abar), steps)
    out = []
    for start in range(0, n, batch):
        xb = x[start:start + batch]
        lb = None if labels is None else np.asarray(labels)[start:start + batch]
        for t, t_prev in zip(ts, list(ts[1:]) + [-1]):
            eps = predict_noise(model, xb, int(t), lb, guidance, classes)
            xb = ddim_step(xb, eps, int(t), int(t_prev), abar, eta, rng)
        out.append(xb)
    return np.concatenate(out)


def seconds_per_step(model: Any, n: int, shape: tuple[int, ...], repeats: int = 5) -> float:
    """The median wall time of one noise estimate for a batch of ``n`` grids of ``shape``."""
    x = np.random.default_rng(0).normal(size=(n, *shape)).astype("float32")
    predict_noise(model, x, 0)                       # the first call traces the graph
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_noise(model, x, 0)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of ``a`` and of ``b``:
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu = a.mean(axis=0) - b.mean(axis=0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    s_a, s_b = np.atleast_2d(s_a), np.atleast_2d(s_b)
    values, vectors = np.linalg.eigh(s_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.linalg.eigvalsh(root_a @ s_b @ root_a)
    return float(mu @ mu + np.trace(s_a) + np.trace(s_b)
                 - 2 * np.sqrt(np.clip(cross, 0, None)).sum())
