"""Image transformations the notebooks share: noise, down- and upscaling, grayscale.

All functions take float images in [0, 1], batched as (N, H, W) or (N, H, W, C), and
return float32 arrays without changing the input.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage

#: ITU-R BT.601 luma weights for R, G and B.
ITU_R_601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_SPLINE_ORDER = {"bilinear": 1, "bicubic": 3}


def add_noise(x: np.ndarray, factor: float = 0.5, seed: int | None = 0) -> np.ndarray:
    """Add ``factor`` times standard Gaussian noise and clip the result to [0, 1].

    ``seed`` makes the noise reproducible; ``None`` draws fresh noise each call.
    """
    rng = np.random.default_rng(seed)
    noisy = x + factor * rng.standard_normal(np.shape(x), dtype=np.float32)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def _split_channels(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """View (N, H, W) as (N, H, W, 1); say whether a channel axis was added."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        return x[..., np.newaxis], True
    if x.ndim == 4:
        return x, False
    raise ValueError(f"expected a batch of images (N, H, W) or (N, H, W, C), got {x.shape}")


def downscale(x: np.ndarray, factor: int = 2) -> np.ndarray:
    """Average-pool each ``factor`` x ``factor`` block: (N, H, W[, C]) -> (N, H/f, W/f[, C])."""
    x4, added = _split_channels(x)
    n, h, w, c = x4.shape
    if factor < 1 or h % factor or w % factor:
        raise ValueError(f"image size {h}x{w} is not divisible by the factor {factor}")
    pooled = x4.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))
    return pooled[..., 0] if added else pooled


@functools.lru_cache(maxsize=32)
def _zoom_matrix(size: int, factor: int, order: int) -> np.ndarray:
    """The (size·factor, size) matrix that enlarges one line of ``size`` pixels with a
    spline of ``order``, as ``ndimage.zoom(..., mode="nearest", grid_mode=True)`` does:
    column ``k`` is the enlarged line of a single bright pixel at ``k``."""
    impulses = np.eye(size)
    columns = [ndimage.zoom(line, factor, order=order, mode="nearest", grid_mode=True)
               for line in impulses]
    matrix = np.stack(columns, axis=1).astype(np.float32)
    matrix.flags.writeable = False
    return matrix


def upscale(x: np.ndarray, factor: int = 2, method: str = "nearest") -> np.ndarray:
    """Enlarge images by ``factor``: ``nearest`` (pixel repetition), ``bilinear`` or ``bicubic``.

    ``bilinear`` and ``bicubic`` are SciPy's spline interpolations of order 1 and 3
    (``scipy.ndimage.zoom``, ``mode="nearest"``). Order 1 is the usual bilinear rule: each
    output pixel mixes the 2x2 nearest input pixels. Order 3 is a *cubic spline*, not the
    4-tap cubic convolution that PIL, OpenCV and ``tf.image.resize`` call bicubic: SciPy
    first prefilters each line so that the spline passes through every pixel, which makes
    each input pixel reach every output pixel of the image (the rule runs along every row,
    then every column), with weights that shrink quickly with distance and alternate in
    sign. Notebook 06 scores both rules.

    Works on gray (N, H, W) or (N, H, W, 1) and color (N, H, W, 3) batches alike: each
    channel of each image is enlarged on its own. The spline methods treat each pixel as
    a square area, so they line up with :func:`downscale`; their output is clipped to
    [0, 1]. A spline enlargement is linear and separable, so it is computed as one matrix
    product along the height and one along the width (the same numbers as
    ``scipy.ndimage.zoom`` of each image, much faster than zooming the whole batch).
    """
    x4, added = _split_channels(x)
    if factor < 1 or factor != int(factor):
        raise ValueError(f"factor must be a positive integer, not {factor!r}")
    if method == "nearest":
        out = x4.repeat(factor, axis=1).repeat(factor, axis=2)
    elif method in _SPLINE_ORDER:
        _, h, w, _ = x4.shape
        rows = _zoom_matrix(h, factor, _SPLINE_ORDER[method])
        cols = _zoom_matrix(w, factor, _SPLINE_ORDER[method])
        planes = np.moveaxis(x4, 3, 1)                  # (N, C, H, W): one plane per channel
        out = np.moveaxis(rows @ planes @ cols.T, 1, 3)
        out = np.clip(out, 0.0, 1.0)
    else:
        raise ValueError(f"method must be 'nearest', 'bilinear' or 'bicubic', not {method!r}")
    out = out.astype(np.float32)
    return out[..., 0] if added else out


def rgb_to_gray(x: np.ndarray, keepdims: bool = True) -> np.ndarray:
    """Luma (not luminance: the weights act on the stored, gamma-encoded values) with the
    ITU-R 601 weights, for RGB images already scaled to [0, 1].

    The images are weighted once and not rescaled again. Returns (N, H, W, 1), or
    (N, H, W) with ``keepdims=False``.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.shape[-1] != 3:
        raise ValueError(f"expected RGB images with 3 channels last, got {x.shape}")
    gray = x @ ITU_R_601
    return gray[..., np.newaxis] if keepdims else gray


def gray_to_rgb(x: np.ndarray) -> np.ndarray:
    """Copy a gray channel into R, G and B: (N, H, W[, 1]) -> (N, H, W, 3)."""
    x4, _ = _split_channels(x)
    if x4.shape[-1] != 1:
        raise ValueError(f"expected one gray channel, got {x4.shape}")
    return np.repeat(x4, 3, axis=-1)
