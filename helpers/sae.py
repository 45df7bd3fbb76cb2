"""Sparse autoencoders on a network's activations (notebook 12): the TopK activation, the
measures of a dictionary (L0, fraction of variance unexplained, dead latents, the classes
among a unit's top-activating images) and the notebook's figures.

Activations are arrays of shape ``(examples, units)``: a unit is a neuron of the network
or a latent of a dictionary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure, SubFigure

from helpers.figures import describe, listing, new_figure

#: Size in inches of one panel of the figures below.
PANEL_INCHES = (4.2, 3.2)


def topk_activation(pre: np.ndarray, k: int) -> np.ndarray:
    """Each row of ``pre`` (shape ``(n, width)``) with its ``k`` largest values kept and
    the others set to 0; of equal values the one of the lower index is kept first.

    ``k >= width`` keeps the whole row, ``k = 0`` none. The result has ``pre``'s shape
    and dtype; ``pre`` is left unchanged.
    """
    pre = np.asarray(pre)
    if pre.ndim != 2:
        raise ValueError(f"pre must be of shape (n, width), got {pre.shape}")
    k = int(k)
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    kept = np.argsort(-pre, axis=1, kind="stable")[:, :k]   # stable: lower index first
    out = np.zeros_like(pre)
    np.put_along_axis(out, kept, np.take_along_axis(pre, kept, axis=1), axis=1)
    return out


def l0(latents: np.ndarray) -> float:
    """The mean number of units that are not 0, per example."""
    return float(np.count_nonzero(np.asarray(latents), axis=1).mean())


def fvu(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Fraction of variance unexplained: the summed squared error of ``x_hat`` over the
    summed squared distance of ``x`` to its own mean (0 is perfect, 1 is the mean's)."""
    x = np.asarray(x, dtype=np.float64)
    error = ((x - np.asarray(x_hat, dtype=np.float64)) ** 2).sum()
    return float(error / ((x - x.mean(axis=0)) ** 2).sum())


def dead_latents(latents: np.ndarray) -> np.ndarray:
    """A boolean per unit: True for those that are 0 on every example given."""
    return ~np.asarray(latents).any(axis=0)


def top_examples(activations: np.ndarray, unit: int, n: int = 8) -> np.ndarray:
    """Indices of the ``n`` examples on which ``unit`` is largest, largest first."""
    return np.argsort(-np.asarray(activations)[:, unit], kind="stable")[:n]


def class_purity(activations: np.ndarray, labels: np.ndarray, top: int = 50,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """For each unit, the share of its ``top`` largest activations that fall on examples of
    its most common class there, and that class.

    Only examples where the unit is above 0 count: a unit above 0 on fewer than ``top``
    examples gets a purity of NaN and a class of -1 (too rare to judge).
    """
    acts, labels = np.asarray(activations), np.asarray(labels)
    order = np.argsort(-acts, axis=0, kind="stable")[:top]           # (top, units)
    classes = labels[order]
    counts = np.stack([(classes == c).sum(axis=0) for c in range(int(labels.max()) + 1)])
    purity = counts.max(axis=0) / top
    best = counts.argmax(axis=0)
    rare = (acts > 0).sum(axis=0) < top
    return np.where(rare, np.nan, purity), np.where(rare, -1, best)


# --------------------------------------------------------------------------- figures
def plot_feature_geometry(weights: Sequence[np.ndarray], titles: Sequence[str],
                          fig: Figure | SubFigure | None = None, *,
                          alt: str | None = None) -> Figure | SubFigure:
    """One panel per toy model: the columns of its ``(2, n)`` weight matrix ``W`` as arrows
    from the origin in the plane of the hidden layer, feature ``i`` numbered at its tip
    (feature 0 the most important)."""
    fig, axes = new_figure(1, len(weights), fig=fig, cell_size=(2.6, 2.8))
    for ax, w, title in zip(axes[0], weights, titles, strict=True):
        w = np.asarray(w)
        for i in range(w.shape[1]):
            ax.annotate("", xy=w[:, i], xytext=(0, 0),
                        arrowprops={"arrowstyle": "->", "color": f"C{i % 10}"})
            ax.text(*(w[:, i] * 1.12), str(i), ha="center", va="center", fontsize=8)
        ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal", title=title)
        ax.set_xticks([])
        ax.set_yticks([])
    if alt is None:
        alt = (f"{len(weights)} panels, {listing(titles)}: in each, the direction that the "
               "toy model gives each feature in its two hidden dimensions, an arrow from "
               "the centre numbered by the feature, 0 the most important")
    return describe(fig, alt)


def plot_frontier(curves: Mapping[str, tuple[Sequence[float], Sequence[float],
                                             Sequence[float]]],
                  baselines: Mapping[str, float],
                  fig: Figure | SubFigure | None = None, *,
                  alt: str | None = None) -> Figure | SubFigure:
    """Two panels against L0 (log scale): the fraction of variance unexplained (left) and
    the network's test loss with the reconstruction spliced in (right). ``curves`` maps a
    family's name to its ``(l0, fvu, loss)`` values, one point per dictionary;
    ``baselines`` maps a name to a loss drawn as a horizontal line on the right."""
    fig, axes = new_figure(1, 2, fig=fig, cell_size=PANEL_INCHES)
    left, right = axes[0]
    for i, (name, (l0s, fvus, losses)) in enumerate(curves.items()):
        order = np.argsort(l0s)
        for ax, values in ((left, fvus), (right, losses)):
            ax.plot(np.asarray(l0s)[order], np.asarray(values)[order], "o-", color=f"C{i}",
                    label=name)
    for j, (name, value) in enumerate(baselines.items()):
        right.axhline(value, color="gray", linestyle=("--", ":", "-.", "-")[j % 4],
                      linewidth=1, label=name)
    left.set(xscale="log", yscale="log", xlabel="L0 (active latents per example)",
             ylabel="fraction of variance unexplained")
    right.set(xscale="log", yscale="log", xlabel="L0 (active latents per example)",
              ylabel="test cross-entropy, spliced")
    left.legend()
    right.legend(fontsize=7)
    if alt is None:
        alt = (f"Two panels with L0 on a log scale. Left: the fraction of variance "
               f"unexplained of each dictionary, on a log scale, one line per family "
               f"({listing(curves)}). Right: the network's test loss with each "
               f"dictionary's reconstruction in place of its hidden layer, on a log "
               f"scale, beside horizontal lines for {listing(baselines)}")
    return describe(fig, alt)


def plot_purity(purities: Mapping[str, np.ndarray], fig: Figure | SubFigure | None = None,
                *, alt: str | None = None) -> Figure | SubFigure:
    """Histograms of class purity (NaN left out), one outlined histogram per set of units,
    each scaled to a share of its units."""
    fig, axes = new_figure(1, 1, fig=fig, cell_size=PANEL_INCHES)
    ax = axes[0, 0]
    bins = np.linspace(0, 1, 11)
    for name, values in purities.items():
        values = np.asarray(values, dtype=np.float64)
        values = values[~np.isnan(values)]
        ax.hist(values, bins=bins, histtype="step", linewidth=1.5,
                weights=np.full(len(values), 1 / max(len(values), 1)),
                label=f"{name} ({len(values)})")
    ax.set(xlabel="purity: share of the top activations in one class",
           ylabel="share of the units")
    ax.legend(fontsize=8)
    if alt is None:
        alt = ("Histograms of class purity from 0 to 1 in bins of 0.1, one outline per set "
               f"of units ({listing(purities)}), each as a share of its units")
    return describe(fig, alt)
