"""Inputs of hidden tests, drawn per submission: ``helpers.hidden_rng(name)``
(docs/grading.md, "Hidden tests stay unguessable"). The checking process gets only its
submission's key; without one (``make test``, a student's run) a public seed is used.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import numpy as np

#: The environment variable through which the grader hands the checking process its key.
KEY_VARIABLE = "GRADER_HIDDEN_KEY"


def submission_key(secret: bytes, student: str, submission: str = "") -> str:
    """One submission's key: HMAC-SHA256 of student and timestamp under ``secret``."""
    message = f"{student}\n{submission}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def hidden_seed(name: str, key: str | None = None) -> int:
    """The seed of hidden test ``name``: from ``key`` (default: the environment's), or public."""
    key = os.environ.get(KEY_VARIABLE, "") if key is None else key
    if key:
        digest = hmac.new(key.encode(), name.encode(), hashlib.sha256).digest()
    else:
        digest = hashlib.sha256(f"public hidden-test seed\n{name}".encode()).digest()
    return int.from_bytes(digest[:16], "big")


def hidden_rng(name: str, key: str | None = None) -> np.random.Generator:
    """A NumPy generator for hidden test ``name``, seeded per submission while grading."""
    return np.random.default_rng(hidden_seed(name, key))
