"""helpers.codes: the nearest-code lookup and a codebook's use (notebook 10)."""

import numpy as np
import pytest

from helpers import codes


def brute_force(z, codebook):
    d = ((z[..., None, :].astype(np.float64) - codebook.astype(np.float64)) ** 2).sum(-1)
    return d.argmin(-1)


def test_quantize_finds_the_nearest_rows_across_chunks():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(codes.CHUNK + 7, 3, 5)).astype(np.float32)   # past one chunk
    codebook = rng.normal(size=(11, 5)).astype(np.float32)
    indices, quantized = codes.quantize(z, codebook)
    assert indices.shape == z.shape[:-1] and quantized.shape == z.shape
    assert np.array_equal(indices, brute_force(z, codebook))
    assert np.array_equal(quantized, codebook[indices])


def test_ties_go_to_the_lowest_index():
    codebook = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])        # rows 0 and 2 repeat
    indices, _ = codes.quantize(np.array([[0.5, 0.25], [0.0, 0.0]]), codebook)
    assert indices.tolist() == [0, 0]


def test_quantize_refuses_vectors_of_another_length():
    with pytest.raises(ValueError, match="must share d"):
        codes.quantize(np.zeros((4, 3)), np.zeros((8, 2)))


def test_counts_and_perplexity():
    counts = codes.code_counts(np.array([[0, 2], [2, 2]]), 4)
    assert counts.tolist() == [1, 0, 3, 0]
    assert codes.perplexity(np.array([5, 5, 5, 5])) == pytest.approx(4)
    assert codes.perplexity(np.array([0, 9, 0])) == pytest.approx(1)
    p = np.array([0.25, 0.75])
    assert codes.perplexity(counts) == pytest.approx(np.exp(-(p * np.log(p)).sum()))
