"""The stripped ``helpers`` copy (:mod:`instructor.engine.stripped`) made the only one
the answer process imports."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path


class _Without:
    """A meta-path finder that finds what ``finder`` finds, except ``package``."""

    def __init__(self, finder, package: str):
        self.finder, self.package = finder, package

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.package or fullname.startswith(self.package + "."):
            return None
        return self.finder.find_spec(fullname, path, target)

    def invalidate_caches(self) -> None:
        getattr(self.finder, "invalidate_caches", lambda: None)()


def activate(dest: Path, package: str = "helpers") -> None:
    """Make this process import ``package`` from the stripped copy in ``dest`` only:
    ``dest`` first on ``sys.path`` and the package hidden from every other meta-path finder
    (an editable install's finder answers where ``sys.path`` has no copy). RuntimeError if
    it was imported already or would still come from elsewhere."""
    dest = str(Path(dest).resolve())
    loaded = sorted(m for m in sys.modules if m == package or m.startswith(package + "."))
    if loaded:
        raise RuntimeError(f"activate({dest!r}) comes too late: {', '.join(loaded)} "
                           "already imported")
    sys.path[:] = [dest, *(p for p in sys.path if p != dest)]
    for i, finder in enumerate(sys.meta_path):
        if getattr(finder, "__name__", None) == "PathFinder" \
                or type(finder).__name__ in ("PathFinder", "_Without"):
            continue
        try:
            spec = finder.find_spec(package, None)
        except Exception:               # a finder that cannot answer does not find it
            spec = None
        if spec is not None:
            sys.meta_path[i] = _Without(finder, package)
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(package)
    origin = Path(spec.origin).resolve() if spec and spec.origin else None
    if origin is None or not origin.is_relative_to(dest):
        raise RuntimeError(f"{package} would be imported from {origin}, not from {dest}")
