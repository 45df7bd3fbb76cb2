"""Training curves from a Keras ``History`` (or a plain dict of per-epoch values), of one
run or of several runs to compare."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import MaxNLocator

from helpers.figures import describe, listing, new_figure

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


def _is_run(value: Any) -> bool:
    """Whether ``value`` is one run's history (a ``History``, a record, a dict of series)."""
    return hasattr(value, "history") or isinstance(value, Mapping)


def _runs(history: Any) -> tuple[dict[str, dict[str, list[float]]], bool]:
    """``({run name: per-epoch values}, whether several runs are compared)``.

    A mapping whose values are all histories is a comparison of runs, named by its keys;
    anything else is one run (named ``""``).
    """
    values = getattr(history, "history", history)
    if isinstance(values, Mapping) and values and all(_is_run(v) for v in values.values()):
        return {str(name): per_epoch(run) for name, run in values.items()}, True
    return {"": per_epoch(history)}, False


def _metric_names(runs: Mapping[str, Mapping[str, Sequence[float]]]) -> list[str]:
    """The metric names of ``runs`` without ``val_`` duplicates, ``loss`` first."""
    names: list[str] = []
    for values in runs.values():
        for key in values:
            name = key.removeprefix("val_")
            if name not in names:
                names.append(name)
    return sorted(names, key=lambda name: name != "loss")


def _keys(metric: str) -> tuple[tuple[str, str], ...]:
    """The history keys a panel for ``metric`` draws, with their kind: ``val_x`` draws only
    the validation curve, ``x`` the training and the validation curve."""
    if metric.startswith("val_"):
        return ((metric, "validation"),)
    return ((metric, "train"), (f"val_{metric}", "validation"))


def plot_history(
    history: Any,
    metrics: Sequence[str] | str | None = None,
    fig: Figure | SubFigure | None = None,
    *,
    first_epoch: int = 1,
    alt: str | None = None,
) -> Figure | SubFigure:
    """Plot training curves, one axes per metric; several runs share each axes.

    Parameters
    ----------
    history : keras.callbacks.History, TrainingRecord or mapping
        One run: an object with a ``.history`` dict, or a dict ``{name: per-epoch values}``;
        ``val_<name>`` entries are drawn in the same axes as ``<name>``, labelled
        "train" and "validation". Or several runs to compare: a dict
        ``{run name: History, record or dict}``; each metric's axes then holds every
        run's curves, labelled by the run's name (and ", train" / ", validation" when a
        panel shows both), one color per run, training dashed.
    metrics : str or sequence of str, optional
        Metrics to plot (default: every metric, ``loss`` first). ``"mse"`` draws the
        training and the validation curve of ``mse``; ``"val_mse"`` only the validation one.
    fig : Figure or SubFigure, optional
        Figure to draw in; a new one is created when omitted.
    first_epoch : int
        The epoch of each series' first value: 1 (default) for the values Keras records
        after each epoch, 0 when a series starts with the value before training.
    alt : str, optional
        What the figure shows, in words (its text alternative on a web page); by default
        the metrics and the runs drawn.

    Returns
    -------
    Figure or SubFigure
        The figure drawn in.
    """
    runs, comparing = _runs(history)
    bases = _metric_names(runs)
    if not bases:
        raise ValueError("the history is empty: nothing to plot")
    if metrics is None:
        metrics = bases
    elif isinstance(metrics, str):
        metrics = [metrics]
    available = bases + [key for values in runs.values() for key in values
                         if key.startswith("val_")]
    unknown = [name for name in metrics if name not in available]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; the history has {bases} "
                         f"(a val_ name draws only the validation curve)")
    ncols = min(len(metrics), MAX_COLUMNS)
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = new_figure(nrows, ncols, fig=fig, cell_size=PANEL_INCHES)
    for i, ax in enumerate(axes.flat):
        if i >= len(metrics):
            ax.remove()
            continue
        _draw_metric(ax, runs, metrics[i], comparing, first_epoch)
    if alt is None:
        alt = f"Line plots of {listing(metrics)} against the epoch"
        alt += (f", one line per run: {listing(runs)} (training dashed)" if comparing
                else ", training and validation")
    return describe(fig, alt)


def _draw_metric(ax: Any, runs: Mapping[str, Mapping[str, list[float]]], metric: str,
                 comparing: bool, first_epoch: int) -> None:
    """Draw every run's curves of ``metric`` in ``ax``."""
    keys = _keys(metric)
    shown = [(run, key, kind) for run, values in runs.items() for key, kind in keys
             if key in values]
    kinds = {kind for _, _, kind in shown}
    both_kinds = len(kinds) > 1
    colors: dict[str, Any] = {}
    last_epoch = first_epoch
    for run, key, kind in shown:
        series = runs[run][key]
        epochs = np.arange(first_epoch, first_epoch + len(series))
        last_epoch = max(last_epoch, first_epoch + len(series) - 1)
        if not comparing:
            label = kind
        else:
            label = f"{run}, {kind}" if both_kinds else run
        style = {"linestyle": "--"} if comparing and kind == "train" else {}
        if comparing and run in colors:
            style["color"] = colors[run]
        (line,) = ax.plot(epochs, series, marker="o", markersize=4, label=label, **style)
        colors.setdefault(run, line.get_color())
    ax.set_title(f"val_{metric}" if kinds == {"validation"} and not metric.startswith("val_")
                 else metric)
    ax.set_xlabel("epoch")
    ax.set_xlim(first_epoch - 0.5, last_epoch + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.grid(alpha=0.3)
    ax.legend()
