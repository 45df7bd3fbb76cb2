"""Run modes: how much training a notebook gets.

``COURSE_MODE=full`` (the default) trains as the text describes. ``COURSE_MODE=fast``
keeps every notebook short for CI and grading; it is chosen automatically while
nbgrader executes a notebook (nbgrader sets ``NBGRADER_EXECUTION`` then). This module
is the one place that turns a notebook's training request into numbers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from helpers import settings

Mode = Literal["full", "fast"]
MODES: tuple[Mode, ...] = ("full", "fast")

#: Fast mode trains on at most this many examples ...
FAST_MAX_TRAIN = 6000
#: ... evaluates and plots on at most this many ...
FAST_MAX_EVAL = 1000
#: ... and runs this fraction of the requested epochs, between 1 and FAST_MAX_EPOCHS.
FAST_EPOCH_FRACTION = 0.1
FAST_MAX_EPOCHS = 3


@dataclass(frozen=True)
class Budget:
    """The training a notebook gets in the current mode."""

    mode: Mode
    epochs: int
    n_train: int
    n_eval: int

    def __str__(self) -> str:
        return (f"{self.mode} mode: {self.epochs} epoch(s) on {self.n_train:,} training "
                f"examples, {self.n_eval:,} for evaluation")


def current_mode(environ: Mapping[str, str] | None = None) -> Mode:
    """Return the run mode from ``COURSE_MODE``, forced to fast under nbgrader.

    Raises :class:`helpers.settings.SettingError` (a ``ValueError``) for a
    ``COURSE_MODE`` other than ``full`` or ``fast``.
    """
    env = os.environ if environ is None else environ
    value = settings.choice("COURSE_MODE", env)
    if env.get("NBGRADER_EXECUTION"):
        return "fast"
    return value  # type: ignore[return-value]


def budget(epochs: int, n_train: int, n_eval: int | None = None,
           mode: Mode | None = None) -> Budget:
    """Turn a full-mode training request into the numbers for the current mode.

    Parameters
    ----------
    epochs, n_train:
        What the notebook trains in full mode (e.g. 50 epochs on 60,000 images).
    n_eval:
        How many test/validation examples it evaluates and plots (default ``n_train``).
    mode:
        Override the mode (default: :func:`current_mode`).
    """
    if epochs < 1 or n_train < 1:
        raise ValueError("epochs and n_train must be at least 1")
    n_eval = n_train if n_eval is None else n_eval
    mode = current_mode() if mode is None else mode
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    if mode == "full":
        return Budget(mode, epochs, n_train, n_eval)
    fast_epochs = min(FAST_MAX_EPOCHS, max(1, math.ceil(epochs * FAST_EPOCH_FRACTION)))
    return Budget(mode, min(epochs, fast_epochs), min(n_train, FAST_MAX_TRAIN),
                  min(n_eval, FAST_MAX_EVAL))
