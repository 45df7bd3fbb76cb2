"""Grading of the image-to-image tasks: `psnr` (05), `nearest` (06) and `chroma` (07).

For each task, the reference and two differently written correct answers must earn full
marks, and each wrong answer must lose exactly the points of the test cell meant to
catch it: 1 visible point and 2 hidden points per task. Each task is graded in one
kernel (tests.grading.grade_variants).
"""

from __future__ import annotations

import pytest

from tests.grading import assert_variant_points, grade_variants

pytestmark = pytest.mark.grading

STUB = "def {name}(*args):\n    raise NotImplementedError()\n"


# ---------------------------------------------------------------- 05: psnr
PSNR_CORRECT = {
    "reference": None,
    "axes-tuple": '''
def psnr(pred, target):
    diff = np.subtract(pred, target, dtype=np.float64)
    axes = tuple(range(1, diff.ndim))
    return -10 * np.log10(np.mean(np.square(diff), axis=axes))
''',
    "loop-rmse": '''
def psnr(pred, target):
    values = []
    for p, t in zip(pred, target):
        rmse = np.sqrt(np.mean((np.asarray(p, float) - np.asarray(t, float)) ** 2))
        values.append(20 * np.log10(1 / rmse))
    return np.array(values)
''',
}
PSNR_WRONG = {
    "stub": (STUB.format(name="psnr"), 0),
    "one value for the batch": ('''
def psnr(pred, target):
    return 10 * np.log10(1 / np.mean((pred - target) ** 2))
''', 0),
    "rmse instead of mse": ('''
def psnr(pred, target):
    err = ((pred - target) ** 2).reshape(len(pred), -1).mean(axis=1)
    return 10 * np.log10(1 / np.sqrt(err))
''', 0),
    "natural logarithm": ('''
def psnr(pred, target):
    err = ((pred - target) ** 2).reshape(len(pred), -1).mean(axis=1)
    return 10 * np.log(1 / err)
''', 0),
    "sum instead of mean": ('''
def psnr(pred, target):
    err = ((pred - target) ** 2).reshape(len(pred), -1).sum(axis=1)
    return 10 * np.log10(1 / err)
''', 0),
    "max of 255": ('''
def psnr(pred, target):
    err = ((pred - target) ** 2).reshape(len(pred), -1).mean(axis=1)
    return 10 * np.log10(255 ** 2 / err)
''', 0),
    "only (N, H, W) images": ('''
def psnr(pred, target):
    return 10 * np.log10(1 / ((pred - target) ** 2).mean(axis=(1, 2)))
''', 1),
    "changes its input": ('''
def psnr(pred, target):
    pred -= target
    pred **= 2
    return 10 * np.log10(1 / pred.reshape(len(pred), -1).mean(axis=1))
''', 1),
}


def test_psnr_task(data_env):
    variants = {**PSNR_CORRECT, **{k: src for k, (src, _) in PSNR_WRONG.items()}}
    grades = grade_variants("05_denoising_autoencoders.ipynb", "psnr", variants, env=data_env)
    assert_variant_points(grades, {k: points for k, (_, points) in PSNR_WRONG.items()}, 3)


# ---------------------------------------------------------------- 06: nearest
NEAREST_CORRECT = {
    "reference": None,
    "index arrays": '''
def upsample_nearest(x, factor):
    x = np.asarray(x)
    rows = np.arange(x.shape[1] * factor) // factor
    cols = np.arange(x.shape[2] * factor) // factor
    return x[:, rows][:, :, cols]
''',
    "broadcast and reshape": '''
def upsample_nearest(x, factor):
    x = np.asarray(x)
    n, h, w = x.shape[:3]
    rest = x.shape[3:]
    blocks = np.broadcast_to(x[:, :, None, :, None], (n, h, factor, w, factor) + rest)
    return blocks.reshape((n, h * factor, w * factor) + rest)
''',
    "kron with the right ones": '''
def upsample_nearest(x, factor):
    ones = np.ones((1, factor, factor) + (1,) * (np.ndim(x) - 3))
    return np.kron(x, ones)
''',
}
NEAREST_WRONG = {
    "stub": (STUB.format(name="upsample_nearest"), 0),
    "tiles the image": ('''
def upsample_nearest(x, factor):
    return np.tile(x, (1, factor, factor) + (1,) * (np.ndim(x) - 3))
''', 0),
    "height only": ('''
def upsample_nearest(x, factor):
    return np.repeat(x, factor, axis=1)
''', 0),
    "repeats the batch": ('''
def upsample_nearest(x, factor):
    return np.repeat(np.repeat(x, factor, axis=0), factor, axis=1)
''', 0),
    "last two axes (breaks channels)": ('''
def upsample_nearest(x, factor):
    return np.repeat(np.repeat(x, factor, axis=-1), factor, axis=-2)
''', 1),
    "kron for (N, H, W) only": ('''
def upsample_nearest(x, factor):
    return np.kron(x, np.ones((1, factor, factor)))
''', 1),
}


def test_nearest_task(data_env):
    variants = {**NEAREST_CORRECT, **{k: src for k, (src, _) in NEAREST_WRONG.items()}}
    grades = grade_variants("06_super_resolution.ipynb", "nearest", variants, env=data_env)
    assert_variant_points(grades, {k: points for k, (_, points) in NEAREST_WRONG.items()}, 3)


# ---------------------------------------------------------------- 07: chroma
CHROMA_CORRECT = {
    "reference": None,
    "ptp": '''
def mean_chroma(images):
    return np.ptp(images, axis=-1).mean(axis=(1, 2))
''',
    "sorted copy": '''
def mean_chroma(images):
    ordered = np.sort(images, axis=-1)
    spread = ordered[..., 2] - ordered[..., 0]
    return np.array([image.mean() for image in spread])
''',
}
CHROMA_WRONG = {
    "stub": (STUB.format(name="mean_chroma"), 0),
    "range over the whole image": ('''
def mean_chroma(images):
    flat = images.reshape(len(images), -1)
    return flat.max(axis=1) - flat.min(axis=1)
''', 0),
    "std across channels": ('''
def mean_chroma(images):
    return images.std(axis=-1).mean(axis=(1, 2))
''', 0),
    "per-pixel map": ('''
def mean_chroma(images):
    return images.max(axis=-1) - images.min(axis=-1)
''', 0),
    "one value for the batch": ('''
def mean_chroma(images):
    return (images.max(axis=-1) - images.min(axis=-1)).mean()
''', 0),
    "distance from gray": ('''
def mean_chroma(images):
    gray = images @ np.array([0.299, 0.587, 0.114])
    return np.abs(images - gray[..., None]).mean(axis=(1, 2, 3))
''', 0),
    "sorts its input in place": ('''
def mean_chroma(images):
    images.sort(axis=-1)
    return (images[..., 2] - images[..., 0]).mean(axis=(1, 2))
''', 1),
}


def test_chroma_task(data_env):
    variants = {**CHROMA_CORRECT, **{k: src for k, (src, _) in CHROMA_WRONG.items()}}
    grades = grade_variants("07_colorization.ipynb", "chroma", variants, env=data_env)
    assert_variant_points(grades, {k: points for k, (_, points) in CHROMA_WRONG.items()}, 3)


# ------------------------------------------------- the notebooks' own batch sizes
def _first_for_all(answer: str, name: str, limit: int) -> str:
    """``answer`` (a correct one) made wrong for batches of more than ``limit`` images:
    every image gets the first one's result, as a bug that shows only on larger batches."""
    return answer + f'''
_{name}_right = {name}


def {name}(x, *args):
    got = np.asarray(_{name}_right(x, *args))
    return got if len(x) <= {limit} else np.repeat(got[:1], len(got), axis=0)
'''


@pytest.mark.parametrize("grade_id, name, correct", [
    ("psnr-tests-hidden", "psnr", PSNR_CORRECT["axes-tuple"]),
    ("nearest-tests-hidden", "upsample_nearest", NEAREST_CORRECT["index arrays"]),
    ("chroma-tests-hidden", "mean_chroma", CHROMA_CORRECT["ptp"]),
])
def test_hidden_tests_use_the_notebooks_batch_sizes(grade_id, name, correct):
    """The hidden tests hold batches of the sizes the notebooks use (a test set of 1,000
    images; 06's digits and photos): an answer right on small batches only fails them on
    every draw, and the correct one passes."""
    from tests.grading import hidden_cell_passes

    notebook = {"psnr": "05_denoising_autoencoders.ipynb",
                "upsample_nearest": "06_super_resolution.ipynb",
                "mean_chroma": "07_colorization.ipynb"}[name]
    wrong = _first_for_all(correct, name, 8)
    for seed in range(5):
        assert hidden_cell_passes(notebook, grade_id, correct, seed), (name, seed)
        assert not hidden_cell_passes(notebook, grade_id, wrong, seed), (name, seed)
