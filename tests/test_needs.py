"""tests/needs.py: a test whose tool is missing skips here, and fails under CI."""

import pytest

from tests import needs


def test_a_missing_tool_skips_a_test_here_and_fails_it_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="the x test needs a tool; CI must"):
        needs.need("the x test", "a tool")
    for value in ("", "false"):
        monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.skip.Exception, match="the x test needs a tool"):
            needs.need("the x test", "a tool")
    needs.need("the x test", None)  # nothing missing: the test runs
