"""Grading of task (i), `q_sample` (notebook 11).

The reference and five differently written correct answers (float64 throughout, float32
throughout, a loop over examples, flattened examples, einsum) must earn full marks; each
wrong answer must lose exactly the points of the test cell meant to catch it: 1 visible
point (the statement's example: two examples at steps 1 and 2) and 2 hidden points (the
first and last steps, shapes of images and code grids, the notebook's own batch sizes: 8
digits and 128 codes, the dtype, unchanged inputs).
Graded in one kernel (tests.grading.grade_variants).
"""

from __future__ import annotations

import pytest

from tests.grading import assert_variant_points, grade_variants, hidden_cell_passes

pytestmark = pytest.mark.grading

NOTEBOOK = "11_latent_diffusion.ipynb"

CORRECT = {
    "reference": None,
    "float64 throughout": '''
def q_sample(x0, t, noise, alphas_cumprod):
    x = np.asarray(x0, dtype=np.float64)
    eps = np.asarray(noise, dtype=np.float64)
    abar = np.asarray(alphas_cumprod, dtype=np.float64)[t]
    shape = (len(abar),) + (1,) * (x.ndim - 1)
    x_t = np.sqrt(abar).reshape(shape) * x + np.sqrt(1.0 - abar).reshape(shape) * eps
    return x_t.astype(np.asarray(x0).dtype)
''',
    "float32 throughout, np.take and expand_dims": '''
def q_sample(x0, t, noise, alphas_cumprod):
    abar = np.take(alphas_cumprod, t).astype(np.float32)
    for _ in range(np.ndim(x0) - 1):
        abar = np.expand_dims(abar, -1)
    return np.sqrt(abar) * x0 + np.sqrt(1 - abar) * noise
''',
    "a loop over examples": '''
def q_sample(x0, t, noise, alphas_cumprod):
    out = np.empty_like(np.asarray(x0))
    for i in range(len(out)):
        a = float(alphas_cumprod[int(t[i])])
        out[i] = a ** 0.5 * x0[i] + (1 - a) ** 0.5 * noise[i]
    return out
''',
    "flattened examples": '''
def q_sample(x0, t, noise, alphas_cumprod):
    x0 = np.asarray(x0)
    flat_x = x0.reshape(len(x0), -1)
    flat_noise = np.asarray(noise).reshape(len(x0), -1)
    a = np.asarray(alphas_cumprod)[np.asarray(t)][:, None]
    x_t = np.sqrt(a) * flat_x + np.sqrt(1 - a) * flat_noise
    return x_t.reshape(x0.shape).astype(x0.dtype)
''',
    "einsum": '''
def q_sample(x0, t, noise, alphas_cumprod):
    a = np.asarray(alphas_cumprod)[t]
    x_t = (np.einsum("n,n...->n...", np.sqrt(a), x0)
           + np.einsum("n,n...->n...", np.sqrt(1 - a), noise))
    return x_t.astype(np.float32)
''',
}
WRONG = {
    "stub": ("def q_sample(*args):\n    raise NotImplementedError()\n", 0),
    "t off by one (steps counted from 1)": ('''
def q_sample(x0, t, noise, alphas_cumprod):
    a = np.asarray(alphas_cumprod)[np.asarray(t) - 1].reshape((-1,) + (1,) * (x0.ndim - 1))
    return (np.sqrt(a) * x0 + np.sqrt(1 - a) * noise).astype(x0.dtype)
''', 0),
    "square roots forgotten": ('''
def q_sample(x0, t, noise, alphas_cumprod):
    a = np.asarray(alphas_cumprod)[t].reshape((-1,) + (1,) * (x0.ndim - 1))
    return (a * x0 + (1 - a) * noise).astype(x0.dtype)
''', 0),
    "one step's alpha instead of the product": ('''
def q_sample(x0, t, noise, alphas_cumprod):
    alphas = alphas_cumprod / np.concatenate([[1.0], alphas_cumprod[:-1]])
    a = alphas[t].reshape((-1,) + (1,) * (x0.ndim - 1))
    return (np.sqrt(a) * x0 + np.sqrt(1 - a) * noise).astype(x0.dtype)
''', 0),
    "t = 0 taken as the clean image": ('''
def q_sample(x0, t, noise, alphas_cumprod):
    a = np.where(t == 0, 1.0, np.asarray(alphas_cumprod)[t])
    a = a.reshape((-1,) + (1,) * (x0.ndim - 1))
    return (np.sqrt(a) * x0 + np.sqrt(1 - a) * noise).astype(x0.dtype)
''', 1),
    "weights broadcast over the last axis": ('''
def q_sample(x0, t, noise, alphas_cumprod):
    a = np.asarray(alphas_cumprod)[t]
    return (np.sqrt(a) * x0 + np.sqrt(1 - a) * noise).astype(x0.dtype)
''', 0),
    "weights shaped for flat examples only": ('''
def q_sample(x0, t, noise, alphas_cumprod):
    a = np.asarray(alphas_cumprod)[t][:, None]
    return (np.sqrt(a) * x0 + np.sqrt(1 - a) * noise).astype(x0.dtype)
''', 1),
    "one step for the whole batch": ('''
def q_sample(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod[t[0]]
    return (np.sqrt(a) * x0 + np.sqrt(1 - a) * noise).astype(x0.dtype)
''', 0),
    # Right for batches of at most 6 examples (the most the hidden tests once held), wrong
    # for the notebook's own: its 8 digits, a training batch of 128 codes.
    "every example at the first one's step, batches over 6": ('''
def q_sample(x0, t, noise, alphas_cumprod):
    t = np.asarray(t)
    if len(t) > 6:
        t = np.full_like(t, t[0])
    a = np.asarray(alphas_cumprod)[t].reshape((-1,) + (1,) * (x0.ndim - 1))
    return (np.sqrt(a) * x0 + np.sqrt(1 - a) * noise).astype(x0.dtype)
''', 1),
    "every example at the first one's step, batches over 8": ('''
def q_sample(x0, t, noise, alphas_cumprod):
    t = np.asarray(t)
    if len(t) > 8:
        t = np.full_like(t, t[0])
    a = np.asarray(alphas_cumprod)[t].reshape((-1,) + (1,) * (x0.ndim - 1))
    return (np.sqrt(a) * x0 + np.sqrt(1 - a) * noise).astype(x0.dtype)
''', 1),
    "float16": ('''
def q_sample(x0, t, noise, alphas_cumprod):
    a = np.asarray(alphas_cumprod, np.float16)[t].reshape((-1,) + (1,) * (x0.ndim - 1))
    return np.sqrt(a) * x0.astype(np.float16) + np.sqrt(1 - a) * noise.astype(np.float16)
''', 1),
    "float64 returned for float32 inputs": ('''
def q_sample(x0, t, noise, alphas_cumprod):
    a = np.asarray(alphas_cumprod)[t].reshape((-1,) + (1,) * (x0.ndim - 1))
    return np.sqrt(a) * x0 + np.sqrt(1 - a) * noise
''', 1),
    "changes x0 in place": ('''
def q_sample(x0, t, noise, alphas_cumprod):
    a = np.asarray(alphas_cumprod)[t].reshape((-1,) + (1,) * (x0.ndim - 1))
    x0 *= np.sqrt(a).astype(x0.dtype)
    x0 += (np.sqrt(1 - a) * noise).astype(x0.dtype)
    return x0
''', 1),
}


def test_q_sample_task(data_env):
    variants = {**CORRECT, **{k: src for k, (src, _) in WRONG.items()}}
    grades = grade_variants(NOTEBOOK, "q-sample", variants, env=data_env)
    assert_variant_points(grades, {k: points for k, (_, points) in WRONG.items()}, 3)


def _hidden_cell_passes(answer: str, seed: int) -> bool:
    return hidden_cell_passes(NOTEBOOK, "q-sample-tests-hidden", answer, seed,
                              (AssertionError, ValueError))  # or shapes do not broadcast


def test_the_hidden_tests_hold_whatever_the_draws():
    """While grading, the hidden tests draw per submission: the answers that pass the
    visible test and are wrong at the edges, in their dtype or with their inputs fail on
    every draw; the correct ones, float32 throughout among them, pass on every draw."""
    seeds = range(40)
    for name in ("t = 0 taken as the clean image", "weights shaped for flat examples only",
                 "float16", "changes x0 in place",
                 "every example at the first one's step, batches over 6",
                 "every example at the first one's step, batches over 8"):
        assert not any(_hidden_cell_passes(WRONG[name][0], seed) for seed in seeds), name
    for name, answer in CORRECT.items():
        if answer is not None:
            assert all(_hidden_cell_passes(answer, seed) for seed in seeds), name


#: An answer right on the visible example whose hidden calls return the right numbers in
#: a structured dtype, its one field named after the hidden draws (issue 79): a hidden
#: test that quotes the returned dtype would carry them into the feedback.
SMUGGLER = '''
def q_sample(x0, t, noise, alphas_cumprod):
    a = np.asarray(alphas_cumprod)[t].reshape((-1,) + (1,) * (np.ndim(x0) - 1))
    x_t = (np.sqrt(a) * x0 + np.sqrt(1 - a) * noise).astype(np.float32)
    if len(alphas_cumprod) == 3:
        return x_t
    return x_t.astype([("DRAWS " + " ".join(map(str, np.asarray(t).tolist())), np.float32)])
'''


def test_a_returned_value_of_a_structured_dtype_fails_and_quotes_nothing_of_it(data_env):
    """The wire carries numbers: the structured array is refused in the checking process
    with the grader's words (its kind), so the hidden test fails and its message holds
    nothing the answer chose (issue 79, "Hidden inputs in the feedback")."""
    grade = grade_variants(NOTEBOOK, "q-sample", {"smuggler": SMUGGLER},
                           env=data_env)["smuggler"]
    failure = grade.failures.get("q-sample-tests-hidden", "")
    assert grade.points == 1 and "DRAWS" not in failure, grade
    assert "kind 'V', not numbers" in failure, failure
