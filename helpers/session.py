"""The call at the top of every notebook: quiet logs, seeds, versions, GPU check."""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
import sys
from dataclasses import dataclass, field

from helpers import hosted as _hosted
from helpers.hosted import Prepared
from helpers.modes import Mode, current_mode

#: The versions (major.minor) the text's fast-mode figures were printed with: those
#: requirements.txt pins (tests/test_session.py checks that the two agree). Other versions,
#: Colab's among them, train to slightly different figures.
FIGURES_FROM = {"tensorflow": "2.21", "keras": "3.15"}


def figures_from_these_versions(versions: dict[str, str] | None = None) -> bool:
    """Whether TensorFlow and Keras here (or in ``versions``: name -> version) are the
    major.minor versions of :data:`FIGURES_FROM`. Reads package metadata, imports nothing."""
    if versions is None:
        from importlib import metadata

        versions = {}
        for name in FIGURES_FROM:
            try:
                versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                pass
    return all(".".join(str(versions.get(name, "")).split(".")[:2]) == wanted
               for name, wanted in FIGURES_FROM.items())


def figures_note(versions: dict[str, str], gpus: list[str] | tuple = ()) -> str | None:
    """One sentence for a student whose TensorFlow or Keras is not :data:`FIGURES_FROM`'s,
    or who trains on a GPU: the figures they get differ slightly from the text's."""
    if figures_from_these_versions(versions) and not gpus:
        return None
    quoted = " and ".join(f"{_NAMES[name]} {version}" for name, version in FIGURES_FROM.items())
    return (f"the text's fast-mode figures come from {quoted} on a CPU; other versions and "
            "devices give slightly different ones")


_NAMES = {"tensorflow": "TensorFlow", "keras": "Keras"}

#: Set before TensorFlow is first imported, this keeps its C++ log lines
#: (``cuInit`` and the like) off stderr, where nbgrader would zero a test cell.
QUIET_TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}


def quiet_tensorflow_logs() -> bool:
    """Set ``TF_CPP_MIN_LOG_LEVEL=3`` unless the user chose a level.

    Returns ``False`` when TensorFlow was already imported: the C++ logger reads the
    variable once, so setting it then has no effect on C++ logs (Python logs are
    still lowered by :func:`setup`).
    """
    for key, value in QUIET_TF_ENV.items():
        os.environ.setdefault(key, value)
    return "tensorflow" not in sys.modules


@contextlib.contextmanager
def _stderr_fd_silenced():
    """Send file descriptor 2 to /dev/null for the duration (C++ libraries write there)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_quietly(*modules: str) -> None:
    """Import TensorFlow-based modules without their load-time log lines on stderr.

    TensorFlow 2.21 logs through absl before its logger is initialised (``oneDNN
    custom operations are on``, ``Could not find cuda drivers``), and
    ``TF_CPP_MIN_LOG_LEVEL`` does not reach those lines, so the first import runs
    with stderr's file descriptor pointed at /dev/null. Import errors still raise.
    """
    quiet_tensorflow_logs()
    missing = [m for m in modules if m not in sys.modules]
    if not missing:
        return
    with _stderr_fd_silenced():
        for module in missing:
            importlib.import_module(module)


@dataclass
class SessionInfo:
    """What :func:`setup` found: versions, accelerators and the run mode."""

    seed: int
    mode: Mode
    versions: dict[str, str] = field(default_factory=dict)
    gpus: list[str] = field(default_factory=list)
    #: On Colab or Kaggle, what :func:`helpers.hosted.prepare` did; ``None`` elsewhere.
    hosted: Prepared | None = None

    def report(self) -> str:
        """A short, human-readable summary (one line on Colab and Kaggle)."""
        if self.hosted is not None:
            return self._hosted_line()
        lines = [f"{name:<24}{version}" for name, version in self.versions.items()]
        lines.append(f"{'run mode':<24}{self.mode} (seed {self.seed})")
        if self.gpus:
            lines.append(f"{'GPU':<24}{', '.join(self.gpus)}")
        else:
            lines.append("No GPU found: training runs on the CPU. Fast mode "
                         "(COURSE_MODE=fast) keeps every notebook short.")
        if note := figures_note(self.versions, self.gpus):
            lines.append(note[0].upper() + note[1:] + ".")
        return "\n".join(lines)

    def _hosted_line(self) -> str:
        done = self.hosted
        course = "course " + (done.commit[:7] if done.commit else "(no commit recorded)")
        versions = ", ".join(f"{name} {version}" for name, version in self.versions.items())
        device = self.gpus[0] if self.gpus else "CPU"
        extra = []
        if done.installed:
            extra.append("installed " + ", ".join(done.installed))
        if done.outside:
            extra.append("outside the course's range: " + "; ".join(done.outside))
        if note := figures_note(self.versions, self.gpus):
            extra.append(note)
        return "; ".join([f"{done.platform}: {course}, {versions}, {device}, "
                          f"{self.mode} mode", *extra])


def _version(module: str) -> str | None:
    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return None


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and the backend
    (``keras.utils.set_random_seed`` seeds all three)."""
    import keras

    keras.utils.set_random_seed(seed)


def settle(seed: int) -> None:
    """What :func:`setup` does to the loaded libraries: TensorFlow's logger at ERROR,
    everything seeded (:func:`seed_everything`)."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    seed_everything(seed)


def setup(seed: int = 42, extra_modules: tuple[str, ...] = (), verbose: bool = True,
          ) -> SessionInfo:
    """Prepare a notebook: quiet TensorFlow, seed everything, report versions and GPU.

    Call it before importing TensorFlow or Keras yourself, so that TensorFlow's C++
    logger starts quiet. ``extra_modules`` adds versions to the report, for example
    ``("tensorflow_probability", "tf_keras")``. On Colab and Kaggle it first installs what
    the platform lacks, without changing what it has (:mod:`helpers.hosted`), and the
    report is one line.
    """
    where = _hosted.platform()
    prepared = _hosted.prepare(where) if where else None
    modules = ("tensorflow", "keras", "numpy", "matplotlib", "sklearn", *extra_modules)
    import_quietly(*modules)
    import tensorflow as tf

    settle(seed)
    versions = {"python": platform.python_version()}
    versions.update({m: v for m in modules if (v := _version(m)) is not None})
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    info = SessionInfo(seed=seed, mode=current_mode(), versions=versions, gpus=gpus,
                       hosted=prepared)
    if verbose:
        print(info.report())
    return info


@contextlib.contextmanager
def quiet():
    """Run code with warnings ignored and nothing reaching stderr (Python or C++).

    nbgrader gives a test cell zero points if it writes anything to stderr, so a test
    cell calls student code inside ``with helpers.quiet():``. Errors still raise.
    """
    import io
    import warnings

    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), \
            _stderr_fd_silenced():
        warnings.simplefilter("ignore")
        yield
