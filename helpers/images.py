"""Image galleries: single batches, and rows of related images (input, output, target...)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure, SubFigure

from helpers.figures import CELL_INCHES, as_images, describe, draw_image, listing, new_figure

#: Width in inches reserved for row titles in `plot_image_rows`.
ROW_TITLE_INCHES = 1.3
#: Width in inches of one title character at the "medium" font size (about 10 pt).
TITLE_CHAR_INCHES = 0.085
#: Height in inches added per grid row when images have titles.
TITLE_INCHES = 0.3


def plot_images(
    images: np.ndarray,
    n: int | None = None,
    ncols: int | None = None,
    titles: Sequence[str] | None = None,
    fig: Figure | SubFigure | None = None,
    cmap: str = "gray",
    *,
    alt: str | None = None,
) -> Figure | SubFigure:
    """Show the first ``n`` images in a row, or in a grid of ``ncols`` columns.

    Parameters
    ----------
    images : array-like
        Image batch, any shape accepted by `helpers.figures.as_images`.
    n : int, optional
        Number of images to show (default: all of them, at most the batch size).
    ncols : int, optional
        Columns of the grid; default one row for up to 10 images, else 10.
    titles : sequence of str, optional
        One title per shown image (e.g. labels or predictions).
    fig : Figure or SubFigure, optional
        Figure to draw in; a new one is created when omitted.
    cmap : str
        Colour map for grayscale images.
    alt : str, optional
        What the figure shows, in words (its text alternative on a web page); by default
        the number of images, their layout and titles.

    Returns
    -------
    Figure or SubFigure
        The figure drawn in.
    """
    images = as_images(images)
    n = len(images) if n is None else min(n, len(images))
    if n < 1:
        raise ValueError("plot_images needs at least one image")
    if titles is not None and len(titles) < n:
        raise ValueError(f"got {len(titles)} titles for {n} images")
    ncols = min(n, 10) if ncols is None else min(ncols, n)
    nrows = math.ceil(n / ncols)
    cell_height = CELL_INCHES + (TITLE_INCHES if titles is not None else 0.0)
    longest = max((len(str(t)) for t in titles[:n]), default=0) if titles is not None else 0
    cell_width = max(CELL_INCHES, TITLE_CHAR_INCHES * longest)  # long titles must not overlap
    fig, axes = new_figure(nrows, ncols, fig=fig, cell_size=(cell_width, cell_height))
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.remove()
            continue
        draw_image(ax, images[i], cmap=cmap)
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize="medium")
    if alt is None:
        layout = "in one row" if nrows == 1 else f"in {nrows} rows of {ncols}"
        alt = f"{n} images {layout}"
        if titles is not None:
            alt += f", titled {listing(titles[:n])}"
    return describe(fig, alt)


def plot_image_rows(
    rows: Sequence[np.ndarray],
    row_titles: Sequence[str],
    n: int = 8,
    fig: Figure | SubFigure | None = None,
    *,
    alt: str | None = None,
) -> Figure | SubFigure:
    """Show several aligned image batches, one per row, column ``j`` = sample ``j``.

    Each row may have its own resolution or channels (e.g. 14x14 low-res
    inputs above 28x28 outputs, or grayscale above RGB); all cells have the
    same size, so a low-resolution image shows larger pixels.

    Parameters
    ----------
    rows : sequence of array-like
        Image batches, any shape accepted by `helpers.figures.as_images`.
    row_titles : sequence of str
        One title per row, written to the left of the row.
    n : int
        Number of columns (samples), at most the smallest batch size.
    fig : Figure or SubFigure, optional
        Figure to draw in; a new one is created when omitted.
    alt : str, optional
        What the figure shows, in words; by default its rows and columns.

    Returns
    -------
    Figure or SubFigure
        The figure drawn in.
    """
    if len(rows) == 0:
        raise ValueError("plot_image_rows needs at least one row")
    if len(row_titles) != len(rows):
        raise ValueError(f"got {len(row_titles)} row titles for {len(rows)} rows")
    batches = [as_images(row) for row in rows]
    n = min(n, *(len(batch) for batch in batches))
    if n < 1:
        raise ValueError("plot_image_rows needs at least one image per row")
    fig, axes = new_figure(len(batches), n, fig=fig, extra_width=ROW_TITLE_INCHES)
    for axes_row, batch, title in zip(axes, batches, row_titles, strict=True):
        for ax, image in zip(axes_row, batch[:n], strict=True):
            draw_image(ax, image)
        axes_row[0].set_ylabel(str(title), rotation=0, ha="right", va="center")
    if alt is None:
        alt = (f"{n} examples side by side, one per column, each in {len(batches)} rows, "
               f"top to bottom: {listing(row_titles)}")
    return describe(fig, alt)


def plot_reconstructions(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    n: int = 10,
    fig: Figure | SubFigure | None = None,
    row_titles: Sequence[str] = ("original", "reconstruction"),
    *,
    alt: str | None = None,
) -> Figure | SubFigure:
    """Show ``n`` originals above their reconstructions.

    Returns
    -------
    Figure or SubFigure
        The figure drawn in (see `plot_image_rows`).
    """
    return plot_image_rows([originals, reconstructions], row_titles, n=n, fig=fig, alt=alt)


def plot_triplets(
    inputs: np.ndarray,
    outputs: np.ndarray,
    targets: np.ndarray,
    n: int = 8,
    fig: Figure | SubFigure | None = None,
    row_titles: Sequence[str] = ("input", "output", "target"),
    *,
    alt: str | None = None,
) -> Figure | SubFigure:
    """Show inputs, model outputs and targets in three rows.

    Used for noisy / denoised / clean, low-res / predicted / high-res and
    gray / predicted / true colour. Rows may differ in resolution or channels.

    Returns
    -------
    Figure or SubFigure
        The figure drawn in (see `plot_image_rows`).
    """
    return plot_image_rows([inputs, outputs, targets], row_titles, n=n, fig=fig, alt=alt)
