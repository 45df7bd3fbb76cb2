"""Grading kernels started through :mod:`instructor.engine.sandbox` (limits, file allow-list)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Bool, Dict, Float, List, Unicode

SANDBOX = Path(__file__).resolve().parent / "sandbox.py"


#: The name of :class:`SandboxProvisioner` among jupyter_client's kernel provisioners
#: (``pyproject.toml``: entry point group ``jupyter_client.kernel_provisioners``).
PROVISIONER = "course-sandbox"


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start through :mod:`instructor.engine.sandbox`.

    It holds the caps; its kernel spec names the :class:`SandboxProvisioner`, which
    jupyter_client then uses to launch the kernel (the kernel's own spec is otherwise
    unchanged: the same command, environment and language).
    """

    memory_limit_gb = Float(0.0, help="Address-space cap of the kernel in GiB (0: none)."
                            ).tag(config=True)
    readable_paths = List(Unicode(), help="Paths the kernel may read.").tag(config=True)
    use_landlock = Bool(True, help="Apply the file-system allow-list.").tag(config=True)
    limits = Dict(help="Further caps: file_mb, cpu_seconds, processes (0: none)."
                  ).tag(config=True)

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.metadata = {**spec.metadata,
                             "kernel_provisioner": {"provisioner_name": PROVISIONER}}
        return spec


class SandboxProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, with the kernel's command run through
    :mod:`instructor.engine.sandbox` under the caps of the :class:`SandboxedKernelManager` that
    owns it: it reads the paths it is given, writes only its working folder."""

    async def launch_kernel(self, cmd: list[str], **kwargs):
        km = self.parent
        cwd = kwargs.get("cwd") or os.getcwd()
        kwargs["env"] = sandbox_env(cwd, kwargs.get("env"))
        readable = list(getattr(km, "readable_paths", []))
        if "-f" in cmd:  # the connection file
            readable.append(cmd[cmd.index("-f") + 1])
        command = sandbox_command(cmd, cwd, readable, getattr(km, "memory_limit_gb", 0.0),
                                  getattr(km, "use_landlock", True),
                                  **dict(getattr(km, "limits", {})))
        return await super().launch_kernel(command, **kwargs)


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
    """``command`` prefixed by :mod:`instructor.engine.sandbox`: read ``readable``, write ``cwd``,
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
