"""The image-to-image notebooks (05 denoising, 06 super-resolution, 07 colorization).

Each notebook is executed once, in fast mode, with nbclient. One extra cell appended to
the in-memory copy prints the notebook's measured figures (its ``scores`` dict) as JSON,
and the tests check that the execution raised no error and that the comparisons the
notebook's text relies on hold even after fast mode's short training. This replaces
running these notebooks under nbval as well.

Data come from the staged folder (``COURSE_DATA_DIR``, see conftest.py; the tests skip
without it). If CIFAR-10 cannot be found there, the
colorization notebook stops at its first data cell with ``DataNotFoundError`` and its
tests are skipped; a separate test checks that it does stop there, cleanly.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from instructor.engine.cells import is_test_cell, without_exercise_answers
from instructor.engine.runner import kernel_env
from tests.grading import NOTEBOOKS

pytestmark = pytest.mark.notebook

DENOISING = "05_denoising_autoencoders"
SUPER_RESOLUTION = "06_super_resolution"
COLORIZATION = "07_colorization"

#: What the appended cell reports, per notebook: JSON key -> Python expression.
REPORTS = {
    DENOISING: {"scores": "scores"},
    SUPER_RESOLUTION: {"scores": "scores"},
    COLORIZATION: {"scores": "scores", "true_chroma": "float(test_chroma.mean())"},
}
MARKER = "IMAGE_TO_IMAGE_REPORT="


def notebook_path(name: str) -> Path:
    return NOTEBOOKS / name / f"{name}.ipynb"


def errors(nb) -> list[tuple[int, str, str]]:
    """(cell index, exception name, message) for every cell but the graded tests that
    raised: this run is about the models' own training, and a graded test's verdict comes
    from the grader's checks, which grade submissions, not this notebook."""
    return [(i, out.ename, out.evalue) for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and not is_test_cell(cell)
            for out in cell.get("outputs", []) if out.output_type == "error"]


def execute(nb, folder: Path, env: dict, timeout: int = 600) -> None:
    """Run ``nb`` in place in a fresh kernel in ``folder``; errors stay in the outputs."""
    NotebookClient(nb, kernel_name="python3", timeout=timeout, allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute(env=kernel_env(env))


@functools.cache
def run(name: str, data_dir: Path) -> tuple[object, dict, float]:
    """Execute a notebook once, training in fast mode: (executed notebook, its report, seconds)."""
    path = notebook_path(name)
    # nbval runs the exercise answers; this run is about the models' own training
    nb = without_exercise_answers(nbformat.read(path, as_version=4))
    nb.cells = [c for c in nb.cells if not is_test_cell(c)]  # the grader's checks grade
    fields = ", ".join(f"{key!r}: {expr}" for key, expr in REPORTS[name].items())
    nb.cells.append(nbformat.v4.new_code_cell(
        f"import json as _json\nprint({MARKER!r} + _json.dumps({{{fields}}}))"))
    # COURSE_RETRAIN: train in fast mode, as a student with RETRAIN = True would, so that
    # the training cells run here; nbval runs the notebooks with the shipped weights.
    env = {"COURSE_MODE": "fast", "MPLBACKEND": "Agg", "COURSE_DATA_DIR": str(data_dir),
           "COURSE_RETRAIN": "1"}
    start = time.perf_counter()
    execute(nb, path.parent, env)
    seconds = time.perf_counter() - start
    report = {}
    for out in nb.cells[-1].get("outputs", []):
        if out.output_type == "stream" and MARKER in out.text:
            report = json.loads(out.text.split(MARKER, 1)[1])
    return nb, report, seconds


def checked_run(name: str, data_dir: Path) -> tuple[dict, float]:
    """The report of a notebook that ran without errors (skip if its data is missing)."""
    nb, report, seconds = run(name, data_dir)
    found = errors(nb)
    if found and found[0][1] == "DataNotFoundError":
        pytest.skip(f"{name}: dataset not available ({found[0][2].splitlines()[0]})")
    assert not found, f"{name} raised in cells: {found}"
    assert report, f"{name} did not report its scores"
    print(f"{name}: executed in {seconds:.1f} s")
    return report, seconds


def recorded_from_scratch(notebook: str, model: str) -> float:
    """The fast-mode-from-scratch PSNR that docs/results.md records for ``model`` (and the
    notebook's text quotes, rounded)."""
    from tests.claims import results_row
    from tests.nbval_claims import number

    return number(r"fast mode from scratch \(3 epochs on 6,000 images\): ([\d.]+) dB",
                  results_row(notebook, model))


def test_denoiser_beats_noisy_input_and_median_filter(data_dir):
    scores = checked_run(DENOISING, data_dir)[0]["scores"]
    # this run is fast mode from scratch: what docs/results.md records (one seed; the
    # margin allows for other CPUs' and thread counts' rounding)
    assert abs(scores["conv denoiser"]["psnr"] - recorded_from_scratch("05", "conv denoiser")) \
        <= 0.5, scores
    noisy, median = scores["noisy input (baseline)"], scores["median filter 3x3"]
    conv = scores["conv denoiser"]
    assert conv["mse"] < median["mse"] < noisy["mse"], scores
    assert conv["psnr"] > median["psnr"] > noisy["psnr"], scores
    assert conv["mse"] < noisy["mse"] / 3, "the text says several times smaller"
    for name in ("dense AE + GaussianNoise", "dense AE + Dropout"):
        assert scores[name]["mse"] < noisy["mse"], (name, scores)
        assert scores[name]["psnr"] > noisy["psnr"], (name, scores)


def test_super_resolution_beats_interpolation(data_dir):
    scores = checked_run(SUPER_RESOLUTION, data_dir)[0]["scores"]
    net, nearest, bicubic = scores["network"], scores["nearest"], scores["bicubic"]
    assert abs(net["psnr"] - recorded_from_scratch("06", "2× upsampler")) <= 0.5, scores
    assert net["mse"] < nearest["mse"] and net["psnr"] > nearest["psnr"], scores
    assert bicubic["psnr"] > nearest["psnr"], scores
    assert net["psnr"] > bicubic["psnr"] + 1.0, "the text says several dB over bicubic"


def test_colorizer_beats_gray_baseline_with_faint_colours(data_dir):
    report = checked_run(COLORIZATION, data_dir)[0]
    scores = report["scores"]
    net, gray = scores["colorizer"], scores["gray (baseline)"]
    assert net["mse"] < gray["mse"], scores
    assert net["psnr_median"] > gray["psnr_median"], scores
    assert gray["chroma"] == pytest.approx(0.0, abs=1e-6)
    assert 0.0 < net["chroma"] < 0.75 * report["true_chroma"], "colours should be washed out"


def test_colorization_stops_early_and_clearly_without_cifar(tmp_path):
    """With no CIFAR-10 anywhere and no network, the first data cell raises helpers' error."""
    path = notebook_path(COLORIZATION)
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "grade-setup" in code[0].metadata.get("tags", [])
    assert "helpers.load_cifar10" in code[1].source, "loading must be the first data cell"
    assert not any("keras.Input" in c.source for c in code[:2])
    nb.cells = [nbformat.from_dict(dict(c)) for c in code[:2]]
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {"COURSE_DATA_DIR": str(empty), "KERAS_HOME": str(empty), "COURSE_MODE": "fast",
           # a closed local port: Keras' download attempt fails at once, even online
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    execute(nb, path.parent, env, timeout=300)
    found = errors(nb)
    assert found, "the notebook should stop when CIFAR-10 is missing"
    index, ename, message = found[0]
    assert index == 1 and ename == "DataNotFoundError", found
    assert "COURSE_DATA_DIR" in message
