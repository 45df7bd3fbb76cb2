"""Tests for helpers.figures: image-batch shapes, figure creation, drawing and saving."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers.figures import as_images, draw_image, new_figure, save_figure

matplotlib.use("Agg")



def test_as_images_reshapes_flat_mnist_vectors():
    x = np.random.default_rng(0).random((5, 784))
    images = as_images(x)
    assert images.shape == (5, 28, 28)
    np.testing.assert_array_equal(images[3], x[3].reshape(28, 28))


def test_as_images_reshapes_any_square_flat_size():
    x = np.arange(2 * 16).reshape(2, 16)
    images = as_images(x)
    assert images.shape == (2, 4, 4)
    np.testing.assert_array_equal(images[1, 0], [16, 17, 18, 19])


def test_as_images_keeps_grayscale_batches():
    x = np.zeros((3, 28, 28))
    assert as_images(x).shape == (3, 28, 28)


def test_as_images_drops_single_channel():
    x = np.random.default_rng(1).random((4, 32, 32, 1))
    images = as_images(x)
    assert images.shape == (4, 32, 32)
    np.testing.assert_array_equal(images, x[..., 0])


def test_as_images_keeps_rgb():
    x = np.random.default_rng(2).random((2, 32, 32, 3))
    np.testing.assert_array_equal(as_images(x), x)


def test_as_images_leaves_values_alone():
    x = np.array([[-0.5, 2.0, 0.25, 1.0]])
    np.testing.assert_array_equal(as_images(x).ravel(), x.ravel())


@pytest.mark.parametrize("shape", [(2, 785), (2, 0)])
def test_as_images_rejects_non_square_flat_vectors(shape):
    with pytest.raises(ValueError, match="not a perfect square"):
        as_images(np.zeros(shape))


@pytest.mark.parametrize("shape", [(784,), (2, 28, 28, 2), (1, 2, 28, 28, 1)])
def test_as_images_rejects_other_shapes(shape):
    with pytest.raises(ValueError, match=r"cannot display an image batch of shape"):
        as_images(np.zeros(shape))


def test_new_figure_creates_grid_sized_per_cell():
    fig, axes = new_figure(2, 3, cell_size=(1.0, 2.0), extra_width=0.5)
    assert isinstance(fig, Figure)
    assert axes.shape == (2, 3)
    assert len(fig.axes) == 6
    np.testing.assert_allclose(fig.get_size_inches(), [3.5, 4.0])


def test_new_figure_uses_given_figure_and_returns_2d_axes():
    given = plt.figure()
    fig, axes = new_figure(1, 1, fig=given)
    assert fig is given
    assert axes.shape == (1, 1)
    assert fig.axes == [axes[0, 0]]


def test_draw_image_float_grayscale_uses_unit_range():
    fig, ax = plt.subplots()
    image = np.full((5, 5), 0.3)
    draw_image(ax, image)
    shown = ax.get_images()[0]
    assert shown.get_clim() == (0, 1.0)
    assert shown.get_cmap().name == "gray"
    np.testing.assert_array_equal(shown.get_array(), image)
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []


def test_draw_image_uint8_grayscale_uses_byte_range():
    fig, ax = plt.subplots()
    draw_image(ax, np.full((5, 5), 200, dtype=np.uint8), cmap="viridis")
    shown = ax.get_images()[0]
    assert shown.get_clim() == (0, 255)
    assert shown.get_cmap().name == "viridis"


def test_draw_image_clips_float_rgb():
    fig, ax = plt.subplots()
    image = np.full((4, 4, 3), 0.5)
    image[0, 0] = [-0.2, 1.3, 0.5]
    draw_image(ax, image)
    shown = np.asarray(ax.get_images()[0].get_array())
    np.testing.assert_array_equal(shown[0, 0], [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(shown[1:], image[1:])


def test_save_figure_creates_folders_and_returns_path(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    target = tmp_path / "a" / "b" / "plot.png"
    result = save_figure(fig, str(target), dpi=50)
    assert result == target
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- descriptions (alt text on the course website) -------------------------------------------

def _described_figures():
    from helpers.history import plot_history
    from helpers.images import plot_image_rows, plot_images, plot_reconstructions, plot_triplets
    from helpers.latent import (
        plot_code_channels,
        plot_interpolation,
        plot_latent_scatter,
        plot_manifold,
    )
    rng = np.random.default_rng(0)
    x = rng.random((6, 784))
    decoder = lambda z: np.tile(np.asarray(z)[:, :1], (1, 784))  # noqa: E731
    return {
        "plot_images": plot_images(x, titles=list("abcdef")),
        "plot_image_rows": plot_image_rows([x, x], ["clean", "noisy"], n=4),
        "plot_reconstructions": plot_reconstructions(x, x, n=4),
        "plot_triplets": plot_triplets(x, x, x, n=4),
        "plot_history": plot_history({"loss": [2, 1], "val_loss": [3, 2]}),
        "plot_interpolation": plot_interpolation(decoder, np.zeros(2), np.ones(2), steps=4),
        "plot_code_channels": plot_code_channels(rng.random((3, 4, 4, 2)), n=2),
        "plot_manifold": plot_manifold(decoder, n=3),
        "plot_latent_scatter": plot_latent_scatter(rng.random((20, 2)), np.arange(20) % 3),
    }


@pytest.mark.parametrize("helper", ["plot_images", "plot_image_rows", "plot_reconstructions",
                                    "plot_triplets", "plot_history", "plot_interpolation",
                                    "plot_code_channels", "plot_manifold",
                                    "plot_latent_scatter"])
def test_every_figure_helper_describes_what_it_draws(helper):
    from helpers.figures import description
    fig = _described_figures()[helper]
    text = description(fig)
    assert len(text.split()) >= 6, f"{helper}: {text!r}"
    expected = {"plot_images": "'a'", "plot_image_rows": "'noisy'", "plot_history": "'loss'",
                "plot_reconstructions": "'reconstruction'", "plot_triplets": "'target'",
                "plot_interpolation": "mixing weight", "plot_code_channels": "2 channels",
                "plot_manifold": "3 by 3", "plot_latent_scatter": "named at its median point"}
    assert expected[helper] in text, text


def test_a_figure_in_parts_joins_their_descriptions_and_a_caller_may_give_its_own():
    from helpers.figures import describe, description
    from helpers.images import plot_images
    fig = plt.figure()
    left, right = fig.subfigures(1, 2)
    plot_images(np.zeros((2, 784)), fig=left, alt="Two blank digits")
    describe(right, "an empty panel")
    assert description(fig) == "Two blank digits. an empty panel."


def test_jupyter_gets_the_description_as_the_pictures_alt_text():
    from helpers.figures import _with_description, describe
    fig = describe(plt.figure(), "A described figure")
    assert _with_description(lambda f: "PNG")(fig) == ("PNG", {"alt": "A described figure."})
    assert _with_description(lambda f: "PNG")(plt.figure()) == "PNG"


def test_a_title_given_after_the_helper_leads_the_description():
    from helpers.figures import description
    from helpers.images import plot_images
    from helpers.latent import plot_latent_scatter
    fig = plot_latent_scatter(np.random.default_rng(0).random((10, 2)))
    fig.axes[0].set_title("Bernoulli VAE")
    assert description(fig).startswith("Titled 'Bernoulli VAE'. Scatter plot of 10 codes")
    titled = plot_images(np.zeros((2, 784)), titles=["a", "b"])
    assert "Titled" not in description(titled)


def test_a_description_that_fails_never_costs_the_picture(monkeypatch):
    import helpers.figures as figures

    def broken(fig):
        raise RuntimeError("no description")
    monkeypatch.setattr(figures, "description", broken)
    fig = figures.describe(plt.figure(), "A described figure")
    assert figures._with_description(lambda f: "PNG")(fig) == "PNG"
