"""Grading of task (b) `sparse` in notebook 02: the reference, correct answers with the L1
penalty written three ways, and wrong answers that must each lose specific points."""

from __future__ import annotations

from tests import answer_cells, grading

NOTEBOOK = "02_stacked_autoencoders.ipynb"
TASK = "sparse"
LAYERS, PENALTY, TRAINING = (f"{TASK}-tests-{part}" for part in ("layers", "penalty", "training"))


#: Correct: Sequential, the penalty as an ActivityRegularization layer after the code.
LAYER_STYLE = '''
def autoencoder(input_dims, hidden_layers, latent_dims, lambtha):
    encoder = keras.Sequential([keras.Input((input_dims,))])
    for units in hidden_layers:
        encoder.add(keras.layers.Dense(units, activation="relu"))
    encoder.add(keras.layers.Dense(latent_dims, activation="relu"))
    encoder.add(keras.layers.ActivityRegularization(l1=lambtha))
    decoder = keras.Sequential([keras.Input((latent_dims,))])
    for units in hidden_layers[::-1]:
        decoder.add(keras.layers.Dense(units, activation="relu"))
    decoder.add(keras.layers.Dense(input_dims, activation="sigmoid"))
    auto = keras.Sequential([encoder, decoder])
    auto.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
    return encoder, decoder, auto
'''

#: Correct: tensorflow.keras, L1L2 with only l1, layers imported by name.
L1L2_STYLE = '''
from tensorflow import keras
from tensorflow.keras import layers, regularizers


def autoencoder(input_dims, hidden_layers, latent_dims, lambtha):
    x_in = layers.Input(shape=(input_dims,))
    h = x_in
    for units in hidden_layers:
        h = layers.Dense(units, activation="relu")(h)
    code = layers.Dense(latent_dims, activation="relu",
                        activity_regularizer=regularizers.L1L2(l1=lambtha))(h)
    encoder = keras.Model(x_in, code)
    z_in = layers.Input(shape=(latent_dims,))
    h = z_in
    for units in reversed(hidden_layers):
        h = layers.Dense(units, activation="relu")(h)
    decoder = keras.Model(z_in, layers.Dense(input_dims, activation="sigmoid")(h))
    auto = keras.Model(x_in, decoder(encoder(x_in)))
    auto.compile(loss=keras.losses.BinaryCrossentropy(), optimizer="adam")
    return encoder, decoder, auto
'''


#: Wrong, and reported right (red team A3): no Keras at all; classes named Model, Dense
#: and Adam report the spec's layers, an L1 "regularizer" on the code layer and a falling
#: loss, output zeros, and cannot be saved, so the checks have only their claims.
FAKE_MODELS = answer_cells.PRELUDE + answer_cells.DENSE + """

class L1:
    def __init__(self, lam):
        self.lam = lam

    def __call__(self, z):
        return np.float32(self.lam * np.abs(np.asarray(z)).sum())


def autoencoder(input_dims, hidden_layers, latent_dims, lambtha):
    sizes = [input_dims, *hidden_layers, latent_dims]
    hid = [relu] * len(hidden_layers)
    encoder = Model(sizes, hid + [relu], "encoder")
    decoder = Model(sizes[::-1], hid + [sigmoid], "decoder")
    auto = Model(sizes, hid + [relu], "autoencoder")
    encoder.layers[-1].activity_regularizer = L1(lambtha)
    auto.layers, auto.out = encoder.layers + decoder.layers, input_dims
    return encoder, decoder, auto
"""

def reference_with(*replacements: tuple[str, str]) -> str:
    """The reference solution with each ``(old, new)`` replaced (``old`` must occur)."""
    return grading.reference_with(NOTEBOOK, TASK, *replacements)


def wrong_variants() -> dict[str, str]:
    code_layer = ('code = keras.layers.Dense(latent_dims, activation="relu",\n'
                  '                              activity_regularizer=keras.regularizers.L1('
                  'lambtha))(x)')
    assert code_layer in grading.reference_solution(NOTEBOOK, TASK)
    return {
        # the penalty on the last hidden layer instead of the code
        "l1_on_hidden": reference_with((code_layer, (
            'x = keras.layers.ActivityRegularization(l1=lambtha)(x)\n'
            '    code = keras.layers.Dense(latent_dims, activation="relu")(x)'))),
        # a fixed weight: right for the visible example only
        "fixed_weight": reference_with(("L1(lambtha)", "L1(1e-5)")),
        "ten_times": reference_with(("L1(lambtha)", "L1(10 * lambtha)")),
        "l2_instead": reference_with(("L1(lambtha)", "L2(lambtha)")),
        # the right penalty, plus one on the decoder's input as well
        "also_in_decoder": reference_with((
            "x = code_input\n", "x = keras.layers.ActivityRegularization(l1=lambtha)("
            "code_input)\n")),
        # the penalty on the code layer's input to its ReLU, not on the code itself
        "before_relu": reference_with((code_layer, (
            'code = keras.layers.Dense(latent_dims,\n'
            '        activity_regularizer=keras.regularizers.L1(lambtha))(x)\n'
            '    code = keras.layers.ReLU()(code)'))),
        "no_sigmoid": reference_with(('activation="sigmoid"', 'activation="relu"')),
        "not_reversed": reference_with(("reversed(hidden_layers)", "hidden_layers")),
        "mse_loss": reference_with(('loss="binary_crossentropy"', 'loss="mse"')),
        "fake_models": FAKE_MODELS,
    }


globals().update(grading.task_tests(grading.GradedTask(
    NOTEBOOK, TASK, points={LAYERS: 2.0, PENALTY: 2.0, TRAINING: 2.0},
    correct={"reference": None, "layer_style": LAYER_STYLE, "l1l2_style": L1L2_STYLE},
    wrong={
        "l1_on_hidden": ({PENALTY}, "penalty the encoder adds for a known code"),
        "fixed_weight": ({PENALTY}, "penalty on a known code with lambtha=0.002"),
        "ten_times": ({PENALTY}, "penalty the encoder adds for a known code"),
        "l2_instead": ({PENALTY}, "penalty the encoder adds for a known code"),
        "also_in_decoder": ({PENALTY}, "activity penalty in the decoder"),
        "before_relu": ({PENALTY}, "after its ReLU"),
        "no_sigmoid": ({LAYERS}, "activations of auto"),
        "not_reversed": ({LAYERS}, "hidden layers reversed"),
        "mse_loss": ({TRAINING}, "auto's loss"),
        "fake_models": ({LAYERS, PENALTY, TRAINING}, "model with code of your own"),
    },
    sources=wrong_variants)))
