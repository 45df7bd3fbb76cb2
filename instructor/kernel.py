"""Grading kernels started through :mod:`instructor.sandbox` (limits, file allow-list)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Dict, Float, List, Unicode

SANDBOX = Path(__file__).resolve().parent / "sandbox.py"


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start through :mod:`instructor.sandbox`."""

    memory_limit_gb = Float(0.0, help="Address-space cap of the kernel in GiB (0: none)."
                            ).tag(config=True)
    readable_paths = List(Unicode(), help="Paths the kernel may read.").tag(config=True)
    use_landlock = Bool(True, help="Apply the file-system allow-list.").tag(config=True)
    limits = Dict(help="Further caps: file_mb, cpu_seconds, processes (0: none)."
                  ).tag(config=True)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        cwd = kw.get("cwd") or os.getcwd()
        kw["env"] = sandbox_env(cwd, kw.get("env"))
        readable = list(self.readable_paths)
        if "-f" in kernel_cmd:  # the connection file
            readable.append(kernel_cmd[kernel_cmd.index("-f") + 1])
        command = sandbox_command(kernel_cmd, cwd, readable, self.memory_limit_gb,
                                  self.use_landlock, **self.limits)
        await super()._async_launch_kernel(command, **kw)


def sandbox_env(cwd: str, env: dict | None = None) -> dict:
    """The environment of a sandboxed process working in ``cwd`` (temp files there)."""
    env = dict(env or os.environ)
    tmp = os.path.join(cwd, ".tmp")
    os.makedirs(tmp, exist_ok=True)
    env.update({"TMPDIR": tmp, "IPYTHONDIR": os.path.join(cwd, ".ipython"),
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def sandbox_command(command: list[str], cwd: str, readable: list[str], memory_gb: float,
                    landlock: bool = True, file_mb: float = 0, cpu_seconds: float = 0,
                    processes: int = 0) -> list[str]:
    """``command`` prefixed by :mod:`instructor.sandbox`: read ``readable``, write ``cwd``,
    under the given caps (0: none)."""
    wrapper = [sys.executable, str(SANDBOX), "--memory-gb", str(memory_gb),
               "--file-mb", str(file_mb), "--cpu-seconds", str(cpu_seconds),
               "--processes", str(processes)]
    if not landlock:
        wrapper.append("--no-landlock")
    for path in readable:
        wrapper += ["--ro", path]
    for path in (cwd, "/dev"):
        wrapper += ["--rw", path]
    return [*wrapper, "--", *command]
