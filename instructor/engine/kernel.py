"""Grading kernels started through :mod:`instructor.engine.sandbox` (limits, file and
network allow-lists, namespaces of their own, an environment allow-list)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Bool, Dict, Float, List, Unicode

from helpers.grading.hidden import KEY_VARIABLE
from helpers.settings import SETTINGS
from instructor.engine.sandbox import allowed_env

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
        ports: list[int] = []
        if "-f" in cmd:  # the connection file: readable, and its ports the kernel's own
            readable.append(cmd[cmd.index("-f") + 1])
            ports = kernel_ports(cmd[cmd.index("-f") + 1])
        command = sandbox_command(cmd, cwd, readable, getattr(km, "memory_limit_gb", 0.0),
                                  getattr(km, "use_landlock", True), bind_ports=ports,
                                  **dict(getattr(km, "limits", {})))
        return await super().launch_kernel(command, **kwargs)


#: The grader's environment variables a sandboxed process keeps besides the sandbox's own
#: allow-list (:data:`instructor.engine.sandbox.ENV_NAMES`): the course's declared settings
#: and this submission's hidden-test key (never the secret it is made from).
KEPT_ENV = frozenset(SETTINGS) | {KEY_VARIABLE}


def kernel_ports(connection_file: str) -> list[int]:
    """The TCP ports of a kernel's connection file (none if it cannot be read)."""
    try:
        info = json.loads(Path(connection_file).read_text())
    except (OSError, ValueError):
        return []
    return [int(v) for k, v in info.items() if k.endswith("_port") and int(v or 0) > 0]


def sandbox_env(cwd: str, env: dict | None = None) -> dict:
    """The environment of a sandboxed process working in ``cwd`` (temp files there): the
    allow-list of the sandbox and the course's settings, nothing else of ``env``."""
    env = allowed_env(dict(env or os.environ), KEPT_ENV)
    tmp = os.path.join(cwd, ".tmp")
    os.makedirs(tmp, exist_ok=True)
    env.update({"TMPDIR": tmp, "IPYTHONDIR": os.path.join(cwd, ".ipython"),
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def sandbox_command(command: list[str], cwd: str, readable: list[str], memory_gb: float,
                    landlock: bool = True, file_mb: float = 0, cpu_seconds: float = 0,
                    processes: int = 0, bind_ports: list[int] = ()) -> list[str]:
    """``command`` prefixed by :mod:`instructor.engine.sandbox`: read ``readable``, write ``cwd``,
    bind only ``bind_ports`` and connect nowhere, under the given caps (0: none)."""
    wrapper = [sys.executable, str(SANDBOX), "--memory-gb", str(memory_gb),
               "--file-mb", str(file_mb), "--cpu-seconds", str(cpu_seconds),
               "--processes", str(processes)]
    if not landlock:
        wrapper.append("--no-landlock")
    for port in bind_ports:
        wrapper += ["--bind-port", str(port)]
    for name in sorted(KEPT_ENV):
        wrapper += ["--keep-env", name]
    for path in readable:
        wrapper += ["--ro", path]
    wrapper += ["--rw", cwd]        # and the devices the sandbox allows (sandbox.DEVICES)
    return [*wrapper, "--", *command]
