"""Look inside Keras models from a test cell, whatever style built them (``Sequential`` or
functional, nested, an activation as an argument or a layer, an L1 penalty as a
regularizer or a layer): by what a model does, never by layer names or indices, and
layer types by class name along the class hierarchy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from helpers.keras_versions import activity_loss_is_averaged

#: Layers that pass their input through unchanged (an activity penalty aside).
PASS_THROUGH = ("ActivityRegularization", "Dropout", "GaussianNoise", "Identity")

#: Layers that only apply an activation function.
ACTIVATION_LAYERS = ("Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU")
#: The activation that layers of these classes apply (``Activation`` says its own).
_ACTIVATION_OF = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "ELU": "elu",
                  "Softmax": "softmax"}

#: Common spellings of the same loss (underscores dropped: :func:`loss_name`), one name.
_LOSS_ALIASES = {"bce": "binary_crossentropy", "binarycrossentropy": "binary_crossentropy",
                 "mse": "mean_squared_error", "meansquarederror": "mean_squared_error",
                 "mae": "mean_absolute_error", "meanabsoluteerror": "mean_absolute_error"}


# ---------------------------------------------------------------- layers
def is_a(obj: Any, *class_names: str) -> bool:
    """Whether ``obj`` is an instance of a class named one of ``class_names`` (or a subclass)."""
    return any(cls.__name__ in class_names for cls in type(obj).__mro__)


def is_model(layer: Any) -> bool:
    """Whether ``layer`` is itself a model (``Sequential``, functional or subclassed)."""
    return is_a(layer, "Model", "Functional", "Sequential")


def layers_of(model: Any) -> list[Any]:
    """All layers of ``model`` in data-flow order, nested models flattened, no ``InputLayer``."""
    return [leaf for layer in model.layers if not is_a(layer, "InputLayer")
            for leaf in (layers_of(layer) if is_model(layer) else [layer])]


def layers_of_type(model: Any, *class_names: str) -> list[Any]:
    """The layers of ``model`` (see :func:`layers_of`) whose class is one of ``class_names``."""
    return [layer for layer in layers_of(model) if is_a(layer, *class_names)]


def conv_layers(model: Any) -> list[Any]:
    """The ``Conv2D`` layers of ``model``, in order (transposed convolutions excluded)."""
    return [layer for layer in layers_of_type(model, "Conv2D")
            if not is_a(layer, "Conv2DTranspose")]


def layer_kinds(model: Any) -> list[str]:
    """The layers' :func:`keras_kind`, without pass-through and activation-only layers."""
    return [keras_kind(layer) for layer in layers_of(model)
            if not is_a(layer, *PASS_THROUGH, *ACTIVATION_LAYERS)]


def keras_kind(layer: Any) -> str:
    """The Keras layer class a layer is or derives from (``class MyDense(Dense)``: ``"Dense"``)."""
    return next((cls.__name__ for cls in type(layer).__mro__
                 if cls.__module__.split(".")[0] in ("keras", "tf_keras")), type(layer).__name__)


# ---------------------------------------------------------------- activations
def _function_name(fn: Any) -> str:
    return (getattr(fn, "__name__", None) or type(fn).__name__).lower()


def activation_name(layer: Any) -> str:
    """A layer's activation, from its ``activation`` or its class; else ``"linear"``."""
    for cls in type(layer).__mro__:
        if cls.__name__ in _ACTIVATION_OF:
            return _ACTIVATION_OF[cls.__name__]
    fn = getattr(layer, "activation", None)
    return "linear" if fn is None else _function_name(fn)


def effective_activations(model: Any, kind: str = "Dense") -> list[str]:
    """For each layer of class ``kind``, the activation its output finally goes through:
    its own, or if that is linear, that of the activation-only layers right after it
    (pass-through layers skipped)."""
    flat, names = layers_of(model), []
    for i, layer in enumerate(flat):
        if is_a(layer, kind):
            names.append(activation_name(layer))
            for after in flat[i + 1:]:
                if names[-1] != "linear" or not is_a(after, *ACTIVATION_LAYERS, *PASS_THROUGH):
                    break
                if is_a(after, *ACTIVATION_LAYERS):
                    names[-1] = activation_name(after)
    return names


# ---------------------------------------------------------------- weights and shapes
def weight_shapes(model: Any) -> list[tuple[int, ...]]:
    """The shapes of the model's weights, in layer order."""
    return [tuple(int(d) for d in w.shape) for w in model.weights]


def kernel_shapes(model: Any, kind: str = "Dense") -> list[tuple[int, ...]]:
    """The kernel shapes of the layers of class ``kind``, in order."""
    return [tuple(int(d) for d in layer.kernel.shape) for layer in layers_of_type(model, kind)]


# ---------------------------------------------------------------- regularization
def l1_penalty_on_code(model: Any, code: np.ndarray) -> float:
    """The activity-regularization loss ``model`` adds when its output is the batch
    ``code`` (the regularizers of its last computing layer and of the pass-through layers
    after it), per example: an L1 of weight ``lam`` gives ``lam * mean(sum(|code|))``."""
    import keras

    z = keras.ops.convert_to_tensor(np.asarray(code, dtype=np.float32))
    total = 0.0
    for layer in reversed(layers_of(model)):
        reg = getattr(layer, "activity_regularizer", None)
        if reg is not None:
            total += float(keras.ops.convert_to_numpy(reg(z)))
        if not is_a(layer, *PASS_THROUGH):
            break
    return total / max(1, int(np.shape(code)[0]))


def activity_loss(model: Any, x: np.ndarray) -> float:
    """The model's activity losses on ``x``, per example on either Keras (3.15 averages)."""
    import keras

    model(np.asarray(x, dtype=np.float32))
    total = float(sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses))
    return total if activity_loss_is_averaged() else total / max(1, len(x))


# ---------------------------------------------------------------- compilation and training
#: Adam's settings that change how it moves the weights, at their defaults (not the learning
#: rate and epsilon: the tests set one, the probes judge the other). ``use_ema``, say,
#: leaves Adam's first step exact and stops the training after it.
ADAM_DEFAULTS = {"beta_1": 0.9, "beta_2": 0.999, "amsgrad": False, "weight_decay": None,
                 "clipnorm": None, "clipvalue": None, "global_clipnorm": None,
                 "use_ema": False, "gradient_accumulation_steps": None,
                 "loss_scale_factor": None}


def optimizer_settings(optimizer: Any) -> dict[str, Any]:
    """The :data:`ADAM_DEFAULTS` settings ``optimizer.get_config()`` reports otherwise."""
    try:
        config = optimizer.get_config()
    except Exception:  # noqa: BLE001 - an optimizer that cannot say: nothing to compare
        return {}
    return {key: config[key] for key, default in ADAM_DEFAULTS.items()
            if key in config and not _same_setting(config[key], default)}


def _same_setting(value: Any, default: Any) -> bool:
    """A setting that moves the weights as the default does (float32, decay 0)."""
    if isinstance(default, float) and isinstance(value, int | float) \
            and not isinstance(value, bool):
        return abs(float(value) - default) <= 1e-6 * abs(default)
    if default is None and value == 0 and not isinstance(value, bool):
        return True
    return value == default


def optimizer_name(model: Any) -> str | None:
    """The optimizer's name in lower case (None: uncompiled), Adam's off-default settings too."""
    opt = getattr(model, "optimizer", None)
    if opt is None:
        return None
    inner = getattr(opt, "inner_optimizer", None)  # a LossScaleOptimizer wraps the real one
    name = type(inner or opt).__name__.lower()
    changed = optimizer_settings(inner or opt) if name == "adam" else {}
    if changed:
        name += f" ({', '.join(f'{k}={v!r}' for k, v in changed.items())})"
    return name


def loss_name(model: Any) -> str | None:
    """The compiled loss as one snake-case name, ``None`` if there is none."""
    loss = getattr(model, "loss", None)
    if loss is None:
        return None
    if isinstance(loss, str):
        name = loss.lower()
    elif hasattr(loss, "fn"):  # a Loss object wrapping a function
        name = _function_name(loss.fn)
    elif callable(loss) and hasattr(loss, "__name__"):
        name = loss.__name__.lower()
    else:
        name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(loss).__name__).lower()
    return _LOSS_ALIASES.get(name, _LOSS_ALIASES.get(name.replace("_", ""), name))


def train_losses(model: Any, x: np.ndarray, steps: int = 5,
                 batch_size: int = 64) -> tuple[float, float]:
    """The model's own loss on ``x`` before and after ``steps`` training steps."""
    before = float(np.ravel(model.evaluate(x, x, batch_size=batch_size, verbose=0))[0])
    n = min(len(x), steps * batch_size)
    for step in range(steps):
        idx = np.arange(step * batch_size, (step + 1) * batch_size) % n
        model.train_on_batch(x[idx], x[idx])
    after = float(np.ravel(model.evaluate(x, x, batch_size=batch_size, verbose=0))[0])
    return before, after


# ---------------------------------------------------------------- assertions for test cells
def expect(condition: bool, message: str) -> None:
    """Raise ``AssertionError(message)`` unless ``condition`` (kept under ``python -O``)."""
    if not condition:
        raise AssertionError(message)


def expect_equal(got: Any, expected: Any, what: str) -> None:
    """Raise an ``AssertionError`` naming ``what`` unless ``got == expected``."""
    if got != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {got!r}")


def expect_close(got: float, expected: float, what: str, rtol: float = 1e-3,
                 atol: float = 1e-9) -> None:
    """Raise an ``AssertionError`` naming ``what`` unless ``got`` is close to ``expected``."""
    if not np.isclose(got, expected, rtol=rtol, atol=atol):
        raise AssertionError(f"{what}: expected {expected:.6g}, got {got:.6g}")


def expect_io(model: Any, input_shape: Sequence[int], output_shape: Sequence[int],
              name: str = "model") -> None:
    """``model`` is a Keras model mapping ``input_shape`` to ``output_shape`` (no batch)."""
    expect(is_model(model), f"{name} should be a Keras model, got {type(model).__name__}")
    try:
        declared = model.inputs[0].shape
    except (AttributeError, ValueError, IndexError, TypeError):
        raise AssertionError(f"{type(model).__name__} has no defined input; start it with "
                             "keras.Input(shape=...)") from None
    expect_equal(tuple(None if d is None else int(d) for d in declared[1:]), tuple(input_shape),
                 f"{name}: input shape (without the batch axis)")
    out = model(np.zeros((1, *input_shape), dtype=np.float32))
    expect_equal(tuple(int(d) for d in np.shape(out)[1:]), tuple(output_shape),
                 f"{name}: output shape for an input of shape {tuple(input_shape)}")


def expect_composed(auto: Any, encoder: Any, decoder: Any, x: np.ndarray) -> None:
    """``auto(x)`` equals ``decoder(encoder(x))``: the same layers, same weights."""
    got = np.asarray(auto(x))
    want = np.asarray(decoder(encoder(x)))
    expect(got.shape == want.shape and np.allclose(got, want, atol=1e-5),
           "auto(x) should equal decoder(encoder(x)), using the encoder and decoder "
           "returned (not copies with other weights)")
