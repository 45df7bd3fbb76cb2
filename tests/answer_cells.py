"""Answer cells the grading tests share, as source.

The red team's fake models: no Keras at all, plain classes
named as Keras' are, which report the spec's structure, a compiled Adam and binary
cross-entropy, and a loss that falls at each ``evaluate``, but compute nothing (they
output zeros) and cannot be saved, so the checks have only their claims.

A grading test composes its fake from these parts and a builder of the task's own
signature; the checks must score it 0 inside the notebook and outside.

And a small honest builder, for the tests of the answer process and its channel.
"""

from __future__ import annotations

#: What every fake needs: numpy, an optimizer class named Adam, shapes, activations.
PRELUDE = '''
import numpy as np


class Adam:
    pass


class Shape:
    def __init__(self, shape):
        self.shape = tuple(shape)


def relu(x):
    return x


def sigmoid(x):
    return x
'''

#: The parts every fake model shares: its layers' weights, a falling loss, no file.
_MODEL_COMMON = '''
    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    trainable_weights = weights

    @property
    def losses(self):
        return [np.float32(0.0)]

    def predict(self, x, **kwargs):
        return self(x)

    def evaluate(self, *args, **kwargs):
        self.ticks += 1
        return 1.0 / self.ticks

    def train_on_batch(self, *args, **kwargs):
        return 0.0

    def save(self, path):
        raise ValueError("nope")
'''

#: Dense layers ``a -> b`` and a model of them, ``Model(sizes, activations, name)``,
#: whose output is zeros of its last size (``out``).
DENSE = '''

class Dense:
    def __init__(self, a, b, act):
        self.units, self.kernel, self.activation = b, Shape((a, b)), act
        self.name = "dense_%d_%d" % (a, b)
        self.weights = self.trainable_weights = [Shape((a, b)), Shape((b,))]


class Model:
    def __init__(self, sizes, acts, name):
        self.name, self.out, self.ticks = name, sizes[-1], 0
        self.layers = [Dense(a, b, f) for a, b, f in zip(sizes[:-1], sizes[1:], acts)]
        self.inputs = [Shape((None, sizes[0]))]
        self.optimizer, self.loss = Adam(), "binary_crossentropy"

    def __call__(self, x, **kwargs):
        return np.zeros((len(x), self.out), dtype=np.float32)
''' + _MODEL_COMMON

#: Conv2D, MaxPooling2D and UpSampling2D layers and
#: ``Model(layers, shape_in, shape_out, name)``, whose output is zeros of ``shape_out``.
CONV = '''

class Thing:
    count = 0

    def __init__(self):
        Thing.count += 1
        self.name = "fake_%d" % Thing.count
        self.weights = self.trainable_weights = []


class Conv2D(Thing):
    def __init__(self, cin, f, padding, act):
        super().__init__()
        self.filters, self.kernel_size, self.padding, self.activation = f, (3, 3), padding, act
        self.kernel = Shape((3, 3, cin, f))
        self.weights = self.trainable_weights = [Shape((3, 3, cin, f)), Shape((f,))]


class MaxPooling2D(Thing):
    pool_size = (2, 2)


class UpSampling2D(Thing):
    size = (2, 2)


class Model:
    def __init__(self, layers, shape_in, shape_out, name):
        self.layers, self.name, self.ticks = layers, name, 0
        self.inputs = [Shape((None, *shape_in))]
        self.shape_out = tuple(shape_out)
        self.optimizer, self.loss = Adam(), "binary_crossentropy"

    def __call__(self, x, **kwargs):
        return np.zeros((len(x), *self.shape_out), np.float32)
''' + _MODEL_COMMON

#: The vanilla builder (task a) of the dense fakes.
DENSE_BUILDER = '''

def autoencoder(input_dims, hidden_layers, latent_dims):
    sizes = [input_dims, *hidden_layers, latent_dims]
    hid = [relu] * len(hidden_layers)
    encoder = Model(sizes, hid + [relu], "encoder")
    decoder = Model(sizes[::-1], hid + [sigmoid], "decoder")
    auto = Model(sizes, hid + [relu], "autoencoder")
    auto.layers, auto.out = encoder.layers + decoder.layers, input_dims
    return encoder, decoder, auto
'''

#: An honest answer: ``standard(n)`` builds a compiled encoder and autoencoder of ``n``
#: inputs, 2 codes.
STANDARD = """
import keras

def standard(n):
    x = keras.Input(shape=(n,))
    encoder = keras.Model(x, keras.layers.Dense(2, activation="relu")(x), name="encoder")
    auto = keras.Model(x, keras.layers.Dense(n)(encoder(x)), name="auto")
    auto.compile(optimizer="adam", loss="mse")
    return encoder, auto
"""
