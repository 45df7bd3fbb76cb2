"""Grading of task (j), `topk_activation` (notebook 12).

The reference and differently written correct answers (a stable argsort of -pre, a
lexsort, a loop of argmax picks, a threshold with the ties counted, a row-by-row loop)
must earn full marks; each wrong answer must lose exactly the points of the test cell
meant to catch it: 1 visible point (the statement's example, a tie in it) and 2 hidden
points (the notebook's sizes and k, ties, k at and past the width, k = 0, negative values,
the dtype, an unchanged input). Graded in one kernel (tests.grading.grade_variants).
"""

from __future__ import annotations

import pytest

from tests.grading import assert_variant_points, grade_variants, hidden_cell_passes

pytestmark = pytest.mark.grading

NOTEBOOK = "12_sparse_autoencoders.ipynb"

CORRECT = {
    "reference": None,
    "lexsort on value and index": '''
def topk_activation(pre, k):
    pre = np.asarray(pre)
    out = np.zeros_like(pre)
    idx = np.arange(pre.shape[1])
    for i, row in enumerate(pre):
        keep = np.lexsort((idx, -row))[:k]
        out[i, keep] = row[keep]
    return out
''',
    "k picks of the first largest": '''
def topk_activation(pre, k):
    pre = np.asarray(pre)
    work = pre.astype(np.float64)
    mask = np.zeros(pre.shape, dtype=bool)
    rows = np.arange(len(pre))
    for _ in range(min(k, pre.shape[1])):
        j = np.argmax(work, axis=1)          # the first of equal values
        mask[rows, j] = True
        work[rows, j] = -np.inf
    return np.where(mask, pre, 0).astype(pre.dtype)
''',
    "a threshold, the ties at it counted from the left": '''
def topk_activation(pre, k):
    pre = np.asarray(pre)
    n, width = pre.shape
    if k >= width:
        return pre.copy()
    if k == 0:
        return np.zeros_like(pre)
    kth = -np.sort(-pre, axis=1)[:, k - 1:k]
    above = pre > kth
    at = pre == kth
    room = k - above.sum(axis=1, keepdims=True)
    keep = above | (at & (np.cumsum(at, axis=1) <= room))
    return np.where(keep, pre, np.zeros_like(pre))
''',
    "sorted row by row in Python": '''
def topk_activation(pre, k):
    out = np.zeros_like(np.asarray(pre))
    for i in range(len(out)):
        order = sorted(range(out.shape[1]), key=lambda j: (-pre[i][j], j))
        for j in order[:k]:
            out[i, j] = pre[i][j]
    return out
''',
}
WRONG = {
    "stub": ("def topk_activation(*args):\n    raise NotImplementedError()\n", 0),
    "ties to the higher index": ('''
def topk_activation(pre, k):
    pre = np.asarray(pre)
    kept = np.argsort(pre, axis=1, kind="stable")[:, pre.shape[1] - min(k, pre.shape[1]):]
    out = np.zeros_like(pre)
    np.put_along_axis(out, kept, np.take_along_axis(pre, kept, axis=1), axis=1)
    return out
''', 0),
    "every tie at the threshold kept": ('''
def topk_activation(pre, k):
    pre = np.asarray(pre)
    if k == 0:
        return np.zeros_like(pre)
    kth = -np.sort(-pre, axis=1)[:, min(k, pre.shape[1]) - 1:][:, :1]
    return np.where(pre >= kth, pre, 0).astype(pre.dtype)
''', 0),
    "ReLU applied too": ('''
def topk_activation(pre, k):
    pre = np.asarray(pre)
    kept = np.argsort(-pre, axis=1, kind="stable")[:, :k]
    out = np.zeros_like(pre)
    np.put_along_axis(out, kept, np.maximum(np.take_along_axis(pre, kept, axis=1), 0), axis=1)
    return out
''', 1),
    "largest by magnitude": ('''
def topk_activation(pre, k):
    pre = np.asarray(pre)
    kept = np.argsort(-np.abs(pre), axis=1, kind="stable")[:, :k]
    out = np.zeros_like(pre)
    np.put_along_axis(out, kept, np.take_along_axis(pre, kept, axis=1), axis=1)
    return out
''', 0),
    "argpartition, which fails past the width": ('''
def topk_activation(pre, k):
    pre = np.asarray(pre)
    out = np.zeros_like(pre)
    if k == 0:
        return out
    kept = np.argpartition(-pre, k - 1, axis=1)[:, :k]
    np.put_along_axis(out, kept, np.take_along_axis(pre, kept, axis=1), axis=1)
    return out
''', 1),
    "float64 returned": ('''
def topk_activation(pre, k):
    pre = np.asarray(pre, dtype=np.float64)
    kept = np.argsort(-pre, axis=1, kind="stable")[:, :k]
    out = np.zeros_like(pre)
    np.put_along_axis(out, kept, np.take_along_axis(pre, kept, axis=1), axis=1)
    return out
''', 1),
    "the others zeroed in place": ('''
def topk_activation(pre, k):
    drop = np.argsort(-pre, axis=1, kind="stable")[:, k:]
    np.put_along_axis(pre, drop, 0, axis=1)
    return pre
''', 1),
}


def test_topk_task(data_env):
    variants = {**CORRECT, **{k: src for k, (src, _) in WRONG.items()}}
    grades = grade_variants(NOTEBOOK, "topk", variants, env=data_env)
    assert_variant_points(grades, {k: points for k, (_, points) in WRONG.items()}, 3)


def _hidden_cell_passes(answer: str, seed: int) -> bool:
    return hidden_cell_passes(NOTEBOOK, "topk-tests-hidden", answer, seed,
                              (AssertionError, ValueError))  # argpartition past the width


def test_the_hidden_tests_hold_whatever_the_draws():
    """While grading, the hidden tests draw per submission: the answers that pass the
    visible test and are wrong on ties, negative values, k past the width, the dtype or
    their input fail on every draw; the correct ones pass on every draw."""
    seeds = range(30)
    for name in ("ReLU applied too", "argpartition, which fails past the width", "float64 returned",
                 "the others zeroed in place"):
        assert not any(_hidden_cell_passes(WRONG[name][0], seed) for seed in seeds), name
    for name, answer in CORRECT.items():
        if answer is not None:
            assert all(_hidden_cell_passes(answer, seed) for seed in seeds), name
