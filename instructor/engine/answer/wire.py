"""Values passed between the checking process and a student's answer process: data only
(docs/grading.md, "The answer process"). Arrays as ``.npy`` files, Keras models as
``.keras`` files (:class:`Writer`), read by :class:`Reader` after a size check that
unpacks nothing (:func:`record_size`) and with Keras' ``safe_mode``, so reading never runs
the student's code. Without a folder, arrays travel inline, as base64 ``.npy`` bytes.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

#: Most members a recorded ``.keras`` file may hold (Keras writes three: metadata.json,
#: config.json, model.weights.h5).
MAX_MEMBERS = 64
#: Largest array the writer writes (elements); a larger value is not data (:class:`NotData`).
MAX_ELEMENTS = 50_000_000


class NotData(Exception):
    """A returned value that cannot cross as data (its test waits for review)."""


#: The kinds of array that cross (``numpy.dtype.kind``): booleans and numbers; not
#: structured or void (a field's name is free text), objects, text, bytes or times.
NUMBERS = "biufc"


#: Why a returned value that is not numbers fails its test (a TypeError: the grader's words).
NOT_NUMBERS = ("your function returned {}; the grader checks numbers and arrays of numbers "
               "or booleans only (a float, int, uint, bool or complex dtype): convert it, "
               "e.g. np.asarray(x, dtype=np.float32)")


class Unreadable(Exception):
    """What the checking process cannot turn back into values, or ask of a proxy.
    ``own``: the reason is the grader's words alone (else it may hold the student's)."""

    def __init__(self, reason: str, own: bool = False):
        super().__init__(reason)
        self.own = own


class RecordTooLarge(Exception):
    """Records that would unpack to more than the checking process may read, refused
    before anything is unpacked (:data:`instructor.engine.outcomes.RECORD_TOO_LARGE`). Its
    message is the grader's own words, so a hidden test shows it."""

    outcome = "RecordTooLarge"
    own = True


def _nested_layers(model: Any) -> list[tuple[list[str], Any]]:
    """(path of layer names, layer) for every layer inside ``model``, at any depth."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(([layer.name], layer))
        for path, inner in _nested_layers(layer):
            found.append(([layer.name, *path], inner))
    return found


class Writer:
    """Encode a value as JSON, its arrays and models as files in ``folder`` (else inline)."""

    def __init__(self, folder: Path | None = None, stem: str = ""):
        self.folder, self.stem, self.count = folder, stem, 0
        self.models: list[tuple[Any, dict]] = []
        #: whether models share layers without one containing the other (each saved alone)
        self.shared = False

    def _file(self, suffix: str) -> str:
        self.count += 1
        return f"{self.stem}-{self.count}{suffix}"

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value  # the frames' JSON carries NaN and the infinities as they are
        if isinstance(value, tuple | list):
            items = [self.encode(v) for v in value]
            return {"tuple": items} if isinstance(value, tuple) else {"list": items}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"dict": {k: self.encode(v) for k, v in value.items()}}
        if _is_model(value):
            if self.folder is None:
                raise NotData("a model")
            entry: dict = {"model": None}
            self.models.append((value, entry))
            return entry
        if isinstance(value, np.generic | np.ndarray) or hasattr(value, "__array__"):
            array = np.asarray(value)
            if array.dtype == object or array.size > MAX_ELEMENTS:
                raise NotData(f"an array of kind '{array.dtype.kind}' and size {array.size}")
            if self.folder is None:
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=False)
                return {"npy": base64.b64encode(buffer.getvalue()).decode()}
            name = self._file(".npy")
            np.save(self.folder / name, array, allow_pickle=False)
            return {"array": name}
        raise NotData(f"a value of type {type(value).__name__}")

    def save_models(self) -> None:
        """Write each model once (a model inside another is a path in it); models
        sharing weights otherwise are saved alone and :attr:`shared` says so."""
        models = [m for m, _ in self.models]
        inside: dict[int, tuple[int, list[str]]] = {}
        for i, model in enumerate(models):
            for j, other in enumerate(models):
                if i != j and id(other) != id(model):
                    for path, layer in _nested_layers(other):
                        if layer is model:
                            inside.setdefault(i, (j, path))
        roots = [i for i in range(len(models)) if i not in inside]
        owners: dict[int, int] = {}
        for i in roots:
            for variable in models[i].weights:
                owner = owners.setdefault(id(variable), i)
                self.shared = self.shared or (owner != i and models[owner] is not models[i])
        saved: dict[int, str] = {}
        for i in roots:
            if id(models[i]) not in saved:
                name = self._file(".keras")
                with contextlib.redirect_stdout(io.StringIO()), \
                        contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        models[i].save(self.folder / name)
                    except Exception as err:  # noqa: BLE001 - any failure: not recordable
                        raise NotData(f"a model Keras cannot save ({err})") from None
                saved[id(models[i])] = name
            self.models[i][1]["model"] = saved[id(models[i])]
        for i, (j, path) in inside.items():
            while j in inside:  # the outermost container
                j, outer = inside[j]
                path = [*outer, *path]
            self.models[i][1].update(model=saved[id(models[j])], path=path)


def _npy_size(path: Path) -> int:
    """The bytes an ``.npy`` file's array takes, from its header alone."""
    with open(path, "rb") as stream:
        try:
            fmt = np.lib.format
            version = fmt.read_magic(stream)
            read = {(1, 0): fmt.read_array_header_1_0,
                    (2, 0): fmt.read_array_header_2_0}.get(version)
            if read is None:  # 3.0 only for non-Latin-1 field names: never the course's
                raise Unreadable(f"an array in .npy format {version}, which is not read")
            shape, _order, dtype = read(stream)
        except (ValueError, OSError, SyntaxError):
            return path.stat().st_size  # not an array: np.load refuses it
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def _h5_size(archive, member) -> int:
    """The bytes an HDF5 member's datasets take, from its metadata alone."""
    import tempfile

    import h5py

    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "weights.h5"
        with archive.open(member) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out)
        try:
            with h5py.File(target, "r") as h5:
                def visit(_name, item):
                    nonlocal total
                    if isinstance(item, h5py.Dataset):
                        total += int(np.prod(item.shape, dtype=object)) * item.dtype.itemsize
                h5.visititems(visit)
        except OSError:
            return 0  # not HDF5: Keras refuses it
    return total


def _keras_size(path: Path, budget: int) -> int:
    """The bytes a ``.keras`` file unpacks to, from declared sizes and weights' shapes."""
    import zipfile

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return path.stat().st_size  # not a zip: Keras refuses it
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise RecordTooLarge(f"a recorded model file holds more files than the grader "
                                 f"reads (a model has 3; the limit is {MAX_MEMBERS})")
        total = sum(m.file_size for m in members)
        if total > budget:
            return total
        for member in members:
            if member.filename.endswith(".h5"):
                total += _h5_size(archive, member)
    return total


def record_size(folder: str | Path, max_bytes: int | None = None) -> int:
    """What reading one test cell's records would take, in bytes, measured without
    unpacking anything: arrays by their headers, models by their zip's declared sizes
    and their weights' shapes. :class:`RecordTooLarge` past ``max_bytes``."""
    folder, total = Path(folder), 0
    budget = max_bytes if max_bytes else float("inf")
    if not folder.is_dir():
        return 0
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not entry.is_file(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if path.suffix == ".npy":
            total += _npy_size(path)
        elif path.suffix == ".keras":
            total += _keras_size(path, budget - total)
        else:
            total += entry.stat(follow_symlinks=False).st_size
        if total > budget:
            raise RecordTooLarge(
                f"the records of this test (what your functions returned) unpack to more "
                f"than the grader's limit of {budget / 2 ** 20:g} MiB (COURSE_RECORD_MB); "
                "they were not read, and the test fails")
    return total


class Reader:
    """Values a :class:`Writer` wrote to ``folder``, read back (:meth:`decode`) within
    ``max_bytes`` (:func:`record_size`); a model of a class other than Keras' or the
    course's is :class:`Unreadable`; a call's records (a folder) hold no text (:data:`NOT_NUMBERS`).
    Without a folder, inline values only (a proxy's report may be text)."""

    def __init__(self, folder: str | Path | None = None, custom_objects: dict | None = None,
                 max_bytes: int | None = None):
        self.folder = Path(folder) if folder else None
        if self.folder:
            record_size(self.folder, max_bytes)  # RecordTooLarge before anything is read
        self.custom_objects = custom_objects or {}
        self.loaded: dict[str, Any] = {}

    def decode(self, value: Any) -> Any:
        if isinstance(value, str) and self.folder:
            raise TypeError(NOT_NUMBERS.format("text"))
        if not isinstance(value, dict):
            return value
        if "tuple" in value:
            return tuple(self.decode(v) for v in value["tuple"])
        if "list" in value:
            return [self.decode(v) for v in value["list"]]
        if "dict" in value:  # a call's keys would be free text a message could quote
            if self.folder:
                raise TypeError(NOT_NUMBERS.format("a dict"))
            return {k: self.decode(v) for k, v in value["dict"].items()}
        if "npy" in value:
            return _array(io.BytesIO(base64.b64decode(value["npy"])))
        if "array" in value:
            with open(self._path(value["array"]), "rb") as f:
                return _array(f)
        if "model" in value:
            if self.folder is None or not isinstance(value["model"], str):
                raise Unreadable("a model where data was expected")
            model = self._model(value["model"])
            for name in value.get("path", []):
                model = model.get_layer(name)
            _carry(model, value.get("variables"))
            return model
        raise Unreadable(f"an unknown record {sorted(value)}")

    def _path(self, name: str) -> Path:
        path = (self.folder / name).resolve() if self.folder else None
        if path is None or path.parent != self.folder.resolve():
            raise Unreadable(f"a record names a file outside its folder: {name}")
        return path

    def _model(self, name: str) -> Any:
        if name not in self.loaded:
            import keras

            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.loaded[name] = keras.saving.load_model(
                        self._path(name), custom_objects=self.custom_objects,
                        safe_mode=True)
            except Exception as err:  # noqa: BLE001 - code of its own, a damaged file...
                message = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
                raise Unreadable(f"a returned model could not be loaded without running "
                                    f"its own code ({type(err).__name__}: {message})") from None
        return self.loaded[name]


def _carry(model: Any, variables: list | None) -> None:
    """Set on a loaded copy what no saved file holds: each weight's trainable flag and
    constraint, as the answer process reports them (``AnswerChannel.proof`` proves it)."""
    if variables is None:
        return
    import keras

    try:
        for variable, (trainable, constraint) in zip(model.weights, variables, strict=True):
            kind = getattr(keras.constraints, str(constraint[0])) if constraint else None
            if constraint and not issubclass(kind, keras.constraints.Constraint):
                raise TypeError(constraint[0])
            variable.trainable = bool(trainable)
            variable.constraint = kind.from_config(dict(constraint[1])) if constraint else None
    except Exception as err:  # noqa: BLE001 - not the weights, or not Keras' constraints
        raise Unreadable(f"a returned model's weights cannot be set as reported ({err})") \
            from None


def _array(f) -> np.ndarray:
    """The array a ``.npy`` file holds, and nothing else (``np.load`` would open a zip
    too), of plain numbers or booleans (:data:`NUMBERS`)."""
    try:
        array = np.lib.format.read_array(f, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise Unreadable(f"not an array: {err}") from None
    if array.dtype.kind not in NUMBERS:  # its kind, never its dtype's text
        raise TypeError(NOT_NUMBERS.format(f"an array of kind '{array.dtype.kind}', not numbers"))
    return array


def _is_model(value) -> bool:
    """:func:`helpers.grading.model_checks.is_model` of the ``helpers`` imported here."""
    from helpers.grading.model_checks import is_model

    return is_model(value)
