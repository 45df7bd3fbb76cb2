"""scripts/train_weights.py reproduces the shipped weights' files (in fast mode here).

The notebooks 05-07 are trained from scratch by test_image_to_image.py; this runs the
script on the other notebooks that load weights, so that their training cells run in CI
too, and checks that it writes one file per shipped file, for the same architecture.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("03", "04", "08", "09")

pytestmark = pytest.mark.notebook


def test_script_retrains_every_shipped_model_of_its_notebooks(tmp_path, data_dir):
    env = dict(os.environ, COURSE_DATA_DIR=str(data_dir), MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, "scripts/train_weights.py", "--mode", "fast",
                          "--out", str(tmp_path), *NOTEBOOKS], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    made = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    shipped = {p.stem: json.loads(p.read_text()) for p in (ROOT / "weights").glob("*.json")
               if p.name[:2] in NOTEBOOKS}
    assert set(made) == set(shipped), "the script should remake exactly the shipped files"
    for name, info in made.items():
        assert info["made"]["mode"] == "fast"
        assert info["parameters"] == shipped[name]["parameters"], name
        assert f"{name}.weights.npz" in out.stdout, out.stdout
