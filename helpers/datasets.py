"""MNIST, Fashion-MNIST and CIFAR-10 as float32 arrays in [0, 1], found offline first.

Where data is looked for, in order:

1. the folder named by ``COURSE_DATA_DIR`` (for example ``../shared/data``);
2. Keras' cache, ``$KERAS_HOME/datasets`` (``~/.keras/datasets`` by default);
3. Keras' own download (which fills that cache), unless ``download=False``.

Files with a published checksum are verified with sha256 before use.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from helpers import settings

Shape = Literal["flat", "image", "channels"]
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
CIFAR_TARBALL = "cifar-10-python.tar.gz"
CIFAR_NPZ = "cifar10.npz"

#: sha256 of the files Keras downloads (and of the course's staged CIFAR-10 npz).
SHA256 = {
    "mnist.npz": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    "train-images-idx3-ubyte.gz":
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz":
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz":
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz":
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    CIFAR_TARBALL: "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
}

CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                "ship", "truck"),
}

STAGING = {
    "mnist": "mnist.npz",
    "fashion_mnist": "fashion-mnist/ with " + ", ".join(FASHION_FILES),
    "cifar10": (f"{CIFAR_NPZ} (uint8 x_train, y_train, x_test, y_test), or {CIFAR_TARBALL}, "
                "or its extracted cifar-10-batches-py/ folder"),
}


class DataError(RuntimeError):
    """Base class for the course's data problems."""


class DataNotFoundError(DataError, FileNotFoundError):
    """The dataset is in none of the places looked at and could not be downloaded."""


class ChecksumError(DataError):
    """A data file is corrupted, truncated or not the expected file."""


@dataclass(frozen=True)
class Dataset:
    """One dataset, split into train / validation / test, float32 in [0, 1]."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train {self.x_train.shape}, val {self.x_val.shape}, "
                f"test {self.x_test.shape}, from {self.source})")

    def subset(self, n_train: int | None = None, n_eval: int | None = None) -> Dataset:
        """The first ``n_train`` training and ``n_eval`` validation and test examples."""
        tr, ev = slice(n_train), slice(n_eval)
        return replace(self, x_train=self.x_train[tr], y_train=self.y_train[tr],
                       x_val=self.x_val[ev], y_val=self.y_val[ev],
                       x_test=self.x_test[ev], y_test=self.y_test[ev])


# ---------------------------------------------------------------- where data lives
def keras_cache_dir() -> Path:
    """Keras' dataset cache: ``$KERAS_HOME/datasets``, default ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched, in order: ``data_dir`` or ``COURSE_DATA_DIR``, then Keras' cache."""
    chosen = settings.path("COURSE_DATA_DIR") if data_dir is None else data_dir
    dirs = [Path(chosen).expanduser()] if chosen else []
    return dirs + [keras_cache_dir()]


def sha256_of(path: Path) -> str:
    """The hex sha256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str | None = None) -> Path:
    """Check ``path`` against its known sha256; raise :class:`ChecksumError` if it differs."""
    expected = expected or SHA256.get(path.name)
    if expected is not None:
        actual = sha256_of(path)
        if actual != expected:
            raise ChecksumError(
                f"{path} is corrupted or not the expected file: its sha256 is {actual}, "
                f"expected {expected}. Delete it and stage a fresh copy "
                "(see docs/running.md, 'Data').")
    return path


def _not_found(name: str, looked: list[str], reason: str = "") -> DataNotFoundError:
    where = "\n".join(f"  - {p}" for p in looked)
    return DataNotFoundError(
        f"Dataset '{name}' was not found. Places looked, in order:\n{where}\n"
        + (f"Keras' download failed too: {reason}\n" if reason else "")
        + f"To work offline, put {STAGING[name]} in a folder and point COURSE_DATA_DIR at "
        f"it (export COURSE_DATA_DIR=/path/to/data), or copy the files into {keras_cache_dir()}.")


# ---------------------------------------------------------------- readers
def _read_idx(path: Path) -> np.ndarray:
    """Read a gzip-compressed IDX file (images or labels) as uint8."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise ChecksumError(f"{path} is not a readable gzip file: {exc}") from exc
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if magic >> 8 != 0x08 or data.size != int(np.prod(dims)):
        raise ChecksumError(f"{path} is not a valid IDX file of uint8 data.")
    return data.reshape(dims)


def _read_npz(path: Path) -> Arrays:
    try:
        with np.load(path) as d:
            return d["x_train"], d["y_train"], d["x_test"], d["y_test"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ChecksumError(f"{path} is not a readable dataset archive: {exc}") from exc


def _cifar_batch(f) -> tuple[np.ndarray, np.ndarray]:
    batch = pickle.load(f, encoding="bytes")
    x = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, np.asarray(batch[b"labels"], dtype=np.uint8)


def _cifar_from_batches(read: Callable[[str], tuple[np.ndarray, np.ndarray]]) -> Arrays:
    train = [read(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = read("test_batch")
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
            x_test, y_test)


def _read_cifar_tarball(path: Path) -> Arrays:
    verify(path, SHA256[CIFAR_TARBALL])
    with tarfile.open(path, "r:gz") as tar:
        def read(member: str):
            return _cifar_batch(tar.extractfile(f"cifar-10-batches-py/{member}"))
        return _cifar_from_batches(read)


def _read_cifar_folder(folder: Path) -> Arrays:
    def read(member: str):
        with open(folder / member, "rb") as f:
            return _cifar_batch(f)
    try:
        return _cifar_from_batches(read)
    except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as exc:
        raise ChecksumError(f"{folder} holds unreadable CIFAR-10 batches: {exc}") from exc


# ---------------------------------------------------------------- per dataset: find and read
def _find_mnist(root: Path) -> Callable[[], Arrays] | None:
    path = root / "mnist.npz"
    return (lambda: _read_npz(verify(path))) if path.is_file() else None


def _find_fashion(root: Path) -> Callable[[], Arrays] | None:
    for folder in (root / "fashion-mnist", root):
        paths = [folder / name for name in FASHION_FILES]
        if all(p.is_file() for p in paths):
            return lambda paths=paths: tuple(_read_idx(verify(p)) for p in paths)
    return None


def _find_cifar(root: Path) -> Callable[[], Arrays] | None:
    npz = root / CIFAR_NPZ
    if npz.is_file():
        return lambda: _read_npz(npz)
    for tarball in (root / CIFAR_TARBALL, root / "cifar-10-batches-py-target_archive"):
        if tarball.is_file():
            return lambda tarball=tarball: _read_cifar_tarball(tarball)
    for folder in (root / "cifar-10-batches-py",
                   root / "cifar-10-batches-py-target" / "cifar-10-batches-py"):
        if (folder / "test_batch").is_file():
            return lambda folder=folder: _read_cifar_folder(folder)
    return None


FINDERS: dict[str, Callable[[Path], Callable[[], Arrays] | None]] = {
    "mnist": _find_mnist, "fashion_mnist": _find_fashion, "cifar10": _find_cifar,
}


def _keras_download(name: str) -> Arrays:
    import keras

    module = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist,
              "cifar10": keras.datasets.cifar10}[name]
    (x_train, y_train), (x_test, y_test) = module.load_data()
    return x_train, y_train, x_test, y_test


def load_raw(name: str, data_dir: str | os.PathLike | None = None,
             download: bool = True) -> tuple[Arrays, str]:
    """The uint8 arrays ``(x_train, y_train, x_test, y_test)`` and where they came from."""
    if name not in FINDERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(FINDERS)}")
    looked = []
    for root in search_dirs(data_dir):
        looked.append(str(root))
        reader = FINDERS[name](root)
        if reader is not None:
            return reader(), str(root)
    looked.append("Keras' download" + ("" if download else " (not attempted: download=False)"))
    if not download:
        raise _not_found(name, looked)
    try:
        return _keras_download(name), "Keras' download"
    except Exception as exc:  # noqa: BLE001 - any failure means: not available
        raise _not_found(name, looked, f"{type(exc).__name__}: {exc}") from None


def _shape(x: np.ndarray, shape: Shape) -> np.ndarray:
    if shape == "flat":
        return x.reshape(len(x), int(np.prod(x.shape[1:])))
    if shape == "channels" and x.ndim == 3:
        return x[..., np.newaxis]
    if shape in ("image", "channels"):
        return x
    raise ValueError(f"shape must be 'flat', 'image' or 'channels', not {shape!r}")


def _check(name: str, arrays: Arrays, source: str) -> None:
    x_train, y_train, x_test, y_test = arrays
    image = (32, 32, 3) if name == "cifar10" else (28, 28)
    for x, y in ((x_train, y_train), (x_test, y_test)):
        y = y.reshape(-1)
        if x.dtype != np.uint8 or x.shape[1:] != image or len(x) != len(y) or y.max() > 9:
            raise ChecksumError(f"{name} from {source} has unexpected contents: images "
                                f"{x.shape} {x.dtype}, labels {y.shape}; expected uint8 "
                                f"images of {image} and labels 0-9.")


def load_dataset(name: str, shape: Shape = "image", validation: int = 5000,
                 n_train: int | None = None, n_eval: int | None = None,
                 data_dir: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    """Load ``mnist``, ``fashion_mnist`` or ``cifar10`` as float32 in [0, 1].

    Parameters
    ----------
    shape:
        ``"flat"`` (N, 784) or (N, 3072); ``"image"`` (N, 28, 28) or (N, 32, 32, 3);
        ``"channels"`` (N, 28, 28, 1) or (N, 32, 32, 3).
    validation:
        How many examples at the end of the training set become the validation split.
    n_train, n_eval:
        Keep only the first ``n_train`` training and ``n_eval`` validation and test
        examples (for a run mode's budget); ``None`` keeps all.
    data_dir:
        A folder to search first (default: ``COURSE_DATA_DIR``).
    download:
        Let Keras download the data when no local copy is found.
    """
    if _KEPT is None or data_dir is not None:
        return _prepare(name, shape, validation, n_train, n_eval, data_dir, download)
    key = (name, validation, n_train, n_eval, *map(str, search_dirs()))
    if key not in _KEPT:
        _KEPT[key] = _read_only(_prepare(name, "image", validation, n_train, n_eval, None,
                                         download))
    kept = _KEPT[key]
    return replace(kept, **{f: _shape(getattr(kept, f), shape)
                            for f in ("x_train", "x_val", "x_test")})


def _prepare(name: str, shape: Shape, validation: int, n_train: int | None,
             n_eval: int | None, data_dir, download: bool) -> Dataset:
    """:func:`load_dataset`'s arrays, made anew."""
    arrays, source = load_raw(name, data_dir=data_dir, download=download)
    _check(name, arrays, source)
    x_train, y_train, x_test, y_test = arrays
    if not 0 <= validation < len(x_train):
        raise ValueError(f"validation must be between 0 and {len(x_train) - 1}")

    def prep(x: np.ndarray) -> np.ndarray:
        return _shape(x.astype(np.float32) / 255.0, shape)

    cut = len(x_train) - validation
    y_train, y_test = y_train.reshape(-1).astype(np.int64), y_test.reshape(-1).astype(np.int64)
    # the subset is taken on the uint8 arrays: only what is kept becomes float32
    raw = Dataset(name, x_train[:cut], y_train[:cut], x_train[cut:], y_train[cut:],
                  x_test, y_test, CLASS_NAMES[name], source).subset(n_train, n_eval)
    return replace(raw, x_train=prep(raw.x_train), x_val=prep(raw.x_val),
                   x_test=prep(raw.x_test))


#: The datasets this process keeps once prepared (:func:`keep`); None (a notebook's
#: process): each load prepares arrays of its own.
_KEPT: dict[tuple, Dataset] | None = None


def keep(*names: str) -> None:
    """From now on, prepare each dataset once in this process and hand out the same
    arrays, read-only (for the grader's checking processes: a test cell loads MNIST for
    its first 256 images); ``names``: prepared now if found on disk (no download). A load
    naming ``data_dir`` prepares its own, as without :func:`keep`."""
    global _KEPT
    if _KEPT is None:
        _KEPT = {}
    for name in names:
        try:
            load_dataset(name, download=False)
        except (DataError, OSError, ValueError, MemoryError):  # the test that loads it says
            pass


def _read_only(data: Dataset) -> Dataset:
    """``data`` with its arrays, and the arrays they are views of, read-only (a guard
    against accidents: an array's owner may make it writable again)."""
    for value in vars(data).values():
        while isinstance(value, np.ndarray):
            value.flags.writeable = False
            value = value.base
    return data


def load_mnist(**kwargs) -> Dataset:
    """MNIST digits; see :func:`load_dataset` for the arguments."""
    return load_dataset("mnist", **kwargs)


def load_fashion_mnist(**kwargs) -> Dataset:
    """Fashion-MNIST clothing images; see :func:`load_dataset` for the arguments."""
    return load_dataset("fashion_mnist", **kwargs)


def load_cifar10(**kwargs) -> Dataset:
    """CIFAR-10 colour images (32x32x3); see :func:`load_dataset` for the arguments."""
    return load_dataset("cifar10", **kwargs)
