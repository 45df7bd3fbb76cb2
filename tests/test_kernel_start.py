"""A preview's kernel that dies before it replies is started again
(``SandboxedRun.start_attempts``): a kernel start failed once in a class run, and without
a second start that one unlucky start loses the whole notebook's preview."""

from __future__ import annotations

import nbformat
import pytest

from instructor.workflow.preview import SandboxedRun, run_sandboxed

v4 = nbformat.v4


def _run(tmp_path, monkeypatch, deaths: int, attempts: int):
    real, calls = SandboxedRun.setup_kernel, []

    def dies_first(self, **kwargs):
        calls.append(kwargs)
        if len(calls) <= deaths:  # what nbclient raises, after shutting the kernel down
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(self, **kwargs)

    monkeypatch.setattr(SandboxedRun, "setup_kernel", dies_first)
    nb = v4.new_notebook(cells=[v4.new_code_cell("print(6 * 7)")])
    return run_sandboxed(nb, tmp_path, start_attempts=attempts), calls


def test_a_kernel_that_dies_while_starting_is_started_again(tmp_path, monkeypatch):
    nb, calls = _run(tmp_path, monkeypatch, deaths=2, attempts=3)
    assert len(calls) == 3
    assert [o.get("text") for o in nb.cells[0].outputs] == ["42\n"]


def test_the_starts_are_bounded(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="died before replying"):
        _run(tmp_path, monkeypatch, deaths=2, attempts=2)
