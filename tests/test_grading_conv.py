"""Grading of task (c) `conv` in notebook 03: the reference, differently written correct
answers, and wrong answers that must each lose the points of specific test cells."""

from __future__ import annotations

from tests import answer_cells, grading

NOTEBOOK = "03_convolutional_autoencoders.ipynb"
TASK = "conv"
SHAPES, LAYERS, TRAINING = (f"{TASK}-tests-{part}" for part in ("shapes", "layers", "training"))
POINTS = {SHAPES: 2.0, LAYERS: 3.0, TRAINING: 2.0}


#: Correct: Sequential, tensorflow.keras, int kernel sizes, activations as separate layers,
#: the last pair of decoder layers written out after the loop.
SEQUENTIAL = '''
from tensorflow import keras


def autoencoder(input_dims, filters, latent_dims):
    encoder = keras.Sequential()
    encoder.add(keras.Input(shape=input_dims))
    for f in filters:
        encoder.add(keras.layers.Conv2D(f, 3, padding="same"))
        encoder.add(keras.layers.Activation("relu"))
        encoder.add(keras.layers.MaxPool2D(2, padding="same"))
    decoder = keras.Sequential([keras.Input(shape=latent_dims)])
    rev = filters[::-1]
    for f in rev[:-1]:
        decoder.add(keras.layers.Conv2D(f, 3, padding="same", activation="relu"))
        decoder.add(keras.layers.UpSampling2D(size=2))
    decoder.add(keras.layers.Conv2D(rev[-1], kernel_size=(3, 3), activation="relu"))
    decoder.add(keras.layers.UpSampling2D())
    decoder.add(keras.layers.Conv2D(input_dims[2], 3, padding="same"))
    decoder.add(keras.layers.Activation("sigmoid"))
    auto = keras.Sequential([encoder, decoder])
    auto.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.BinaryCrossentropy())
    return encoder, decoder, auto
'''

#: Correct: functional, an index test inside one loop, input_dims given as a list.
ONE_LOOP = '''
def autoencoder(input_dims, filters, latent_dims):
    x_in = keras.layers.Input(shape=tuple(input_dims))
    h = x_in
    for f in filters:
        h = keras.layers.MaxPooling2D(pool_size=(2, 2), padding="same")(
            keras.layers.Conv2D(filters=f, kernel_size=(3, 3), padding="same",
                                activation="relu")(h))
    encoder = keras.models.Model(inputs=x_in, outputs=h)
    z_in = keras.layers.Input(shape=latent_dims)
    h = z_in
    n = len(filters)
    for i, f in enumerate(reversed(filters)):
        pad = "valid" if i == n - 1 else "same"
        h = keras.layers.Conv2D(f, (3, 3), padding=pad, activation="relu")(h)
        h = keras.layers.UpSampling2D((2, 2))(h)
    out = keras.layers.Conv2D(input_dims[-1], (3, 3), padding="same", activation="sigmoid")(h)
    decoder = keras.models.Model(z_in, out)
    auto = keras.models.Model(x_in, decoder(encoder(x_in)))
    auto.compile(loss="binary_crossentropy", optimizer="adam")
    return encoder, decoder, auto
'''


#: Wrong, and reported right (red team C1): no Keras at all; classes named Conv2D,
#: MaxPooling2D, UpSampling2D, Model and Adam report the spec's layers and a falling loss,
#: and output zeros of the right shapes.
FAKE_MODELS = answer_cells.PRELUDE + answer_cells.CONV + """

def autoencoder(input_dims, filters, latent_dims):
    enc, cin = [], input_dims[-1]
    for f in filters:
        enc += [Conv2D(cin, f, "same", relu), MaxPooling2D()]
        cin = f
    dec, cin = [], latent_dims[-1]
    back = list(filters)[::-1]
    for i, f in enumerate(back):
        dec += [Conv2D(cin, f, "valid" if i == len(back) - 1 else "same", relu), UpSampling2D()]
        cin = f
    dec.append(Conv2D(cin, input_dims[-1], "same", sigmoid))
    side = (latent_dims[0] * 2 ** (len(filters) - 1) - 2) * 2
    out = (side, side, input_dims[-1])
    encoder = Model(enc, input_dims, latent_dims, "encoder")
    decoder = Model(dec, latent_dims, out, "decoder")
    auto = Model(enc + dec, input_dims, out, "auto")
    return encoder, decoder, auto
"""

def reference_with(*replacements: tuple[str, str]) -> str:
    """The reference solution with each ``(old, new)`` replaced (``old`` must occur)."""
    return grading.reference_with(NOTEBOOK, TASK, *replacements)


def wrong_variants() -> dict[str, str]:
    valid = 'x = keras.layers.Conv2D(backwards[-1], (3, 3), padding="valid"'
    return {
        # every decoder convolution with same padding: 32x32 instead of 28x28
        "all_same": reference_with((valid, valid.replace('"valid"', '"same"'))),
        # the decoder uses the filters in the encoder's order: the shapes still fit
        "unreversed": reference_with(("backwards = list(reversed(filters))",
                                      "backwards = list(filters)")),
        # the valid padding on the first decoder convolution instead of the second-to-last
        "valid_first": reference_with(
            ("for f in backwards[:-1]:\n        x = keras.layers.Conv2D(f, (3, 3), "
             'padding="same"',
             "for i, f in enumerate(backwards[:-1]):\n        x = keras.layers.Conv2D(f, "
             '(3, 3), padding="valid" if i == 0 else "same"'),
            (valid, valid.replace('"valid"', '"same"'))),
        # pooling without same padding: 7 -> 3 in the example
        "valid_pooling": reference_with(('MaxPooling2D((2, 2), padding="same")',
                                         "MaxPooling2D((2, 2))")),
        # a single output channel, right for grayscale examples only
        "one_channel": reference_with(("Conv2D(input_dims[-1],", "Conv2D(1,")),
        "no_sigmoid": reference_with(('activation="sigmoid"', 'activation="relu"')),
        "mse_loss": reference_with(('loss="binary_crossentropy"', 'loss="mse"')),
        "sgd": reference_with(('optimizer="adam"', 'optimizer="sgd"')),
        "fake_models": FAKE_MODELS,
        # the encoder set untrainable, weight by weight: its copy does not learn either
        "frozen_encoder": reference_with(("    return encoder, decoder, auto", (
            "    for w in encoder.weights:\n        w.trainable = False\n"
            "    return encoder, decoder, auto"))),
    }


globals().update(grading.task_tests(grading.GradedTask(
    NOTEBOOK, TASK, points=POINTS,
    correct={"reference": None, "sequential": SEQUENTIAL, "one_loop": ONE_LOOP},
    wrong={
        # a wrong output shape also makes training on 28x28 images fail
        "all_same": ({SHAPES, LAYERS, TRAINING}, "expected (28, 28, 1), got (32, 32, 1)"),
        "unreversed": ({LAYERS}, "decoder filters"),
        "valid_first": ({SHAPES, LAYERS, TRAINING}, "decoder: output shape"),
        # the encoder gives 3x3x8, which the decoder rejects: the function itself fails,
        # inside code of the student's, so its message is withheld in hidden-test cells
        "valid_pooling": ({SHAPES, LAYERS, TRAINING}, "a hidden test failed; the message is "
                          "withheld"),
        "one_channel": ({SHAPES, LAYERS}, "(28, 28, 3)"),
        "no_sigmoid": ({LAYERS}, "decoder activations"),
        "mse_loss": ({TRAINING}, "auto's loss"),
        "sgd": ({TRAINING}, "auto's optimizer"),
        "fake_models": ({SHAPES, LAYERS, TRAINING}, "model with code of your own"),
        "frozen_encoder": ({TRAINING}, "weight arrays (kernels and biases) unchanged"),
    },
    sources=wrong_variants)))
