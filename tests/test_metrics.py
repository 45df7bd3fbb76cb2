import numpy as np
import pytest

from helpers import metrics


def test_mse_is_mean_of_squared_differences():
    a = np.zeros((2, 2, 2))
    b = np.array([[[1, 0], [0, 0]], [[0, 0], [0, 0]]], dtype=float)
    assert metrics.mse(a, b) == pytest.approx(1 / 8)


def test_psnr_per_image_in_decibels():
    target = np.zeros((2, 4, 4))
    pred = np.stack([np.full((4, 4), 0.1), np.full((4, 4), 0.01)])
    assert np.allclose(metrics.psnr(pred, target), [20.0, 40.0])
    assert metrics.mean_psnr(pred, target) == pytest.approx(30.0)
    assert np.allclose(metrics.psnr(pred * 255, target, data_range=255), [20.0, 40.0])


def test_identical_images_have_infinite_psnr_and_are_skipped_in_the_mean():
    x = np.random.default_rng(0).random((2, 3, 3))
    y = x.copy()
    y[1] += 0.1
    values = metrics.psnr(x, y)
    assert np.isinf(values[0]) and values[1] == pytest.approx(20.0)
    assert metrics.mean_psnr(x, y) == pytest.approx(20.0)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.mse(np.zeros((1, 2)), np.zeros((1, 3)))


def test_mean_chroma_per_image_and_input_unchanged():
    images = np.array([[[[1.0, 0.0, 0.0], [0.5, 0.5, 0.5]]],
                       [[[0.2, 0.4, 0.3], [0.2, 0.4, 0.3]]]], dtype=np.float32)
    copy = images.copy()
    got = metrics.mean_chroma(images)
    assert got.shape == (2,)
    assert np.allclose(got, [0.5, 0.2])
    assert np.array_equal(images, copy)
    gray = np.repeat(np.random.default_rng(0).random((3, 4, 5, 1)), 3, axis=-1)
    assert np.allclose(metrics.mean_chroma(gray), 0.0)
    with pytest.raises(ValueError, match="RGB images"):
        metrics.mean_chroma(np.zeros((2, 4, 4, 1)))


def test_mean_gradient_measures_detail_per_image():
    checker = (np.indices((4, 6)).sum(axis=0) % 2).astype(np.float32)
    ramp = np.tile(np.arange(6, dtype=np.float32) / 10, (4, 1))      # steps of 0.1 across
    images = np.stack([np.full((4, 6), 0.3, np.float32), checker, ramp])
    copy = images.copy()
    got = metrics.mean_gradient(images)
    assert got.shape == (3,)
    assert np.allclose(got, [0.0, 1.0, 0.05])      # the ramp: 0.1 across, 0 down
    assert np.array_equal(images, copy)
    # channels count alike: three copies of a gray image give the gray image's value
    assert np.allclose(metrics.mean_gradient(np.repeat(images[..., None], 3, axis=-1)), got)
    # blurring lowers it
    sharp = np.random.default_rng(0).random((2, 8, 8, 3))
    blurred = (sharp + np.roll(sharp, 1, axis=1) + np.roll(sharp, 1, axis=2)) / 3
    assert np.all(metrics.mean_gradient(blurred) < metrics.mean_gradient(sharp))
    with pytest.raises(ValueError, match="at least 2x2"):
        metrics.mean_gradient(np.zeros((2, 1, 5)))


def test_image_scores_and_their_table():
    target = np.zeros((3, 4, 4, 3))
    pred = np.stack([np.full((4, 4, 3), v) for v in (0.1, 0.01, 0.0)])
    pred[0, ..., 0] = 0.1 + 0.2          # a red tint in the first image: chroma 0.2
    pred[0, ..., 1:] = 0.1
    scores = metrics.image_scores(pred, target, chroma=True)
    per_image = metrics.psnr(pred, target)          # ~15.2, 40, inf
    assert scores["mse"] == pytest.approx(metrics.mse(pred, target))
    assert scores["psnr"] == pytest.approx(per_image[:2].mean())   # the identical image skipped
    assert scores["psnr_median"] == pytest.approx(40.0)
    assert scores["chroma"] == pytest.approx(0.2 / 3)
    assert "chroma" not in metrics.image_scores(pred, target)
    table = metrics.score_table({"tinted": scores, "gray baseline": metrics.image_scores(
        pred[1:2], target[1:2])}).splitlines()
    assert table[0] == (f"tinted         MSE {scores['mse']:.5f}   PSNR {scores['psnr']:5.2f} "
                        "dB, median 40.00 dB   chroma 0.067")
    assert table[1] == "gray baseline  MSE 0.00010   PSNR 40.00 dB, median 40.00 dB"
