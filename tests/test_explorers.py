"""helpers.explorers: each explorer's picture is what the decoder returns for the code its
controls choose; updates are throttled; the static fallback is chosen where widgets
cannot show."""

from __future__ import annotations

import asyncio
import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("ipywidgets")

from helpers import explorers  # noqa: E402
from helpers.explorers import panel, to_pixels  # noqa: E402

SHAPE = (28, 28)
RNG = np.random.default_rng(0)
WEIGHTS = RNG.normal(size=(2, 784)).astype(np.float32)
WEIGHTS_10 = RNG.normal(size=(10, 784)).astype(np.float32)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def vae_decoder(z):
    return sigmoid(np.asarray(z) @ WEIGHTS)


def plain_decoder(z):
    return sigmoid(np.asarray(z)[:, ::-1] @ WEIGHTS * 0.1)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def expected(decoder, code):
    return to_pixels(np.asarray(decoder(np.asarray([code], np.float32)))[0].reshape(SHAPE))


def test_latent_2d_shows_the_decoders_image_of_the_chosen_code():
    codes = {"VAE": RNG.normal(size=(200, 2)), "plain AE": 20 * RNG.normal(size=(200, 2)) + 30}
    train = RNG.random((50, 784)).astype(np.float32)
    explorer = explorers.explore_latent_2d(
        {"VAE": vae_decoder, "plain AE": plain_decoder}, codes, RNG.integers(0, 10, 200),
        train, show=True)
    c = explorer.controls
    c["z0"].value, c["z1"].value = 1.25, -0.5
    explorer.update()
    got = panel(explorer.images["decoded"].value, 0, SHAPE)
    np.testing.assert_array_equal(got, expected(vae_decoder, (1.25, -0.5)))

    c["model"].value = "plain AE"        # its sliders reach its cloud, far from the origin
    assert c["z0"].max > 60 and c["z0"].min <= -3.5
    c["z0"].value, c["z1"].value = 40.0, 35.0
    c["nearest"].value = True
    explorer.update()
    png = explorer.images["decoded"].value
    image = plain_decoder(np.array([[40.0, 35.0]], np.float32))[0]
    np.testing.assert_array_equal(panel(png, 0, SHAPE), to_pixels(image.reshape(SHAPE)))
    nearest = train[np.argmin(((train - image) ** 2).sum(axis=1))]
    np.testing.assert_array_equal(panel(png, 1, SHAPE), to_pixels(nearest.reshape(SHAPE)))

    before = explorer.images["scatter"].value
    c["prior"].click()                   # a prior draw moves the code and the marker
    assert explorer.images["scatter"].value != before
    z = (c["z0"].value, c["z1"].value)
    np.testing.assert_array_equal(panel(explorer.images["decoded"].value, 0, SHAPE),
                                  expected(plain_decoder, z))


def test_interpolation_blends_codes_and_pixels():
    images = RNG.random((20, 28, 28, 1)).astype(np.float32)

    def encoder(x):
        return np.asarray(x).reshape(len(x), -1)[:, :2] * 3 - 1.5

    explorer = explorers.explore_interpolation(encoder, vae_decoder, images, 3, 7, show=True)
    c = explorer.controls
    c["first"].value, c["second"].value, c["w"].value = 4, 11, 0.3
    explorer.update()
    png = explorer.images["blend"].value
    code = 0.7 * encoder(images[4:5])[0] + 0.3 * encoder(images[11:12])[0]
    np.testing.assert_array_equal(panel(png, 1, SHAPE), expected(vae_decoder, code))
    pixels = (0.7 * images[4] + 0.3 * images[11])[..., 0]
    np.testing.assert_array_equal(panel(png, 2, SHAPE), to_pixels(pixels))
    np.testing.assert_array_equal(panel(png, 0, SHAPE), to_pixels(images[4, ..., 0]))
    np.testing.assert_array_equal(panel(png, 3, SHAPE), to_pixels(images[11, ..., 0]))


def test_traversal_moves_along_a_principal_direction():
    codes = RNG.normal(size=(300, 10)) * np.linspace(3, 0.5, 10)
    images = RNG.random((300, 28, 28, 1)).astype(np.float32)

    def decoder(z):
        return sigmoid(np.asarray(z) @ WEIGHTS_10)

    explorer = explorers.explore_traversal(decoder, codes, images, index=5, show=True)
    directions, spreads = explorers.principal_directions(codes)
    np.testing.assert_allclose(directions @ directions.T, np.eye(10), atol=1e-5)
    assert np.all(np.diff(spreads) <= 0)
    c = explorer.controls
    c["index"].value, c["direction"].value, c["t"].value = 9, 2, -1.5
    explorer.update()
    png = explorer.images["traversal"].value
    moved = codes[9].astype(np.float32) - 1.5 * spreads[2] * directions[2]
    np.testing.assert_array_equal(panel(png, 2, SHAPE), expected(decoder, moved))
    np.testing.assert_array_equal(panel(png, 1, SHAPE), expected(decoder, codes[9]))


def test_a_keras_decoder_is_called_directly_not_through_predict():
    keras = pytest.importorskip("keras")
    decoder = keras.Sequential([keras.Input(shape=(2,)),
                                keras.layers.Dense(784, activation="sigmoid")])
    decoder.predict = None               # predict must not be used
    images = explorers.decode(decoder, np.zeros((1, 2)), SHAPE)
    assert images.shape == (1, 28, 28)
    codes = RNG.normal(size=(3, 2)).astype(np.float32)
    compiled = explorers.compile_decoder(decoder)
    np.testing.assert_allclose(np.asarray(compiled(codes)), np.asarray(decoder(codes)),
                               atol=1e-6)
    numpy_only = explorers.compile_decoder(vae_decoder)      # cannot be traced: used as is
    np.testing.assert_array_equal(numpy_only(codes), vae_decoder(codes))


def test_changes_arriving_before_the_render_are_rendered_once():
    renders = []
    throttle = explorers._Throttle(lambda: renders.append(1), wait=0.01)

    async def drag():
        for _ in range(50):
            throttle.request()
        await asyncio.sleep(0.05)
        throttle.request()
        await asyncio.sleep(0.05)

    asyncio.run(drag())
    assert len(renders) == 2 and len(throttle.seconds) == 2


def test_widgets_only_where_a_frontend_can_show_them(monkeypatch):
    monkeypatch.setenv("COURSE_EXPLORERS", "widgets")
    assert explorers.widgets_shown()
    monkeypatch.setenv("COURSE_EXPLORERS", "static")
    assert not explorers.widgets_shown()
    monkeypatch.delenv("COURSE_EXPLORERS")
    assert not explorers.widgets_shown(), "no IPython kernel runs in pytest"


def test_the_marker_sits_on_the_chosen_code():
    codes = RNG.normal(size=(300, 2))
    scatter = explorers._scatter(codes, RNG.integers(0, 10, 300), None,
                                 explorers._limits(codes), "VAE")
    for x, y in [(0.0, 0.0), (1.5, -2.0)]:
        rgb = np.asarray(Image.open(io.BytesIO(scatter.with_marker(x, y))).convert("RGB"))
        changed = (rgb != scatter.pixels).any(axis=-1)
        assert (rgb[changed] == explorers.MARKER_RGB).all()
        rows, cols = np.nonzero(changed)
        px, py = scatter.transform.transform((x, y))
        assert abs(cols.mean() - px) < 1.5 and abs(rows.mean() - (scatter.height - py)) < 1.5


def test_the_static_figure_creates_no_widget(monkeypatch):
    """Where widgets cannot show, no widget is made: nbclient would store its state (and
    its PNG) in the executed notebook."""
    import ipywidgets

    made = []
    monkeypatch.setattr(ipywidgets.Widget, "open", lambda self: made.append(self))
    codes = RNG.normal(size=(100, 10))
    images = RNG.random((100, 28, 28)).astype(np.float32)
    for explorer in (
        explorers.explore_latent_2d({"VAE": vae_decoder}, {"VAE": codes[:, :2]},
                                    RNG.integers(0, 10, 100), images, show=False),
        explorers.explore_interpolation(lambda x: x.reshape(len(x), -1)[:, :2], vae_decoder,
                                        images, show=False),
        explorers.explore_traversal(lambda z: sigmoid(np.asarray(z) @ WEIGHTS_10), codes,
                                    images, show=False),
    ):
        assert explorer.figure is not None and explorer.controls == {}
    assert not made
    with pytest.raises(ValueError, match="show must be"):
        explorers.explore_traversal(vae_decoder, codes, images, show="static")


@pytest.mark.parametrize("show", [None, True])
def test_an_explorer_that_shows_widgets_displays_them(monkeypatch, show):
    """Left to decide (``show=None``, as the notebooks call them) or told to, each explorer
    displays its widget once; it drew nothing at all when ``None`` was taken for False."""
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects: shown.extend(objects))
    monkeypatch.setenv("COURSE_EXPLORERS", "widgets")
    codes = RNG.normal(size=(100, 10))
    images = RNG.random((100, 28, 28)).astype(np.float32)
    made = [
        explorers.explore_latent_2d({"VAE": vae_decoder}, {"VAE": codes[:, :2]},
                                    RNG.integers(0, 10, 100), images, show=show),
        explorers.explore_interpolation(lambda x: x.reshape(len(x), -1)[:, :2], vae_decoder,
                                        images, show=show),
        explorers.explore_traversal(lambda z: sigmoid(np.asarray(z) @ WEIGHTS_10), codes,
                                    images, show=show),
    ]
    assert [id(w) for w in shown] == [id(e.widget) for e in made]
    assert all(e.widget is not None for e in made)


def test_a_slider_near_zero_reads_zero_not_minus_zero():
    assert [explorers._shown_value(v) for v in (-1.4e-17, -0.004, -0.05, 3.85)] == \
        ["0.00", "0.00", "-0.05", "3.85"]
