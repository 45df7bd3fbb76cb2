"""Shared figure utilities: image-batch normalisation, figure creation, saving."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

#: Size in inches of one image cell in the image-grid figures.
CELL_INCHES = 1.2


def as_images(x: np.ndarray) -> np.ndarray:
    """Return a batch of images in a shape ``imshow`` can display.

    Parameters
    ----------
    x : array-like
        A batch of images: ``(N, H*W)`` flat vectors with a square ``H*W``
        (e.g. 784 -> 28x28), ``(N, H, W)``, ``(N, H, W, 1)`` or ``(N, H, W, 3)``.

    Returns
    -------
    np.ndarray
        ``(N, H, W)`` for grayscale or ``(N, H, W, 3)`` for RGB. Values are
        left unchanged.

    Raises
    ------
    ValueError
        If the shape cannot be read as a batch of images.
    """
    x = np.asarray(x)
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1] or side == 0:
            raise ValueError(
                f"cannot display flat vectors of shape {x.shape}: {x.shape[1]} is not a "
                "perfect square (expected e.g. (N, 784) for 28x28 images; for a single "
                "image pass a batch of one, x[None])"
            )
        return x.reshape(x.shape[0], side, side)
    if x.ndim == 3:
        return x
    if x.ndim == 4 and x.shape[-1] == 1:
        return x[..., 0]
    if x.ndim == 4 and x.shape[-1] == 3:
        return x
    raise ValueError(
        f"cannot display an image batch of shape {x.shape}: expected (N, H*W), (N, H, W), "
        "(N, H, W, 1) or (N, H, W, 3); pass a batch even for a single image (x[None])"
    )


def new_figure(
    nrows: int,
    ncols: int,
    fig: Figure | SubFigure | None = None,
    cell_size: tuple[float, float] = (CELL_INCHES, CELL_INCHES),
    extra_width: float = 0.0,
) -> tuple[Figure | SubFigure, np.ndarray]:
    """Create (or fill) a figure with an ``nrows`` x ``ncols`` grid of axes.

    Parameters
    ----------
    nrows, ncols : int
        Grid size.
    fig : Figure or SubFigure, optional
        Figure to add the axes to. A new constrained-layout figure sized
        ``cell_size`` per axes is created when omitted.
    cell_size : (float, float)
        Width and height in inches of one grid cell for a new figure.
    extra_width : float
        Inches added to a new figure's width (e.g. room for row titles).

    Returns
    -------
    fig : Figure or SubFigure
        The figure holding the axes.
    axes : np.ndarray of Axes
        Always 2-D, shape ``(nrows, ncols)``.
    """
    if fig is None:
        figsize = (ncols * cell_size[0] + extra_width, nrows * cell_size[1])
        fig = plt.figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def draw_image(ax: Axes, image: np.ndarray, cmap: str = "gray") -> None:
    """Draw one image (``(H, W)`` or ``(H, W, 3)``) in ``ax`` without ticks or frame.

    Grayscale images use a fixed range, ``[0, 1]`` for floats and ``[0, 255]``
    for integers, so that brightness is comparable across images. Float RGB
    images are clipped to ``[0, 1]``. Pixels are drawn without smoothing. The
    axes stay on (only ticks and frame are hidden) so a y label can name a row.
    """
    image = np.asarray(image)
    vmax = 255 if np.issubdtype(image.dtype, np.integer) else 1.0
    if image.ndim == 2:
        ax.imshow(image, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
    else:
        if vmax == 1.0:
            image = np.clip(image, 0.0, 1.0)
        ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[:].set_visible(False)


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Save ``fig`` to ``path`` (parent folders created) with a tight bounding box.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


# --- text descriptions (alt text) -----------------------------------------------------------
#: Where a figure keeps the descriptions its helpers gave it, one per part drawn.
DESCRIPTION_ATTR = "course_descriptions"


def listing(items, most: int = 6) -> str:
    """``items`` as words in a sentence: all of them, or the first three, "…" and the last."""
    words = [f"'{item}'" for item in map(str, items)]
    if len(words) > most:
        words = [*words[:3], "…", words[-1]]
    return ", ".join(words)


def describe(fig: Figure | SubFigure, text: str) -> Figure | SubFigure:
    """Add ``text`` to the description of ``fig``'s whole figure and return ``fig``.

    A figure drawn in parts (subfigures, several helpers) gets one description per part,
    in order. The description travels with the figure's picture when Jupyter shows it
    (:func:`show_descriptions`): a web page built from the notebook uses it as the
    picture's text alternative, for readers who do not see it.
    """
    root = fig
    while isinstance(root, SubFigure):
        root = root.figure
    parts = getattr(root, DESCRIPTION_ATTR, None)
    if parts is None:
        parts = []
        setattr(root, DESCRIPTION_ATTR, parts)
    text = " ".join(str(text).split())
    if text and text not in parts:
        parts.append(text)
    show_descriptions()  # Jupyter's figure printer exists once a figure does
    return fig


def _titles(fig: Figure | SubFigure) -> list[str]:
    """The titles of ``fig``, its subfigures and their axes, in drawing order."""
    found = [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes]
    for sub in fig.subfigs:
        found += _titles(sub)
    return found


def description(fig: Figure) -> str:
    """The description of ``fig``: its parts joined, led by the titles the parts do not
    already name (a cell may title a helper's figure afterwards); ``""`` when no helper
    gave one."""
    parts = [part if part.endswith(".") else part + "."
             for part in getattr(fig, DESCRIPTION_ATTR, [])]
    if not parts:
        return ""
    text = " ".join(parts)
    titles = [t for t in dict.fromkeys(_titles(fig)) if t and f"'{t}'" not in text]
    return f"Titled {listing(titles)}. {text}" if titles else text


def _with_description(printer):
    """``printer`` (IPython's PNG printer of a figure) returning the figure's description
    as the picture's ``alt`` metadata as well."""
    def print_png(fig):
        data = printer(fig)
        try:
            text = description(fig)
        except Exception:  # noqa: BLE001 - a description never costs the picture
            text = ""
        if not text:
            return data
        data, meta = data if isinstance(data, tuple) else (data, {})
        return data, {**(meta or {}), "alt": text}
    print_png.course_describes = True
    return print_png


def show_descriptions() -> bool:
    """Let a figure shown in a Jupyter kernel carry its description: the PNG of a figure
    gets ``{"alt": <description>}`` as its output metadata. Returns whether it is on (only
    in an IPython shell whose PNG printer of figures is set)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    png = shell.display_formatter.formatters["image/png"]
    try:
        printer = png.lookup_by_type(Figure)
    except KeyError:
        return False
    if not getattr(printer, "course_describes", False):
        png.for_type(Figure, _with_description(printer))
    return True

