"""TensorFlow and Keras in the answer process: imported when an answer first uses them.

A notebook's setup cell imports TensorFlow and Keras (``helpers.setup()``, ``import keras``),
about 5 CPU-seconds and 650 MiB per process. In the answer process those imports bind a
module that loads on first use (:class:`_Waiting`), so an answer in NumPy does not pay for
them. A library loads:

- once the answer cells have run, before any test calls them, if a function, class or
  ``partial`` they define names it (:func:`wanted`): a call's time limit then holds only
  the student's work;
- else when code first touches it (an answer cell that subclasses a Keras layer; a
  ``helpers`` function that uses Keras, inside a call), quietly (as ``helpers.quiet()``),
  the cell's alarm paused (the library's import is the grader's time), after the
  libraries before it, while other threads touching it wait, as for any import.

Its generators are seeded when it loads, as ``helpers.setup()`` seeds them (:func:`setup`
stands in for it here): Python's and NumPy's at the setup cell, TensorFlow's and Keras' at
the load, with Python's and NumPy's left where the notebook's code had brought them.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.machinery
import random
import signal
import sys
import threading
import types

#: The libraries loaded on first use (each with its submodules), in the order
#: ``helpers.setup()`` imports them; one loads those before it first, as there.
LIBRARIES = ("tensorflow", "keras", "tensorflow_probability", "tf_keras")
#: Objects :func:`wanted` looks at before it gives up and has every library loaded.
MAX_LOOKED_AT = 100_000
#: Packages Keras imports only if installed, for what no answer here uses: not importable
#: while the libraries load, as usual after. scikit-learn (for ``keras.wrappers``'
#: estimators, which then say it is not installed) is a quarter of the load's time.
ABSENT_WHILE_LOADING = ("sklearn",)


class _Finder:
    """A meta-path finder: each of :data:`LIBRARIES`, found as usual, bound as a module
    that loads on first use (:class:`_Waiting`)."""

    def __init__(self):
        #: held while a library loads (by one thread at a time), its thread and depth
        self.lock = threading.RLock()
        self.owner: int | None = None
        self.depth = 0
        #: the seed of ``helpers.setup()``, until the libraries are seeded with it
        self.seed: int | None = None

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in LIBRARIES or target is not None:  # a reload: as usual
            return None
        if "." in name:  # loaded meanwhile by its package's code, which asking for the
            # package's __path__ ran: not a second time (CPython looks before it asks)
            return importlib.machinery.ModuleSpec(name, _Loaded()) if name in sys.modules \
                else None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec

    @contextlib.contextmanager
    def loading(self):
        """While a library loads (this thread holds :attr:`lock`): quietly, the cell's
        alarm paused (the main thread's; a thread's load outlives its cell), without
        :data:`ABSENT_WHILE_LOADING`; then, once all of it has loaded (Keras imports
        TensorFlow inside its own import), seeded, with Python's and NumPy's generators as
        they were before (importing draws)."""
        outermost = self.depth == 0
        main = threading.current_thread() is threading.main_thread()
        left = signal.alarm(0) if outermost and main else 0
        kept = _generators() if outermost else None
        absent = [n for n in ABSENT_WHILE_LOADING if n not in sys.modules] if outermost else []
        sys.modules.update(dict.fromkeys(absent))  # None: "import sklearn" raises ImportError
        self.depth += 1
        self.owner = threading.get_ident()
        loaded = False
        try:
            with importlib.import_module("helpers").quiet():
                yield
            loaded = True
        finally:
            self.depth -= 1
            if outermost:
                self.owner = None
                for name in absent:
                    if name in sys.modules and sys.modules[name] is None:
                        del sys.modules[name]
                try:
                    if loaded:
                        self.seed_loaded()
                finally:
                    _generators(kept)
                    if left:
                        signal.alarm(left)

    def seed_loaded(self) -> None:
        """Seed the loaded libraries with :attr:`seed`, once, as ``keras.utils.
        set_random_seed`` does."""
        seed, self.seed = self.seed, None
        if seed is None or not any(_loaded(sys.modules.get(name)) for name in LIBRARIES):
            self.seed = seed
            return
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(seed)
        tf.get_logger().setLevel("ERROR")


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
    other attribute does."""

    #: matplotlib asks a TensorFlow it finds imported whether a value is a tensor: before
    #: TensorFlow's code has run, none is
    is_tensor = staticmethod(lambda value: False)

    def __getattr__(self, name):
        _run(self)
        return getattr(self, name)


class _Loading(types.ModuleType):
    """A library's module while its code runs: in the thread that runs it, a name not
    defined yet is missing, as in any module being imported; another thread waits."""

    def __getattr__(self, name):
        if FINDER.owner != threading.get_ident():
            with FINDER.lock:
                pass
            return getattr(self, name)
        raise AttributeError(f"partially initialized module {self.__name__!r} has no "
                             f"attribute {name!r}")


def _run(module: types.ModuleType) -> None:
    """Run a waiting library module's code by its own loader (once, whichever thread),
    after the libraries before it (Keras' code run inside TensorFlow's import, as it is
    when TensorFlow is touched first, runs some of Keras' modules twice)."""
    with FINDER.lock:
        if type(module) is not _Waiting:  # another thread ran it meanwhile
            return
        spec = module.__spec__
        for name in LIBRARIES[:LIBRARIES.index(spec.name)]:
            with contextlib.suppress(ImportError):
                before = importlib.import_module(name)
                if type(before) is _Waiting:
                    _run(before)
        if type(module) is not _Waiting:  # their code ran it
            return
        module.__class__ = _Loading
        if spec.submodule_search_locations is not None:
            module.__path__ = spec.submodule_search_locations
        try:
            with FINDER.loading():
                spec.loader.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(spec.name, None)  # as a failed import leaves it
            raise
        finally:
            module.__class__ = types.ModuleType


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


class _Loaded:
    """The loader of a submodule already in ``sys.modules``: that module, run once."""

    def create_module(self, spec):
        return sys.modules[spec.name]

    def exec_module(self, module) -> None:
        pass


FINDER = _Finder()


def install() -> None:
    """From now on, this process imports :data:`LIBRARIES` lazily, and ``helpers.setup()``
    is :func:`setup` (call it after ``helpers`` is the stripped copy)."""
    if FINDER not in sys.meta_path:
        sys.meta_path.insert(0, FINDER)
    importlib.import_module("helpers.session").setup = setup


def _loaded(module) -> bool:
    """Whether ``module`` is a module whose code has run (read without loading it)."""
    return isinstance(module, types.ModuleType) and type(module) not in (_Waiting, _Loading)


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


def _inside(obj) -> list:
    """What a function, class, ``partial`` or method wrapper refers to, by exact types (a
    student's object may claim any class)."""
    kind = type(obj)
    if kind is types.FunctionType:
        return [obj.__code__, *(_contents(cell) for cell in obj.__closure__ or ())]
    if kind is types.CodeType:
        return list(obj.co_consts)
    if kind is type:
        return list(type.__dict__["__dict__"].__get__(obj).values())
    if kind in (staticmethod, classmethod):
        return [obj.__func__]
    if kind is property:
        return [obj.fget, obj.fset, obj.fdel]
    if kind is functools.partial:
        return [obj.func, *obj.args, *dict.values(obj.keywords)]
    return []


def _contents(cell):
    try:
        return cell.cell_contents
    except ValueError:  # empty
        return None


def wanted(namespaces) -> set[str]:
    """The libraries, not loaded yet, that the functions, classes and ``partial`` objects
    of ``namespaces`` (and what they refer to, in turn) name: by a name bound to one, or
    by importing it. Only functions compiled from the notebook's cells are read, not a
    library's (``helpers``, NumPy). Past :data:`MAX_LOOKED_AT` objects, every library."""
    todo = [(v, None) for namespace in namespaces for v in dict.values(namespace)]
    seen: set[int] = set()
    found: set[str] = set()
    while todo:
        obj, names = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if len(seen) > MAX_LOOKED_AT:
            found.update(LIBRARIES)
            break
        if type(obj) is types.FunctionType:
            if not obj.__code__.co_filename.startswith("<"):
                continue  # a library's: what it uses loads when used
            names = obj.__globals__
        elif type(obj) is types.CodeType and names is not None:
            for name in obj.co_names:
                value = dict.get(names, name)
                found.update(n for n in LIBRARIES if n == name or (
                    type(value) is _Waiting and value is sys.modules.get(n)))
                todo.append((value, None))
        todo.extend((inner, names) for inner in _inside(obj))
    return {name for name in found if not _loaded(sys.modules.get(name))}


def load(names) -> None:
    """Load the libraries ``names`` now; one that fails to load fails when used."""
    for name in sorted(names):
        try:
            module = importlib.import_module(name)
            if type(module) is _Waiting:
                _run(module)
        except Exception:  # noqa: BLE001 - the answer's own use will say why
            pass
