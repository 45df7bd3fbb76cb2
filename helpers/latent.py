"""Latent-space views: code scatter plots, decoded manifolds, interpolations and
convolutional codes as channel maps."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.offsetbox import AnnotationBbox, OffsetImage
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from helpers.figures import as_images, describe, draw_image, listing, new_figure
from helpers.images import ROW_TITLE_INCHES, plot_images

#: Projection methods accepted by `plot_latent_scatter`.
METHODS = ("auto", "tsne", "pca", "none")
#: Axis labels per projection method.
AXIS_LABELS = {
    "tsne": ("t-SNE 1", "t-SNE 2"),
    "pca": ("PC 1", "PC 2"),
    "none": ("z[0]", "z[1]"),
}
#: Labels with at most this many distinct integer values get a legend, not a colorbar.
MAX_LEGEND_CLASSES = 20
#: Displayed size of a thumbnail's longer side, in points.
THUMBNAIL_POINTS = 28.0
#: Colour map of grayscale thumbnails: dark ink on white stands out on a scatter plot.
THUMBNAIL_CMAP = "binary"
#: Smallest gap between thumbnail centres along x or y, as a fraction of the data extent.
THUMBNAIL_SPACING = 0.1

#: A decoder: a callable, or an object with a Keras-like ``predict``.
Decoder = Callable[[np.ndarray], Any] | Any


def interpolate(z_start: np.ndarray, z_end: np.ndarray, steps: int) -> np.ndarray:
    """Return ``steps`` codes evenly spaced on the segment from ``z_start`` to ``z_end``.

    Parameters
    ----------
    z_start, z_end : array-like, shape (d,) or (1, d)
        End codes; the first and last rows of the result equal them exactly.
    steps : int
        Number of codes, at least 2.

    Returns
    -------
    np.ndarray, shape (steps, d)
        Row ``k`` is ``(1 - w) * z_start + w * z_end`` with ``w = k / (steps - 1)``.
    """
    z_start, z_end = _as_code(z_start), _as_code(z_end)
    if z_start.shape != z_end.shape:
        raise ValueError(f"z_start {z_start.shape} and z_end {z_end.shape} differ in shape")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    dtype = np.result_type(z_start, z_end, np.float32)
    weights = np.linspace(0.0, 1.0, steps, dtype=dtype)[:, None]
    return (1 - weights) * z_start.astype(dtype) + weights * z_end.astype(dtype)


def plot_interpolation(
    decoder: Decoder,
    z_start: np.ndarray,
    z_end: np.ndarray,
    steps: int = 10,
    fig: Figure | SubFigure | None = None,
    image_shape: tuple[int, ...] | None = None,
    *,
    alt: str | None = None,
) -> Figure | SubFigure:
    """Decode a linear interpolation between two codes and show it as one strip.

    Parameters
    ----------
    decoder : callable or object with ``.predict``
        Maps a ``(k, d)`` float32 array to ``k`` images.
    z_start, z_end : array-like, shape (d,) or (1, d)
        End codes.
    steps : int
        Number of images, titled with their mixing weight ``w`` (0 = ``z_start``).
    fig : Figure or SubFigure, optional
        Figure to draw in; a new one is created when omitted.
    image_shape : tuple of int, optional
        Shape of one image, to reshape flat decoder outputs.
    alt : str, optional
        What the figure shows, in words (its text alternative on a web page); by default
        what the strip holds.

    Returns
    -------
    Figure or SubFigure
        The figure drawn in.
    """
    codes = interpolate(z_start, z_end, steps)
    images = _decode_images(decoder, codes, image_shape)
    titles = [f"w = {weight:.2f}" for weight in np.linspace(0.0, 1.0, steps)]
    alt = alt or (f"{steps} decoded images in a row, from the start code (w = 0) to the "
                  f"end code (w = 1) in equal steps of the mixing weight w")
    return plot_images(images, n=steps, ncols=steps, titles=titles, fig=fig, alt=alt)


def plot_code_channels(
    codes: np.ndarray,
    images: np.ndarray | None = None,
    n: int = 4,
    row_titles: Sequence[str] | None = None,
    fig: Figure | SubFigure | None = None,
    cmap: str = "viridis",
    *,
    alt: str | None = None,
) -> Figure | SubFigure:
    """Show convolutional codes as small images: one row per code, one column per channel.

    Parameters
    ----------
    codes : array-like, shape (N, H, W, C)
        Feature maps, e.g. a convolutional encoder's output.
    images : array-like, optional
        The ``N`` images the codes come from, drawn (gray) in a first column.
    n : int
        Number of codes (rows), at most ``N``.
    row_titles : sequence of str, optional
        One title per row, written to the left of the row (e.g. the labels).
    fig : Figure or SubFigure, optional
        Figure to draw in; a new one is created when omitted.
    cmap : str
        Colour map of the channel maps.
    alt : str, optional
        What the figure shows, in words (its text alternative on a web page); by default
        its rows, columns and colour scale.

    All channel maps share one colour scale, from ``min(0, smallest value)`` to the
    largest value shown, so brightness compares across channels and codes; a colorbar
    gives it.

    Returns
    -------
    Figure or SubFigure
        The figure drawn in.
    """
    codes = np.asarray(codes)
    if codes.ndim != 4:
        raise ValueError(f"codes must have shape (N, H, W, C), got {codes.shape}")
    n = min(n, len(codes))
    if n < 1:
        raise ValueError("plot_code_channels needs at least one code")
    if images is not None:
        images = as_images(images)
        if len(images) < n:
            raise ValueError(f"got {len(images)} images for {n} codes")
    if row_titles is not None and len(row_titles) < n:
        raise ValueError(f"got {len(row_titles)} row titles for {n} codes")
    shown = codes[:n]
    vmin, vmax = min(0.0, float(shown.min())), float(shown.max())
    vmax = vmax if vmax > vmin else vmin + 1.0
    extra = int(images is not None)
    ncols = extra + codes.shape[-1]
    fig, axes = new_figure(n, ncols, fig=fig, extra_width=ROW_TITLE_INCHES + 0.6)
    for row in range(n):
        if images is not None:
            draw_image(axes[row, 0], images[row])
        for channel in range(codes.shape[-1]):
            ax = axes[row, extra + channel]
            mappable = ax.imshow(shown[row, :, :, channel], cmap=cmap, vmin=vmin, vmax=vmax,
                                 interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        if row_titles is not None:
            axes[row, 0].set_ylabel(str(row_titles[row]), rotation=0, ha="right",
                                    va="center")
    if images is not None:
        axes[0, 0].set_title("image", fontsize="medium")
    for channel in range(codes.shape[-1]):
        axes[0, extra + channel].set_title(f"channel {channel}", fontsize="medium")
    fig.colorbar(mappable, ax=axes[:, extra:], shrink=0.8, label="activation")
    if alt is None:
        rows = f" ({listing(row_titles[:n])})" if row_titles is not None else ""
        alt = (f"The feature maps of {n} codes{rows}, one row per code"
               + (", its image first" if images is not None else "")
               + f", then one {codes.shape[1]}×{codes.shape[2]} map per channel "
               f"({codes.shape[-1]} channels); colour scale {cmap} from {vmin:.3g} "
               f"(dark) to {vmax:.3g} (bright)")
    return describe(fig, alt)


def plot_manifold(
    decoder: Decoder,
    n: int = 15,
    span: float = 3.0,
    image_shape: tuple[int, ...] = (28, 28),
    ax: Axes | None = None,
    dims: tuple[int, int] = (0, 1),
    latent_dims: int = 2,
    *,
    alt: str | None = None,
) -> Figure | SubFigure:
    """Decode an ``n`` x ``n`` grid of codes and tile the images into one picture.

    The grid covers ``[-span, span]`` in latent dimensions ``dims`` (all other
    dimensions are 0). Columns go from low to high ``z[dims[0]]``; the top row
    has the highest ``z[dims[1]]``, as on a usual plot.

    Parameters
    ----------
    decoder : callable or object with ``.predict``
        Maps a ``(k, latent_dims)`` float32 array to ``k`` images.
    n : int
        Grid points per dimension (odd ``n`` puts the code 0 in the centre tile).
    span : float
        Half-width of the grid.
    image_shape : tuple of int
        Shape of one decoded image, e.g. ``(28, 28)`` or ``(32, 32, 3)``.
    ax : Axes, optional
        Axes to draw in; a new figure is created when omitted.
    dims : (int, int)
        Latent dimensions varied along x and y.
    latent_dims : int
        Size of the codes given to the decoder.
    alt : str, optional
        What the figure shows, in words (its text alternative on a web page); by default
        the grid and the codes it covers.

    Returns
    -------
    Figure or SubFigure
        The figure holding the axes.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if len(set(dims)) != 2 or not all(0 <= d < latent_dims for d in dims):
        raise ValueError(f"dims must be two different indices below {latent_dims}, got {dims}")
    grid = np.linspace(-span, span, n)
    codes = np.zeros((n, n, latent_dims), dtype=np.float32)
    codes[:, :, dims[0]] = grid[None, :]
    codes[:, :, dims[1]] = grid[::-1, None]
    images = _decode_images(decoder, codes.reshape(n * n, latent_dims), image_shape)
    height, width = images.shape[1:3]
    tiles = images.reshape(n, n, *images.shape[1:])
    canvas = tiles.swapaxes(1, 2).reshape(n * height, n * width, *images.shape[3:])
    if ax is None:
        ax = plt.figure(figsize=(7, 7), layout="constrained").add_subplot()
    draw_image(ax, canvas)
    ticks = np.unique(np.round(np.linspace(0, n - 1, min(n, 5))).astype(int))
    ax.set_xticks(ticks * width + (width - 1) / 2, [f"{grid[t]:.1f}" for t in ticks])
    ax.set_yticks(ticks * height + (height - 1) / 2, [f"{grid[::-1][t]:.1f}" for t in ticks])
    ax.set_xlabel(f"z[{dims[0]}]")
    ax.set_ylabel(f"z[{dims[1]}]")
    others = " (every other dimension 0)" if latent_dims > 2 else ""
    alt = alt or (f"A {n} by {n} grid of decoded images: z[{dims[0]}] runs from {-span:g} "
                  f"to {span:g} left to right, z[{dims[1]}] from {span:g} to {-span:g} "
                  f"top to bottom{others}")
    describe(ax.figure, alt)
    return ax.figure


def plot_latent_scatter(
    codes: np.ndarray,
    labels: np.ndarray | None = None,
    ax: Axes | None = None,
    method: str = "auto",
    images: np.ndarray | None = None,
    n_thumbnails: int = 0,
    random_state: int = 0,
    class_names: Sequence[str] | None = None,
    *,
    alt: str | None = None,
) -> Figure | SubFigure:
    """Scatter latent codes in 2-D, coloured by label, optionally with image thumbnails.

    Parameters
    ----------
    codes : array-like, shape (N, d)
        Latent codes, ``d >= 2``.
    labels : array-like, shape (N,), optional
        Class labels (legend, named by ``class_names``) or continuous values
        (colorbar).
    ax : Axes, optional
        Axes to draw in; a new figure is created when omitted.
    method : {"auto", "tsne", "pca", "none"}
        Projection to 2-D. ``"auto"`` runs t-SNE only when ``d > 2``; ``"none"``
        plots the first two dimensions.
    images : array-like, optional
        The ``N`` images the codes come from, for thumbnails.
    n_thumbnails : int
        Most thumbnails to draw, at random points kept apart from each other.
    random_state : int
        Seed for t-SNE and for choosing thumbnail points.
    class_names : sequence of str, optional
        Legend names, indexed by integer label.
    alt : str, optional
        What the figure shows, in words (its text alternative on a web page); by default
        the points, the projection and the colours.

    Returns
    -------
    Figure or SubFigure
        The figure holding the axes.
    """
    codes = np.asarray(codes, dtype=float)
    if codes.ndim != 2 or codes.shape[1] < 2:
        raise ValueError(f"codes must have shape (N, d) with d >= 2, got {codes.shape}")
    points, axis_labels = _project(codes, method, random_state)
    if ax is None:
        ax = plt.figure(figsize=(7, 6), layout="constrained").add_subplot()
    size = float(np.clip(4000 / len(points), 3, 30))
    colours = _scatter(ax, points, labels, class_names, size)
    if images is not None and n_thumbnails > 0:
        _add_thumbnails(ax, points, images, n_thumbnails, random_state, colours)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    if alt is None:
        alt = (f"Scatter plot of {len(points)} codes, {axis_labels[0]} across and "
               f"{axis_labels[1]} up")
        if labels is not None:
            alt += (", one colour per class, each class named at its median point and in "
                    "the legend" if colours is not None
                    else ", coloured by label on a viridis scale")
        if images is not None and n_thumbnails > 0:
            alt += ", with some of the images drawn at their points"
    describe(ax.figure, alt)
    return ax.figure


def _as_code(z: np.ndarray) -> np.ndarray:
    """Return one code as a 1-D array, accepting a ``(1, d)`` batch of one."""
    z = np.asarray(z)
    if z.ndim == 2 and z.shape[0] == 1:
        z = z[0]
    if z.ndim != 1:
        raise ValueError(f"a code must have shape (d,) or (1, d), got {z.shape}")
    return z


def _decode(decoder: Decoder, codes: np.ndarray) -> np.ndarray:
    """Run ``decoder`` on float32 ``codes`` (``predict(z, verbose=0)`` if it has one)."""
    codes = np.asarray(codes, dtype=np.float32)
    predict = getattr(decoder, "predict", None)
    if predict is None:
        return np.asarray(decoder(codes))
    try:
        parameters = inspect.signature(predict).parameters.values()
    except (TypeError, ValueError):
        parameters = []
    takes_verbose = any(
        p.name == "verbose" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
    )
    return np.asarray(predict(codes, verbose=0) if takes_verbose else predict(codes))


def _decode_images(
    decoder: Decoder, codes: np.ndarray, image_shape: tuple[int, ...] | None
) -> np.ndarray:
    """Decode ``codes`` and return displayable images (see `as_images`)."""
    images = _decode(decoder, codes)
    if image_shape is not None:
        if images.size != len(codes) * int(np.prod(image_shape)):
            raise ValueError(
                f"decoder output of shape {images.shape} cannot be reshaped to "
                f"{len(codes)} images of shape {tuple(image_shape)}"
            )
        images = images.reshape(len(codes), *image_shape)
    return as_images(images)


def _project(codes: np.ndarray, method: str, random_state: int) -> tuple[np.ndarray, tuple]:
    """Project ``codes`` to 2-D; return the points and the axis labels."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "auto":
        method = "tsne" if codes.shape[1] > 2 else "none"
    if method == "tsne":
        perplexity = min(30.0, max(1.0, (len(codes) - 1) / 3))
        tsne = TSNE(perplexity=perplexity, init="pca", random_state=random_state)
        points = tsne.fit_transform(codes)
    elif method == "pca":
        points = PCA(n_components=2).fit_transform(codes)
    else:
        points = codes[:, :2]
    return points, AXIS_LABELS[method]


def _scatter(
    ax: Axes,
    points: np.ndarray,
    labels: np.ndarray | None,
    class_names: Sequence[str] | None,
    size: float,
) -> np.ndarray | None:
    """Draw the points; return per-point RGBA colours for class labels, else None."""
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=size, alpha=0.7)
        return None
    labels = np.ravel(labels)
    if len(labels) != len(points):
        raise ValueError(f"got {len(labels)} labels for {len(points)} codes")
    classes, index = np.unique(labels, return_inverse=True)
    is_float = np.issubdtype(labels.dtype, np.floating)
    if is_float or len(classes) > MAX_LEGEND_CLASSES:
        cloud = ax.scatter(points[:, 0], points[:, 1], c=labels, s=size, cmap="viridis")
        ax.figure.colorbar(cloud, ax=ax, label="label")
        return None
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    colours = cmap(index % cmap.N)
    ax.scatter(points[:, 0], points[:, 1], c=colours, s=size, alpha=0.8)
    handles = [
        Line2D([], [], ls="", marker="o", color=cmap(k), label=_class_name(c, class_names))
        for k, c in enumerate(classes)
    ]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    # Each class's name at its median point too, so that no reader needs the colours.
    outline = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for k, c in enumerate(classes):
        x, y = np.median(points[index == k], axis=0)
        ax.text(x, y, _class_name(c, class_names), ha="center", va="center",
                fontsize="small", fontweight="bold", path_effects=outline)
    return colours


def _class_name(label: Any, class_names: Sequence[str] | None) -> str:
    """Return the display name of one label."""
    if class_names is not None and np.issubdtype(type(label), np.integer):
        return str(class_names[int(label)])
    return str(label)


def _spread_out(points: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """Pick up to ``k`` point indices, in random order, at least `THUMBNAIL_SPACING` apart.

    Distances are measured along x or y (whichever is larger), after scaling
    both to ``[0, 1]``, so square thumbnails of that size do not overlap.
    """
    extent = np.ptp(points, axis=0)
    scaled = (points - points.min(axis=0)) / np.where(extent > 0, extent, 1.0)
    chosen: list[int] = []
    for i in rng.permutation(len(points)):
        if len(chosen) == k:
            break
        distances = np.abs(scaled[chosen] - scaled[i]).max(axis=1)
        if not chosen or distances.min() >= THUMBNAIL_SPACING:
            chosen.append(int(i))
    return chosen


def _add_thumbnails(
    ax: Axes,
    points: np.ndarray,
    images: np.ndarray,
    k: int,
    random_state: int,
    colours: np.ndarray | None,
) -> None:
    """Draw up to ``k`` image thumbnails at spread-out points, framed in their class colour."""
    images = as_images(images)
    if len(images) != len(points):
        raise ValueError(f"got {len(images)} images for {len(points)} codes")
    zoom = THUMBNAIL_POINTS / max(images.shape[1:3])
    vmax = 255 if np.issubdtype(images.dtype, np.integer) else 1.0
    for i in _spread_out(points, k, np.random.default_rng(random_state)):
        thumbnail = OffsetImage(
            images[i], zoom=zoom, cmap=THUMBNAIL_CMAP, norm=Normalize(0, vmax)
        )
        edge = colours[i] if colours is not None else "black"
        frame = {"edgecolor": edge, "linewidth": 1.5}
        box = AnnotationBbox(thumbnail, points[i], pad=0.15, bboxprops=frame)
        ax.add_artist(box)
