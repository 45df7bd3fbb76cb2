"""Colab and Kaggle: make a notebook opened from its badge work where it is.

Such a notebook has no ``helpers`` beside it: its setup cell installs this package alone
(``pip install --no-deps`` from the repository, so nothing else changes), then calls
:func:`helpers.setup`, which calls :func:`prepare` here when :func:`platform` names a
hosted platform:

- a dependency of the package that the platform lacks is installed with every package
  already there pinned at its version (a constraints file): nothing the platform
  preloaded (TensorFlow, Keras, numpy, ipykernel...) changes, and no runtime restart is
  needed. A preloaded package outside the package's range is left as it is, and a line
  says so;
- ``COURSE_WEIGHTS_DIR`` is set (when unset) to a folder of its own, and
  :func:`helpers.fit_or_load` downloads there each shipped weights file the notebook loads,
  when it first needs it (:func:`fetch_weights`, checked against the sha256 of its record);
- the data sets come from Keras' own download (:mod:`helpers.datasets`).

Locally, on a JupyterHub and while nbgrader grades, nothing here runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from helpers import settings

#: The distribution that holds ``helpers`` (pyproject.toml's ``[project] name``).
DISTRIBUTION = "autoencoders-course"
#: Where downloaded weights go when ``COURSE_WEIGHTS_DIR`` is unset.
CACHE = Path.home() / ".cache" / DISTRIBUTION / "weights"


class HostedSetupError(RuntimeError):
    """The course could not be prepared on Colab or Kaggle (a download or an install)."""


def platform(environ: Mapping[str, str] | None = None,
             modules: Iterable[str] | None = None) -> str | None:
    """``"Colab"``, ``"Kaggle"`` or ``None`` (a local kernel, a JupyterHub, nbgrader).

    Colab's kernel imports ``google.colab`` when it starts; Kaggle's sets
    ``KAGGLE_KERNEL_RUN_TYPE``. Under nbgrader (``NBGRADER_EXECUTION``) it is always ``None``.
    """
    env = os.environ if environ is None else environ
    loaded = sys.modules if modules is None else set(modules)
    if env.get("NBGRADER_EXECUTION"):
        return None
    if "google.colab" in loaded:
        return "Colab"
    if env.get("KAGGLE_KERNEL_RUN_TYPE"):
        return "Kaggle"
    return None


def installed_from() -> tuple[str, str | None]:
    """The repository this package was installed from and the commit, as pip recorded
    them (``direct_url.json``); the repository of pyproject.toml and ``None`` otherwise."""
    dist = metadata.distribution(DISTRIBUTION)
    urls = dict(entry.split(", ", 1) for entry in dist.metadata.get_all("Project-URL") or [])
    repository = urls.get("Repository", "")
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    commit = direct.get("vcs_info", {}).get("commit_id")
    return repository, commit


def weights_url(environ: Mapping[str, str] | None = None) -> str:
    """Where :func:`fetch_weights` downloads from: ``COURSE_WEIGHTS_URL`` if set, else the
    repository's ``weights/`` at the commit this package was installed from."""
    chosen = settings.read("COURSE_WEIGHTS_URL", environ)
    if chosen:
        return str(chosen).rstrip("/")
    repository, commit = installed_from()
    if not repository or not commit:
        raise HostedSetupError(
            f"{DISTRIBUTION} was not installed from its repository (no commit recorded): "
            "set COURSE_WEIGHTS_URL to the folder of the weights")
    return f"{repository.rstrip('/')}/raw/{commit}/weights"


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.read()
    except OSError as err:
        raise HostedSetupError(f"could not download {url}: {err}") from None


def fetch_weights(names: Iterable[str], folder: Path, base_url: str) -> list[str]:
    """Download ``<name>.json`` and ``<name>.weights.npz`` for each name into ``folder``,
    unless a copy that matches its record is already there; return the names downloaded.

    A weights file whose sha256 differs from its record's is not kept.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fetched = []
    for name in names:
        record_path = folder / f"{name}.json"
        weights_path = folder / f"{name}.weights.npz"
        if record_path.is_file() and weights_path.is_file() and hashlib.sha256(
                weights_path.read_bytes()).hexdigest() == json.loads(
                record_path.read_text()).get("sha256"):
            continue
        record = _download(f"{base_url}/{name}.json")
        raw = _download(f"{base_url}/{name}.weights.npz")
        expected = json.loads(record).get("sha256")
        if hashlib.sha256(raw).hexdigest() != expected:
            raise HostedSetupError(f"{base_url}/{name}.weights.npz does not match the "
                                   f"sha256 in {name}.json: download it again")
        weights_path.write_bytes(raw)
        record_path.write_bytes(record)
        fetched.append(name)
    return fetched


def missing_requirements() -> tuple[list[str], list[str]]:
    """The package's runtime requirements: those not installed, and those installed at a
    version outside the package's range (``"tensorflow 2.18.0 (wants >=2.20,<2.22)"``)."""
    from packaging.requirements import Requirement

    missing, outside = [], []
    for line in metadata.requires(DISTRIBUTION) or []:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        try:
            have = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(str(requirement))
            continue
        if not requirement.specifier.contains(have, prereleases=True):
            outside.append(f"{requirement.name} {have} (wants {requirement.specifier})")
    return missing, outside


def constraints() -> str:
    """Every installed distribution pinned at its version, one ``name==version`` a line:
    pip's constraints file that keeps the platform's packages as they are."""
    pins = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            pins[name.lower()] = f"{name}=={dist.version}"
    return "\n".join(pins[key] for key in sorted(pins)) + "\n"


def install(requirements: list[str]) -> None:
    """``pip install`` ``requirements`` with every installed package held at its version."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write(constraints())
    try:
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", pins.name,
                               *requirements], capture_output=True, text=True)
    finally:
        os.unlink(pins.name)
    if done.returncode:
        raise HostedSetupError("pip could not install " + ", ".join(requirements)
                               + " beside the platform's own packages:\n" + done.stderr[-2000:])


@dataclass
class Prepared:
    """What :func:`prepare` did, for the setup cell's one line."""

    platform: str
    commit: str | None
    installed: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


def prepare(where: str) -> Prepared:
    """Install what the platform lacks (nothing it has changes) and choose the folder the
    weights are downloaded to."""
    missing, outside = missing_requirements()
    if any(line.startswith("tensorflow") and not line.startswith("tensorflow-")
           for line in missing):
        raise HostedSetupError(
            f"this {where} runtime has no TensorFlow (Colab's TPU runtime, say): choose "
            "a CPU or GPU runtime (Runtime > Change runtime type), then run this cell again")
    if missing:
        install(missing)
    if not settings.path("COURSE_WEIGHTS_DIR"):
        os.environ["COURSE_WEIGHTS_DIR"] = str(CACHE)
    return Prepared(where, installed_from()[1], missing, outside)
