"""Write the seccomp profile an instructor's pod grades under (docs/jupyterhub.md).

The course's sandbox (bubblewrap) makes a user namespace, a UTS namespace whose host
name it sets, and a /proc of its own. podman's default profile (Debian's
``containers-common``, ``/usr/share/containers/seccomp.json``) allows the namespaces but
refuses ``sethostname`` and ``setdomainname`` to a container without CAP_SYS_ADMIN;
the runtimes of Kubernetes (``RuntimeDefault``) refuse the namespaces too. This writes
podman's default with those two calls allowed, in the form every runtime reads (the OCI
runtime specification's ``LinuxSeccomp``: containerd reads a Localhost profile as that
and drops what it does not know, CRI-O and podman read it too): podman's rules that
depend on a capability are resolved for a container that has none (the instructor's
pod runs as uid 1000, ``allowPrivilegeEscalation: false``), those that depend on the
architecture kept for all (a name a kernel lacks is skipped); no list of architectures,
so that the runtime filters the node's own (runc refuses to add one of another byte
order to a filter, and the file may go to amd64 and arm64 nodes alike: a 32-bit call
then gets the default action). In a namespace of its own, a host name is the sandbox's
alone.

    python3 deploy/jupyterhub/grading_seccomp.py [SOURCE] DEST

tests/test_image.py grades a class in the instructor image under the profile it writes.
"""

import json
import sys

DEFAULT = "/usr/share/containers/seccomp.json"
NAMED = {"sethostname", "setdomainname"}


def grading_profile(profile: dict) -> dict:
    """``profile`` (podman's format) for a container without capabilities, in the OCI
    form, with :data:`NAMED` allowed."""
    rules = []
    for rule in profile["syscalls"]:
        if rule.get("includes", {}).get("caps"):
            continue  # only for a container that holds the capability
        names = [n for n in rule["names"] if n not in NAMED]
        kept = {k: v for k, v in rule.items()
                if k in ("action", "args", "errnoRet") and v not in (None, [])}
        if names:
            rules.append({"names": names, **kept})
    rules.append({"names": sorted(NAMED), "action": "SCMP_ACT_ALLOW"})
    out = {"defaultAction": profile["defaultAction"], "syscalls": rules}
    if "defaultErrnoRet" in profile:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return out


if __name__ == "__main__":
    *source, dest = sys.argv[1:] or [None]
    if dest is None:
        sys.exit(__doc__)
    with open(source[0] if source else DEFAULT) as f:
        profile = grading_profile(json.load(f))
    with open(dest, "w") as f:
        json.dump(profile, f, indent=1)
