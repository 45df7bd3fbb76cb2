"""Grading of task (a) `vanilla` in notebook 02: the reference, differently written correct
answers, and wrong answers that must each lose the points of a specific test cell."""

from __future__ import annotations

from tests import grading

NOTEBOOK = "02_stacked_autoencoders.ipynb"
TASK = "vanilla"
SHAPES, LAYERS, TRAINING = (f"{TASK}-tests-{part}" for part in ("shapes", "layers", "training"))


#: Correct: Sequential models, optimizer and loss as objects, auto as Sequential.
SEQUENTIAL = '''
def autoencoder(input_dims, hidden_layers, latent_dims):
    encoder = keras.Sequential([keras.Input(shape=(input_dims,))]
                               + [keras.layers.Dense(u, activation="relu") for u in hidden_layers]
                               + [keras.layers.Dense(latent_dims, activation="relu")])
    decoder = keras.Sequential([keras.Input(shape=(latent_dims,))]
                               + [keras.layers.Dense(u, activation="relu")
                                  for u in hidden_layers[::-1]]
                               + [keras.layers.Dense(input_dims, activation="sigmoid")])
    auto = keras.Sequential([encoder, decoder])
    auto.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.BinaryCrossentropy())
    return encoder, decoder, auto
'''

#: Correct: tensorflow.keras, input_shape instead of Input, activations as separate layers,
#: the loss as a function.
TF_KERAS = '''
from tensorflow import keras


def autoencoder(input_dims, hidden_layers, latent_dims):
    encoder = keras.models.Sequential()
    sizes = list(hidden_layers) + [latent_dims]
    for i, units in enumerate(sizes):
        if i == 0:
            encoder.add(keras.layers.Dense(units, input_shape=(input_dims,)))
        else:
            encoder.add(keras.layers.Dense(units))
        encoder.add(keras.layers.ReLU())
    decoder = keras.models.Sequential()
    decoder.add(keras.layers.InputLayer(shape=(latent_dims,)))
    for units in reversed(hidden_layers):
        decoder.add(keras.layers.Dense(units))
        decoder.add(keras.layers.Activation("relu"))
    decoder.add(keras.layers.Dense(input_dims))
    decoder.add(keras.layers.Activation("sigmoid"))
    x = keras.layers.Input((input_dims,))
    auto = keras.models.Model(x, decoder(encoder(x)))
    auto.compile(optimizer="Adam", loss=keras.losses.binary_crossentropy)
    return encoder, decoder, auto
'''


def shared_layers() -> str:
    """Correct, Keras-blog style: ``auto`` is built on the encoder's own tensors, so the
    three models share layers without ``auto`` containing the encoder: Keras cannot save
    them faithfully, and the outside check asks them through proxies (flagged)."""
    return reference_with(("decoder(encoder(inputs))", "decoder(code)"))


def reference_with(*replacements: tuple[str, str]) -> str:
    """The reference solution with each ``(old, new)`` replaced (``old`` must occur)."""
    return grading.reference_with(NOTEBOOK, TASK, *replacements)


def wrong_variants() -> dict[str, str]:
    return {
        "no_sigmoid": reference_with(('activation="sigmoid"', 'activation="relu"')),
        "not_reversed": reference_with(("reversed(hidden_layers)", "hidden_layers")),
        "linear_code": reference_with(('Dense(latent_dims, activation="relu")',
                                       "Dense(latent_dims)")),
        "latent_ignored": reference_with(("Dense(latent_dims,", "Dense(hidden_layers[-1] if "
                                          "hidden_layers else latent_dims,")).replace(
            "shape=(latent_dims,)", "shape=(hidden_layers[-1] if hidden_layers else "
            "latent_dims,)"),
        "mse_loss": reference_with(('loss="binary_crossentropy"', 'loss="mse"')),
        "sgd": reference_with(('optimizer="adam"', 'optimizer="sgd"')),
        # only Adam's first step trains: the moving average overwrites the weights after it
        "adam_moving_average": reference_with((
            'optimizer="adam"', 'optimizer=keras.optimizers.Adam(use_ema=True, '
            'ema_momentum=0.99999, ema_overwrite_frequency=1)')),
        # auto rebuilt from fresh layers: right shapes, but not decoder(encoder(x))
        "not_shared": reference_with((
            "auto = keras.Model(inputs, decoder(encoder(inputs)), name=\"autoencoder\")",
            "auto = keras.models.clone_model(keras.Model(inputs, decoder(encoder(inputs))))")),
    }


globals().update(grading.task_tests(grading.GradedTask(
    NOTEBOOK, TASK, points={SHAPES: 2.0, LAYERS: 2.0, TRAINING: 2.0},
    correct={"reference": None, "sequential": SEQUENTIAL, "tf_keras": TF_KERAS,
             "shared_layers": shared_layers()},
    wrong={
        "no_sigmoid": ({LAYERS}, "decoder activations"),
        "not_reversed": ({LAYERS}, "hidden layers reversed"),
        "linear_code": ({LAYERS}, "encoder activations"),
        "latent_ignored": ({SHAPES, LAYERS}, "encoder: output shape"),
        "mse_loss": ({TRAINING}, "auto's loss"),
        "sgd": ({TRAINING}, "auto's optimizer"),
        "adam_moving_average": ({TRAINING}, "got 'adam (use_ema=True)'"),
        "not_shared": ({TRAINING}, "decoder(encoder(x))"),
    },
    sources=wrong_variants)))
