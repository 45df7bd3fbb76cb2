"""Behaviour probes of the graded Keras builders: what the models compute, not what they say
(why, and the only calls they may make on a model: docs/authoring.md, "Graded tasks
(nbgrader)"). Each check raises ``AssertionError`` with a message for the student.

The specification is a list of operations in data-flow order, their weights in the order
``get_weights()`` lists them::

    ("dense", units, activation)             Dense layer: weights kernel, bias
    ("conv", filters, padding, activation)   3x3 Conv2D, stride 1: weights kernel, bias
    ("pool",)                                MaxPooling2D(2, padding="same")
    ("up",)                                  UpSampling2D(2), nearest neighbour
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from helpers.grading import model_checks as mc
from helpers.grading.model_checks import expect
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
    """The shapes of the weights of ``ops`` on inputs of ``input_shape`` (no batch)."""
    shapes, channels = [], int(input_shape[-1])
    for op in ops:
        if op[0] in ("dense", "conv"):
            kernel = (channels, op[1]) if op[0] == "dense" else (3, 3, channels, op[1])
            shapes, channels = [*shapes, kernel, (op[1],)], op[1]
    return shapes


def random_weights(shapes, rng: np.random.Generator) -> list[np.ndarray]:
    """Kernels normal, std 1.2 / sqrt(fan-in) (outputs of order 1), biases 0.1; float32."""
    return [rng.normal(0.0, 1.2 / np.sqrt(np.prod(shape[:-1])) if len(shape) > 1 else 0.1,
                       size=shape).astype(np.float32) for shape in shapes]


# ---------------------------------------------------------------- NumPy forward passes
ACTIVATIONS = {"relu": lambda x: np.maximum(x, 0.0), "linear": lambda x: x,
               "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x))}


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
    """``ops`` on ``x`` in float64; ``trace`` gets each layer's (input, pre-activation)."""
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
            x = ACTIVATIONS[op[-1]](pre)
    return x


def bce(target: np.ndarray, output: np.ndarray) -> float:
    """Binary cross-entropy as Keras computes it from probabilities: clipped to
    [EPS, 1 - EPS] in float32, mean over every axis (from a sigmoid's logits it agrees
    unless outputs saturate, which the probes' weights avoid)."""
    eps = np.float32(EPS)
    p = np.clip(np.asarray(output, np.float32), eps, np.float32(1.0) - eps).astype(np.float64)
    t = np.asarray(target, np.float64)
    return float(np.mean(-(t * np.log(p) + (1.0 - t) * np.log(1.0 - p))))


def l1_loss(code: np.ndarray, lambtha: float) -> float:
    """Keras' L1 activity loss, ``lambtha * sum |code|``, per example where Keras averages."""
    total = float(lambtha) * float(np.abs(code).sum())
    return total / len(code) if activity_loss_is_averaged() else total


def dense_grads(ops, weights, x: np.ndarray, target: np.ndarray) -> list[np.ndarray]:
    """Gradients of the cross-entropy of Dense layers ending in a sigmoid, as ``weights``."""
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


def _outputs(model, x, training: bool = True) -> list[np.ndarray]:
    """A model's outputs, one or several (the VAE's encoder), float64."""
    result = model(np.asarray(x, np.float32), training=training)
    if not isinstance(result, list | tuple):
        result = [result]
    return [np.asarray(r, np.float64) for r in result]


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    """``got`` is ``want`` up to float32 rounding (:func:`_tolerance`)."""
    return got.shape == want.shape and float(np.max(np.abs(got - want))) <= (
        _tolerance() * max(1.0, float(np.max(np.abs(want)))))


def _computes(model, ops, weights, x: np.ndarray, got: np.ndarray) -> bool:
    """``model`` lists the weights of ``ops``, and its output ``got`` is what they compute."""
    return _shapes(model) == weight_shapes(ops, x.shape[1:]) and _close(
        got, forward(ops, weights, x))


def expect_weight_shapes(model, want: list[tuple[int, ...]], name: str) -> None:
    """``model.get_weights()`` lists arrays of the shapes ``want``, in that order."""
    got = _shapes(model)
    expect(got == want,
           f"{name}.get_weights() should list the kernel and bias of each layer in the order "
           f"data flows through them, of shapes {want}; it lists {got}. The checks set "
           "weights of their own in this order to test what the model computes.")


def expect_computes(model, ops, weights, x: np.ndarray, name: str, hint: str) -> None:
    """With ``weights`` set, ``model(x)`` equals the NumPy computation of ``ops``."""
    model.set_weights(weights)
    got, want = _call(model, x), forward(ops, weights, x)
    expect(got.shape == want.shape,
           f"{name}(x) should have shape {want.shape} for x of shape {x.shape}, got {got.shape}")
    expect(_close(got, want),
           f"{name} computes something other than the task asks for: with weights the check "
           f"chose (random, set with {name}.set_weights) and random inputs, {name}(x) differs "
           f"from the expected output by up to {float(np.max(np.abs(got - want))):.3g} "
           f"(expected {_head(want)}, got {_head(got)}).{hint}")


@functools.cache
def _tolerance() -> float:
    """1e-4 on a CPU; 5e-3 on a GPU, which may multiply in TF32 (10-bit mantissas)."""
    import keras

    gpus = keras.backend.backend() == "tensorflow" and __import__(
        "tensorflow").config.list_logical_devices("GPU")
    return 5e-3 if gpus else 1e-4


def _head(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in np.ravel(values)[:3]) + ", ...]"


def _unit_inputs(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.uniform(size=shape).astype(np.float32)


# ---------------------------------------------------------------- shapes of real calls
def expect_call_shapes(encoder, decoder, auto, input_shape, code_shape, output_shape) -> None:
    """The models' batch shapes, with random weights and positive biases (no dead ReLU)."""
    rng = np.random.default_rng(0)
    for model in (encoder, decoder, auto):
        model.set_weights([w if w.ndim > 1 else np.abs(w) + np.float32(0.1)
                           for w in random_weights(_shapes(model), rng)])
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


def _expect_forward(models, enc_ops, dec_ops, input_shape, code_shape, batch: int) -> None:
    rng = np.random.default_rng(0)
    x = _unit_inputs(rng, (batch, *input_shape))
    z = rng.uniform(0.0, 2.0, size=(batch, *code_shape)).astype(np.float32)
    w_enc = random_weights(weight_shapes(enc_ops, input_shape), rng)
    w_dec = random_weights(weight_shapes(dec_ops, code_shape), rng)
    checks = [("encoder", enc_ops, w_enc, x), ("decoder", dec_ops, w_dec, z),
              ("auto", enc_ops + dec_ops, w_enc + w_dec, x)]
    for model, (name, _, weights, _) in zip(models, checks, strict=True):
        expect_weight_shapes(model, [w.shape for w in weights], name)
    for model, (name, ops, weights, inputs) in zip(models, checks, strict=True):
        expect_computes(model, ops, weights, inputs, name, _ORDER_HINT)


def expect_dense_forward(encoder, decoder, auto, input_dims: int, hidden_layers,
                         latent_dims: int) -> None:
    """Tasks (a) and (b): with random weights, the three models compute the task's layers."""
    _expect_forward((encoder, decoder, auto), *dense_ops(input_dims, hidden_layers, latent_dims),
                    (int(input_dims),), (int(latent_dims),), 8)


def expect_conv_forward(encoder, decoder, auto, input_dims, filters, latent_dims) -> None:
    """Task (c): with random weights, the three models compute the task's layers."""
    _expect_forward((encoder, decoder, auto), *conv_ops(input_dims, filters),
                    tuple(input_dims), tuple(latent_dims), 2)


# ---------------------------------------------------------------- loss and optimizer step
def training_loss(auto, x, target=None, lr: float = 0.0) -> float:
    """The loss ``auto`` reports for one step on ``(x, target or x)`` at learning
    rate ``lr``, metrics reset first (Keras 3.13 reports the mean since the last reset)."""
    auto.optimizer.learning_rate = lr
    auto.reset_metrics()
    auto.run_eagerly = True   # the same numbers, without seconds of tracing for one step
    logs = auto.train_on_batch(x, x if target is None else target, return_dict=True)
    expect("loss" in logs, f"the training step should report 'loss', got {sorted(logs)}")
    return float(logs["loss"])


def _adam_step(auto, models, x, target, lr: float) -> tuple[float, list[np.ndarray]]:
    """One step of ``auto`` at ``lr``: its loss, and how far each weight of ``models`` moved."""
    before = [np.asarray(w, np.float64) for model in models for w in model.get_weights()]
    loss = training_loss(auto, x, target, lr)
    after = [w for model in models for w in model.get_weights()]
    return loss, [np.asarray(b, np.float64) - a for a, b in zip(before, after, strict=True)]


def _expect_training(auto, weights, x, rng, target=None, min_share: float = 0.25,
                     ops=None, every: bool = True) -> None:
    """With ``weights`` set on a fresh ``auto``, one step on ``x`` (towards
    ``target``, or random targets): the loss is the cross-entropy, Adam's first step moves
    weights by about the learning rate (against the NumPy gradient where auto computes
    ``ops``), no further, each weight array moves (``every``; else one), the loss drops."""
    auto.set_weights(weights)
    output = _call(auto, x)
    target = _unit_inputs(rng, output.shape) if target is None else target
    exact = ops is not None and _computes(auto, ops, weights, x, output)
    loss, moves = _adam_step(auto, [auto], x, target, STEP_LR)  # first: Adam's first step
    still = sum(not np.any(m) for m in moves)
    expect(not still if every else still < len(moves),
           f"one training step left {still} of auto's {len(moves)} weight arrays (kernels and "
           "biases) unchanged: they cannot learn. Is a layer or a weight set untrainable "
           "(trainable = False)?")
    want, hint = bce(target, output), ""
    if np.isclose(loss, float(np.mean((output - target) ** 2)), rtol=1e-3):
        hint = " That is the mean squared error."
    expect(abs(loss - want) <= 1e-4 * max(1.0, abs(want)),
           f"auto's training loss should be the binary cross-entropy between the targets and "
           f"auto's output (averaged over outputs and examples): expected {want:.6g}, got "
           f"{loss:.6g}.{hint}")
    moved = np.concatenate([m.ravel() for m in moves])
    steps = np.abs(moved) / STEP_LR
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
    if exact:  # each weight with a clear NumPy gradient moves as Adam's first step does
        g = np.concatenate([gr.ravel() for gr in dense_grads(ops, weights, x, target)])
        eps = ADAM_EPSILON / np.sqrt(1.0 - ADAM_BETA_2)  # epsilon as it acts on |g| at step 1
        clear = np.abs(g) > max(10 * eps, 1e-3 * float(np.abs(g).max()))
        wrong = np.abs(moved[clear] + STEP_LR * g[clear] / (np.abs(g[clear]) + eps)) \
            > 0.02 * STEP_LR
        expect(clear.any() and not wrong.any(),
               f"after one training step {int(wrong.sum())} of {int(clear.sum())} weights "
               "with a clear gradient did not move as Adam moves them (by the learning rate, "
               "against the sign of the gradient of the binary cross-entropy). Is auto "
               "compiled with optimizer='adam' and loss='binary_crossentropy'?")
    after = training_loss(auto, x, target)
    expect(after < loss,
           f"one training step should lower the loss on the same batch: {loss:.6g} -> "
           f"{after:.6g}")


def expect_dense_training(auto, input_dims: int, hidden_layers, latent_dims: int,
                          code_off: bool = False) -> None:
    """Tasks (a), (b): :func:`_expect_training`; ``code_off``: no penalty (zero code)."""
    rng = np.random.default_rng(0)
    enc_ops, dec_ops = dense_ops(input_dims, hidden_layers, latent_dims)
    weights = random_weights(_shapes(auto), rng)
    if code_off:  # a zero code, and decoder biases large enough to give clear gradients
        n_enc = min(len(weights), 2 * len(enc_ops))
        weights = [np.zeros_like(w) for w in weights[:n_enc]] + [
            w if w.ndim > 1 else rng.normal(0.5, 0.5, w.shape).astype(np.float32)
            for w in weights[n_enc:]]
    x = _unit_inputs(rng, (16, input_dims))
    _expect_training(auto, weights, x, rng, x, 0.1 if code_off else 0.25, enc_ops + dec_ops,
                     every=not code_off)


def expect_conv_training(auto, input_dims) -> None:
    """Task (c): :func:`_expect_training`, with random targets."""
    rng = np.random.default_rng(0)
    weights = random_weights(_shapes(auto), rng)
    _expect_training(auto, weights, _unit_inputs(rng, (4, *input_dims)), rng)


# ---------------------------------------------------------------- the L1 penalty of task (b)
def expect_l1_penalty(auto, input_dims: int, hidden_layers, latent_dims: int,
                      lambtha: float, encoder) -> None:
    """Task (b): the training loss carries ``lambtha`` times the L1 norm of the
    code. With the decoder's kernels at zero the reconstruction loss ignores the code, so
    the loss with random encoder weights minus the loss with zero ones is the penalty."""
    rng = np.random.default_rng(0)
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
    encoder.set_weights(w_enc)
    own_code = _call(encoder, x)
    expect(own_code.shape == code.shape and np.abs(own_code).sum() >= 0.1 * np.abs(code).sum(),
           f"with weights the check chose, the encoder's code should have shape "
           f"{code.shape} and not be (nearly) all zeros; it has shape {own_code.shape} "
           f"and L1 norm {float(np.abs(own_code).sum()):.3g}")
    encoder.set_weights([np.zeros_like(w) for w in w_enc])
    zero_code = _call(encoder, x)        # relu(0) = 0; another activation need not be
    want = l1_loss(own_code, lambtha) - l1_loss(zero_code, lambtha)
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


# ---------------------------------------------------------------- the VAE of task (d)
# The encoder: relu Dense layers, then linear Dense heads for the mean and log variance (in
# either order), returning (z, mean, log_var). The decoder: that of tasks (a) and (b). The
# loss, averaged over the batch: summed cross-entropy plus summed KL.

#: Batch of the loss checks: large, so that a one-sample Monte Carlo KL is precise.
LOSS_BATCH = 8192
#: Relative tolerance of the loss checks (covers a one-sample Monte Carlo KL).
LOSS_RTOL = 0.05
#: Samples drawn to measure the spread of z.
SPREAD_SAMPLES = 4000
#: Log-variance biases that make z the mean: exp(-30 / 2) ~ 3e-7; the Adam probe's,
#: exp(-20 / 2) ~ 5e-5, negligible in the loss yet far above float32 rounding.
LOG_VAR_OFF, LOG_VAR_QUIET = -30.0, -20.0
#: The Adam probe's learning rate and smallest batch (it draws up to twice as many), and
#: the gradient above which a weight must move by half the learning rate at least
#: (another epsilon up to 3e-4, or a loss scaled down by up to 100, still does).
ADAM_LR, ADAM_BATCH, ADAM_GRAD_MIN = 0.01, 64, 1e-2


def kl_divergence(mean, log_var) -> np.ndarray:
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, summed over the last axis."""
    mean, log_var = np.asarray(mean, np.float64), np.asarray(log_var, np.float64)
    return 0.5 * np.sum(mean**2 + np.exp(log_var) - 1.0 - log_var, axis=-1)


class VaeEncoder:
    """An encoder as the VAE probes see it: its last four weights are the two
    heads, and which head and output is the mean and which the log variance is found by
    what they do (z is the one random output; z's centre follows the mean)."""

    def __init__(self, encoder, input_dims: int, hidden_layers, latent_dims: int):
        self.model, self.input_dims = encoder, int(input_dims)
        encoder_ops, self.decoder_ops = dense_ops(input_dims, hidden_layers, latent_dims)
        self.body, self.head = encoder_ops[:-1], [("dense", int(latent_dims), "linear")]
        shapes = _shapes(encoder)
        self.body_shapes, self.head_shapes = shapes[:-4], shapes[-2:]
        expect(len(shapes) >= 4 and shapes[-4:-2] == self.head_shapes
               and self.head_shapes[1] == (latent_dims,) and len(self.head_shapes[0]) == 2,
               f"encoder.get_weights() should end with the kernels and biases of two Dense "
               f"layers of {latent_dims} units (mean and log variance); it lists {shapes}. "
               "The checks set weights of their own in this order.")
        self.spec_body = self.body_shapes == weight_shapes(self.body, (input_dims,))
        self.mean_first, self.index = True, (0, 1, 2)
        x = np.zeros((SPREAD_SAMPLES, input_dims))
        self.set(0.5, 1.5)  # the first head's bias 0.5, the second's 1.5
        before = _outputs(encoder, x)
        expect(len(before) == 3,
               f"the encoder should return 3 outputs (z, mean, log_var), got {len(before)}")
        random = [i for i, out in enumerate(before) if float(out.std(axis=0).mean()) > 1e-3]
        expect(len(random) == 1,
               f"expected exactly one random encoder output (z), found {len(random)}")
        self.set(0.5, -0.5)  # the second head's bias moved
        after = _outputs(encoder, x)
        fixed = [i for i in range(3) if i != random[0]]
        moved = [i for i in fixed if not np.allclose(before[i], after[i], atol=1e-4)]
        expect(len(moved) == 1,
               "the mean and log-variance outputs should each come from one of the encoder's "
               f"two Dense layers of {latent_dims} units: moving the bias of one of them "
               f"changed {len(moved)} of those two outputs")
        second, first = moved[0], fixed[1 - fixed.index(moved[0])]
        centre = float(after[random[0]].mean() - before[random[0]].mean())
        output = float(after[second].mean() - before[second].mean())
        self.mean_first = abs(centre - output) > abs(centre)  # z did not follow the second
        self.index = (random[0], *((first, second) if self.mean_first else (second, first)))

    def head_weights(self, rng, bias: float = 0.0, scale: float = 1.0) -> list[np.ndarray]:
        """A head's random weights: the kernel scaled by ``scale``, the bias about ``bias``."""
        kernel, _ = random_weights(self.head_shapes, rng)
        bias = bias + rng.normal(0.0, 0.5, self.head_shapes[1])
        return [(scale * kernel).astype(np.float32), bias.astype(np.float32)]

    def set(self, mean, log_var, body=None) -> None:
        """Set ``body`` (None: fixed random) and each head, (kernel, bias) or a bias alone."""
        def head(value):
            if isinstance(value, int | float):
                return [np.zeros(self.head_shapes[0], np.float32),
                        np.full(self.head_shapes[1], value, np.float32)]
            return value
        body = random_weights(self.body_shapes, np.random.default_rng(0)) if body is None \
            else body
        heads = head(mean) + head(log_var) if self.mean_first else head(log_var) + head(mean)
        self.model.set_weights(body + heads)

    def numpy_heads(self, x, body, *heads) -> list[np.ndarray]:
        """What the task's encoder computes for ``x`` in each of the ``heads``."""
        return [forward(self.body + self.head, body + w, x) for w in heads]

    def outputs(self, x) -> list[np.ndarray]:
        """``[z, mean, log_var]`` of the encoder for inputs ``x``."""
        outputs = _outputs(self.model, x)
        return [outputs[i] for i in self.index]

    def randomise(self, rng, x, log_var_bias: float | None = None, log_var_scale: float = 1.0):
        """Random weights, set and returned as ``(body, mean, log_var)``: the heads'
        biases centred on their outputs for ``x`` (an activation on a head then shows), or the
        log variance's about ``log_var_bias``."""
        body = random_weights(self.body_shapes, rng)
        mean = self.head_weights(rng)
        log_var = self.head_weights(rng, log_var_bias or 0.0, log_var_scale)
        if self.spec_body:
            centres = self.numpy_heads(x, body, mean, log_var)
        else:
            self.set(mean, log_var, body)
            centres = self.outputs(x)[1:]
        for weights, out in zip((mean, log_var) if log_var_bias is None else (mean,), centres,
                                strict=False):
            weights[1] = (weights[1] - np.median(out, axis=0)).astype(np.float32)
        self.set(mean, log_var, body)
        return body, mean, log_var


def _expect_follows_input(encoder, input_dims: int) -> list[bool]:
    """The mean or log variance follows the input; which outputs are sampled anew."""
    x = np.random.default_rng(4).uniform(size=(64, input_dims))
    first, second = _outputs(encoder, x), _outputs(encoder, x)
    varies = [not np.allclose(a, b, atol=1e-6) for a, b in zip(first, second, strict=True)]
    expect(any(not v and float(np.std(a, axis=0).max()) > 1e-4
               for a, v in zip(first, varies, strict=True)),
           "the encoder's mean and log variance should change with its input; for 64 "
           "different inputs neither did")
    return varies


def expect_vae_shapes(encoder, decoder, auto, input_dims: int, latent_dims: int) -> None:
    """The shapes of the three models' outputs, the decoder's in [0, 1]."""
    x = np.random.default_rng(0).uniform(size=(5, input_dims))
    outputs = _outputs(encoder, x)
    expect(len(outputs) == 3,
           f"the encoder should return 3 outputs (z, mean, log_var), got {len(outputs)}")
    for name, out in zip(("z", "mean", "log_var"), outputs, strict=True):
        expect(out.shape == (5, latent_dims),
               f"encoder output {name} should have shape (batch, {latent_dims}), got {out.shape}")
    images = _outputs(decoder, outputs[0])[0]
    expect(images.shape == (5, input_dims),
           f"the decoder should map (batch, {latent_dims}) codes to (batch, {input_dims}), "
           f"got {images.shape}")
    expect(images.min() >= 0 and images.max() <= 1, "decoder outputs should lie in [0, 1]")
    rebuilt = _outputs(auto, x)[0]
    expect(rebuilt.shape == (5, input_dims),
           f"auto should map (batch, {input_dims}) to (batch, {input_dims}), got {rebuilt.shape}")


def expect_vae_order(encoder, input_dims: int, hidden_layers, latent_dims: int) -> None:
    """The encoder returns ``(z, mean, log_var)``: z alone is sampled, around the mean."""
    varies = _expect_follows_input(encoder, input_dims)
    expect(varies == [True, False, False],
           "the encoder should return (z, mean, log_var) in this order: z is sampled anew "
           "on each call, the mean and log variance are not. Outputs that changed between "
           f"two calls on the same input: {varies}")
    index = VaeEncoder(encoder, input_dims, hidden_layers, latent_dims).index
    got = [("z", "mean", "log_var")[index.index(i)] for i in range(3)]
    expect(index == (0, 1, 2),
           "the encoder should return (z, mean, log_var) in this order, z sampled around "
           f"the mean: with the kernels of its two {latent_dims}-unit layers at zero, z is "
           "centred on another output than its second, as if it returned "
           f"({', '.join(got)}); either the outputs are in another order, or the sampling "
           "takes the log variance where the mean goes (Sampling takes [mean, log_var])")


def expect_linear_heads(encoder, input_dims: int, hidden_layers, latent_dims: int) -> None:
    """With the heads' kernels at zero, the outputs are their biases: both heads are linear."""
    enc = VaeEncoder(encoder, input_dims, hidden_layers, latent_dims)
    enc.set(-2.0, -1.0)
    _, mean, log_var = enc.outputs(np.zeros((8, input_dims)))
    expect(np.allclose(mean, -2.0, atol=1e-4),
           "the mean layer should be linear: with its bias at -2 (kernel 0) the mean output "
           f"is {float(mean.mean()):.3f}, expected -2")
    expect(np.allclose(log_var, -1.0, atol=1e-4),
           "the log-variance layer should be linear: with its bias at -1 (kernel 0) the "
           f"output is {float(log_var.mean()):.3f}, expected -1")


def expect_vae_encoder(encoder, input_dims: int, hidden_layers, latent_dims: int, rng,
                       heads: str = "linear") -> None:
    """With random weights, the mean and log variance are what the NumPy
    encoder computes; ``heads="either"``: one of them is (the heads are the linear test's).
    Otherwise, if neither is, only that they follow the input (the structure test's)."""
    enc = VaeEncoder(encoder, input_dims, hidden_layers, latent_dims)
    x = _unit_inputs(rng, (64, input_dims))
    body, mean_w, log_var_w = enc.randomise(rng, x)
    _, mean, log_var = enc.outputs(x)
    ok = [False, False]
    if enc.spec_body:
        ok = [_close(got, want) for got, want in zip(
            (mean, log_var), enc.numpy_heads(x, body, mean_w, log_var_w), strict=True)]
    if heads == "either":
        expect(any(ok), "with random weights neither the mean nor the log variance is what "
               f"Dense hidden layers of {list(hidden_layers)} units with relu and a linear "
               "Dense head on the last of them compute: are the encoder's hidden layers "
               "relu, one after the other, of those sizes, and is at least one of the mean "
               "and log-variance layers linear (no activation)?")
    elif not any(ok):
        expect(all(float(np.std(out, axis=0).min()) > 1e-3 for out in (mean, log_var)),
               "with random weights the mean and log-variance outputs should change with "
               "the input: the encoder's heads ignore it")
    else:
        for good, name in zip(ok, ("mean", "log-variance"), strict=True):
            expect(good, f"with random weights the {name} output is not what relu hidden "
                   f"layers and a linear Dense {name} layer on the last of them compute: "
                   f"the {name} layer should be linear")


def expect_vae_decoder(decoder, input_dims: int, hidden_layers, latent_dims: int,
                       rng) -> None:
    """With random weights the decoder computes what the NumPy decoder does."""
    ops = dense_ops(input_dims, hidden_layers, latent_dims)[1]
    shapes = weight_shapes(ops, (latent_dims,))
    expect_weight_shapes(decoder, shapes, "decoder")
    codes = rng.normal(0.0, 1.5, (64, latent_dims))
    expect_computes(decoder, ops, random_weights(shapes, rng), codes, "decoder",
                    " It should be Dense layers mirroring the hidden layers (relu) and a "
                    "Dense output with a sigmoid.")


def _quiet_weights(enc: VaeEncoder, decoder, rng, x, bias: float):
    """Random weights with z the mean: the decoder's weights and the mean; else None."""
    enc.randomise(rng, x, log_var_bias=bias, log_var_scale=0.1)
    weights = random_weights(_shapes(decoder), rng)
    decoder.set_weights(weights)
    z, mean, _ = enc.outputs(x)
    return (weights, mean) if float(np.max(np.abs(z - mean))) < 1e-3 else None


def expect_vae_auto(encoder, decoder, auto, input_dims: int, hidden_layers,
                    latent_dims: int, rng) -> None:
    """With z the mean, ``auto(x)`` is the NumPy decoder at the encoder's mean."""
    enc = VaeEncoder(encoder, input_dims, hidden_layers, latent_dims)
    expect_weight_shapes(decoder, weight_shapes(enc.decoder_ops, (latent_dims,)), "decoder")
    x = _unit_inputs(rng, (64, input_dims))
    quiet = _quiet_weights(enc, decoder, rng, x, LOG_VAR_OFF)
    if quiet is None:
        return
    weights, mean = quiet
    expect(_close(_outputs(auto, x, training=False)[0], forward(enc.decoder_ops, weights, mean)),
           "with random weights and z equal to the mean, auto(x) should be the decoder's "
           "output at the encoder's z: auto should chain the encoder and decoder returned, "
           "with their weights")


def expect_sampling(encoder, input_dims: int, hidden_layers, latent_dims: int) -> None:
    """With the heads' kernels at zero, z = mean + exp(log_var / 2) * eps."""
    _expect_follows_input(encoder, input_dims)
    enc = VaeEncoder(encoder, input_dims, hidden_layers, latent_dims)
    enc.set(1.0, float(np.log(4.0)))
    z, mean, log_var = enc.outputs(np.zeros((SPREAD_SAMPLES, input_dims)))
    mean, log_var = float(mean.mean()), float(log_var.mean())
    centre, spread, want = float(z.mean()), float(z.std()), float(np.exp(0.5 * log_var))
    expect(abs(centre - mean) < 0.1,
           f"z should be centred on the mean: mean {mean:.3g} gave samples centred on "
           f"{centre:.2f}")
    expect(abs(spread - want) < 0.15,
           f"z = mean + exp(0.5 * log_var) * eps: with log_var = {log_var:.3f} (variance "
           f"{np.exp(log_var):.3g}) the standard deviation of z should be {want:.2f}, got "
           f"{spread:.2f}")


def expect_sampling_noise(encoder, input_dims: int, hidden_layers, latent_dims: int,
                          rng) -> None:
    """(z - mean) / exp(log_var / 2) is standard normal, at low and high variances."""
    enc = VaeEncoder(encoder, input_dims, hidden_layers, latent_dims)
    x = _unit_inputs(rng, (SPREAD_SAMPLES, input_dims))
    enc.randomise(rng, x, log_var_scale=4.0)  # log variances spread over several units
    z, mean, log_var = enc.outputs(x)
    eps = (z - mean) / np.exp(0.5 * log_var)
    for d in range(latent_dims):
        order = np.argsort(log_var[:, d], kind="stable")  # equal halves, even for ties
        for part in (eps[:, d], eps[order[len(order) // 2:], d], eps[order[:len(order) // 2], d]):
            expect(abs(part.mean()) < 0.12 and abs(part.std() - 1.0) < 0.12,
                   "with random weights, (z - mean) / exp(log_var / 2) should be standard "
                   "normal (mean 0, standard deviation 1) in each latent dimension, for low "
                   "and high log variances alike: z = mean + exp(0.5 * log_var) * eps")


# ---------------------------------------------------------------- the VAE's loss
def _loss_setup(encoder, decoder, input_dims: int, hidden_layers, latent_dims: int, rng):
    """The encoder, the decoder's weights at zero (0.5 everywhere), and binary
    images: ``LOSS_BATCH`` of them, or with ``rng`` a random half to all of that many, so
    that a model cannot know the checks by their batch size."""
    _expect_follows_input(encoder, input_dims)
    enc = VaeEncoder(encoder, input_dims, hidden_layers, latent_dims)
    decoder.set_weights([np.zeros_like(w) for w in decoder.get_weights()])
    out = _outputs(decoder, np.random.default_rng(2).normal(size=(4, latent_dims)))[0]
    expect(np.allclose(out, 0.5, atol=1e-5),
           "with all its weights at zero the decoder should output 0.5 (sigmoid of 0) "
           "everywhere; does it end in a sigmoid Dense layer?")
    batch = LOSS_BATCH if rng is None else int(rng.integers(LOSS_BATCH // 2, LOSS_BATCH + 1))
    rng = np.random.default_rng(3) if rng is None else rng
    return enc, (rng.uniform(size=(batch, input_dims)) > 0.7).astype(np.float32)


def _loss_at(auto, enc: VaeEncoder, x, mean: float, log_var: float) -> tuple[float, float]:
    """The training loss with the heads' biases set (kernels zero), and the closed-form KL."""
    enc.set(mean, log_var)
    _, means, log_vars = enc.outputs(np.zeros((1, enc.input_dims)))
    return training_loss(auto, x), float(kl_divergence(means, log_vars)[0])


def expect_reconstruction_loss(encoder, decoder, auto, input_dims: int, hidden_layers,
                               latent_dims: int, rng=None) -> None:
    """With the decoder at 0.5 and KL 0, the loss is ``input_dims * log 2``."""
    enc, x = _loss_setup(encoder, decoder, input_dims, hidden_layers, latent_dims, rng)
    loss = _loss_at(auto, enc, x, 0.0, 0.0)[0]
    expected = input_dims * float(np.log(2.0))
    hint = ""
    if abs(loss - np.log(2.0)) < 0.05:
        hint = " It looks averaged over the pixels: sum the cross-entropy over them."
    elif abs(loss / expected - len(x)) < 0.05 * len(x):
        hint = " It looks summed over the batch: Keras expects the mean over examples."
    expect(abs(loss - expected) < LOSS_RTOL * expected,
           f"with the decoder outputting 0.5 for every pixel and a KL of 0, the loss per "
           f"example should be {input_dims} * log 2 = {expected:.2f}, got {loss:.4g}.{hint}")


def expect_kl_loss(encoder, decoder, auto, input_dims: int, hidden_layers, latent_dims: int,
                   rng=None) -> None:
    """With the decoder at 0.5, the heads' biases change the loss by the closed-form KL."""
    enc, x = _loss_setup(encoder, decoder, input_dims, hidden_layers, latent_dims, rng)
    base, base_kl = _loss_at(auto, enc, x, 0.0, 0.0)
    # (mean, log variance): one variance above 1, one below
    settings = [(1.5, float(np.log(4.0))), (0.5, -1.5)] if rng is None else [
        (float(rng.uniform(0.8, 2.0)), float(np.log(rng.uniform(2.0, 6.0)))),
        (float(rng.uniform(0.2, 0.8)), float(rng.uniform(-2.0, -1.0)))]
    for mean, log_var in settings:
        loss, kl = _loss_at(auto, enc, x, mean, log_var)
        kl, extra = kl - base_kl, loss - base
        means, log_vars = enc.outputs(np.zeros((1, input_dims)))[1:]
        expect(abs(extra - kl) < LOSS_RTOL * abs(kl) + 1e-3,
               f"with mean {float(means.mean()):.3f} and log variance "
               f"{float(log_vars.mean()):.3f} in each of {latent_dims} latent dimensions, "
               f"the KL term should add {kl:.3f} to the loss, it added {extra:.3f}. KL = "
               "-0.5 * sum(1 + log_var - mean^2 - exp(log_var)) over the latent dimensions, "
               "averaged over the batch.")


def expect_validation_loss(encoder, decoder, auto, input_dims: int, hidden_layers,
                           latent_dims: int) -> None:
    """At learning rate 0, ``val_loss`` is the training loss (up to the KL's noise)."""
    enc, x = _loss_setup(encoder, decoder, input_dims, hidden_layers, latent_dims, None)
    mean, log_var = 1.5, float(np.log(4.0))
    enc.set(mean, log_var)
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
    expect("val_loss" in history,
           "fit(..., validation_data=...) should report the total loss as 'val_loss'; its "
           f"history has {sorted(history)}. A test_step of your own returns it as 'loss'.")
    kl = float(kl_divergence(np.full(latent_dims, mean), np.full(latent_dims, log_var)))
    train, val = float(history["loss"][-1]), float(history["val_loss"][-1])
    hint = ""
    if abs(train - val - kl) < LOSS_RTOL * kl:
        hint = " It lacks the KL term: validation should add it as training does."
    expect(abs(val - train) < LOSS_RTOL * kl + 1e-3,
           "validation should compute the loss as training does (reconstruction plus KL): "
           f"with the learning rate at 0, one step on the same images gave loss {train:.4g} "
           f"and val_loss {val:.4g}.{hint}")


def _clear(grad: np.ndarray) -> np.ndarray:
    """Where the gradient ``grad`` is clear (:data:`ADAM_GRAD_MIN` or more); some must be."""
    big = np.abs(grad) >= ADAM_GRAD_MIN
    expect(big.any(), "internal: the Adam probe drew no weight with a clear gradient")
    return big


def expect_vae_adam_step(encoder, decoder, auto, input_dims: int, hidden_layers,
                         latent_dims: int, rng, log_var_head: bool = False) -> None:
    """One step of a freshly built auto, z the mean, moves no weight further
    than ``ADAM_LR``, and each decoder weight with a clear NumPy gradient by about that
    against its sign; ``log_var_head``: only that the log variance's bias moves against the
    KL's gradient. Nothing is checked under another optimizer (the structure test's)."""
    if (mc.optimizer_name(auto) or "adam").split(" ")[0] != "adam":
        return  # another optimizer, as auto says: the structure test's mistake
    enc = VaeEncoder(encoder, input_dims, hidden_layers, latent_dims)
    batch = int(rng.integers(ADAM_BATCH, 2 * ADAM_BATCH + 1))
    x = (rng.uniform(size=(batch, input_dims)) > 0.6).astype(np.float32)
    quiet = _quiet_weights(enc, decoder, rng, x, LOG_VAR_QUIET)
    if quiet is None:
        return
    dec_weights, mean = quiet
    exact = _computes(decoder, enc.decoder_ops, dec_weights, mean,
                      _outputs(decoder, mean, training=False)[0])
    log_var = enc.outputs(x)[2]
    moves = _adam_step(auto, [encoder, decoder], x, x, ADAM_LR)[1]
    enc_moves, dec_moves = moves[:len(enc.body_shapes) + 4], moves[len(enc.body_shapes) + 4:]
    if log_var_head:  # the log variance's bias: last of the heads' weights, or the first's
        step = enc_moves[-1] if enc.mean_first else enc_moves[len(enc.body_shapes) + 1]
        grad = 0.5 * (np.exp(log_var) - 1.0).mean(axis=0)
        big = _clear(grad)
        expect(np.all(-np.sign(grad[big]) * step[big] > 0),
               "one training step should move each entry of the log-variance layer's bias "
               "against the gradient of the KL term (the only term that depends on the log "
               "variance when it is very low); some of them did not")
        return
    largest = max(float(np.abs(m).max()) for m in enc_moves + dec_moves)
    expect(largest <= 1.001 * ADAM_LR + 1e-6,
           "one training step of a freshly built auto moved a weight by more than the "
           "learning rate: Adam's first step moves no weight further (is auto compiled with "
           "Adam, and does each step apply the optimizer once?)")
    moved = np.abs(np.concatenate([m.ravel() for m in dec_moves])) / ADAM_LR
    if not exact:  # the decoder is not the specification's: the structure test's mistake
        expect(np.mean(moved >= 0.5) >= 0.25,
               "one Adam step should move most of the decoder's weights by about the "
               "learning rate; most of them moved much less (is auto compiled with Adam?)")
        return
    # summed cross-entropy, averaged over the batch: input_dims times the mean's gradient
    grads = dense_grads(enc.decoder_ops, dec_weights, mean, x)
    g = np.concatenate([gr.ravel() for gr in grads]) * input_dims
    along = -np.sign(g) * np.concatenate([m.ravel() for m in dec_moves]) / ADAM_LR
    big = _clear(g)
    expect(np.all((along[big] >= 0.5) & (along[big] <= 1.001)),
           "one Adam step should move each of the decoder's weights by the learning rate "
           "against the sign of the loss's gradient (summed binary cross-entropy, averaged "
           "over the batch); some of the weights with a clear gradient did not")
