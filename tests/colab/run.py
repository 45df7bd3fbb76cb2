"""The course as a student meets it on Colab: `make test-colab` runs this with Python 3.13.

1. An environment like Colab's CPU runtime, in .venv-colab: Python 3.13 and, from
   Colab's published pip freeze (the dated file beside this one), the packages the
   notebooks and their setup cell use, at the freeze's versions (PRELOADED), plus nbval
   to run them. ``google.colab`` is a stub that the kernel imports when it starts, as
   Colab's does, so the setup cells see Colab. Rebuilt only when the freeze changes.
2. Nothing of the course is installed: each notebook's setup cell installs it as on
   Colab, from the repository URL and branch it names (pyproject.toml). git rewrites
   that URL to a scratch repository holding this checkout's files on that branch, and
   COURSE_WEIGHTS_URL points the weights' download at this checkout's weights/.
3. nbval runs every source notebook (answer key included) in fast mode (notebook 01
   first, the others two at a time), and beside them one released notebook runs up to
   its first stub (helpers' stub message is the expected stop); then the preloaded
   packages' versions are compared with those before.
4. Each notebook whose every cell passed is recorded in build/notebook-runs/ (its cells'
   outputs, keyed by what they depend on: tests/nbval_claims.py), so that ``make test``
   checks these runs instead of executing the notebooks a second time.

Usage: python3.13 tests/colab/run.py [pytest arguments, e.g. notebooks/01_linear_autoencoder_pca]
       python3.13 tests/colab/run.py --build    (step 1 alone: .ci/run, beside make setup)
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
VENV = ROOT / ".venv-colab"
FREEZE = max(HERE.glob("pip-freeze-*.txt"))
#: What the notebooks and their setup cell import, and what runs a kernel, as on Colab.
PRELOADED = ["tensorflow", "keras", "tf_keras", "tensorflow-probability", "numpy", "scipy",
             "matplotlib", "scikit-learn", "packaging", "ipykernel", "ipywidgets", "ipython",
             "jupyter_client", "nbformat", "nbclient", "pytest", "pip", "setuptools"]
#: The test's own tools, not on Colab: installed with the freeze as constraints too.
TOOLS = ["nbval", "pytest-xdist"]
#: Runs first and alone: its Setup cell installs the course as on Colab, so that the
#: others (two at a time, one kernel thread each) find it installed.
FIRST = "notebooks/01_linear_autoencoder_pca"
RELEASED = "02_stacked_autoencoders"
STUB_MESSAGE = "NotImplementedError"
THREADS = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
           "OMP_NUM_THREADS": "1"}


def _python() -> Path:
    return VENV / "bin" / "python"


def _pip(*args: str) -> None:
    subprocess.run([str(_python()), "-m", "pip", "-q", *args], check=True)


def _install(*args: str) -> None:
    """``pip install args`` into the Colab-like environment, by the course's uv (make
    setup's, several times faster) if it is there and can, else by pip."""
    uv = ROOT / ".venv" / "bin" / "uv"
    if uv.exists() and subprocess.run(
            [str(uv), "pip", "install", "-q", "--compile-bytecode", "--python",
             str(_python()), *args]).returncode == 0:
        return
    _pip("install", *args)


def build() -> None:
    stamp = VENV / ".installed"
    if stamp.is_file() and stamp.read_text() == f"{FREEZE.name} {' '.join(TOOLS)}":
        return
    assert sys.version_info[:2] == (3, 13), f"Colab runs Python 3.13, not {sys.version}"
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pins = [line for line in FREEZE.read_text().splitlines()
            if "==" in line and not line.startswith("#")]
    constraints = VENV / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    _install("-c", str(constraints), "pip")
    _install("-c", str(constraints), *PRELOADED, *TOOLS)
    site = Path(subprocess.run([str(_python()), "-c", "import sysconfig; print("
                                "sysconfig.get_paths()['purelib'])"], check=True,
                               capture_output=True, text=True).stdout.strip())
    stub = site / "google" / "colab"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text('"""A stand-in for Colab\'s own package."""\n')
    startup = VENV / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-colab.py").write_text("import google.colab  # as Colab's kernel does\n")
    stamp.write_text(f"{FREEZE.name} {' '.join(TOOLS)}")


def installed() -> dict[str, str]:
    code = ("import json, importlib.metadata as m; print(json.dumps({d.metadata['Name']"
            ".lower(): d.version for d in m.distributions()}))")
    # -I: not this checkout's own egg-info (the local install's) from the working folder
    out = subprocess.run([str(_python()), "-I", "-c", code], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def scratch_repository(where: Path, branch: str) -> Path:
    """A git repository with this checkout's tracked files (uncommitted edits included)
    on ``branch``."""
    snapshot = subprocess.run(["git", "stash", "create"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip() or "HEAD"
    repo = where / "repository"
    subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(ROOT), str(repo)],
                   check=True)
    sha = subprocess.run(["git", "rev-parse", snapshot], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    # update-ref, not `branch -f`: the clone may have ``branch`` as its current branch
    subprocess.run(["git", "update-ref", f"refs/heads/{branch}", sha], cwd=repo, check=True)
    return repo


def run_released(env: dict[str, str]) -> bool:
    """Run the released notebook's cells up to its first stub; true if it stopped there."""
    code = f"""
import sys, nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
path = {str(ROOT / 'release' / RELEASED / (RELEASED + '.ipynb'))!r}
nb = nbformat.read(path, as_version=4)
client = NotebookClient(nb, kernel_name="python3", timeout=600,
                        resources={{"metadata": {{"path": {str(ROOT / 'release' / RELEASED)!r}}}}})
try:
    client.execute()
except CellExecutionError as err:
    assert {STUB_MESSAGE!r} in str(err), str(err)[-3000:]
    print("stopped at the first stub, as a student's Run All does")
else:
    raise SystemExit("the released notebook ran to the end: no stub stopped it")
"""
    start = time.perf_counter()
    done = subprocess.run([str(_python()), "-c", code], env=env)
    print(f"release/{RELEASED} up to its first stub: {time.perf_counter() - start:.0f} s")
    return done.returncode == 0


def main(args: list[str]) -> int:
    start = time.perf_counter()
    build()
    print(f"Colab-like environment ready ({FREEZE.name}): {time.perf_counter() - start:.0f} s")
    if args == ["--build"]:
        return 0
    before = installed()
    if "autoencoders-course" in before:   # a previous run's install: start as on Colab
        _pip("uninstall", "-y", "autoencoders-course")
        before = installed()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    url = project["project"]["urls"]["Repository"]
    branch = project["tool"]["course"]["default-branch"]
    with tempfile.TemporaryDirectory() as tmp:
        repo = scratch_repository(Path(tmp), branch)
        env = {**os.environ, **THREADS, "COURSE_MODE": "fast", "MPLBACKEND": "Agg",
               "COURSE_WEIGHTS": "require",
               "COURSE_WEIGHTS_URL": (ROOT / "weights").as_uri(),
               "COURSE_WEIGHTS_DIR": str(Path(tmp) / "weights"),
               "IPYTHONDIR": str(VENV / "ipython"),
               "RECORD_NOTEBOOK_RUNS": str(ROOT / "build" / "notebook-runs"),
               "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.{repo.as_uri()}.insteadOf",
               "GIT_CONFIG_VALUE_0": url,
               "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}"}
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
        # this checkout on the test runner's path (for the claims), never on the kernel's
        # (pytest 8.4 does not find conftest.py's plugin by itself here: imported first)
        runner = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import tests.nbval_claims; " \
                 "import pytest; sys.exit(pytest.main(sys.argv[1:]))"
        pytest = [str(_python()), "-c", runner, "-p", "no:cacheprovider", "--nbval-lax",
                  "--nbval-current-env", "--durations=0", "--rootdir", str(ROOT),
                  "-c", str(ROOT / "pyproject.toml")]
        # pytest-xdist's workers import the claims plugin by name, where Colab's IPython
        # puts a package of its own named `tests` (IPython/extensions/tests) ahead of
        # this checkout's `tests/` (a folder without __init__.py): a package `tests` in
        # the folder pytest runs from leads to this checkout's tests/ first
        empty = Path(tmp) / "runner"
        (empty / "tests").mkdir(parents=True)
        (empty / "tests" / "__init__.py").write_text(f"__path__ = [{str(ROOT / 'tests')!r}]\n")
        if args:
            args = [str(ROOT / a) if (ROOT / a).exists() else a for a in args]
            tests = subprocess.run([*pytest, *args], cwd=empty, env=env)
            released = run_released(env)
        else:   # the first notebook alone (it installs the course), then two at a time,
            # the released notebook beside them, as another student (its own weights)
            tests = subprocess.run([*pytest, str(ROOT / FIRST)], cwd=empty, env=env)
            with cf.ThreadPoolExecutor(1) as beside:
                released = beside.submit(run_released, {
                    **env, "COURSE_WEIGHTS_DIR": str(Path(tmp) / "weights-released")})
                rest = subprocess.run([*pytest, "-n", "2", "--dist", "loadfile",
                                       "--no-loadscope-reorder", str(ROOT / "notebooks"),
                                       f"--ignore={ROOT / FIRST}"],
                                      cwd=empty, env=env)
            tests, released = tests if tests.returncode else rest, released.result()
    after = installed()
    changed = {name: (version, after.get(name)) for name, version in before.items()
               if after.get(name) != version}
    for name, (old, new) in sorted(changed.items()):
        print(f"preloaded package changed: {name} {old} -> {new}")
    added = sorted(set(after) - set(before))
    print(f"installed beside the preloaded packages: {', '.join(added) or 'nothing'}")
    print(f"test-colab took {time.perf_counter() - start:.0f} s")
    checks = [tests.returncode == 0, released, not changed]
    print(f"colab: {sum(checks)} passed, {len(checks) - sum(checks)} failed")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
