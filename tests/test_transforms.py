import numpy as np
import pytest
from scipy import ndimage

from helpers import transforms


def test_add_noise_is_clipped_seeded_and_leaves_input_alone():
    x = np.full((4, 28, 28), 0.5, dtype=np.float32)
    noisy = transforms.add_noise(x, factor=0.5, seed=1)
    assert noisy.dtype == np.float32 and noisy.shape == x.shape
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0
    assert np.array_equal(noisy, transforms.add_noise(x, factor=0.5, seed=1))
    assert np.all(x == 0.5)
    # away from the clipping bounds the added noise has the requested spread
    small = transforms.add_noise(np.full((1000, 10), 0.5, np.float32), factor=0.05, seed=0)
    assert abs((small - 0.5).std() - 0.05) < 0.002


def test_add_noise_factor_zero_is_identity():
    x = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    assert np.array_equal(transforms.add_noise(x, factor=0.0), x)


def test_downscale_averages_blocks():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    expected = np.array([[[2.5, 4.5], [10.5, 12.5]]], dtype=np.float32)
    assert np.allclose(transforms.downscale(x, 2), expected)
    assert np.allclose(transforms.downscale(x, 4), [[[7.5]]])


def test_downscale_keeps_channels_and_mnist_sizes():
    x = np.random.default_rng(0).random((2, 28, 28, 3)).astype(np.float32)
    assert transforms.downscale(x, 2).shape == (2, 14, 14, 3)
    assert transforms.downscale(x, 4).shape == (2, 7, 7, 3)
    assert np.allclose(transforms.downscale(x, 2)[..., 1], transforms.downscale(x[..., 1], 2))


def test_downscale_rejects_indivisible_sizes():
    with pytest.raises(ValueError, match="not divisible"):
        transforms.downscale(np.zeros((1, 28, 28)), 3)


def test_nearest_upscale_repeats_pixels_and_inverts_downscale_of_blocks():
    x = np.array([[[0.0, 1.0], [0.25, 0.5]]], dtype=np.float32)
    up = transforms.upscale(x, 2, "nearest")
    assert up.shape == (1, 4, 4)
    assert np.array_equal(up[0, :2, :2], np.zeros((2, 2)))
    assert np.array_equal(transforms.downscale(up, 2), x)


@pytest.mark.parametrize("method", ["bilinear", "bicubic"])
def test_spline_upscale_is_smooth_bounded_and_exact_on_constants(method):
    const = np.full((1, 7, 7, 1), 0.3, dtype=np.float32)
    assert np.allclose(transforms.upscale(const, 4, method), 0.3, atol=1e-6)
    ramp = np.tile(np.linspace(0, 1, 14, dtype=np.float32), (14, 1))[None]
    up = transforms.upscale(ramp, 2, method)
    assert up.shape == (1, 28, 28) and up.min() >= 0 and up.max() <= 1
    assert np.all(np.diff(up[0, 10]) >= -1e-6)  # a ramp stays monotone
    assert len(np.unique(up[0, 10])) > 14  # new in-between values, unlike nearest


@pytest.mark.parametrize("method", ["bilinear", "bicubic"])
@pytest.mark.parametrize("factor", [2, 4])
def test_spline_upscale_is_scipy_zoom_of_each_channel_of_each_image(method, factor):
    # color images at CIFAR-10's size: the batch and channel axes are left alone
    x = np.random.default_rng(1).random((3, 32 // factor, 32 // factor, 3)).astype(np.float32)
    copy = x.copy()
    up = transforms.upscale(x, factor, method)
    assert up.shape == (3, 32, 32, 3) and up.dtype == np.float32
    order = {"bilinear": 1, "bicubic": 3}[method]
    for n in range(len(x)):
        for c in range(3):
            expected = np.clip(ndimage.zoom(x[n, ..., c].astype(np.float64), factor,
                                            order=order, mode="nearest", grid_mode=True), 0, 1)
            assert np.allclose(up[n, ..., c], expected, atol=1e-6), (n, c)
    assert np.array_equal(x, copy)
    # gray (N, H, W) and (N, H, W, 1) batches give the same enlargement
    assert np.array_equal(transforms.upscale(x[..., 0], factor, method), up[..., 0])
    assert np.array_equal(transforms.upscale(x[..., :1], factor, method)[..., 0], up[..., 0])


def test_nearest_upscale_by_4_inverts_downscale_of_color_images():
    x = np.random.default_rng(2).random((2, 8, 8, 3)).astype(np.float32)
    up = transforms.upscale(x, 4, "nearest")
    assert up.shape == (2, 32, 32, 3)
    assert np.array_equal(up[:, :4, :4, 2], np.broadcast_to(x[:, :1, :1, 2], (2, 4, 4)))
    assert np.allclose(transforms.downscale(up, 4), x)


def test_upscale_rejects_a_factor_that_is_not_a_positive_integer():
    for factor in (0, 1.5):
        with pytest.raises(ValueError, match="factor"):
            transforms.upscale(np.zeros((1, 2, 2)), factor, "bicubic")


def test_upscale_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        transforms.upscale(np.zeros((1, 2, 2)), 2, "lanczos")


def test_gray_uses_itu_r_601_weights_once():
    x = np.zeros((1, 1, 3, 3), dtype=np.float32)
    x[0, 0, 0] = [1, 0, 0]
    x[0, 0, 1] = [0, 1, 0]
    x[0, 0, 2] = [1, 1, 1]
    gray = transforms.rgb_to_gray(x)
    assert gray.shape == (1, 1, 3, 1)
    assert np.allclose(gray[0, 0, :, 0], [0.299, 0.587, 1.0], atol=1e-6)
    assert transforms.rgb_to_gray(x, keepdims=False).shape == (1, 1, 3)


def test_gray_rejects_non_rgb():
    with pytest.raises(ValueError, match="3 channels"):
        transforms.rgb_to_gray(np.zeros((1, 4, 4, 1)))


def test_gray_to_rgb_copies_the_channel():
    g = np.random.default_rng(0).random((2, 4, 4, 1)).astype(np.float32)
    rgb = transforms.gray_to_rgb(g)
    assert rgb.shape == (2, 4, 4, 3)
    assert all(np.array_equal(rgb[..., c], g[..., 0]) for c in range(3))
    assert np.allclose(transforms.rgb_to_gray(rgb), g, atol=1e-6)


def test_bicubic_is_a_cubic_spline_reaching_the_whole_line_bilinear_two_pixels():
    """What upscale's docstring says: one bright pixel of a 14-pixel row, enlarged 2x,
    changes every output pixel with "bicubic" (SciPy's prefiltered spline), but only the
    4 output pixels over its two neighbours' half-way points with "bilinear"; a 4-tap
    cubic convolution would change 8."""
    row = np.zeros((1, 1, 14), dtype=np.float32)
    row[0, 0, 7] = 0.5
    row = row + 0.25                       # stay inside [0, 1], so clipping changes nothing
    base = np.full((1, 1, 28), 0.25, dtype=np.float32)
    spline = transforms.upscale(row, 2, "bicubic")[0, 0] - base[0, 0]
    linear = transforms.upscale(row, 2, "bilinear")[0, 0] - base[0, 0]
    assert np.count_nonzero(np.abs(spline) > 1e-7) == 28
    assert np.count_nonzero(np.abs(linear) > 1e-7) == 4
    assert (spline < -1e-4).any(), "the spline's weights alternate in sign"
