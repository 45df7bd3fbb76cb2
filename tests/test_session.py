import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import helpers
from helpers import session


def _run(code: str, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environ, timeout=120, cwd="/")


def test_setup_keeps_stderr_silent_and_reports_versions():
    result = _run("import helpers; info = helpers.setup(seed=3); "
                  "import tensorflow as tf; tf.constant([1.0]) * 2")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for name in ("python", "tensorflow", "keras", "numpy", "run mode"):
        assert name in result.stdout
    assert "seed 3" in result.stdout


def test_plain_tensorflow_import_is_noisy_so_the_quiet_import_matters():
    # guards the reason for import_quietly: if TensorFlow stops logging at import,
    # this test tells us the workaround can go.
    result = _run("import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'; import tensorflow")
    assert result.returncode == 0
    assert result.stderr != ""


def test_import_helpers_sets_log_level_without_importing_tensorflow():
    result = _run("import sys, os, helpers; "
                  "print(os.environ['TF_CPP_MIN_LOG_LEVEL'], 'tensorflow' in sys.modules)")
    assert result.stdout.split() == ["3", "False"]


def test_user_log_level_is_respected():
    result = _run("import os, helpers; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])",
                  TF_CPP_MIN_LOG_LEVEL="1")
    assert result.stdout.strip() == "1"


def test_setup_seeds_python_numpy_and_keras(capsys):
    import random

    import keras
    import tensorflow as tf

    def draw():
        return (random.random(), *np.random.rand(2), *keras.random.uniform((2,)).numpy(),
                *tf.random.uniform((2,)).numpy())

    info = helpers.setup(seed=7, verbose=False)
    a = draw()
    helpers.setup(seed=7, verbose=False)
    assert draw() == a
    helpers.setup(seed=8, verbose=False)
    assert draw() != a
    assert info.seed == 7 and info.mode in ("full", "fast")
    assert "tensorflow" in info.versions and capsys.readouterr().out == ""


def test_report_mentions_missing_gpu_or_lists_it():
    info = session.SessionInfo(seed=1, mode="fast", versions={"numpy": "2"}, gpus=[])
    assert "No GPU found" in info.report()
    info.gpus = ["/physical_device:GPU:0"]
    assert "GPU:0" in info.report() and "No GPU" not in info.report()


def test_quiet_swallows_warnings_and_both_kinds_of_stderr(capfd):
    with helpers.quiet():
        warnings.warn("library chatter", UserWarning, stacklevel=1)
        print("python stderr", file=sys.stderr)
        os.write(2, b"c++ stderr\n")
        print("stdout stays")
    out, err = capfd.readouterr()
    assert err == "" and "stdout stays" in out
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_quiet_lets_errors_through():
    with pytest.raises(KeyError), helpers.quiet():
        raise KeyError("boom")


def test_lazy_exports_resolve_and_unknown_names_fail():
    for name in helpers.__all__:
        assert getattr(helpers, name) is not None
    with pytest.raises(AttributeError, match="no_such_helper"):
        _ = helpers.no_such_helper


def test_figures_from_names_the_versions_requirements_pin():
    """FIGURES_FROM, what the text's fast-mode figures were printed with, is what
    requirements.txt pins for the suite (major.minor)."""
    from pathlib import Path

    pins = dict(line.split(";")[0].strip().split("==") for line in
                (Path(__file__).resolve().parents[1] / "requirements.txt").read_text()
                .splitlines() if "==" in line and not line.startswith("#"))
    assert {name: ".".join(pins[name].split(".")[:2]) for name in session.FIGURES_FROM} \
        == session.FIGURES_FROM
    assert session.figures_from_these_versions({"tensorflow": pins["tensorflow"],
                                                "keras": pins["keras"]})


def test_other_versions_are_told_the_figures_differ():
    """Colab's TensorFlow 2.20 and Keras 3.13, or a GPU: the report says where the text's
    figures come from; the pinned versions on a CPU get no such line."""
    colab = {"python": "3.13.5", "tensorflow": "2.20.0", "keras": "3.13.2"}
    assert not session.figures_from_these_versions(colab)
    assert not session.figures_from_these_versions({"tensorflow": "2.21.0"})
    info = session.SessionInfo(seed=1, mode=helpers.current_mode(), versions=colab)
    assert "figures come from TensorFlow 2.21 and Keras 3.15 on a CPU" in info.report()
    pinned = {**colab, "tensorflow": "2.21.0", "keras": "3.15.1"}
    assert session.figures_note(pinned) is None
    assert "figures come from" not in session.SessionInfo(
        seed=1, mode=helpers.current_mode(), versions=pinned).report()
    on_gpu = session.SessionInfo(seed=1, mode=helpers.current_mode(), versions=pinned,
                                 gpus=["/physical_device:GPU:0"])
    assert "on a CPU; other versions and devices" in on_gpu.report()
