"""TensorFlow and Keras in the answer process: imported when an answer first uses them.

A notebook's setup cell imports TensorFlow and Keras (``helpers.setup()``, ``import keras``),
about 5 CPU-seconds and 650 MiB per process. In the answer process those imports bind a
module that loads on first use (:class:`_Waiting`), so an answer in
NumPy never pays for them. A library loads:

- when code touches it (an answer cell that subclasses a Keras layer, a call that builds
  a model), quietly (as ``helpers.quiet()``), with the cell's alarm paused: the library's
  import is the grader's time, not the student's;
- or once the answer cells have run, before any test calls them, if a function they
  define names it (:func:`wanted`): a call's time limit then holds only the student's work.

Its generators are seeded when it loads, as ``helpers.setup()`` seeds them (:func:`setup`
stands in for it here): Python's and NumPy's at the setup cell, TensorFlow's and Keras' at
the load, with Python's and NumPy's left where the notebook's code had brought them.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.util
import random
import signal
import sys
import types

#: The libraries loaded on first use (each with its submodules).
LIBRARIES = ("tensorflow", "keras", "tf_keras", "tensorflow_probability")


class _Finder:
    """A meta-path finder: each of :data:`LIBRARIES`, found as usual, bound as a module
    that loads on first use (:class:`_Waiting`)."""

    def __init__(self):
        self.depth = 0
        #: the seed of ``helpers.setup()``, until the libraries are seeded with it
        self.seed: int | None = None

    def find_spec(self, name, path=None, target=None):
        if name not in LIBRARIES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec

    @contextlib.contextmanager
    def loading(self):
        """While a library loads: quietly, the cell's alarm paused; then, once all of it
        has loaded (Keras imports TensorFlow inside its own import), seeded, with Python's
        and NumPy's generators as they were before (importing draws from them)."""
        outermost = self.depth == 0
        left = signal.alarm(0) if outermost else 0
        kept = _generators() if outermost else None
        self.depth += 1
        try:
            with importlib.import_module("helpers").quiet():
                yield
        finally:
            self.depth -= 1
        if outermost:
            try:
                self.seed_loaded()
                _generators(kept)
            finally:
                if left:
                    signal.alarm(left)

    def seed_loaded(self) -> None:
        """Seed the loaded libraries with :attr:`seed`, once, as ``keras.utils.
        set_random_seed`` does, leaving Python's and NumPy's generators as they were."""
        seed, self.seed = self.seed, None
        if seed is None or not any(_loaded(sys.modules.get(name)) for name in LIBRARIES):
            self.seed = seed
            return
        import keras
        import tensorflow as tf

        kept = _generators()
        keras.utils.set_random_seed(seed)
        tf.get_logger().setLevel("ERROR")
        _generators(kept)


def _generators(kept=None):
    """The states of Python's and NumPy's global generators; with ``kept``, set them."""
    np = sys.modules.get("numpy")
    if kept is None:
        return random.getstate(), np.random.get_state() if np else None
    random.setstate(kept[0])
    if np and kept[1] is not None:
        np.random.set_state(kept[1])
    return kept


class _Waiting(types.ModuleType):
    """A library's module before its code has run. Only the attributes the import system
    sets are there (``__path__`` is not: a submodule's import asks for it), so importing
    the library again does not load it (CPython reads ``__spec__`` of a module already
    imported, which :class:`importlib.util.LazyLoader`'s modules answer by loading); any
    other attribute does, in :meth:`_Finder.loading`."""

    def __getattr__(self, name):
        _run(self)
        return getattr(self, name)


def _run(module: _Waiting) -> None:
    """Run a waiting library module's code, by its own loader."""
    spec = module.__spec__
    module.__class__ = types.ModuleType
    if spec.submodule_search_locations is not None:
        module.__path__ = spec.submodule_search_locations
    try:
        with FINDER.loading():
            spec.loader.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)  # as a failed import leaves it
        raise


class _Loader:
    """A library's own loader (``loader``), whose module waits for first use."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # get_filename, is_package, resource readers: the library's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__dict__.pop("__path__", None)
        module.__class__ = _Waiting


FINDER = _Finder()


def install() -> None:
    """From now on, this process imports :data:`LIBRARIES` lazily, and ``helpers.setup()``
    is :func:`setup` (call it after ``helpers`` is the stripped copy)."""
    if FINDER not in sys.meta_path:
        sys.meta_path.insert(0, FINDER)
    importlib.import_module("helpers.session").setup = setup


def _loaded(module) -> bool:
    """Whether ``module`` is a module whose code has run (read without loading it)."""
    return isinstance(module, types.ModuleType) and not isinstance(module, _Waiting)


def _waiting(value) -> bool:
    return isinstance(value, types.ModuleType) and not _loaded(value)


def setup(seed: int = 42, extra_modules: tuple[str, ...] = (), verbose: bool = True):
    """``helpers.setup()`` in the answer process: Python's and NumPy's generators seeded
    now, TensorFlow's and Keras' when they load; nothing printed, no version read."""
    import numpy as np

    session = importlib.import_module("helpers.session")
    random.seed(seed)
    np.random.seed(seed)
    for module in ("tensorflow", "keras", *extra_modules):
        importlib.import_module(module)
    FINDER.seed = seed
    FINDER.seed_loaded()
    return session.SessionInfo(seed=seed, mode=session.current_mode())


def wanted(namespaces) -> set[str]:
    """The libraries, not loaded yet, that a function of ``namespaces`` (or one it names,
    in turn) names: by a name bound to one, or by importing it."""
    todo = [v for namespace in namespaces for v in dict.values(namespace)]
    seen: set[int] = set()
    found: set[str] = set()
    while todo:  # by exact types: a student's object may claim any class
        function = todo.pop()
        if type(function) is not types.FunctionType or id(function) in seen:
            continue
        seen.add(id(function))
        codes = [function.__code__]
        while codes:
            code = codes.pop()
            codes.extend(c for c in code.co_consts if type(c) is types.CodeType)
            for name in code.co_names:
                value = dict.get(function.__globals__, name)
                found.update(n for n in LIBRARIES if n == name or (
                    value is sys.modules.get(n) and _waiting(value)))
                todo.append(value)
    return {name for name in found if not _loaded(sys.modules.get(name))}


def load(names) -> None:
    """Load the libraries ``names`` now."""
    for name in names:
        module = importlib.import_module(name)
        if _waiting(module):
            _run(module)
