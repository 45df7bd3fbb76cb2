"""Behaviour probes of the graded Keras builders: what the models compute, not what they say.

:mod:`helpers.grading.model_checks` reads a model's structure (its layers, their classes,
activations, the optimizer's and the loss's names) and gives precise messages. A model
that lives in another process and is reached through a proxy can report any structure it
likes, so the points of the graded tasks (a) ``vanilla``, (b) ``sparse`` and (c)
``conv`` also rest on the probes here. Each probe sets the weights to values it picks,
runs the models on inputs it picks and compares what comes out with its own NumPy
computation of the specification; the loss and one Adam step are checked against its own
arithmetic. The probes use nothing but ``model.get_weights()``, ``model.set_weights()``,
``model(x)``, ``model.optimizer.learning_rate = value``, ``model.reset_metrics()`` and
``model.train_on_batch(x, y, return_dict=True)``.

The specification is written as a list of operations, data flow order::

    ("dense", units, activation)       Dense layer: weights kernel, bias
    ("conv", filters, padding, activation)   3x3 Conv2D, stride 1: weights kernel, bias
    ("pool",)                          MaxPooling2D(2, padding="same")
    ("up",)                            UpSampling2D(2), nearest neighbour

A model's weights must come in the order of its operations, kernel then bias, as Keras'
``get_weights()`` lists them for the layers of a ``Sequential`` or functional model. Each
check raises ``AssertionError`` with a message meant for the student. The training probes
need a freshly built model: Adam's first step is what they check.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from helpers.grading.vae_checks import expect, training_loss
from helpers.keras_versions import activity_loss_is_averaged

#: ``keras.backend.epsilon()``: binary cross-entropy clips predictions to [EPS, 1 - EPS].
EPS = 1e-7
#: Adam's defaults in Keras (``keras/src/optimizers/adam.py``).
ADAM_BETA_2, ADAM_EPSILON = 0.999, 1e-7
#: The learning rate of the probed optimizer step.
STEP_LR = 1e-3


# ---------------------------------------------------------------- the specifications
def dense_ops(input_dims: int, hidden_layers: Sequence[int], latent_dims: int):
    """Encoder and decoder operations of tasks (a) and (b)."""
    hidden = [int(u) for u in hidden_layers]
    encoder = [("dense", u, "relu") for u in [*hidden, int(latent_dims)]]
    decoder = [("dense", u, "relu") for u in reversed(hidden)]
    return encoder, [*decoder, ("dense", int(input_dims), "sigmoid")]


def conv_ops(input_dims: Sequence[int], filters: Sequence[int]):
    """Encoder and decoder operations of task (c)."""
    filters = [int(f) for f in filters]
    encoder = [op for f in filters for op in (("conv", f, "same", "relu"), ("pool",))]
    backwards = filters[::-1]
    decoder = [op for f in backwards[:-1] for op in (("conv", f, "same", "relu"), ("up",))]
    decoder += [("conv", backwards[-1], "valid", "relu"), ("up",),
                ("conv", int(input_dims[-1]), "same", "sigmoid")]
    return encoder, decoder


def weight_shapes(ops, input_shape: Sequence[int]) -> list[tuple[int, ...]]:
    """The shapes of the weights of ``ops`` applied to inputs of ``input_shape`` (no batch)."""
    shapes, channels = [], int(input_shape[-1])
    for op in ops:
        if op[0] == "dense":
            shapes += [(channels, op[1]), (op[1],)]
        elif op[0] == "conv":
            shapes += [(3, 3, channels, op[1]), (op[1],)]
        if op[0] in ("dense", "conv"):
            channels = op[1]
    return shapes


def random_weights(shapes, rng: np.random.Generator) -> list[np.ndarray]:
    """Kernels normal with standard deviation 1.2 / sqrt(fan-in) (outputs of order 1 at
    any width), biases normal with standard deviation 0.1; float32."""
    weights = []
    for shape in shapes:
        if len(shape) > 1:
            scale = 1.2 / np.sqrt(np.prod(shape[:-1]))
        else:
            scale = 0.1
        weights.append(rng.normal(0.0, scale, size=shape).astype(np.float32))
    return weights


# ---------------------------------------------------------------- NumPy forward passes
def activate(x: np.ndarray, activation: str) -> np.ndarray:
    """``relu`` or ``sigmoid``."""
    if activation == "relu":
        return np.maximum(x, 0.0)
    return 1.0 / (1.0 + np.exp(-x))


def conv2d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, padding: str) -> np.ndarray:
    """Conv2D, stride 1, odd square kernel, ``"same"`` (zeros around) or ``"valid"``."""
    k = kernel.shape[0]
    if padding == "same":
        x = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))
    return np.einsum("bhwcij,ijcf->bhwf", windows, kernel, optimize=True) + bias


def max_pool(x: np.ndarray) -> np.ndarray:
    """MaxPooling2D(2, padding="same"): an odd size is padded at the bottom and right."""
    b, h, w, c = x.shape
    padded = np.full((b, h + h % 2, w + w % 2, c), -np.inf)
    padded[:, :h, :w] = x
    return padded.reshape(b, padded.shape[1] // 2, 2, padded.shape[2] // 2, 2, c).max(axis=(2, 4))


def upsample(x: np.ndarray) -> np.ndarray:
    """UpSampling2D(2): each pixel repeated into a 2x2 block."""
    return np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)


def forward(ops, weights, x: np.ndarray, trace: list | None = None) -> np.ndarray:
    """``ops`` applied to ``x`` (float64), taking ``weights`` in order (kernel, bias).

    With ``trace``, Dense layers append ``(input, pre-activation)`` to it, for :func:`dense_grads`.
    """
    x, weights = np.asarray(x, np.float64), [np.asarray(w, np.float64) for w in weights]
    for op in ops:
        if op[0] == "pool":
            x = max_pool(x)
        elif op[0] == "up":
            x = upsample(x)
        else:
            kernel, bias, weights = weights[0], weights[1], weights[2:]
            pre = x @ kernel + bias if op[0] == "dense" else conv2d(x, kernel, bias, op[2])
            if trace is not None:
                trace.append((x, pre))
            x = activate(pre, op[-1])
    return x


def bce(target: np.ndarray, output: np.ndarray) -> float:
    """Binary cross-entropy of probabilities, as Keras computes it from probabilities:
    clipped to [EPS, 1 - EPS] in float32 (where 1 - EPS is 1 - 1.19e-7), mean over the
    last axis, then over every other axis (the batch, and the pixels of an image). On a
    sigmoid layer Keras works from its logits instead; the two agree unless outputs
    saturate, which the probes' weights avoid."""
    eps = np.float32(EPS)
    p = np.clip(np.asarray(output, np.float32), eps, np.float32(1.0) - eps).astype(np.float64)
    t = np.asarray(target, np.float64)
    return float(np.mean(-(t * np.log(p) + (1.0 - t) * np.log(1.0 - p))))


def l1_loss(code: np.ndarray, lambtha: float) -> float:
    """The L1 activity loss Keras adds for ``code``: ``lambtha * sum |code|``, divided by
    the batch size where this Keras averages activity losses (3.15), not where it sums (3.13)."""
    total = float(lambtha) * float(np.abs(code).sum())
    return total / len(code) if activity_loss_is_averaged() else total


def dense_grads(ops, weights, x: np.ndarray, target: np.ndarray) -> list[np.ndarray]:
    """Gradients of the binary cross-entropy of a chain of Dense layers ending in a sigmoid
    (through its logits, as Keras computes it), in the order of ``weights``."""
    trace: list = []
    p = forward(ops, weights, x, trace)
    delta = (p - target) / p.size  # d loss / d logits of the mean cross-entropy
    grads: list[np.ndarray] = []
    for i in reversed(range(len(ops))):
        inputs, pre = trace[i]
        if ops[i][-1] == "relu":
            delta = delta * (pre > 0)
        grads[:0] = [inputs.T @ delta, delta.sum(axis=0)]
        delta = delta @ np.asarray(weights[2 * i], np.float64).T
    return grads


# ---------------------------------------------------------------- helpers of the checks
def _shapes(model) -> list[tuple[int, ...]]:
    return [tuple(int(d) for d in np.shape(w)) for w in model.get_weights()]


def _call(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model(np.asarray(x, np.float32)), dtype=np.float64)


def expect_weight_shapes(model, want: list[tuple[int, ...]], name: str) -> None:
    """``model.get_weights()`` lists arrays of the shapes ``want``, in that order."""
    got = _shapes(model)
    expect(got == want,
           f"{name}.get_weights() should list the kernel and bias of each layer in the order "
           f"data flows through them, of shapes {want}; it lists {got}. The checks set "
           "weights of their own in this order to test what the model computes.")


def expect_computes(model, ops, weights, x: np.ndarray, name: str, hint: str = "") -> None:
    """With ``weights`` set, ``model(x)`` equals the NumPy computation of ``ops``."""
    model.set_weights(weights)
    got, want = _call(model, x), forward(ops, weights, x)
    expect(got.shape == want.shape,
           f"{name}(x) should have shape {want.shape} for x of shape {x.shape}, got {got.shape}")
    error = float(np.max(np.abs(got - want)))
    expect(error <= _tolerance() * max(1.0, float(np.max(np.abs(want)))),
           f"{name} computes something other than the task asks for: with weights the check "
           f"chose (random, set with {name}.set_weights) and random inputs, {name}(x) differs "
           f"from the expected output by up to {error:.3g} (expected {_head(want)}, got "
           f"{_head(got)}).{hint}")


def _tolerance() -> float:
    """How far a correct model's float32 output may be from NumPy's: 1e-4 on a CPU; on a
    GPU, 5e-3, as recent GPUs multiply in TF32 (10-bit mantissas) by default."""
    global _TOLERANCE
    if _TOLERANCE is None:
        import keras

        gpus = keras.backend.backend() == "tensorflow" and __import__(
            "tensorflow").config.list_logical_devices("GPU")
        _TOLERANCE = 5e-3 if gpus else 1e-4
    return _TOLERANCE


_TOLERANCE: float | None = None


def _head(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in np.ravel(values)[:3]) + ", ...]"


def _unit_inputs(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.uniform(size=shape).astype(np.float32)


# ---------------------------------------------------------------- shapes of real calls
def expect_call_shapes(encoder, decoder, auto, input_shape, code_shape, output_shape,
                       seed: int = 0) -> None:
    """The models, called on random inputs, return batches of the expected shapes, and
    what they return depends on the input.

    Random weights of the models' own shapes are set first, with positive biases: a ReLU
    layer of the default initialisation (zero biases) can happen to be dead for every input.
    """
    rng = np.random.default_rng(seed)
    for model in (encoder, decoder, auto):
        model.set_weights([w if w.ndim > 1 else np.abs(w) + np.float32(0.1)
                           for w in _own_weights(model, rng)])
    x = _unit_inputs(rng, (3, *input_shape))
    z = rng.uniform(0.0, 2.0, size=(3, *code_shape)).astype(np.float32)
    for name, model, inputs, shape in (("encoder", encoder, x, code_shape),
                                       ("decoder", decoder, z, output_shape),
                                       ("auto", auto, x, output_shape)):
        out = _call(model, inputs)
        expect(out.shape == (3, *shape),
               f"{name} called on a batch of 3 inputs of shape {tuple(inputs.shape[1:])} should "
               f"return shape {(3, *shape)}, got {out.shape}")
        expect(np.all(np.isfinite(out)) and not np.allclose(out[0], out[1]),
               f"{name} returns the same output for different inputs: it should compute its "
               "output from its input")


# ---------------------------------------------------------------- forward probes
_ORDER_HINT = (" Check each layer's activation (relu inside, sigmoid at the end of the "
               "decoder), that the decoder reverses the encoder, and that auto is "
               "decoder(encoder(x)).")


def _expect_all_compute(models, enc_ops, dec_ops, input_shape, code_shape, x, z,
                        rng) -> None:
    encoder, decoder, auto = models
    enc_shapes = weight_shapes(enc_ops, input_shape)
    dec_shapes = weight_shapes(dec_ops, code_shape)
    for name, model, shapes in (("encoder", encoder, enc_shapes),
                                ("decoder", decoder, dec_shapes),
                                ("auto", auto, enc_shapes + dec_shapes)):
        expect_weight_shapes(model, shapes, name)
    w_enc, w_dec = random_weights(enc_shapes, rng), random_weights(dec_shapes, rng)
    expect_computes(encoder, enc_ops, w_enc, x, "encoder", _ORDER_HINT)
    expect_computes(decoder, dec_ops, w_dec, z, "decoder", _ORDER_HINT)
    expect_computes(auto, enc_ops + dec_ops, w_enc + w_dec, x, "auto", _ORDER_HINT)


def expect_dense_forward(encoder, decoder, auto, input_dims: int, hidden_layers,
                         latent_dims: int, seed: int = 0) -> None:
    """Tasks (a) and (b): with random weights, ``encoder(x)``, ``decoder(z)`` and
    ``auto(x)`` are the Dense-relu chains of the task (sigmoid at the decoder's end)."""
    rng = np.random.default_rng(seed)
    enc_ops, dec_ops = dense_ops(input_dims, hidden_layers, latent_dims)
    x = _unit_inputs(rng, (8, input_dims))
    z = rng.uniform(0.0, 2.0, size=(8, latent_dims)).astype(np.float32)
    _expect_all_compute((encoder, decoder, auto), enc_ops, dec_ops, (input_dims,),
                        (latent_dims,), x, z, rng)


def expect_conv_forward(encoder, decoder, auto, input_dims, filters, latent_dims,
                        seed: int = 0) -> None:
    """Task (c): with random weights, the three models compute the convolutions, poolings
    and upsamplings of the task."""
    rng = np.random.default_rng(seed)
    enc_ops, dec_ops = conv_ops(input_dims, filters)
    x = _unit_inputs(rng, (2, *input_dims))
    z = rng.uniform(0.0, 2.0, size=(2, *latent_dims)).astype(np.float32)
    _expect_all_compute((encoder, decoder, auto), enc_ops, dec_ops, tuple(input_dims),
                        tuple(latent_dims), x, z, rng)


# ---------------------------------------------------------------- loss and optimizer step
def _own_weights(model, rng) -> list[np.ndarray]:
    return random_weights(_shapes(model), rng)


def expect_bce_loss(got: float, output: np.ndarray, target: np.ndarray,
                    extra: float = 0.0) -> None:
    """``got``, the loss of a training step, is the binary cross-entropy between ``target``
    and ``output`` (what auto output for the step's inputs), plus ``extra``."""
    want = bce(target, output) + extra
    hint = ""
    if np.isclose(got, float(np.mean((output - target) ** 2)) + extra, rtol=1e-3):
        hint = " That is the mean squared error."
    expect(abs(got - want) <= 1e-4 * max(1.0, abs(want)),
           f"auto's training loss should be the binary cross-entropy between the targets and "
           f"auto's output (averaged over outputs and examples): expected {want:.6g}, got "
           f"{got:.6g}.{hint}")


def _adam_step(auto, weights, x, target, lr: float):
    """Weights set, one ``train_on_batch`` at learning rate ``lr``; (loss, moves per array)."""
    auto.set_weights(weights)
    auto.optimizer.learning_rate = lr
    auto.reset_metrics()
    auto.run_eagerly = True   # the same numbers, without seconds of tracing for one step
    loss = float(auto.train_on_batch(x, target, return_dict=True)["loss"])
    moves = [np.asarray(after, np.float64) - np.asarray(before, np.float64)
             for before, after in zip(weights, auto.get_weights(), strict=True)]
    return loss, moves


def _expect_adam_signature(moves, lr: float, min_share: float) -> None:
    steps = np.abs(np.concatenate([m.ravel() for m in moves])) / lr
    expect(steps.max() <= 1.02,
           "after one training step some weights moved by "
           f"{steps.max():.3g} times the learning rate: Adam's first step moves each weight "
           "by at most the learning rate. Is auto compiled with optimizer='adam'?")
    share = float(np.mean(steps > 0.9))
    expect(share >= min_share,
           f"after one training step only {share:.0%} of the weights moved by about the "
           "learning rate: Adam's first step moves every weight with a sizeable gradient by "
           "the learning rate (SGD moves it by the learning rate times the gradient). Is "
           "auto compiled with optimizer='adam'?")


def _expect_adam_directions(moves, grads, lr: float) -> None:
    eps = ADAM_EPSILON / np.sqrt(1.0 - ADAM_BETA_2)  # epsilon as it acts on |g| at step 1
    g = np.concatenate([gr.ravel() for gr in grads])
    moved = np.concatenate([m.ravel() for m in moves])
    clear = np.abs(g) > max(10 * eps, 1e-3 * float(np.abs(g).max()))
    want = -lr * g[clear] / (np.abs(g[clear]) + eps)
    wrong = np.abs(moved[clear] - want) > 0.02 * lr
    expect(clear.any() and not wrong.any(),
           f"after one training step {int(wrong.sum())} of {int(clear.sum())} weights with a "
           "clear gradient did not move as Adam moves them (by the learning rate, against "
           "the sign of the gradient of the binary cross-entropy). Is auto compiled with "
           "optimizer='adam' and loss='binary_crossentropy'?")


def _expect_lower_loss(auto, x, target, before: float) -> None:
    after = _loss_at_zero_lr(auto, x, target)
    expect(after < before,
           f"one training step should lower the loss on the same batch: {before:.6g} -> "
           f"{after:.6g}")


def _loss_at_zero_lr(auto, x, target) -> float:
    auto.optimizer.learning_rate = 0.0
    auto.reset_metrics()
    return float(auto.train_on_batch(x, target, return_dict=True)["loss"])


def expect_dense_training(auto, input_dims: int, hidden_layers, latent_dims: int,
                          code_off: bool = False, seed: int = 0) -> None:
    """Tasks (a) and (b), on a freshly built ``auto``: the loss of a step is the binary
    cross-entropy of auto's output, Adam's first step moves each weight by the learning
    rate against its gradient (a NumPy backpropagation, when auto computes the task's
    function; the layers are :func:`expect_dense_forward`'s to check), and the loss drops.

    ``code_off`` sets the encoder's weights to zero, so that the code is zero and an
    activity penalty on the encoder (task (b)'s, checked by :func:`expect_l1_penalty`)
    adds nothing: the encoder's weights get no gradient and must not move.
    """
    rng = np.random.default_rng(seed)
    enc_ops, dec_ops = dense_ops(input_dims, hidden_layers, latent_dims)
    spec = weight_shapes(enc_ops + dec_ops, (input_dims,))
    weights = random_weights(spec, rng) if _shapes(auto) == spec else _own_weights(auto, rng)
    if code_off:  # a zero code, and decoder biases large enough to give clear gradients
        n_enc = min(len(weights), 2 * len(enc_ops))
        weights = [np.zeros_like(w) for w in weights[:n_enc]] + [
            w if w.ndim > 1 else rng.normal(0.5, 0.5, w.shape).astype(np.float32)
            for w in weights[n_enc:]]
    x = _unit_inputs(rng, (16, input_dims))
    auto.set_weights(weights)
    output = _call(auto, x)
    loss, moves = _adam_step(auto, weights, x, x, STEP_LR)  # first: Adam's first step
    expect_bce_loss(loss, output, x)
    _expect_adam_signature(moves, STEP_LR, 0.1 if code_off else 0.25)
    if _shapes(auto) == spec and np.allclose(output, forward(enc_ops + dec_ops, weights, x),
                                             atol=1e-4):
        _expect_adam_directions(moves, dense_grads(enc_ops + dec_ops, weights, x, x), STEP_LR)
    _expect_lower_loss(auto, x, x, loss)


def expect_conv_training(auto, input_dims, seed: int = 0) -> None:
    """Task (c), on a freshly built ``auto``: the loss of a step is the binary cross-entropy
    of auto's output, Adam's first step moves the weights by about the learning rate and
    at most by it, and the loss drops."""
    rng = np.random.default_rng(seed)
    weights = _own_weights(auto, rng)
    x = _unit_inputs(rng, (4, *input_dims))
    auto.set_weights(weights)
    output = _call(auto, x)
    target = _unit_inputs(rng, output.shape)
    loss, moves = _adam_step(auto, weights, x, target, STEP_LR)  # first: Adam's first step
    expect_bce_loss(loss, output, target)
    _expect_adam_signature(moves, STEP_LR, 0.25)
    _expect_lower_loss(auto, x, target, loss)


# ---------------------------------------------------------------- the L1 penalty of task (b)
def expect_l1_penalty(auto, input_dims: int, hidden_layers, latent_dims: int,
                      lambtha: float, seed: int = 0, encoder=None) -> None:
    """Task (b): the training loss carries ``lambtha`` times the L1 norm of the code.

    The decoder's kernels are set to zero, so that its output, and with it the
    reconstruction loss (whichever it is), does not depend on the code. The loss with
    random encoder weights, minus the loss with the encoder's weights at zero (a zero
    code), is then the penalty alone; it must be the L1 penalty of the code, scaled as
    this Keras scales activity losses. The code is the ``encoder``'s own output for the
    same weights, if it is given (so a mistake in the encoder's layers costs the layers
    test, not this one), else the NumPy encoder's.
    """
    rng = np.random.default_rng(seed)
    enc_ops, _ = dense_ops(input_dims, hidden_layers, latent_dims)
    enc_shapes = weight_shapes(enc_ops, (input_dims,))
    own = _shapes(auto)
    expect(own[:len(enc_shapes)] == enc_shapes,
           f"auto.get_weights() should start with the encoder's kernels and biases, of shapes "
           f"{enc_shapes}; it starts with {own[:len(enc_shapes)]}")
    w_enc = random_weights(enc_shapes, rng)
    w_dec = [np.zeros(s, np.float32) if len(s) > 1 else rng.normal(0, 0.1, s).astype(np.float32)
             for s in own[len(enc_shapes):]]
    x = _unit_inputs(rng, (8, input_dims))
    auto.set_weights(w_enc + w_dec)
    with_code = training_loss(auto, x)
    auto.set_weights([np.zeros_like(w) for w in w_enc] + w_dec)
    without = training_loss(auto, x)
    code = forward(enc_ops, w_enc, x)
    if encoder is not None:
        encoder.set_weights(w_enc)
        own_code = _call(encoder, x)
        expect(own_code.shape == code.shape
               and np.abs(own_code).sum() >= 0.1 * np.abs(code).sum(),
               f"with weights the check chose, the encoder's code should have shape "
               f"{code.shape} and not be (nearly) all zeros; it has shape {own_code.shape} "
               f"and L1 norm {float(np.abs(own_code).sum()):.3g}")
        encoder.set_weights([np.zeros_like(w) for w in w_enc])
        zero_code = _call(encoder, x)        # relu(0) = 0; another activation need not be
        code = own_code
    else:
        zero_code = np.zeros_like(code)
    want = l1_loss(code, lambtha) - l1_loss(zero_code, lambtha)
    got = with_code - without
    hint = ""
    if abs(got) <= 1e-2 * abs(want):
        hint = " No penalty on the code reaches the training loss."
    elif abs(got - 2 * want) <= 5e-2 * abs(want):
        hint = (" That is about twice the penalty: is there an activity penalty in the "
                "decoder too (on its input, the code), or is the penalty on the code "
                "layer's output before its ReLU?")
    expect(abs(got - want) <= 1e-2 * abs(want) + 1e-6,
           f"the training loss should include an L1 penalty of weight lambtha={lambtha:g} on "
           f"the code (the encoder's output, after its ReLU): for codes the check chose it "
           f"should add {want:.5g} to the loss, it added {got:.5g}.{hint}")
