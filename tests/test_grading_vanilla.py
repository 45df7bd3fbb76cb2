"""Grading of task (a) `vanilla` in notebook 02: the reference, differently written correct
answers, and wrong answers that must each lose the points of a specific test cell."""

from __future__ import annotations

from benchmarks.sample_answers import SEQUENTIAL, TF_KERAS
from tests import grading

NOTEBOOK = "02_stacked_autoencoders.ipynb"
TASK = "vanilla"
SHAPES, LAYERS, TRAINING = (f"{TASK}-tests-{part}" for part in ("shapes", "layers", "training"))


def shared_layers() -> str:
    """Correct, Keras-blog style: ``auto`` is built on the encoder's own tensors, so the
    three models share layers without ``auto`` containing the encoder: Keras cannot save
    them faithfully, so each is sent alone, its copy compared with it, and the outside
    check asks them through proxies (not flagged: Keras' own code)."""
    return reference_with(("decoder(encoder(inputs))", "decoder(code)"))


#: A namesake of Keras' relu, of the student's own: the identity (a linear autoencoder).
OWN_RELU = "def relu(x):\n    return x\n\n\n"
#: A namesake of Keras' binary cross-entropy that computes the squared error.
OWN_LOSS = ("def binary_crossentropy(y_true, y_pred):\n"
            "    return keras.ops.mean((y_true - y_pred) ** 2, axis=-1)\n\n\n")


def own_sigmoid(body: str) -> str:
    """:func:`shared_layers` with a ``sigmoid`` of the student's own returning ``body``."""
    return (f"def sigmoid(x):\n    return {body}\n\n\n"
            + shared_layers().replace('activation="sigmoid"', "activation=sigmoid"))


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
        # Keras saves a function by its name: loaded here as Keras' own, their copies
        # were checked (6 of 6); the proof finds what the models do otherwise: review
        # (the loss, at the copy's first training: the other tests use no loss)
        "own_relu": OWN_RELU + reference_with(('activation="relu"', "activation=relu")),
        "own_loss": OWN_LOSS + reference_with(('loss="binary_crossentropy"',
                                               "loss=binary_crossentropy")),
        "shared_namesake_sigmoid": own_sigmoid("keras.activations.hard_sigmoid(x)"),
        # correct, but code of the student's own where the task needs none: review, saying why
        "lambda_sigmoid": reference_with(('activation="sigmoid"',
                                          "activation=lambda x: keras.activations.sigmoid(x)")),
        # what training uses that no saved model holds: the copy carries it, or it is
        # the student's own code
        "frozen": reference_with(("    return encoder, decoder, auto", "    for w in auto."
                                  "weights:\n        w.trainable = False\n    return encoder, "
                                  "decoder, auto")),
        "second_compile": reference_with(("    return encoder, decoder, auto", (
            "    auto.compile(optimizer='sgd', loss='mse')\n"
            "    kept = auto._compile_loss, auto.optimizer\n"
            "    auto.compile(optimizer='adam', loss='binary_crossentropy')\n"
            "    auto._compile_loss, auto.optimizer = kept\n"
            "    return encoder, decoder, auto"))),
        "zeroing_constraint": reference_with(("    return encoder, decoder, auto", (
            "    auto.get_layer('decoder').layers[-1].kernel.constraint = lambda w: w * 0\n"
            "    return encoder, decoder, auto"))),
        # fit runs another model's train function (SGD on the squared error), Keras' own
        "borrowed_train_function": reference_with(("    return encoder, decoder, auto", (
            "    other = keras.Model(auto.inputs, auto.outputs)\n"
            "    other.compile(optimizer='sgd', loss='mse')\n"
            "    other.make_train_function()\n"
            "    auto.train_function = other.train_function\n"
            "    return encoder, decoder, auto"))),
        # fit runs another model's train_step (SGD); a faint noise on the code (a layer
        # the checks pass through) makes the copy's step vary, which hid the difference
        "noisy_borrowed_step": reference_with(
            ('code = keras.layers.Dense(latent_dims, activation="relu")(x)',
             'code = keras.layers.GaussianNoise(1e-4)(\n'
             '        keras.layers.Dense(latent_dims, activation="relu")(x))'),
            ("    return encoder, decoder, auto", (
                "    other = keras.Model(auto.inputs, auto.outputs)\n"
                "    other.compile(optimizer='sgd', loss='binary_crossentropy')\n"
                "    auto.train_step = other.train_step\n"
                "    return encoder, decoder, auto"))),
        # the proof switched off at 0edfe89 (6/6): Keras' own ops that fail on a negative
        # input only (no test has one) made the copy fail on the proof's normal draws
        "guarded_borrowed_train_function": reference_with(
            ('auto = keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")',
             'out = decoder(encoder(inputs))\n'
             '    index = keras.ops.cast(keras.ops.minimum(inputs, 0.0) * 1e6, "int32")\n'
             '    auto = keras.Model(inputs, out + keras.ops.take_along_axis(\n'
             '        out, index, axis=-1) * 0.0, name="autoencoder")'),
            ("    return encoder, decoder, auto", (
                "    other = keras.Model(auto.inputs, auto.outputs)\n"
                "    other.compile(optimizer='sgd', loss='mse')\n"
                "    other.make_train_function()\n"
                "    auto.train_function = other.train_function\n"
                "    return encoder, decoder, auto"))),
        # predict and evaluate never compared at 0edfe89 (6/6 each): another model's
        # predict function (the identity: "perfect" reconstructions; zeros for the
        # decoder), or test function (compiled with the squared error)
        "borrowed_predict_function": reference_with(("    return encoder, decoder, auto", (
            "    other = keras.Model(auto.inputs, auto.inputs)\n"
            "    other.make_predict_function()\n"
            "    auto.predict_function = other.predict_function\n"
            "    return encoder, decoder, auto"))),
        "borrowed_decoder_predict": reference_with(("    return encoder, decoder, auto", (
            "    z = keras.Input(shape=(latent_dims,))\n"
            "    zeros = keras.Model(z, keras.layers.Dense(input_dims, "
            "kernel_initializer='zeros')(z))\n"
            "    zeros.make_predict_function()\n"
            "    decoder.predict_function = zeros.predict_function\n"
            "    return encoder, decoder, auto"))),
        "borrowed_test_function": reference_with(("    return encoder, decoder, auto", (
            "    other = keras.Model(auto.inputs, auto.outputs)\n"
            "    other.compile(optimizer='adam', loss='mse')\n"
            "    other.make_test_function()\n"
            "    auto.test_function = other.test_function\n"
            "    return encoder, decoder, auto"))),
        # auto rebuilt from fresh layers: right shapes, but not decoder(encoder(x))
        "not_shared": reference_with((
            "auto = keras.Model(inputs, decoder(encoder(inputs)), name=\"autoencoder\")",
            "auto = keras.models.clone_model(keras.Model(inputs, decoder(encoder(inputs))))")),
    }


globals().update(grading.task_tests(grading.GradedTask(
    NOTEBOOK, TASK, points={SHAPES: 2.0, LAYERS: 2.0, TRAINING: 2.0},
    correct={"reference": None, "sequential": SEQUENTIAL, "tf_keras": TF_KERAS,
             "shared_layers": shared_layers(),
             # a sigmoid of its own that is Keras': proven to do what Keras' does
             "shared_own_sigmoid": own_sigmoid("keras.activations.sigmoid(x)"),
             "keras_objects": reference_with(
                 ('activation="relu"', "activation=keras.activations.relu"),
                 ('loss="binary_crossentropy"', "loss=keras.losses.BinaryCrossentropy()"),
                 ('optimizer="adam"', "optimizer=keras.optimizers.Adam()"))},
    wrong={
        "no_sigmoid": ({LAYERS}, "decoder activations"),
        "not_reversed": ({LAYERS}, "hidden layers reversed"),
        "linear_code": ({LAYERS}, "encoder activations"),
        "latent_ignored": ({SHAPES, LAYERS}, "encoder: output shape"),
        "mse_loss": ({TRAINING}, "auto's loss"),
        "sgd": ({TRAINING}, "auto's optimizer"),
        "adam_moving_average": ({TRAINING}, "got 'adam (use_ema=True)'"),
        "not_shared": ({TRAINING}, "decoder(encoder(x))"),
        "frozen": ({TRAINING}, "left 12 of auto's 12 weight arrays (kernels and biases) unchanged"),
        "second_compile": ({TRAINING}, "auto's optimizer: expected 'adam', got 'sgd'"),
        **{name: ({TRAINING}, "code of your own")
           for name in ("borrowed_train_function", "noisy_borrowed_step", "own_loss",
                        "guarded_borrowed_train_function", "borrowed_test_function")},
        **{name: ({SHAPES, LAYERS, TRAINING}, "code of your own")
           for name in ("own_relu", "shared_namesake_sigmoid", "lambda_sigmoid",
                        "zeroing_constraint", "borrowed_predict_function",
                        "borrowed_decoder_predict")},
    },
    sources=wrong_variants)))
