"""Shared test settings: headless matplotlib, and where the course's data is staged."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest

from helpers import settings

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The staged datasets (COURSE_DATA_DIR, else ../shared/data); skip if absent."""
    path = settings.path("COURSE_DATA_DIR") or ROOT.parent / "shared" / "data"
    if not (path / "mnist.npz").is_file():
        pytest.skip(f"no staged data at {path}; set COURSE_DATA_DIR")
    return path.resolve()  # the tests' courses are elsewhere: not relative to here


@pytest.fixture(scope="session")
def data_env(data_dir) -> dict[str, str]:
    """What a notebook's kernel needs to find the staged data: passed to the runner,
    never set in this process's environment."""
    return {"COURSE_DATA_DIR": str(data_dir.resolve())}


@pytest.fixture(scope="session")
def canary_cache(request, tmp_path_factory) -> Path:
    """One canary cache (COURSE_CANARY_CACHE) for the whole session: an assignment's
    answer key and stub are graded once per environment, however many courses the tests
    grade it in (instructor/workflow/canary.py), and the proof's self-test passes once per
    environment (instructor/workflow/proof_check.py). Under pytest-xdist one folder for
    both workers, beside their own: what one worker made, the other reads (the canary
    locks an entry while it grades it; two self-tests that start at once both run)."""
    if not hasattr(request.config, "workerinput"):
        return tmp_path_factory.mktemp("canary-cache")
    shared = tmp_path_factory.getbasetemp().parent / "canary-cache"
    shared.mkdir(mode=0o700, exist_ok=True)
    return shared


@pytest.fixture(autouse=True)
def _headless_figures(monkeypatch):
    """plt.show() fails the test (helpers never call it); figures are closed after each test."""

    def no_show(*args, **kwargs):
        raise AssertionError("plt.show() must not be called by helpers")

    monkeypatch.setattr(plt, "show", no_show)
    yield
    plt.close("all")
