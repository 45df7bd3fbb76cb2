"""Discrete codes: the nearest-code lookup of vector quantization and how much of a
codebook a set of codes uses (notebook 10)."""

from __future__ import annotations

import numpy as np

#: Vectors compared with the whole codebook at once: a batch of a few MiB of differences.
CHUNK = 4096


def quantize(z: np.ndarray, codebook: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each vector of ``z`` (shape ``(..., d)``) replaced by its nearest row of ``codebook``
    (shape ``(K, d)``) in squared Euclidean distance, ties going to the lowest index.

    Returns ``(indices, quantized)``: indices of shape ``z.shape[:-1]`` and the rows they
    name, of ``z``'s shape.
    """
    z, codebook = np.asarray(z), np.asarray(codebook)
    if codebook.ndim != 2 or z.shape[-1:] != codebook.shape[1:]:
        raise ValueError(f"z (..., d) and codebook (K, d) must share d: {z.shape} and "
                         f"{codebook.shape}")
    flat = z.reshape(-1, z.shape[-1]).astype(np.float64)
    rows = codebook.astype(np.float64)[None]
    indices = np.empty(len(flat), dtype=np.int64)
    for start in range(0, len(flat), CHUNK):   # (CHUNK, K, d) differences at a time
        part = flat[start:start + CHUNK, None, :]
        indices[start:start + CHUNK] = ((part - rows) ** 2).sum(axis=-1).argmin(axis=1)
    indices = indices.reshape(z.shape[:-1])
    return indices, codebook[indices]


def code_counts(indices: np.ndarray, num_codes: int) -> np.ndarray:
    """How often each of the ``num_codes`` codes occurs in ``indices``: shape (num_codes,)."""
    return np.bincount(np.asarray(indices).reshape(-1), minlength=num_codes)


def perplexity(counts: np.ndarray) -> float:
    """exp of the entropy (in nats) of the codes' frequencies: the number of equally used
    codes that would have the same entropy (1 for one code, K for K codes used alike)."""
    p = np.asarray(counts, dtype=np.float64)
    p = p[p > 0] / p.sum()
    return float(np.exp(-(p * np.log(p)).sum()))
