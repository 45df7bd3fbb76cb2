"""Image-quality numbers for comparing a model with a baseline."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def _per_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return ((a - b) ** 2).reshape(len(a), -1).mean(axis=1)


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error over every pixel of every image."""
    return float(_per_image(pred, target).mean())


def psnr(pred: np.ndarray, target: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio of each image in decibels: 10·log10(range² / MSE).

    Identical images give ``inf``.
    """
    return _psnr_of(_per_image(pred, target), data_range)


def _psnr_of(err: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """PSNR in decibels from per-image mean squared errors."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range ** 2 / err)


def mean_psnr(pred: np.ndarray, target: np.ndarray, data_range: float = 1.0) -> float:
    """The average of the per-image PSNR values (finite ones) in decibels."""
    return _finite_mean(psnr(pred, target, data_range))


def _finite_mean(values: np.ndarray) -> float:
    """The mean of the finite values (identical images have an infinite PSNR)."""
    return float(values[np.isfinite(values)].mean())


def image_scores(pred: np.ndarray, target: np.ndarray, *, chroma: bool = False
                 ) -> dict[str, float]:
    """How close a batch of images is to its targets, as :func:`score_table` prints it.

    Returns ``mse`` (over every pixel), ``psnr`` (:func:`mean_psnr`) and ``psnr_median``
    (the median of the per-image PSNR values, in dB); with ``chroma=True`` also
    ``chroma``, the average :func:`mean_chroma` of ``pred`` (RGB images only).
    """
    err = _per_image(pred, target)     # once: mse and PSNR both come from it
    per_image = _psnr_of(err)
    scores = {"mse": float(err.mean()),
              "psnr": _finite_mean(per_image),
              "psnr_median": float(np.median(per_image))}
    if chroma:
        scores["chroma"] = float(mean_chroma(pred).mean())
    return scores


def score_table(scores: Mapping[str, Mapping[str, float]]) -> str:
    """One line per entry of ``{name: image_scores(...)}``, names aligned:
    ``<name>  MSE <mse>   PSNR <mean> dB, median <median> dB[   chroma <chroma>]``."""
    width = max((len(name) for name in scores), default=0)
    lines = []
    for name, s in scores.items():
        line = (f"{name:<{width}}  MSE {s['mse']:.5f}   PSNR {s['psnr']:5.2f} dB, "
                f"median {s['psnr_median']:5.2f} dB")
        if "chroma" in s:
            line += f"   chroma {s['chroma']:.3f}"
        lines.append(line)
    return "\n".join(lines)


def mean_chroma(images: np.ndarray) -> np.ndarray:
    """Mean chroma of each RGB image: the average over its pixels of max(R, G, B) - min(R, G, B).

    ``images`` has shape ``(N, ..., 3)``, colour last, e.g. ``(N, H, W, 3)``. Returns an
    array of shape ``(N,)``; gray images (R = G = B) give 0. The input is not changed.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim < 2 or images.shape[-1] != 3:
        raise ValueError(f"expected RGB images of shape (N, ..., 3), got {images.shape}")
    chroma = images.max(axis=-1) - images.min(axis=-1)
    return chroma.reshape(len(images), -1).mean(axis=1)


def mean_gradient(images: np.ndarray) -> np.ndarray:
    """How much fine detail (edges, texture) each image has: the mean absolute difference
    between vertically and between horizontally neighbouring pixels, averaged.

    ``images`` has shape ``(N, H, W)`` or ``(N, H, W, C)`` (every channel counts alike).
    Returns an array of shape ``(N,)``; a flat image gives 0, a black-and-white
    checkerboard of single pixels 1. Blurring an image (with its borders mirrored, not
    repeated, zero-padded or wrapped) lowers it or leaves it unchanged: it falls where blur
    flattens texture or merges the two sides of a thin line, but a lone straight edge
    parallel to a side keeps its score while the blurred edge stays clear of the image's
    border. The input is not changed.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim not in (3, 4) or min(images.shape[1:3]) < 2:
        raise ValueError(f"expected images (N, H, W) or (N, H, W, C) of at least 2x2 "
                         f"pixels, got {images.shape}")
    n = len(images)
    down = np.abs(np.diff(images, axis=1)).reshape(n, -1).mean(axis=1)
    across = np.abs(np.diff(images, axis=2)).reshape(n, -1).mean(axis=1)
    return (down + across) / 2
