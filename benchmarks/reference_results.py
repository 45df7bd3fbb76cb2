"""Reproduce the source material's reference results, and reach them faster.

For each row, the source recipe (its architecture, epochs, batch size and optimizer)
trains in full, and the course's recipe (same architecture, tuned training) trains until
its validation loss reaches the source's final validation loss. Both run in this one
process on this machine, and the script prints the losses, the wall times and the ratio
of times to reach the source's final validation loss (target: at most 1/3).

    .venv/bin/python benchmarks/reference_results.py                # every row, full size
    .venv/bin/python benchmarks/reference_results.py vanilla vae_bce
    .venv/bin/python benchmarks/reference_results.py --scale 0.02  # a smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import helpers

helpers.import_quietly("tensorflow", "keras")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402


# ----------------------------------------------------------------- models (source architectures)
def dense_autoencoder(hidden=(128, 64), code=32, l1=0.0) -> keras.Model:
    """784-128-64-32 and back, relu inside, sigmoid out; optional L1 on the code."""
    inputs = keras.Input((784,))
    x = inputs
    for units in hidden:
        x = layers.Dense(units, activation="relu")(x)
    reg = keras.regularizers.L1(l1) if l1 else None
    x = layers.Dense(code, activation="relu", activity_regularizer=reg)(x)
    for units in reversed(hidden):
        x = layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(784, activation="sigmoid")(x))


def conv_autoencoder(filters=(16, 8, 8)) -> keras.Model:
    """The graded convolutional spec: 28x28x1 -> (4, 4, 8) -> 28x28x1."""
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for f in filters:
        x = layers.Conv2D(f, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    back = list(reversed(filters))
    for f in back[:-1]:
        x = layers.Conv2D(f, 3, padding="same", activation="relu")(x)
        x = layers.UpSampling2D(2)(x)
    x = layers.Conv2D(back[-1], 3, padding="valid", activation="relu")(x)
    x = layers.UpSampling2D(2)(x)
    return keras.Model(inputs, layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x))


def conv_denoiser() -> keras.Model:
    """Two 32-filter conv + pool stages and back with upsampling."""
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for _ in range(2):
        x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    for _ in range(2):
        x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
        x = layers.UpSampling2D(2)(x)
    return keras.Model(inputs, layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x))


def super_resolver() -> keras.Model:
    """14x14 -> 28x28: two convolutions, one stride-2 transposed convolution."""
    inputs = keras.Input((14, 14, 1))
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(x)
    return keras.Model(inputs, layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x))


class Sampling(layers.Layer):
    """z = mean + exp(log_var / 2) * eps."""

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = inputs
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps


class VAE(keras.Model):
    """784-512-2 VAE; loss = per-example reconstruction summed over pixels + KL."""

    def __init__(self, reconstruction: str, hidden: int = 512, latent: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.reconstruction = reconstruction
        self.hidden, self.to_mean, self.to_log_var = (
            layers.Dense(hidden, activation="relu"), layers.Dense(latent), layers.Dense(latent))
        self.sampling = Sampling()
        self.decoder = keras.Sequential([layers.Dense(hidden, activation="relu"),
                                         layers.Dense(784, activation="sigmoid")])

    def call(self, x, training=False):
        h = self.hidden(x)
        mean, log_var = self.to_mean(h), self.to_log_var(h)
        kl = -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)
        self.add_loss(ops.mean(kl))
        return self.decoder(self.sampling([mean, log_var]))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self.reconstruction == "bce":
            eps = 1e-7
            p = ops.clip(y_pred, eps, 1.0 - eps)
            per_pixel = -(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p))
        else:  # "mse": mean squared error times 784, as in Keras' old VAE example
            per_pixel = ops.square(y - y_pred)
        recon = ops.mean(ops.sum(per_pixel, axis=-1))
        return recon + ops.sum(self.losses)


# ----------------------------------------------------------------- rows
@dataclass(frozen=True)
class Recipe:
    epochs: int
    batch_size: int
    learning_rate: float = 1e-3
    jit_compile: bool | str = "auto"
    schedule: str = "constant"  # or "cosine": decay to 0 over the run


@dataclass(frozen=True)
class Row:
    name: str
    build: Callable[[], keras.Model]
    data: str  # "flat", "image", "noisy", "lowres"
    source_loss: float
    source: Recipe
    course: Recipe
    loss: str | None = "binary_crossentropy"  # None: the model computes its own
    notes: str = field(default="")


ROWS = [
    Row("vanilla", dense_autoencoder, "flat", 0.0842, Recipe(50, 256),
        Recipe(50, 256, 3e-3, True)),
    Row("sparse", lambda: dense_autoencoder(l1=1e-5), "flat", 0.0835, Recipe(50, 256),
        Recipe(50, 256, 3e-3, True)),
    Row("conv", conv_autoencoder, "image", 0.0926, Recipe(50, 256),
        Recipe(50, 128, 3e-3, True)),
    Row("vae_bce", lambda: VAE("bce"), "flat", 147.9, Recipe(50, 128),
        Recipe(50, 128, 2e-3, True), loss=None),
    Row("conv_upsampling", conv_autoencoder, "image", 0.0944, Recipe(25, 128),
        Recipe(25, 128, 3e-3, True)),
    Row("denoising", conv_denoiser, "noisy", 0.1328, Recipe(25, 128),
        Recipe(25, 128, 3e-3, True)),
    Row("super_resolution", super_resolver, "lowres", 0.0942, Recipe(25, 128),
        Recipe(25, 128, 3e-3, True)),
    Row("vae_mse", lambda: VAE("mse"), "flat", 36.0, Recipe(25, 128),
        Recipe(25, 128, 2e-3, True), loss=None),
]


def datasets(kind: str, scale: float) -> tuple[tuple, tuple]:
    """(train inputs, targets), (validation inputs, targets): MNIST train vs test."""
    ds = helpers.load_mnist(shape="flat" if kind == "flat" else "channels", validation=0)
    n_train, n_val = max(256, int(60_000 * scale)), max(256, int(10_000 * scale))
    x, xv = ds.x_train[:n_train], ds.x_test[:n_val]
    if kind == "noisy":
        return ((helpers.add_noise(x, 0.5, seed=1), x),
                (helpers.add_noise(xv, 0.5, seed=2), xv))
    if kind == "lowres":
        return (helpers.downscale(x, 2), x), (helpers.downscale(xv, 2), xv)
    return (x, x), (xv, xv)


class Clock(keras.callbacks.Callback):
    """Records (seconds since training began, val_loss) per epoch; can stop at a target."""

    def __init__(self, target: float | None = None):
        super().__init__()
        self.target, self.points = target, []

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.points.append((time.perf_counter() - self.start, float(logs["val_loss"])))
        if self.target is not None and logs["val_loss"] <= self.target:
            self.model.stop_training = True

    def time_to(self, target: float) -> float | None:
        return next((t for t, loss in self.points if loss <= target), None)


def train(row: Row, recipe: Recipe, data, epochs: int, target: float | None) -> Clock:
    (x, y), (xv, yv) = data
    keras.utils.set_random_seed(0)
    model = row.build()
    steps = epochs * int(np.ceil(len(x) / recipe.batch_size))
    lr = (keras.optimizers.schedules.CosineDecay(recipe.learning_rate, steps)
          if recipe.schedule == "cosine" else recipe.learning_rate)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=row.loss,
                  jit_compile=recipe.jit_compile)
    clock = Clock(target)
    model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=recipe.batch_size,
              callbacks=[clock], verbose=0)
    return clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", help=f"rows to run (default all): "
                        f"{', '.join(r.name for r in ROWS)}")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of data and epochs (1.0 = the real benchmark)")
    args = parser.parse_args()
    helpers.setup(seed=0, verbose=False)
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{'GPU ' + gpus[0].name if gpus else 'no GPU'}; TF {tf.__version__}, "
          f"Keras {keras.__version__}; scale {args.scale}")
    header = (f"{'row':<18}{'source':>9}{'src loss':>10}{'src s':>8}"
              f"{'course loss':>12}{'course s':>9}{'to reach':>9}{'ratio':>7}  verdict")
    print(header)
    chosen = [r for r in ROWS if not args.rows or r.name in args.rows]
    for row in chosen:
        data = datasets(row.data, args.scale)
        src_epochs = max(1, round(row.source.epochs * args.scale))
        src = train(row, row.source, data, src_epochs, None)
        src_time, src_loss = src.points[-1]
        crs = train(row, row.course, data, max(1, round(row.course.epochs * args.scale)),
                    target=src_loss)
        reach = crs.time_to(src_loss)
        ratio = reach / src_time if reach is not None else float("nan")
        verdict = ("met (<= 1/3)" if ratio <= 1 / 3 else
                   "not met" if reach is not None else "never reached")
        print(f"{row.name:<18}{row.source_loss:>9.4g}{src_loss:>10.4g}{src_time:>8.0f}"
              f"{crs.points[-1][1]:>12.4g}{crs.points[-1][0]:>9.0f}"
              f"{(reach if reach is not None else float('nan')):>9.0f}{ratio:>7.2f}  {verdict}",
              flush=True)


if __name__ == "__main__":
    main()
