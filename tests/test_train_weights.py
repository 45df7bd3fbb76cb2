"""scripts/train_weights.py reproduces the shipped weights' files (in fast mode here).

The notebooks 05-07 are trained from scratch by test_image_to_image.py; this runs the
script on the other notebooks that load weights, so that their training cells run in CI
too. The script runs each notebook up to its last ``fit_or_load`` cell only. With
``--missing`` and every shipped file already in place but one model per notebook, each
notebook trains that one model (its training cells run) and loads the others into the
models it builds (a model that no longer fits its file would be trained and written too,
and the test would see the extra file).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("03", "04", "08", "09")

pytestmark = pytest.mark.notebook


def _script():
    spec = importlib.util.spec_from_file_location("train_weights",
                                                  ROOT / "scripts" / "train_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_runs_each_notebook_up_to_its_last_training_cell():
    script = _script()
    for path in script.weight_notebooks([]):
        nb = nbformat.read(path, as_version=4)
        kept = script.training_cells(nb).cells
        assert "fit_or_load(" in kept[-1].source, path.name
        assert len(kept) < len(nb.cells), f"{path.name}: the later cells should be left out"
        training = [c.source for c in nb.cells if c.cell_type == "code"
                    and "fit_or_load(" in c.source and "exercise-answer" not in
                    c.metadata.get("tags", [])]
        assert training == [c.source for c in kept if "fit_or_load(" in c.source], path.name


#: The one model each notebook trains here; the others are loaded from copies of the
#: shipped files (09 has only the one).
TRAINED = {"03_transposed_ae", "04_dense_ae", "08_vae", "09_tfp_vae"}


def test_script_trains_what_is_missing_and_every_other_shipped_model_still_loads(
        tmp_path, data_dir):
    shipped = {p.stem: json.loads(p.read_text()) for p in (ROOT / "weights").glob("*.json")
               if p.name[:2] in NOTEBOOKS}
    assert TRAINED < set(shipped)
    assert {name[:2] for name in TRAINED} == set(NOTEBOOKS), "one model in each notebook"
    for name in set(shipped) - TRAINED:
        for suffix in (".json", ".weights.npz"):
            shutil.copy2(ROOT / "weights" / f"{name}{suffix}", tmp_path)
    env = dict(os.environ, COURSE_DATA_DIR=str(data_dir), MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, "scripts/train_weights.py", "--mode", "fast",
                          "--missing", "--out", str(tmp_path), *NOTEBOOKS], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    now = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert set(now) == set(shipped), "the script should remake exactly the shipped files"
    made = {name for name, info in now.items() if info["made"]["mode"] == "fast"}
    assert made == TRAINED, "only the missing models are trained; the others load"
    for name, info in now.items():
        assert info["parameters"] == shipped[name]["parameters"], name
        assert (f"{name}.weights.npz" in out.stdout) == (name in TRAINED), out.stdout
