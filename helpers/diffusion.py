"""The forward process of a diffusion model (notebook 11): DDPM's linear noise schedule, a
noisy example drawn from q(x_t | x_0) in one step, and a figure of the schedule.

Steps are counted from 0: ``t = 0 .. T-1`` here is step ``1 .. T`` of Ho et al. (2020).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure, SubFigure

from helpers.figures import describe, new_figure

#: Size in inches of one panel of `plot_schedule`.
PANEL_INCHES = (4.2, 3.0)


def alphas_cumprod(steps: int = 1000, beta_start: float = 1e-4,
                   beta_end: float = 0.02) -> np.ndarray:
    """ᾱ_t = ∏_{s<=t} (1 - β_s) for t = 0 .. steps-1, the β rising linearly from
    ``beta_start`` to ``beta_end`` (DDPM's schedule by default); float64, shape (steps,)."""
    betas = np.linspace(beta_start, beta_end, steps, dtype=np.float64)
    return np.cumprod(1.0 - betas)


def q_sample(x0: np.ndarray, t: np.ndarray, noise: np.ndarray,
             alphas_cumprod: np.ndarray) -> np.ndarray:
    """x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) noise, for each example (axis 0) at its own step.

    ``t`` holds one whole-number step per example; ``alphas_cumprod`` is the schedule's ᾱ.
    The result has ``x0``'s shape and the dtype of ``x0`` and ``noise`` together (float32 for
    float32 inputs), computed in float64; the inputs are left unchanged.
    """
    x0, noise = np.asarray(x0), np.asarray(noise)
    abar = np.asarray(alphas_cumprod, dtype=np.float64)[np.asarray(t)]
    abar = abar.reshape(abar.shape + (1,) * (x0.ndim - abar.ndim))
    x_t = np.sqrt(abar) * x0 + np.sqrt(1.0 - abar) * noise
    return x_t.astype(np.result_type(x0, noise))


def plot_schedule(abar: np.ndarray, marks: Sequence[int] = (),
                  fig: Figure | SubFigure | None = None, *,
                  alt: str | None = None) -> Figure | SubFigure:
    """Two panels along t: the weights sqrt(ᾱ_t) of the image and sqrt(1 - ᾱ_t) of the
    noise; and the signal-to-noise ratio ᾱ_t / (1 - ᾱ_t) on a log scale, a dashed line at 1.
    ``marks`` (steps) are dotted vertical lines in both panels."""
    abar = np.asarray(abar, dtype=np.float64)
    steps = np.arange(len(abar))
    fig, axes = new_figure(1, 2, fig=fig, cell_size=PANEL_INCHES)
    weights, snr = axes[0]
    weights.plot(steps, np.sqrt(abar), label="image: sqrt(ᾱ_t)")
    weights.plot(steps, np.sqrt(1.0 - abar), label="noise: sqrt(1 - ᾱ_t)")
    weights.set(xlabel="step t", ylabel="weight", ylim=(0, 1.05))
    weights.legend()
    snr.semilogy(steps, abar / (1.0 - abar))
    snr.axhline(1.0, color="gray", linestyle="--", linewidth=1)
    snr.set(xlabel="step t", ylabel="signal-to-noise ratio ᾱ_t / (1 - ᾱ_t)")
    for step in marks:
        for ax in (weights, snr):
            ax.axvline(step, color="gray", linestyle=":", linewidth=1)
    if alt is None:
        alt = (f"Two line plots over the steps t from 0 to {len(abar) - 1}. Left: the weight "
               "of the image, sqrt of alpha-bar, falling from 1 towards 0, and the weight of "
               "the noise, sqrt of 1 minus alpha-bar, rising from near 0 towards 1. Right: "
               "the signal-to-noise ratio alpha-bar over 1 minus alpha-bar on a log scale, "
               "falling steadily, with a dashed line where it equals 1")
        if len(marks):
            alt += f"; dotted lines mark t = {', '.join(map(str, marks))}"
    return describe(fig, alt)
