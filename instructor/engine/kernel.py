"""Grading kernels started through :mod:`instructor.engine.sandbox`: bubblewrap, caps and
an environment allow-list, talking to the grader over unix sockets in their own folder."""

from __future__ import annotations

import os
import tempfile

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Dict, Float, List, Unicode

from helpers.grading.hidden import KEY_VARIABLE
from helpers.settings import SETTINGS
from instructor.engine import sandbox, untrusted
from instructor.engine.sandbox import allowed_env

#: The name of :class:`SandboxProvisioner` among jupyter_client's kernel provisioners
#: (``pyproject.toml``: entry point group ``jupyter_client.kernel_provisioners``).
PROVISIONER = "course-sandbox"


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start through :mod:`instructor.engine.sandbox`.

    It holds the caps; its kernel spec names the :class:`SandboxProvisioner`, which
    jupyter_client then uses to launch the kernel, and asks for interrupts by message
    (a signal to the sandbox's process group would reach bwrap, not the kernel). Its
    kernels talk over ``ipc`` (unix sockets in the kernel's own folder): inside the
    sandbox there is no network to reach a TCP port through.
    """

    memory_limit_gb = Float(0.0, help="Address-space cap of the kernel in GiB (0: none)."
                            ).tag(config=True)
    readable_paths = List(Unicode(), help="Paths the kernel may read.").tag(config=True)
    isolation = Unicode("bubblewrap", help="'bubblewrap', or 'limits-only' (no namespaces: "
                        "the instructor's explicit choice)").tag(config=True)
    limits = Dict(help="Further caps: file_mb, cpu_seconds, processes (0: none)."
                  ).tag(config=True)

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.metadata = {**spec.metadata,
                             "kernel_provisioner": {"provisioner_name": PROVISIONER}}
            spec.interrupt_mode = "message"
        return spec

    def cleanup_ipc_files(self) -> None:
        """jupyter_client's removal of the kernel's sockets, without following a link the
        kernel planted in their folder (:mod:`instructor.engine.untrusted`)."""
        if self.transport != "ipc":
            return
        folder, stem = os.path.split(self.ip)
        for port in self.ports:
            untrusted.remove(os.path.dirname(folder),
                             os.path.join(os.path.basename(folder), f"{stem}-{port}"))


class SandboxProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, with the kernel's command run through
    :mod:`instructor.engine.sandbox` under the caps of the :class:`SandboxedKernelManager` that
    owns it: it reads the paths it is given and its connection file, writes only its
    working folder, where its sockets are."""

    async def pre_launch(self, **kwargs):
        km = self.parent
        if getattr(km, "isolation", "bubblewrap") == "bubblewrap":
            # a new folder for each start: never one an earlier kernel could have replaced
            folder = tempfile.mkdtemp(prefix=sandbox.IPC_DIR + "-",
                                      dir=kwargs.get("cwd") or os.getcwd())
            km.transport, km.ip = "ipc", os.path.join(folder, "kernel")
        return await super().pre_launch(**kwargs)

    async def launch_kernel(self, cmd: list[str], **kwargs):
        km = self.parent
        cwd = kwargs.get("cwd") or os.getcwd()
        kwargs["env"] = sandbox_env(cwd, kwargs.get("env"))
        files = [cmd[cmd.index("-f") + 1]] if "-f" in cmd else []  # the connection file
        command = sandbox_command(cmd, cwd, list(getattr(km, "readable_paths", [])),
                                  getattr(km, "memory_limit_gb", 0.0), files=files,
                                  isolation=getattr(km, "isolation", "bubblewrap"),
                                  **dict(getattr(km, "limits", {})))
        return await super().launch_kernel(command, **kwargs)


#: The grader's environment variables a sandboxed process keeps besides the sandbox's own
#: allow-list (:data:`instructor.engine.sandbox.ENV_NAMES`): the course's declared settings
#: and this submission's hidden-test key (never the secret it is made from).
KEPT_ENV = frozenset(SETTINGS) | {KEY_VARIABLE}
#: The settings that name a file or folder: resolved in a sandbox's environment, as the
#: paths it reads are resolved before they are bound.
PATH_SETTINGS = frozenset(name for name, s in SETTINGS.items() if s.kind == "path")


def sandbox_env(cwd: str, env: dict | None = None) -> dict:
    """The environment of a sandboxed process working in ``cwd`` (temp files there): the
    allow-list of the sandbox and the course's settings, nothing else of ``env``."""
    env = allowed_env(dict(env or os.environ), KEPT_ENV)
    for name in PATH_SETTINGS & set(env):  # as bound: /a/b/../data is /a/data only if b is
        if env[name]:
            env[name] = os.path.realpath(env[name])
    tmp = os.path.join(cwd, ".tmp")
    os.makedirs(tmp, exist_ok=True)
    env.update({"TMPDIR": tmp, "IPYTHONDIR": os.path.join(cwd, ".ipython"),
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def sandbox_command(command: list[str], cwd: str, readable: list[str], memory_gb: float,
                    files: list[str] = (), isolation: str = "bubblewrap", file_mb: float = 0,
                    cpu_seconds: float = 0, processes: int = 0, server: bool = False,
                    groups: list[str] = (), disk_mb: float = 0) -> list[str]:
    """``command`` run sandboxed (:func:`instructor.engine.sandbox.command`): read
    ``readable`` and ``files``, write ``cwd`` (a tmpfs of ``disk_mb`` MiB if not 0), in
    the submission's cgroup ``groups`` if any, under the given caps (0: none)."""
    return sandbox.command(command, cwd, readable, files, memory_gb=memory_gb,
                           file_mb=file_mb, cpu_seconds=cpu_seconds, processes=processes,
                           isolation=isolation, server=server, groups=groups,
                           disk_mb=disk_mb)
