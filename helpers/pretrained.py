"""Pre-trained weights: load the course's own weights instead of training, or train.

Models that take more than about two minutes to train in full mode on a 2-core CPU are
trained once by ``scripts/train_weights.py`` (which runs their notebooks in full mode),
and their weights ship in the repository's ``weights/`` folder:

- ``<name>.weights.npz``: the model's weights (``model.get_weights()``, without the
  optimizer's state, so a file is as small as the model);
- ``<name>.json``: the training history and how the weights were made (mode, epochs,
  seconds, machine, library versions, the weights' sha256).

A notebook calls :func:`fit_or_load` where it would call ``model.fit``. Settings
(:mod:`helpers.settings`), read from the environment at each call:

- ``COURSE_RETRAIN=1``: always train (a notebook's own ``RETRAIN = True`` does the same);
- ``COURSE_WEIGHTS_DIR``: where the weights are (default: the repository's ``weights/``;
  on Colab and Kaggle a folder that :mod:`helpers.hosted` fills on first use);
- ``COURSE_SAVE_WEIGHTS=1``: after training, save the weights and their record there;
- ``COURSE_WEIGHTS=require``: a missing or unusable weights file is an error instead of
  a reason to train (the test suite uses it, so a stale file cannot hide).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from helpers import hosted, settings
from helpers.modes import current_mode

#: The repository's weights folder, next to the ``helpers`` package.
REPO_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


class WeightsError(RuntimeError):
    """Shipped weights are required (``COURSE_WEIGHTS=require``) but missing or unusable."""


@dataclass
class TrainingRecord:
    """What :func:`fit_or_load` did: the per-epoch history and where the weights came from.

    ``history`` has the same ``{metric: [value per epoch]}`` layout as a Keras
    ``History.history``, so :func:`helpers.plot_history` accepts the record itself.
    """

    history: dict[str, list[float]]
    source: Literal["loaded", "trained"]
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return len(next(iter(self.history.values()), []))

    def __str__(self) -> str:
        how = ("loaded the course's weights" if self.source == "loaded" else "trained here")
        made = self.info.get("made", {})
        where = f" ({made['mode']} mode, {made['machine']})" if made else ""
        return f"{how}: {self.epochs} epoch(s), {self.seconds:.0f} s of training{where}"


def weights_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``COURSE_WEIGHTS_DIR`` if set, else the repository's ``weights/`` folder."""
    return settings.path("COURSE_WEIGHTS_DIR", environ) or REPO_WEIGHTS


def weights_path(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """The weights file for ``name`` (which need not exist)."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"weights name {name!r} must be a plain file stem")
    return weights_dir(environ) / f"{name}.weights.npz"


def _machine() -> str:
    try:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    except ImportError:  # pragma: no cover - TensorFlow is a course requirement
        gpus = []
    device = "1 GPU" if len(gpus) == 1 else f"{len(gpus)} GPUs" if gpus else "no GPU"
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, {device}"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("tensorflow", "keras", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:  # pragma: no cover
            pass
    return found


def save_weights(model: Any, name: str, record: TrainingRecord,
                 environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Write ``model``'s weights and ``record`` (with provenance) for ``name``; return the
    record as written to ``<name>.json``."""
    path = weights_path(name, environ)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = model.get_weights()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{f"w{i:03d}": a for i, a in enumerate(arrays)})
    path.write_bytes(buffer.getvalue())
    info = {
        "name": name,
        "model": getattr(model, "name", type(model).__name__),
        "parameters": int(sum(a.size for a in arrays)),
        "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
        "made": {"mode": current_mode(environ), "seconds": round(record.seconds, 1),
                 "epochs": record.epochs, "machine": _machine(),
                 "date": time.strftime("%Y-%m-%d"), "versions": _versions()},
        "history": record.history,
    }
    path.with_name(f"{name}.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def _load(model: Any, name: str, environ: Mapping[str, str]) -> TrainingRecord | str:
    """Load ``name`` into ``model``; a string says why it could not be used."""
    path = weights_path(name, environ)
    meta = path.with_name(f"{name}.json")
    if not (path.is_file() and meta.is_file()) and hosted.platform(environ):
        try:  # on Colab and Kaggle, the weights come from the repository on first use
            hosted.fetch_weights([name], path.parent, hosted.weights_url(environ))
        except hosted.HostedSetupError as err:
            return str(err)
    if not path.is_file() or not meta.is_file():
        return f"no weights file {path}"
    try:
        info = json.loads(meta.read_text())
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != info.get("sha256"):
            return f"{path} does not match the checksum in {meta.name}"
        with np.load(io.BytesIO(raw)) as stored:
            arrays = [stored[f"w{i:03d}"] for i in range(len(stored.files))]
        model.set_weights(arrays)
    except OSError as err:
        return f"{path} could not be read ({err.strerror or err})"
    except KeyError as err:
        return f"{path} is not a weights file of this course ({err})"
    except ValueError as err:  # another architecture: a layer or a shape differs
        return f"{path} does not fit this model ({str(err).splitlines()[0]})"
    return TrainingRecord(info["history"], "loaded", info["made"]["seconds"], info)


def load_weights(model: Any, name: str,
                 environ: Mapping[str, str] | None = None) -> TrainingRecord:
    """Load the course's weights for ``name`` into ``model``, trained by another
    notebook's ``fit_or_load``; never trains (so ``make weights`` leaves them as they
    are). Raises :class:`WeightsError` saying why they could not be used."""
    loaded = _load(model, name, os.environ if environ is None else environ)
    if not isinstance(loaded, TrainingRecord):
        raise WeightsError(f"{loaded}; run scripts/train_weights.py to make it")
    print(f"{name}: {loaded}.")
    return loaded


def fit_or_load(model: Any, name: str, fit: Callable[[], Any], *, retrain: bool = False,
                environ: Mapping[str, str] | None = None) -> TrainingRecord:
    """Load the course's weights for ``name`` into ``model``, or train it with ``fit()``.

    ``model`` must be built (give it an ``Input``, or call it once on a batch). ``fit`` is
    called with no arguments and returns a Keras ``History`` (or a dict of per-epoch
    values). It is called when ``retrain`` is true, when ``COURSE_RETRAIN=1``, or when no
    usable weights file exists; the reason is printed. Prints one line saying what happened.
    """
    env = os.environ if environ is None else environ
    retrain = retrain or settings.flag("COURSE_RETRAIN", env)
    required = settings.choice("COURSE_WEIGHTS", env) == "require"
    if not retrain:
        loaded = _load(model, name, env)
        if isinstance(loaded, TrainingRecord):
            print(f"{name}: {loaded}. Set RETRAIN = True to train it here instead.")
            return loaded
        if required:
            raise WeightsError(f"{loaded}; run scripts/train_weights.py to make it")
        print(f"{name}: {loaded}; training instead.")
    from helpers.history import per_epoch  # here: the grader's processes load no matplotlib

    start = time.perf_counter()
    history = fit()
    record = TrainingRecord(per_epoch(history), "trained", time.perf_counter() - start)
    if settings.flag("COURSE_SAVE_WEIGHTS", env):
        record.info = save_weights(model, name, record, env)
        print(f"{name}: saved {weights_path(name, env)}")
    print(f"{name}: {record}.")
    return record
