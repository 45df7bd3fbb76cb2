"""Kernels of ``make preview`` (:mod:`instructor.workflow.preview`; grading starts none),
started through :mod:`instructor.engine.sandbox`: bubblewrap, caps and an environment
allow-list, talking to their client over unix sockets in their own folder."""

from __future__ import annotations

import dataclasses
import os
import tempfile

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Instance

from instructor.engine import roles, sandbox, untrusted

#: The name of :class:`SandboxProvisioner` among jupyter_client's kernel provisioners
#: (``pyproject.toml``: entry point group ``jupyter_client.kernel_provisioners``).
PROVISIONER = "course-sandbox"


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel spec names the :class:`SandboxProvisioner` and asks
    for interrupts by message (a signal to the sandbox's process group would reach bwrap,
    not the kernel); its kernels talk over ``ipc``: a sandbox has no network for TCP."""

    box = Instance(roles.Box, args=(), help="The grading's sandbox: what its kernel reads, "
                   "its caps.")

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.metadata = {**spec.metadata,
                             "kernel_provisioner": {"provisioner_name": PROVISIONER}}
            spec.interrupt_mode = "message"
        return spec

    def cleanup_connection_file(self) -> None:
        """jupyter_client's removal of the connection file, without following a link
        (it is in the kernel's ipc folder)."""
        if self._connection_file_written:
            self._connection_file_written = False
            folder, name = os.path.split(self.connection_file)
            untrusted.remove(os.path.dirname(folder),
                             os.path.join(os.path.basename(folder), name))

    def cleanup_ipc_files(self) -> None:
        """jupyter_client's removal of the kernel's sockets, without following a link."""
        if self.transport != "ipc":
            return
        folder, stem = os.path.split(self.ip)
        for port in self.ports:
            untrusted.remove(os.path.dirname(folder),
                             os.path.join(os.path.basename(folder), f"{stem}-{port}"))


class SandboxProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, with the kernel started as
    :data:`instructor.engine.roles.KERNEL` in its manager's box, its connection file and
    sockets in a folder of its own."""

    async def pre_launch(self, **kwargs):
        km = self.parent
        # a new folder for each start: never one an earlier kernel could have replaced
        folder = tempfile.mkdtemp(prefix=sandbox.IPC_DIR + "-",
                                  dir=kwargs.get("cwd") or os.getcwd())
        sandbox.hand_over(folder)  # the kernel makes its sockets there
        km.transport, km.ip = "ipc", os.path.join(folder, "kernel")
        # not in the grader's runtime folder (root's own, under /root)
        km.connection_file = os.path.join(folder, "kernel.json")
        kwargs = await super().pre_launch(**kwargs)  # writes the connection file
        if user := sandbox.grading_user():
            os.chown(km.connection_file, *user, follow_symlinks=False)
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs):
        box = getattr(self.parent, "box", roles.Box())
        if kwargs.get("env"):  # the environment nbclient starts it with
            box = dataclasses.replace(box, environment=kwargs["env"])
        files = [cmd[cmd.index("-f") + 1]] if "-f" in cmd else []  # the connection file
        cwd = kwargs.get("cwd") or os.getcwd()
        command, kwargs["env"] = roles.launch(roles.KERNEL, cmd, cwd, box, files)
        return await super().launch_kernel(command, **kwargs)
