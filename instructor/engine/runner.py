"""Run a notebook top to bottom in a fresh kernel: how the course's scripts, benchmarks
and tests execute one outside grading (the environment through ``start_kernel(env=...)``;
this process's ``os.environ`` is never changed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from nbclient import NotebookClient
from nbformat import NotebookNode

#: Changes to an environment: a string sets the variable, ``None`` removes it.
Changes = Mapping[str, str | None]


def kernel_env(changes: Changes | None = None) -> dict[str, str]:
    """A copy of ``os.environ`` with ``changes`` applied."""
    env = dict(os.environ)
    for name, value in (changes or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_notebook(nb: NotebookNode, cwd: str | os.PathLike, env: Changes | None = None, *,
                 timeout: int = 600) -> NotebookNode:
    """Execute ``nb`` in place in a fresh ``python3`` kernel working in ``cwd``, with this
    process's environment changed by ``env``; return it. A cell that raises stops the run
    (``CellExecutionError``), as does one past ``timeout`` s (``CellTimeoutError``)."""
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                            resources={"metadata": {"path": str(Path(cwd))}})
    return client.execute(env=kernel_env(env))
