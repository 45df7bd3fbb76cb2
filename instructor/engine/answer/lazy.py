"""TensorFlow and Keras in the answer process (and the checking process, its check server),
imported lazily by the standard library's :class:`importlib.util.LazyLoader`: a setup's
import costs a NumPy answer 4.5 CPU-seconds and 625 MiB it does not need. :func:`load`
runs a library before the cells run if their sources name it (no alarm or thread of the
student's meets the load); code that reaches one unnamed loads it where it touches it,
the alarm paused. The libraries are seeded when they load, as ``helpers.setup()`` does.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.util
import random
import re
import signal
import sys

#: In ``helpers.setup()``'s order; touching one loads it and those before it.
LIBRARIES = ("tensorflow", "keras", "tensorflow_probability", "tf_keras")
#: A source naming one of these has the libraries loaded before it runs, up to the
#: index given: TensorFlow Probability's 0.5 s only for a source naming it.
NEEDS = {"tf": 0, "tensorflow": 0, "keras": 1, "plt": 1, "matplotlib": 1, "tfp": 2,
         "tensorflow_probability": 2, "tf_keras": 3}
NAMED = re.compile(rf"\b({'|'.join(NEEDS)})\b")
#: Packages Keras imports only if installed, for what no answer here uses: not importable
#: while the libraries load, as usual after. scikit-learn (for ``keras.wrappers``'
#: estimators, which then say it is not installed) is a quarter of the load's time.
ABSENT_WHILE_LOADING = ("sklearn",)
_seed: list[int] = []  # helpers.setup()'s, until the libraries are seeded with it
_depth = [0]


class _Finder:
    """Each of :data:`LIBRARIES` found as usual and loaded lazily (its submodules as usual)."""

    def find_spec(self, name, path=None, target=None):
        if name not in LIBRARIES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(_Quiet(spec.loader, name))
        return spec


class _Quiet:
    """A library's own loader, run quietly with the alarm paused, then seeding."""

    def __init__(self, loader, name: str):
        self.loader, self.name = loader, name

    def __getattr__(self, name):  # get_filename, resource readers: the library's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        outermost = _depth[0] == 0
        left = signal.alarm(0) if outermost and _main() else 0
        np = sys.modules.get("numpy")
        kept = (random.getstate(), np.random.get_state() if np else None)
        absent = [n for n in ABSENT_WHILE_LOADING if n not in sys.modules] if outermost else []
        sys.modules.update(dict.fromkeys(absent))  # None: "import sklearn" raises ImportError
        _depth[0] += 1
        try:
            with importlib.import_module("helpers").quiet():
                self.loader.exec_module(module)
                if outermost:
                    load(upto=LIBRARIES.index(self.name))
                    if _seed:  # helpers.setup() ran before they loaded
                        importlib.import_module("helpers.session").settle(_seed.pop())
        finally:
            _depth[0] -= 1
            if outermost:
                for name in absent:
                    if name in sys.modules and sys.modules[name] is None:
                        del sys.modules[name]
                random.setstate(kept[0])
                if np:
                    np.random.set_state(kept[1])
                if left:
                    signal.alarm(left)


def _main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _find_spec(name, package=None, _find=importlib.util.find_spec):
    """:func:`importlib.util.find_spec`, reading a lazy module's spec without running it
    (TensorFlow asks for Keras' half-way through its own code, which Keras imports)."""
    module = sys.modules.get(name)
    if type(module) is importlib.util._LazyModule:
        return object.__getattribute__(module, "__spec__")
    return _find(name, package)


def install() -> None:
    """Import :data:`LIBRARIES` lazily from now on; ``helpers.setup()`` is :func:`setup`."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    importlib.util.find_spec = _find_spec
    importlib.import_module("helpers.session").setup = setup


def load(sources=None, upto: int = len(LIBRARIES) - 1) -> None:
    """Run the lazily imported libraries' code up to :data:`LIBRARIES`' ``upto`` (with
    ``sources``: up to the last they name, if they name one)."""
    if sources is not None:
        upto = named(sources)
        if upto is None:
            return
    for name in LIBRARIES[:upto + 1]:
        module = sys.modules.get(name)
        if type(module) is importlib.util._LazyModule:
            with contextlib.suppress(Exception):  # the answer's own use will say why
                module.__name__  # noqa: B018 - the first attribute read runs its code


def named(sources) -> int | None:
    """The last of :data:`LIBRARIES` that ``sources`` name (its index), or None."""
    return max((NEEDS[name] for source in sources for name in NAMED.findall(source)),
               default=None)


def setup(seed: int = 42, extra_modules: tuple[str, ...] = (), verbose: bool = True):
    """``helpers.setup()`` here: Python's and NumPy's seeds now; the libraries' seeds and
    TensorFlow's logger at ERROR (as ``helpers.setup()`` sets them) when they load."""
    import numpy as np

    session = importlib.import_module("helpers.session")
    random.seed(seed)
    np.random.seed(seed)
    keras = sys.modules.get("keras")
    if keras is None or type(keras) is importlib.util._LazyModule:
        _seed[:] = [seed]  # not imported here: a second import would load it
    else:
        session.settle(seed)
    return session.SessionInfo(seed=seed, mode=session.current_mode())
