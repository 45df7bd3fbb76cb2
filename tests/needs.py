"""What a test needs of the machine (a tool, root, bubblewrap's sandbox): where it is
missing the test is skipped and says why, except under CI (``CI=true``), where it fails:
``.ci/run`` installs every tool these tests use, so a skip there would be a test that
never ran."""

from __future__ import annotations

import functools
import os

import pytest


def in_ci() -> bool:
    """Whether this run is CI's (``CI=true``, as ``.ci/run`` sets it)."""
    return os.environ.get("CI", "").lower() == "true"


def need(what: str, missing: str | None) -> None:
    """Skip ``what`` (a test, a fixture) when ``missing`` names what this machine lacks;
    under CI fail."""
    if not missing:
        return
    if in_ci():
        pytest.fail(f"{what} needs {missing}; CI must install it")
    pytest.skip(f"{what} needs {missing}")


@functools.cache
def _bwrap_missing() -> str | None:
    from instructor.engine import sandbox

    return sandbox.unavailable()


def bwrap() -> pytest.MarkDecorator:
    """A mark for tests that run bubblewrap's sandbox (probed once per process)."""
    why = _bwrap_missing()
    return pytest.mark.skipif(why is not None and not in_ci(),
                              reason=f"bubblewrap cannot run here: {why}")
