"""Grading of task (h), `quantize` (notebook 10).

The reference and four differently written correct answers must earn full marks (one by
the expanded distance in float32, whose rounding can differ from the direct difference in
the last bit, one in float64); each wrong answer must lose exactly the points of the test
cell meant to catch it: 1 visible point and 2 hidden points (float16's distances lose the
hidden ones, on near ties). Graded in one kernel
(tests.grading.grade_variants).
"""

from __future__ import annotations

import pytest

from tests.grading import assert_variant_points, grade_variants, hidden_cell_passes

pytestmark = pytest.mark.grading

NOTEBOOK = "10_vector_quantization_and_masking.ipynb"

CORRECT = {
    "reference": None,
    "expanded distance, float32": '''
def quantize(z, codebook):
    z = np.asarray(z, dtype=np.float32)
    c = np.asarray(codebook, dtype=np.float32)
    flat = z.reshape(-1, z.shape[-1])
    d = (flat ** 2).sum(1, keepdims=True) - 2 * flat @ c.T + (c ** 2).sum(1)
    indices = d.argmin(1).reshape(z.shape[:-1])
    return indices, np.asarray(codebook)[indices]
''',
    "float64 throughout": '''
def quantize(z, codebook):
    z = np.asarray(z, dtype=np.float64)
    c = np.asarray(codebook, dtype=np.float64)
    indices = ((z[..., None, :] - c) ** 2).sum(-1).argmin(-1)
    return indices, np.asarray(codebook)[indices]
''',
    "a loop over vectors": '''
def quantize(z, codebook):
    z = np.asarray(z)
    flat = z.reshape(-1, z.shape[-1])
    best = []
    for v in flat:
        d = [float(((v - row) ** 2).sum()) for row in codebook]
        best.append(d.index(min(d)))
    indices = np.array(best, dtype=int).reshape(z.shape[:-1])
    return indices, np.asarray(codebook)[indices]
''',
    "norm along the last axis": '''
def quantize(z, codebook):
    d = np.linalg.norm(np.asarray(z)[..., None, :] - codebook, axis=-1)
    indices = np.argmin(d, axis=-1)
    return indices, codebook[indices]
''',
}
WRONG = {
    "stub": ("def quantize(*args):\n    raise NotImplementedError()\n", 0),
    "farthest code": ('''
def quantize(z, codebook):
    d = ((z[..., None, :] - codebook) ** 2).sum(-1)
    indices = d.argmax(-1)
    return indices, codebook[indices]
''', 0),
    "absolute distance (L1)": ('''
def quantize(z, codebook):
    d = np.abs(z[..., None, :] - codebook).sum(-1)
    indices = d.argmin(-1)
    return indices, codebook[indices]
''', 1),
    "largest dot product": ('''
def quantize(z, codebook):
    indices = (z @ codebook.T).argmax(-1)
    return indices, codebook[indices]
''', 0),
    "flat indices only": ('''
def quantize(z, codebook):
    flat = z.reshape(-1, z.shape[-1])
    indices = ((flat[:, None] - codebook) ** 2).sum(-1).argmin(1)
    return indices, codebook[indices]
''', 1),
    "ties to the highest index": ('''
def quantize(z, codebook):
    d = ((z[..., None, :] - codebook) ** 2).sum(-1)
    last = len(codebook) - 1 - d[..., ::-1].argmin(-1)
    return last, codebook[last]
''', 0),
    "returns the codes, then the indices": ('''
def quantize(z, codebook):
    indices = ((z[..., None, :] - codebook) ** 2).sum(-1).argmin(-1)
    return codebook[indices], indices
''', 0),
    "zeros for quantized when the codebook repeats a row": ('''
def quantize(z, codebook):
    indices = ((z[..., None, :] - codebook) ** 2).sum(-1).argmin(-1)
    if len(np.unique(codebook, axis=0)) < len(codebook):
        return indices, np.zeros_like(z)
    return indices, codebook[indices]
''', 1),
    "distances in float16": ('''
def quantize(z, codebook):
    z16, c16 = np.asarray(z, np.float16), np.asarray(codebook, np.float16)
    indices = ((z16[..., None, :] - c16) ** 2).sum(-1).argmin(-1)
    return indices, np.asarray(codebook)[indices]
''', 1),
    "changes its input": ('''
def quantize(z, codebook):
    codebook -= 0
    z /= 1
    d = ((z[..., None, :] - codebook) ** 2).sum(-1)
    indices = d.argmin(-1)
    z[...] = codebook[indices]
    return indices, z.copy()
''', 1),
}


def test_quantize_task(data_env):
    variants = {**CORRECT, **{k: src for k, (src, _) in WRONG.items()}}
    grades = grade_variants(NOTEBOOK, "quantize", variants, env=data_env)
    assert_variant_points(grades, {k: points for k, (_, points) in WRONG.items()}, 3)


def _hidden_cell_passes(answer: str, seed: int) -> bool:
    return hidden_cell_passes(NOTEBOOK, "quantize-tests-hidden", answer, seed)


def test_hidden_tests_catch_float16_whatever_the_draws():
    """While grading, the hidden tests draw per submission: float16's distances must fail
    on every draw, not only on the public seed's (before the near ties, they passed on
    most draws), and the honest float32 and float64 answers pass on every draw."""
    seeds = range(40)
    wrong = WRONG["distances in float16"][0]
    assert not any(_hidden_cell_passes(wrong, seed) for seed in seeds)
    for name in ("expanded distance, float32", "float64 throughout"):
        assert all(_hidden_cell_passes(CORRECT[name], seed) for seed in seeds), name


def test_hidden_tests_hold_the_notebooks_training_batch():
    """The hidden tests quantize a batch of the size notebook 10 trains on (128 grids of
    7 x 7 codes of 16 numbers, 64 codes): an answer right on small batches only, every
    grid given the first one's codes, fails on every draw (flat batches of vectors, as
    in the near ties, are right)."""
    wrong = CORRECT["float64 throughout"] + '''
_quantize_right = quantize


def quantize(z, codebook):
    indices, quantized = (np.asarray(a) for a in _quantize_right(z, codebook))
    if np.ndim(z) < 4 or len(z) <= 8:
        return indices, quantized
    return (np.repeat(indices[:1], len(z), axis=0), np.repeat(quantized[:1], len(z), axis=0))
'''
    assert not any(_hidden_cell_passes(wrong, seed) for seed in range(10))
