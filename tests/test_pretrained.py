"""helpers.pretrained: load the course's weights or train, and the shipped weights themselves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

import helpers
from helpers import pretrained
from helpers.datasets import sha256_of

helpers.import_quietly("tensorflow", "keras")
import keras  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "weights"
#: Shipped weights must stay small enough to live in git.
MAX_TOTAL_MIB = 30


def tiny_model(units: int = 3) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units),
                              keras.layers.Dense(4)])
    model.compile(optimizer="adam", loss="mse")
    return model


class Fit:
    """A fit() that records its calls and trains one epoch."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self):
        self.calls += 1
        x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
        return self.model.fit(x, x, epochs=2, verbose=0, validation_data=(x, x))


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"COURSE_WEIGHTS_DIR": str(tmp_path), "COURSE_MODE": "fast", **extra}


def test_trains_and_saves_when_asked_then_loads_the_same_weights(tmp_path, capsys):
    model = tiny_model()
    fit = Fit(model)
    record = helpers.fit_or_load(model, "tiny", fit, environ=env(tmp_path, COURSE_SAVE_WEIGHTS="1"))
    assert fit.calls == 1 and record.source == "trained" and record.epochs == 2
    assert (tmp_path / "tiny.weights.npz").is_file()
    info = json.loads((tmp_path / "tiny.json").read_text())
    assert info["made"]["mode"] == "fast" and info["parameters"] == model.count_params()
    assert info["history"]["val_loss"] == record.history["val_loss"]

    other = tiny_model()
    other.set_weights([np.zeros_like(w) for w in other.get_weights()])
    fit_other = Fit(other)
    loaded = helpers.fit_or_load(other, "tiny", fit_other, environ=env(tmp_path))
    assert fit_other.calls == 0 and loaded.source == "loaded"
    assert loaded.history == record.history and loaded.seconds == pytest.approx(
        record.seconds, abs=0.1)
    for mine, theirs in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    out = capsys.readouterr().out
    assert "tiny: loaded the course's weights" in out and "RETRAIN = True" in out
    helpers.plot_history(loaded)  # a record plots like a History


def test_does_not_save_unless_asked(tmp_path):
    model = tiny_model()
    record = helpers.fit_or_load(model, "tiny", Fit(model), environ=env(tmp_path))
    assert record.source == "trained" and not list(tmp_path.iterdir())


def saved(tmp_path: Path) -> keras.Model:
    model = tiny_model()
    helpers.fit_or_load(model, "tiny", Fit(model), environ=env(tmp_path, COURSE_SAVE_WEIGHTS="1"))
    return model


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_retrain_flag_trains_even_with_weights(tmp_path, how):
    saved(tmp_path)
    model = tiny_model()
    fit = Fit(model)
    extra = {"COURSE_RETRAIN": "1"} if how == "environment" else {}
    record = helpers.fit_or_load(model, "tiny", fit, retrain=how == "argument",
                                 environ=env(tmp_path, **extra))
    assert fit.calls == 1 and record.source == "trained"


@pytest.mark.parametrize("damage", ["architecture", "checksum", "missing"])
def test_unusable_weights_train_instead_and_say_why(tmp_path, capsys, damage):
    saved(tmp_path)
    model = tiny_model(units=5) if damage == "architecture" else tiny_model()
    if damage == "checksum":
        (tmp_path / "tiny.weights.npz").write_bytes(b"not the same bytes")
    name = "other" if damage == "missing" else "tiny"
    fit = Fit(model)
    record = helpers.fit_or_load(model, name, fit, environ=env(tmp_path))
    assert fit.calls == 1 and record.source == "trained"
    expected = {"architecture": "does not fit this model", "checksum": "does not match",
                "missing": "no weights file"}[damage]
    assert expected in capsys.readouterr().out


def test_required_weights_raise_instead_of_training(tmp_path):
    model = tiny_model()
    fit = Fit(model)
    with pytest.raises(helpers.WeightsError, match="scripts/train_weights.py"):
        helpers.fit_or_load(model, "absent", fit, environ=env(tmp_path, COURSE_WEIGHTS="require"))
    assert fit.calls == 0


def test_load_weights_loads_another_notebooks_weights_and_never_trains(tmp_path):
    model = tiny_model()
    helpers.fit_or_load(model, "tiny", Fit(model), environ=env(tmp_path, COURSE_SAVE_WEIGHTS="1"))
    other = tiny_model()
    other.set_weights([np.zeros_like(w) for w in other.get_weights()])
    record = helpers.load_weights(other, "tiny", environ=env(tmp_path, COURSE_RETRAIN="1"))
    assert record.source == "loaded"
    for mine, theirs in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(helpers.WeightsError, match="no weights file"):
        helpers.load_weights(other, "absent", environ=env(tmp_path))


def test_weights_dir_defaults_to_the_repository(tmp_path):
    assert helpers.weights_dir({}) == SHIPPED
    assert helpers.weights_dir({"COURSE_WEIGHTS_DIR": str(tmp_path)}) == tmp_path
    with pytest.raises(ValueError):
        pretrained.weights_path("../escape", {})


# ----------------------------------------------------------------- the shipped weights
def notebook_calls() -> dict[str, list[str]]:
    """{notebook stem: weights names its fit_or_load calls use (f-strings expanded)}."""
    calls = {}
    for path in sorted((ROOT / "notebooks").glob("*/*.ipynb")):
        text = "\n".join(c.source for c in nbformat.read(path, 4).cells if c.cell_type == "code")
        names = re.findall(r'fit_or_load\(\s*\w+,\s*(f?"[^"]+")', text)
        if names:
            calls[path.stem] = names
    return calls


def shipped() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(SHIPPED.glob("*.json"))]


def test_notebooks_that_load_weights_have_one_retrain_flag():
    calls = notebook_calls()
    assert calls, "no notebook uses fit_or_load"
    for stem in calls:
        path = next((ROOT / "notebooks").glob(f"*/{stem}.ipynb"))
        cells = [c for c in nbformat.read(path, 4).cells if c.cell_type == "code"]
        assert "RETRAIN = False" in cells[0].source, f"{stem}: the setup cell sets RETRAIN"
        uses = sum(c.source.count("fit_or_load(") for c in cells)
        assert sum(c.source.count("retrain=RETRAIN") for c in cells) == uses, stem


def test_every_shipped_file_is_full_mode_checked_and_used():
    infos = shipped()
    assert infos, "no weights are shipped"
    names = {i["name"] for i in infos}
    prefixes = {stem[:2] for stem in notebook_calls()}
    total = 0
    for info in infos:
        path = SHIPPED / f"{info['name']}.weights.npz"
        assert sha256_of(path) == info["sha256"], path
        assert info["made"]["mode"] == "full", f"{path.name} was not trained in full mode"
        assert info["name"][:2] in prefixes, f"no notebook loads {path.name}"
        assert len(info["history"]["loss"]) == info["made"]["epochs"]
        total += path.stat().st_size
    assert total / 2**20 < MAX_TOTAL_MIB
    assert {p.name.removesuffix(".weights.npz") for p in SHIPPED.glob("*.npz")} == names


def test_weights_files_are_not_ignored_by_git():
    """The no-data rule (*.npz in .gitignore) must not swallow the shipped weights."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    files = sorted(SHIPPED.glob("*.weights.npz"))
    assert files
    out = subprocess.run(["git", "check-ignore", *map(str, files)], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.stdout.strip() == "", f"ignored by git: {out.stdout}"


def test_fit_must_return_a_history(tmp_path):
    model = tiny_model()
    with pytest.raises(TypeError, match="History"):
        helpers.fit_or_load(model, "tiny", lambda: None, environ=env(tmp_path))
