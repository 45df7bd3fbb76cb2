"""Inputs of hidden tests, drawn per submission: ``helpers.hidden_rng(name)``.

A hidden test with a fixed seed draws the same inputs for everyone, every year: once
its inputs and expected values leak (a student's code can print what it was called
with), an answer can memorise them. So the hidden tests of notebooks 05-07 draw their
inputs from :func:`hidden_rng`, seeded by a key the grader derives, outside the kernel,
from its secret and the submission (:func:`submission_key`: an HMAC of the student's id
and the submission's timestamp under the grader's secret). The kernel receives only
that key (:data:`KEY_VARIABLE` in its environment), never the secret:

- a regrade of the same submission draws the same inputs (same key);
- another student, another submission or another secret draws other inputs;
- without a key (a student running the notebook themselves, ``make test``) the draws
  come from a public seed, so the notebook still runs everywhere.

The tests compute their expected values from the drawn inputs themselves, with NumPy.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import numpy as np

#: The environment variable through which the grader hands the kernel its key.
KEY_VARIABLE = "GRADER_HIDDEN_KEY"


def submission_key(secret: bytes, student: str, submission: str = "") -> str:
    """The key of one submission (hex): HMAC-SHA256 of ``student`` and ``submission``
    (its timestamp, or empty) under the grader's ``secret``."""
    message = f"{student}\n{submission}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def hidden_seed(name: str, key: str | None = None) -> int:
    """The seed of the hidden test ``name``: from ``key`` (default: the kernel's
    :data:`KEY_VARIABLE`), or a public seed without one."""
    key = os.environ.get(KEY_VARIABLE, "") if key is None else key
    if key:
        digest = hmac.new(key.encode(), name.encode(), hashlib.sha256).digest()
    else:
        digest = hashlib.sha256(f"public hidden-test seed\n{name}".encode()).digest()
    return int.from_bytes(digest[:16], "big")


def hidden_rng(name: str, key: str | None = None) -> np.random.Generator:
    """A NumPy generator for the hidden test ``name`` (its ``grade_id``), seeded per
    submission while grading (:func:`hidden_seed`)."""
    return np.random.default_rng(hidden_seed(name, key))
