"""Notebook 06's ``build_upsampler``, taken from the notebook's own cell: one transposed
convolution per doubling, and a clear error for a factor that doublings cannot reach."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "06_super_resolution" / "06_super_resolution.ipynb"


@pytest.fixture(scope="module")
def build_upsampler():
    """The function as the notebook defines it (only its ``def``, not the cell's other code)."""
    keras = pytest.importorskip("keras")
    import numpy as np

    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef) and node.name == "build_upsampler":
                namespace = {"keras": keras, "np": np}
                exec(compile(ast.Module([node], []), str(NOTEBOOK), "exec"), namespace)
                return namespace["build_upsampler"]
    raise AssertionError("06 defines no build_upsampler")


def transposed_layers(model) -> int:
    return sum(type(layer).__name__ == "Conv2DTranspose" for layer in model.layers)


@pytest.mark.parametrize(("shape", "factor", "out"), [((14, 14, 1), 2, (28, 28, 1)),
                                                      ((8, 8, 3), 4, (32, 32, 3)),
                                                      ((4, 4, 3), 8, (32, 32, 3))])
def test_builds_the_factor_asked_for(build_upsampler, shape, factor, out):
    model = build_upsampler(shape, factor)
    assert tuple(model.output_shape[1:]) == out
    assert transposed_layers(model) == {2: 1, 4: 2, 8: 3}[factor]


@pytest.mark.parametrize("factor", [3, 6, 0, 2.5])
def test_refuses_a_factor_that_doublings_cannot_reach(build_upsampler, factor):
    with pytest.raises(ValueError, match="power of 2"):
        build_upsampler((14, 14, 1), factor)
