"""Tests for helpers.latent: interpolation, manifold tiling and latent scatter plots."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.offsetbox import AnnotationBbox

import helpers.latent as latent
from helpers.latent import (
    interpolate,
    plot_code_channels,
    plot_interpolation,
    plot_latent_scatter,
    plot_manifold,
)

matplotlib.use("Agg")



def coordinate_decoder(z):
    """Flat 8x8 images whose first pixels hold the code: easy to check tiling."""
    z = np.asarray(z)
    assert z.dtype == np.float32
    images = np.full((len(z), 64), 0.5, dtype=np.float32)
    images[:, : z.shape[1]] = z
    return images


class KerasLikeDecoder:
    """Has ``predict(z, verbose=...)`` and records the calls; returns (k, 8, 8, 1)."""

    def __init__(self):
        self.calls = []

    def predict(self, z, batch_size=None, verbose="auto"):
        self.calls.append(verbose)
        return coordinate_decoder(z).reshape(len(z), 8, 8, 1)


class SklearnLikeDecoder:
    """Has ``predict(z)`` with no verbose argument."""

    def predict(self, z):
        return coordinate_decoder(z)


def tile(canvas, row, col, size=8):
    """Tile ``(row, col)`` of a manifold canvas."""
    return canvas[row * size : (row + 1) * size, col * size : (col + 1) * size]


# interpolate -------------------------------------------------------------------------------


def test_interpolate_endpoints_are_exact():
    rng = np.random.default_rng(0)
    z0, z1 = rng.normal(size=16).astype(np.float32), rng.normal(size=16).astype(np.float32)
    codes = interpolate(z0, z1, 7)
    assert codes.shape == (7, 16)
    assert codes.dtype == np.float32
    np.testing.assert_array_equal(codes[0], z0)
    np.testing.assert_array_equal(codes[-1], z1)
    np.testing.assert_allclose(codes[3], (z0 + z1) / 2, rtol=1e-6)


def test_interpolate_is_evenly_spaced_and_accepts_batches_of_one():
    codes = interpolate(np.array([[0.0, 10.0]]), np.array([[1.0, 0.0]]), 5)
    np.testing.assert_allclose(codes, [[0, 10], [0.25, 7.5], [0.5, 5], [0.75, 2.5], [1, 0]])


def test_interpolate_errors():
    with pytest.raises(ValueError, match="differ in shape"):
        interpolate(np.zeros(2), np.zeros(3), 4)
    with pytest.raises(ValueError, match="at least 2"):
        interpolate(np.zeros(2), np.ones(2), 1)
    with pytest.raises(ValueError, match=r"shape \(d,\) or \(1, d\)"):
        interpolate(np.zeros((2, 2)), np.zeros((2, 2)), 3)


# plot_interpolation ------------------------------------------------------------------------


def test_plot_interpolation_strip_with_weight_titles():
    fig = plot_interpolation(coordinate_decoder, [0.0, 0.0], [1.0, -1.0], steps=5)
    assert len(fig.axes) == 5
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["w = 0.00", "w = 0.25", "w = 0.50", "w = 0.75", "w = 1.00"]
    first = np.asarray(fig.axes[0].get_images()[0].get_array())
    last = np.asarray(fig.axes[-1].get_images()[0].get_array())
    assert first.shape == (8, 8)
    np.testing.assert_array_equal(first[0, :2], [0.0, 0.0])
    np.testing.assert_array_equal(last[0, :2], [1.0, -1.0])


def test_plot_interpolation_keras_like_decoder_and_given_figure():
    decoder = KerasLikeDecoder()
    given = plt.figure()
    fig = plot_interpolation(decoder, np.zeros(3), np.ones(3), steps=12, fig=given)
    assert fig is given
    assert decoder.calls == [0]
    assert len(fig.axes) == 12
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == (1, 12)


def test_plot_interpolation_reshapes_with_image_shape():
    fig = plot_interpolation(SklearnLikeDecoder(), np.zeros(2), np.ones(2), 3, image_shape=(4, 16))
    assert fig.axes[0].get_images()[0].get_array().shape == (4, 16)
    with pytest.raises(ValueError, match=r"cannot be reshaped to 3 images of shape \(28, 28\)"):
        plot_interpolation(coordinate_decoder, np.zeros(2), np.ones(2), 3, image_shape=(28, 28))


# plot_manifold -----------------------------------------------------------------------------


def test_plot_manifold_centre_tile_is_decoded_origin():
    fig = plot_manifold(coordinate_decoder, n=5, span=2.0, image_shape=(8, 8))
    (ax,) = fig.axes
    canvas = np.asarray(ax.get_images()[0].get_array())
    assert canvas.shape == (40, 40)
    origin = coordinate_decoder(np.zeros((1, 2), np.float32)).reshape(8, 8)
    np.testing.assert_array_equal(tile(canvas, 2, 2), origin)


def test_plot_manifold_orientation_top_row_is_highest_z1():
    fig = plot_manifold(coordinate_decoder, n=5, span=2.0, image_shape=(8, 8))
    canvas = np.asarray(fig.axes[0].get_images()[0].get_array())
    np.testing.assert_array_equal(tile(canvas, 0, 0)[0, :2], [-2.0, 2.0])
    np.testing.assert_array_equal(tile(canvas, 0, 4)[0, :2], [2.0, 2.0])
    np.testing.assert_array_equal(tile(canvas, 4, 0)[0, :2], [-2.0, -2.0])
    np.testing.assert_array_equal(tile(canvas, 1, 3)[0, :2], [1.0, 1.0])


def test_plot_manifold_ticks_and_labels():
    fig = plot_manifold(coordinate_decoder, n=5, span=2.0, image_shape=(8, 8))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "z[0]" and ax.get_ylabel() == "z[1]"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-2.0", "-1.0", "0.0", "1.0", "2.0"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2.0", "1.0", "0.0", "-1.0", "-2.0"]
    np.testing.assert_allclose(ax.get_xticks(), [3.5, 11.5, 19.5, 27.5, 35.5])


def test_plot_manifold_chosen_dims_other_dims_zero_and_given_axes():
    decoder = KerasLikeDecoder()
    fig0, ax = plt.subplots()
    fig = plot_manifold(decoder, n=3, span=1.0, image_shape=(8, 8, 1), ax=ax, dims=(2, 0),
                        latent_dims=4)
    assert fig is fig0
    assert decoder.calls == [0]
    canvas = np.asarray(ax.get_images()[0].get_array())
    # top-right tile: z[2] = +1 (x axis), z[0] = +1 (y axis), z[1] = z[3] = 0
    np.testing.assert_array_equal(tile(canvas, 0, 2)[0, :4], [1.0, 0.0, 1.0, 0.0])
    assert ax.get_xlabel() == "z[2]" and ax.get_ylabel() == "z[0]"


def test_plot_manifold_rgb_decoder():
    def rgb_decoder(z):
        return np.tile(coordinate_decoder(z)[:, :, None], (1, 1, 3))

    fig = plot_manifold(rgb_decoder, n=3, image_shape=(8, 8, 3))
    assert fig.axes[0].get_images()[0].get_array().shape == (24, 24, 3)


def test_plot_manifold_errors():
    with pytest.raises(ValueError, match="dims must be two different indices below 2"):
        plot_manifold(coordinate_decoder, dims=(0, 2))
    with pytest.raises(ValueError, match="dims must be two different"):
        plot_manifold(coordinate_decoder, dims=(1, 1))
    with pytest.raises(ValueError, match="cannot be reshaped"):
        plot_manifold(coordinate_decoder, n=3, image_shape=(28, 28))


# plot_latent_scatter -----------------------------------------------------------------------


@pytest.fixture
def clusters():
    """60 codes in 3 well-separated 5-D clusters, labels 0-2 and 8x8 images."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    codes = rng.normal(scale=0.3, size=(60, 5)) + 4.0 * np.eye(5)[labels]
    images = rng.random((60, 8, 8))
    return codes, labels, images


def scattered(ax):
    """The (N, 2) offsets of the single scatter in ``ax``."""
    (cloud,) = ax.collections
    return np.asarray(cloud.get_offsets())


def thumbnails(ax):
    return [artist for artist in ax.artists if isinstance(artist, AnnotationBbox)]


def test_plot_latent_scatter_2d_codes_plotted_directly(monkeypatch, clusters):
    monkeypatch.setattr(latent, "TSNE", None)  # would fail if t-SNE were used
    codes, labels, _ = clusters
    fig = plot_latent_scatter(codes[:, :2], labels)
    ax = fig.axes[0]
    np.testing.assert_array_equal(scattered(ax), codes[:, :2])
    assert ax.get_xlabel() == "z[0]" and ax.get_ylabel() == "z[1]"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]


def test_plot_latent_scatter_uses_tsne_above_two_dims(monkeypatch, clusters):
    calls = []
    real_tsne = latent.TSNE

    def spy(**kwargs):
        calls.append(kwargs)
        return real_tsne(**kwargs)

    monkeypatch.setattr(latent, "TSNE", spy)
    codes, labels, _ = clusters
    fig = plot_latent_scatter(codes, labels, random_state=3)
    assert len(calls) == 1
    assert calls[0]["init"] == "pca" and calls[0]["random_state"] == 3
    ax = fig.axes[0]
    assert ax.get_xlabel() == "t-SNE 1" and ax.get_ylabel() == "t-SNE 2"
    points = scattered(ax)
    assert points.shape == (60, 2)
    # the three clusters stay apart: each point's nearest other point has its label
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert np.all(labels[distances.argmin(axis=1)] == labels)


def test_plot_latent_scatter_method_none_and_pca(clusters):
    codes, _, _ = clusters
    ax = plot_latent_scatter(codes, method="none").axes[0]
    np.testing.assert_array_equal(scattered(ax), codes[:, :2])
    ax = plot_latent_scatter(codes, method="pca").axes[0]
    assert ax.get_xlabel() == "PC 1"
    assert np.ptp(scattered(ax)[:, 0]) > 1.0
    with pytest.raises(ValueError, match="method must be one of"):
        plot_latent_scatter(codes, method="umap")


def test_plot_latent_scatter_class_names_in_legend(clusters):
    codes, labels, _ = clusters
    fig = plot_latent_scatter(codes[:, :2], labels, class_names=["cat", "dog", "frog"])
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["cat", "dog", "frog"]


def test_plot_latent_scatter_colours_follow_labels(clusters):
    codes, labels, _ = clusters
    ax = plot_latent_scatter(codes[:, :2], labels).axes[0]
    colours = ax.collections[0].get_facecolors()
    assert len({tuple(c) for c in colours[labels == 0]}) == 1
    assert not np.allclose(colours[0], colours[-1])


def test_plot_latent_scatter_continuous_labels_get_colorbar(clusters):
    codes, _, _ = clusters
    values = np.linspace(0.0, 1.0, 60)
    fig = plot_latent_scatter(codes[:, :2], values)
    assert len(fig.axes) == 2  # scatter + colorbar
    assert fig.axes[0].get_legend() is None
    np.testing.assert_array_equal(fig.axes[0].collections[0].get_array(), values)


def test_plot_latent_scatter_thumbnails_are_spread_out(clusters):
    codes, labels, images = clusters
    ax = plot_latent_scatter(codes[:, :2], labels, images=images, n_thumbnails=10).axes[0]
    boxes = thumbnails(ax)
    assert 3 <= len(boxes) <= 10
    positions = np.array([box.xy for box in boxes])
    extent = np.ptp(codes[:, :2], axis=0)
    gaps = np.linalg.norm((positions[:, None] - positions[None]) / extent, axis=-1)
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() >= latent.THUMBNAIL_SPACING
    first = boxes[0]
    index = int(np.flatnonzero(np.all(codes[:, :2] == first.xy, axis=1))[0])
    np.testing.assert_array_equal(first.offsetbox.get_data(), images[index])


def test_plot_latent_scatter_no_thumbnails_by_default(clusters):
    codes, labels, images = clusters
    ax = plot_latent_scatter(codes[:, :2], labels, images=images).axes[0]
    assert thumbnails(ax) == []


def test_plot_latent_scatter_uses_given_axes(clusters):
    codes, labels, _ = clusters
    fig0, (left, right) = plt.subplots(1, 2)
    assert plot_latent_scatter(codes[:, :2], labels, ax=right) is fig0
    assert len(right.collections) == 1 and len(left.collections) == 0


def test_plot_latent_scatter_errors(clusters):
    codes, labels, images = clusters
    with pytest.raises(ValueError, match=r"codes must have shape \(N, d\) with d >= 2"):
        plot_latent_scatter(codes[:, :1])
    with pytest.raises(ValueError, match="got 59 labels for 60 codes"):
        plot_latent_scatter(codes[:, :2], labels[:-1])
    with pytest.raises(ValueError, match="got 10 images for 60 codes"):
        plot_latent_scatter(codes[:, :2], images=images[:10], n_thumbnails=5)


# plot_code_channels ------------------------------------------------------------------------


def test_plot_code_channels_one_row_per_code_one_column_per_channel():
    codes = np.random.default_rng(0).random((6, 7, 7, 4)).astype(np.float32)
    fig = plot_code_channels(codes, n=3)
    maps = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(maps) == 3 * 4
    assert [ax.get_title() for ax in maps[:4]] == [f"channel {c}" for c in range(4)]
    # row r, channel c shows codes[r, :, :, c] on one shared scale from 0 to the largest value
    for k, ax in enumerate(maps):
        image = ax.get_images()[0]
        np.testing.assert_array_equal(image.get_array(), codes[k // 4, :, :, k % 4])
        assert image.get_clim() == (0.0, pytest.approx(float(codes[:3].max())))
    assert len(fig.axes) == len(maps) + 1            # and one colorbar
    plt.close(fig)


def test_plot_code_channels_with_images_row_titles_and_given_figure():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(2, 4, 4, 8)).astype(np.float32)   # negative values too
    images = rng.random((2, 28, 28, 1)).astype(np.float32)
    fig = plt.figure()
    assert plot_code_channels(codes, images, row_titles=["7", "2"], fig=fig) is fig
    maps = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(maps) == 2 * (1 + 8)
    assert maps[0].get_title() == "image" and maps[1].get_title() == "channel 0"
    np.testing.assert_array_equal(maps[9].get_images()[0].get_array(), images[1, :, :, 0])
    assert [maps[0].get_ylabel(), maps[9].get_ylabel()] == ["7", "2"]
    assert maps[1].get_images()[0].get_clim() == (pytest.approx(float(codes.min())),
                                                  pytest.approx(float(codes.max())))
    plt.close(fig)


def test_plot_code_channels_errors():
    codes = np.zeros((3, 7, 7, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        plot_code_channels(codes.reshape(3, -1))
    with pytest.raises(ValueError, match="at least one code"):
        plot_code_channels(codes[:0])
    with pytest.raises(ValueError, match="2 images for 3 codes"):
        plot_code_channels(codes, np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="1 row titles for 3 codes"):
        plot_code_channels(codes, row_titles=["a"])
    fig = plot_code_channels(codes)                  # all zeros: still a valid scale
    assert fig.axes[0].get_images()[0].get_clim() == (0.0, 1.0)
    plt.close(fig)
