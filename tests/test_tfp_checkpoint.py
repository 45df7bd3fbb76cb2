"""Notebook 09's checkpoint round trip: a restored model reproduces the saved one exactly.

Runs only the notebook's own cells tagged ``grade-setup`` and ``checkpoint-demo`` (data,
model definition, save, restore into a fresh model, compare); training is skipped, which
does not matter for a save/restore round trip. Then a check cell inspects the result.
"""

from __future__ import annotations

import nbformat
import pytest

from instructor.engine.runner import run_notebook
from tests.grading import NOTEBOOKS

NOTEBOOK = NOTEBOOKS / "09_vae_tfp_layers" / "09_vae_tfp_layers.ipynb"
TAGS = {"grade-setup", "checkpoint-demo"}

CHECK = """
assert checkpoint_identical and all(checkpoint_identical.values()), checkpoint_identical
fresh_model = ProbabilisticVAE(latent_dims, beta)
fresh_model(x_probe)
untouched = deterministic_outputs(fresh_model)
assert not any(np.array_equal(saved[k], untouched[k]) for k in saved), \\
    "a model that was not restored should differ: the comparison proves nothing"
assert manager.latest_checkpoint == saved_path
print("CHECKPOINT-OK", sorted(checkpoint_identical))
"""


def run_tagged_cells(tags: set[str], check: str, data_env: dict[str, str], folder) -> str:
    """Run notebook 09's code cells carrying one of ``tags`` (each tag must occur), then the
    cell ``check``, in fast mode in ``folder``; return what ``check`` printed."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells
             if c.cell_type == "code" and tags & set(c.metadata.get("tags", []))]
    found = {tag for c in cells for tag in c.metadata["tags"]}
    assert tags <= found, f"no cell tagged {sorted(tags - found)}"
    cells.append(nbformat.v4.new_code_cell(check))
    small = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    # TMPDIR: the notebook saves under tempfile
    run_notebook(small, folder, {**data_env, "COURSE_MODE": "fast", "MPLBACKEND": "Agg",
                                 "TMPDIR": str(folder)}, timeout=300)
    return "".join(out.get("text", "") for out in small.cells[-1].outputs)


@pytest.mark.notebook
def test_restored_model_reproduces_saved_outputs(data_env, tmp_path):
    text = run_tagged_cells(TAGS, CHECK, data_env, tmp_path)
    assert "CHECKPOINT-OK" in text, text
    assert list(tmp_path.glob("vae-checkpoints-*/ckpt-1.index")), "no checkpoint written"
