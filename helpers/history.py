"""Training curves from a Keras ``History`` (or a plain dict of per-epoch values)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import MaxNLocator

from helpers.figures import new_figure

#: Size in inches of one metric's axes.
PANEL_INCHES = (4.0, 3.0)
#: Most metric panels per figure row.
MAX_COLUMNS = 3


def per_epoch(history: Any) -> dict[str, list[float]]:
    """``{metric: [float per epoch]}`` from a Keras ``History`` or a mapping of sequences."""
    values = getattr(history, "history", history)
    if not isinstance(values, Mapping):
        raise TypeError(f"expected a Keras History or a dict of per-epoch values, "
                        f"got {type(history).__name__}")
    return {str(key): [float(v) for v in np.ravel(series)] for key, series in values.items()}


def _metric_names(history: Mapping[str, Sequence[float]]) -> list[str]:
    """Return the metric names of ``history`` without ``val_`` duplicates, ``loss`` first."""
    names: list[str] = []
    for key in history:
        name = key.removeprefix("val_")
        if name not in names:
            names.append(name)
    return sorted(names, key=lambda name: name != "loss")


def plot_history(
    history: Any,
    metrics: Sequence[str] | str | None = None,
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Plot training and validation curves, one axes per metric.

    Parameters
    ----------
    history : keras.callbacks.History or mapping
        Object with a ``.history`` dict, or a dict ``{name: per-epoch values}``.
        ``val_<name>`` entries are drawn in the same axes as ``<name>``.
    metrics : str or sequence of str, optional
        Metric names to plot (default: every metric, ``loss`` first).
    fig : Figure or SubFigure, optional
        Figure to draw in; a new one is created when omitted.

    Returns
    -------
    Figure or SubFigure
        The figure drawn in.
    """
    values = per_epoch(history)
    available = _metric_names(values)
    if not available:
        raise ValueError("the history is empty: nothing to plot")
    if metrics is None:
        metrics = available
    elif isinstance(metrics, str):
        metrics = [metrics]
    unknown = [name for name in metrics if name not in available]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; the history has {available}")
    ncols = min(len(metrics), MAX_COLUMNS)
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = new_figure(nrows, ncols, fig=fig, cell_size=PANEL_INCHES)
    for i, ax in enumerate(axes.flat):
        if i >= len(metrics):
            ax.remove()
            continue
        name = metrics[i]
        n_epochs = 1
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key in values:
                n_epochs = max(n_epochs, len(values[key]))
                epochs = np.arange(1, len(values[key]) + 1)
                ax.plot(epochs, values[key], marker="o", markersize=4, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_xlim(0.5, n_epochs + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.grid(alpha=0.3)
        ax.legend()
    return fig
