"""Tests for helpers.images: image rows, grids and aligned multi-row galleries."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers.images import (
    plot_image_rows,
    plot_images,
    plot_reconstructions,
    plot_triplets,
)

matplotlib.use("Agg")



@pytest.fixture
def digits():
    """Twelve random 28x28 'images' in [0, 1], distinct from each other."""
    return np.random.default_rng(0).random((12, 28, 28))


def shown(ax):
    """The array of the single image drawn in ``ax``."""
    images = ax.get_images()
    assert len(images) == 1
    return np.asarray(images[0].get_array())


def grid_shape(ax):
    """(nrows, ncols) of the subplot grid holding ``ax``."""
    return ax.get_subplotspec().get_geometry()[:2]


def test_plot_images_default_is_one_row(digits):
    fig = plot_images(digits[:5])
    assert len(fig.axes) == 5
    assert all(grid_shape(ax) == (1, 5) for ax in fig.axes)
    for ax, image in zip(fig.axes, digits[:5], strict=True):
        np.testing.assert_array_equal(shown(ax), image)
        assert not ax.axison


def test_plot_images_wraps_more_than_ten_into_grid(digits):
    fig = plot_images(digits)
    assert len(fig.axes) == 12
    assert grid_shape(fig.axes[0]) == (2, 10)
    np.testing.assert_array_equal(shown(fig.axes[11]), digits[11])


def test_plot_images_respects_n_and_ncols(digits):
    fig = plot_images(digits, n=7, ncols=3)
    assert len(fig.axes) == 7
    assert grid_shape(fig.axes[0]) == (3, 3)


def test_plot_images_caps_n_at_batch_size(digits):
    fig = plot_images(digits[:3], n=10)
    assert len(fig.axes) == 3


def test_plot_images_accepts_flat_vectors_and_titles(digits):
    flat = digits[:4].reshape(4, 784)
    fig = plot_images(flat, titles=["7", "2", "1", "0"])
    assert [ax.get_title() for ax in fig.axes] == ["7", "2", "1", "0"]
    np.testing.assert_array_equal(shown(fig.axes[2]), digits[2])


def test_plot_images_uses_given_figure_and_cmap(digits):
    given = plt.figure()
    fig = plot_images(digits[:2], fig=given, cmap="viridis")
    assert fig is given
    assert fig.axes[0].get_images()[0].get_cmap().name == "viridis"


def test_plot_images_shows_rgb(digits):
    rgb = np.random.default_rng(1).random((3, 32, 32, 3))
    fig = plot_images(rgb)
    np.testing.assert_array_equal(shown(fig.axes[1]), rgb[1])


def test_plot_images_rejects_too_few_titles(digits):
    with pytest.raises(ValueError, match="2 titles for 4 images"):
        plot_images(digits[:4], titles=["a", "b"])


def test_plot_images_rejects_bad_shape():
    with pytest.raises(ValueError, match="cannot display"):
        plot_images(np.zeros((2, 28, 28, 2)))


def test_plot_image_rows_handles_mixed_resolutions_and_channels():
    rng = np.random.default_rng(2)
    low = rng.random((6, 14, 14, 1))
    gray = rng.random((6, 28, 28))
    rgb = rng.random((6, 28, 28, 3))
    fig = plot_image_rows([low, gray, rgb], ["low-res", "gray", "colour"], n=4)
    assert len(fig.axes) == 12
    assert grid_shape(fig.axes[0]) == (3, 4)
    np.testing.assert_array_equal(shown(fig.axes[1]), low[1, :, :, 0])
    np.testing.assert_array_equal(shown(fig.axes[4 + 2]), gray[2])
    np.testing.assert_array_equal(shown(fig.axes[8 + 3]), rgb[3])
    assert [fig.axes[i].get_ylabel() for i in (0, 4, 8)] == ["low-res", "gray", "colour"]
    assert fig.axes[1].get_ylabel() == ""


def test_plot_image_rows_caps_n_at_shortest_row(digits):
    fig = plot_image_rows([digits, digits[:3]], ["a", "b"], n=8)
    assert len(fig.axes) == 6


def test_plot_image_rows_five_rows_for_super_resolution(digits):
    titles = ["low-res", "nearest", "bicubic", "network", "truth"]
    rows = [digits[:, ::2, ::2]] + [digits] * 4
    fig = plot_image_rows(rows, titles, n=8)
    assert len(fig.axes) == 40
    assert [fig.axes[8 * r].get_ylabel() for r in range(5)] == titles


def test_plot_image_rows_rejects_mismatched_titles(digits):
    with pytest.raises(ValueError, match="1 row titles for 2 rows"):
        plot_image_rows([digits, digits], ["only one"])


def test_plot_reconstructions_two_rows(digits):
    recon = 1 - digits
    fig = plot_reconstructions(digits, recon, n=5)
    assert len(fig.axes) == 10
    assert grid_shape(fig.axes[0]) == (2, 5)
    assert fig.axes[0].get_ylabel() == "original"
    assert fig.axes[5].get_ylabel() == "reconstruction"
    np.testing.assert_array_equal(shown(fig.axes[3]), digits[3])
    np.testing.assert_array_equal(shown(fig.axes[5 + 3]), recon[3])


def test_plot_reconstructions_uses_given_figure_and_titles(digits):
    given = plt.figure()
    fig = plot_reconstructions(digits, digits, n=3, fig=given, row_titles=("x", "x̂"))
    assert fig is given
    assert fig.axes[3].get_ylabel() == "x̂"


def test_plot_triplets_three_rows_with_low_res_inputs(digits):
    low = digits[:, ::2, ::2]
    out = digits * 0.5
    fig = plot_triplets(low, out, digits, n=4)
    assert len(fig.axes) == 12
    assert [fig.axes[i].get_ylabel() for i in (0, 4, 8)] == ["input", "output", "target"]
    assert shown(fig.axes[0]).shape == (14, 14)
    np.testing.assert_array_equal(shown(fig.axes[4]), out[0])
    np.testing.assert_array_equal(shown(fig.axes[8]), digits[0])


def test_plot_triplets_gray_input_rgb_outputs():
    rng = np.random.default_rng(3)
    gray = rng.random((8, 32, 32, 1))
    rgb = rng.random((8, 32, 32, 3))
    fig = plot_triplets(gray, rgb, rgb, row_titles=("gray", "predicted", "true"))
    assert len(fig.axes) == 24
    assert shown(fig.axes[0]).shape == (32, 32)
    assert shown(fig.axes[8]).shape == (32, 32, 3)
    assert fig.axes[16].get_ylabel() == "true"


def test_long_titles_widen_the_cells_so_they_do_not_overlap():
    imgs = np.zeros((2, 28, 28))
    short = plot_images(imgs, titles=["a", "b"])
    long = plot_images(imgs, titles=["transposed convolution", "upsampling + conv"])
    assert long.get_figwidth() > short.get_figwidth()
    long.canvas.draw()
    left, right = (ax.title.get_window_extent() for ax in long.axes)
    assert left.x1 <= right.x0, "the two titles overlap"
