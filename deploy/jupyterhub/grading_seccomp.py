"""Write the seccomp profile an instructor's pod grades under (docs/jupyterhub.md).

The course's sandbox (bubblewrap) makes a user namespace, a UTS namespace whose host
name it sets, and a /proc of its own. podman's default profile (Debian's
``containers-common``, ``/usr/share/containers/seccomp.json``) allows the namespaces but
refuses ``sethostname`` and ``setdomainname`` to a container without CAP_SYS_ADMIN;
the runtimes of Kubernetes (``RuntimeDefault``) refuse the namespaces too. This writes
podman's default with those two calls allowed, nothing else changed: in a namespace
of its own, a host name is the sandbox's alone.

    python3 deploy/jupyterhub/grading_seccomp.py [SOURCE] DEST

tests/test_image.py grades a class in the instructor image under the profile it writes.
"""

import json
import sys

DEFAULT = "/usr/share/containers/seccomp.json"
NAMED = {"sethostname", "setdomainname"}


def grading_profile(profile: dict) -> dict:
    """``profile`` with :data:`NAMED` allowed whatever the container's capabilities."""
    rules = []
    for rule in profile["syscalls"]:
        names = [n for n in rule["names"] if n not in NAMED]
        if names:
            rules.append({**rule, "names": names})
    rules.append({"names": sorted(NAMED), "action": "SCMP_ACT_ALLOW"})
    return {**profile, "syscalls": rules}


if __name__ == "__main__":
    *source, dest = sys.argv[1:] or [None]
    if dest is None:
        sys.exit(__doc__)
    with open(source[0] if source else DEFAULT) as f:
        profile = grading_profile(json.load(f))
    with open(dest, "w") as f:
        json.dump(profile, f, indent=1)
