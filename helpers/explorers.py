"""Interactive latent-space explorers: sliders and buttons that move a code, and the
decoder's answer drawn at once, built only on ipywidgets' core widgets.

Each explorer decodes with a direct call of the decoder (never ``predict``, which costs
tens of milliseconds per call), renders its pictures as PNGs with Pillow, and shows them
in ``ipywidgets.Image`` widgets updated in place. Updates are throttled: a control that
changes only marks the view as stale, and one render, of the latest state, runs after
`WAIT_SECONDS`, however many changes arrived meanwhile, so a dragged slider never queues
up work.

Where widgets cannot be shown (nbval, nbgrader, a script, a headless run with a file
backend such as ``MPLBACKEND=Agg``), each explorer draws a static matplotlib figure of the
same content instead; ``COURSE_EXPLORERS=widgets`` or ``=static`` forces either. The code
works with ipywidgets 7.7 (Colab) and 8.x.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image as PILImage

from helpers import settings
from helpers.figures import as_images
from helpers.images import plot_image_rows
from helpers.latent import interpolate, plot_latent_scatter

#: Environment variable forcing ``"widgets"`` or ``"static"``.
MODE_VARIABLE = "COURSE_EXPLORERS"
#: Matplotlib backends that draw to files only: no frontend shows widgets there.
FILE_BACKENDS = {"agg", "pdf", "ps", "svg", "pgf", "cairo", "template"}
#: Quiet time after a change before the (one) render of the latest state, in seconds.
WAIT_SECONDS = 0.02
#: Screen pixels per image pixel in the explorers' pictures.
SCALE = 6
#: White pixels between two panels of a picture.
GAP = 4
#: Colour of the marker drawn on a code scatter (RGB): black, a colour no class has.
MARKER_RGB = (0, 0, 0)

#: A decoder: a callable (a Keras model, a function) mapping a ``(k, ...)`` code batch to images.
Decoder = Callable[[np.ndarray], Any]


# --- deciding how to show -------------------------------------------------------------------

def widgets_shown() -> bool:
    """True when the explorers show widgets, False when they draw a static figure.

    Widgets need a Jupyter kernel whose frontend renders them. ``COURSE_EXPLORERS``
    (``widgets`` or ``static``) decides if set; under nbgrader (``NBGRADER_EXECUTION``)
    and outside an IPython kernel the answer is False; otherwise it is False when
    matplotlib's backend only writes files (the test suite and the instructor's tools
    run with ``MPLBACKEND=Agg``), True with Jupyter's inline backend.
    """
    forced = settings.choice(MODE_VARIABLE)
    if forced != "auto":
        return forced == "widgets"
    if os.environ.get("NBGRADER_EXECUTION"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return plt.get_backend().lower() not in FILE_BACKENDS


# --- pictures -------------------------------------------------------------------------------

def to_pixels(image: np.ndarray) -> np.ndarray:
    """One image with values in [0, 1] (``(H, W)`` or ``(H, W, 3)``) as uint8 RGB."""
    image = np.asarray(image, dtype=np.float32)
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return pixels


def panels(images: Sequence[np.ndarray], scale: int = SCALE, gap: int = GAP) -> np.ndarray:
    """Images side by side, each enlarged ``scale`` times (nearest), ``gap`` white columns
    between them; all must have the same shape. Returns uint8 RGB."""
    tiles = [np.kron(to_pixels(image), np.ones((scale, scale, 1), np.uint8)) for image in images]
    height = tiles[0].shape[0]
    spacer = np.full((height, gap, 3), 255, np.uint8)
    row: list[np.ndarray] = []
    for tile in tiles:
        row += [spacer, tile] if row else [tile]
    return np.concatenate(row, axis=1)


def panel(png: bytes, k: int, image_shape: tuple[int, int], scale: int = SCALE,
          gap: int = GAP) -> np.ndarray:
    """Panel ``k`` of a picture made by `panels`, read back from its PNG, at image size
    (uint8, ``(H, W, 3)``)."""
    pixels = np.asarray(PILImage.open(io.BytesIO(png)).convert("RGB"))
    height, width = image_shape
    left = k * (width * scale + gap)
    return pixels[:height * scale:scale, left:left + width * scale:scale]


def png(pixels: np.ndarray) -> bytes:
    """Encode uint8 RGB pixels as PNG bytes (fast compression)."""
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def decode(decoder: Decoder, codes: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """Decode a batch of codes with a direct call and return ``(k, H, W)`` or ``(k, H, W, 3)``.

    A Keras model is called with ``training=False``; any other callable with the codes
    alone. Whatever comes back (a NumPy array, a tensor) is converted with ``np.asarray``.
    """
    codes = np.asarray(codes, dtype=np.float32)
    out = decoder(codes, training=False) if hasattr(decoder, "predict") else decoder(codes)
    out = np.asarray(out)
    return as_images(out.reshape(len(codes), *image_shape))


def compile_decoder(decoder: Decoder) -> Decoder:
    """The decoder as a compiled TensorFlow function where it can be one, else as it is.

    A traced ``tf.function`` runs a small decoder in about a millisecond, where an eager
    call of a ``tf_keras`` model with TFP layers takes tens of milliseconds. A decoder that
    cannot be traced (NumPy code, another backend) is used directly: the first call tells.
    """
    if "tensorflow" not in sys.modules:
        return decoder
    import tensorflow as tf

    def call(codes):
        return decoder(codes, training=False) if hasattr(decoder, "predict") else decoder(codes)

    traced = tf.function(call, reduce_retracing=True)
    state = {"use": None}

    def fast(codes):
        if state["use"] is None:
            try:
                out = np.asarray(traced(np.asarray(codes, dtype=np.float32)))
            except Exception:  # noqa: BLE001 - not traceable: call it directly from now on
                state["use"] = call
                return call(codes)
            state["use"] = traced
            return out
        return state["use"](codes)

    return fast


class _Figure:
    """A matplotlib figure rendered once to palette pixels, with data -> pixel coordinates.

    The pixels are kept as indices into a palette of at most 255 colours (the last index
    is the marker's colour), so a copy with a marker encodes as a PNG of one byte per
    pixel, three times less to compress than RGB.
    """

    def __init__(self, fig: plt.Figure, ax: plt.Axes):
        fig.canvas.draw()
        rgb = PILImage.fromarray(np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy())
        quantized = rgb.quantize(colors=255)
        self.indices = np.asarray(quantized).copy()
        palette = quantized.getpalette()[:3 * 255]
        palette += [0, 0, 0] * (255 - len(palette) // 3) + list(MARKER_RGB)
        self.palette = palette
        self.height = self.indices.shape[0]
        self.transform = ax.transData.frozen()
        plt.close(fig)

    @property
    def pixels(self) -> np.ndarray:
        """The figure as uint8 RGB."""
        return np.asarray(self.palette, np.uint8).reshape(-1, 3)[self.indices]

    def with_marker(self, x: float, y: float, radius: int = 7) -> bytes:
        """The figure as PNG bytes, with a ring and a cross at data point (x, y)."""
        px, py = self.transform.transform((x, y))
        cx, cy = int(round(px)), int(round(self.height - py))
        indices = self.indices.copy()
        top, left = max(cy - radius - 2, 0), max(cx - radius - 2, 0)
        window = indices[top:cy + radius + 3, left:cx + radius + 3]
        if window.size:
            rows, cols = np.ogrid[top:top + window.shape[0], left:left + window.shape[1]]
            distance = np.hypot(rows - cy, cols - cx)
            ring = np.abs(distance - radius) < 1.3
            cross = ((rows == cy) | (cols == cx)) & (distance <= radius - 2)
            window[ring | cross] = 255
        image = PILImage.fromarray(indices)      # "L"; the palette makes it "P"
        image.putpalette(self.palette)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()


# --- updates --------------------------------------------------------------------------------

class _Throttle:
    """Run ``render`` once, after `WAIT_SECONDS`, for any number of `request` calls.

    Inside a running event loop (a Jupyter kernel) the render is scheduled on it; changes
    that arrive before it runs only mark the view as stale. Without a loop (a script, a
    test) `request` renders at once.
    """

    def __init__(self, render: Callable[[], None], wait: float = WAIT_SECONDS):
        self.render, self.wait, self.handle = render, wait, None
        self.seconds: list[float] = []       # kernel time of each render

    def request(self) -> None:
        if self.handle is not None:
            return                            # a render of the latest state is scheduled
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.run()
            return
        self.handle = loop.call_later(self.wait, self.run)

    def run(self) -> None:
        if self.handle is not None:       # rendering now: a scheduled render is not needed
            self.handle.cancel()
        self.handle = None
        t0 = time.perf_counter()
        self.render()
        self.seconds.append(time.perf_counter() - t0)


class Explorer:
    """Widgets, the pictures they drive, and the static figure drawn where widgets are not
    shown. ``controls`` names the widgets a user moves, ``images`` the ``Image`` widgets;
    `update` renders the current state at once (what the throttled handler runs)."""

    def __init__(self, controls: dict[str, Any], images: dict[str, Any], layout: Any,
                 render: Callable[[], None]):
        self.controls, self.images, self.widget = controls, images, layout
        self.throttle = _Throttle(render)
        self.figure: plt.Figure | None = None
        for control in controls.values():
            if hasattr(control, "on_click"):
                continue
            control.observe(lambda change: self.throttle.request(), names="value")

    def update(self) -> None:
        """Render the current state now."""
        self.throttle.run()

    @property
    def seconds(self) -> list[float]:
        """Kernel time of every render so far, in seconds."""
        return self.throttle.seconds

    def _ipython_display_(self) -> None:      # ipywidgets 7 and 8 both display this way
        if self.widget is not None:
            from IPython.display import display
            display(self.widget)


def _shows_widgets(show: bool | None) -> bool:
    """An explorer's ``show`` argument: True, False, or None to ask :func:`widgets_shown`."""
    if show is None:
        return widgets_shown()
    if show is not True and show is not False:
        raise ValueError(f"show must be True, False or None, got {show!r}")
    return show


def _static(static: Callable[[], plt.Figure]) -> Explorer:
    """An explorer without widgets: only its static figure, drawn now."""
    explorer = Explorer({}, {}, None, lambda: None)
    explorer.figure = static()
    return explorer


def _shown(explorer: Explorer, show: bool) -> Explorer:
    """Render the explorer's first picture and display its widgets."""
    explorer.update()
    if show:
        from IPython.display import display
        display(explorer.widget)
    return explorer


def _shown_value(value: float) -> str:
    """A slider's value with two decimals, never "-0.00" (a slider at -1e-17 reads 0.00)."""
    return f"{round(value, 2) + 0.0:.2f}"


def _widgets():
    import ipywidgets
    return ipywidgets


def _image_widget(pixels: np.ndarray):
    return _widgets().Image(value=png(pixels), format="png")


# --- 1: a 2-D latent space ------------------------------------------------------------------

def explore_latent_2d(
    decoders: Mapping[str, Decoder],
    codes: Mapping[str, np.ndarray],
    labels: np.ndarray,
    train_images: np.ndarray,
    image_shape: tuple[int, int] = (28, 28),
    class_names: Sequence[str] | None = None,
    seed: int = 0,
    show: bool | None = None,
) -> Explorer:
    """Move a code through 2-D latent spaces and watch each decoder answer.

    Two sliders choose the code ``(z[0], z[1])``; the decoded image updates at once, and
    the code is marked on the scatter of ``codes`` (one scatter per model). A button draws
    a code from the prior N(0, I); a toggle chooses the model; a checkbox shows the
    training image nearest (in squared pixel distance) to the decoded one.

    Parameters
    ----------
    decoders : mapping of name -> decoder
        The models to compare, each mapping ``(k, 2)`` codes to ``k`` images.
    codes : mapping of name -> array, shape (N, 2)
        Each model's codes of the same images (e.g. the validation set), for the scatter.
    labels : array, shape (N,)
        The images' labels, coloring the scatter.
    train_images : array
        The training images searched for the nearest one.
    image_shape : (int, int)
        Shape of one image.
    class_names : sequence of str, optional
        Legend names.
    seed : int
        Seed of the prior's draws.
    show : bool, optional
        Display the widgets (True) or draw only the static figure (False, and then no
        widget is created); by default `widgets_shown`.

    Returns
    -------
    Explorer
        ``controls``: ``"model"``, ``"z0"``, ``"z1"``, ``"prior"``, ``"nearest"``;
        ``images``: ``"decoded"`` (the decoded image, and the nearest training image
        beside it when asked), ``"scatter"``.
    """
    names = list(decoders)
    if set(names) != set(codes):
        raise ValueError(f"decoders {names} and codes {list(codes)} name different models")
    codes = {name: np.asarray(codes[name], dtype=np.float32) for name in names}
    decoders = {name: compile_decoder(decoders[name]) for name in names}
    flat_train = np.asarray(train_images, dtype=np.float32).reshape(len(train_images), -1)
    train_norms = np.einsum("ij,ij->i", flat_train, flat_train)
    rng = np.random.default_rng(seed)
    limits = {name: _limits(codes[name]) for name in names}

    def static() -> plt.Figure:
        draws = np.random.default_rng(seed).standard_normal((6, 2)).astype(np.float32)
        fig = plt.figure(figsize=(12, 4.2 * len(names)), layout="constrained")
        rows = np.atleast_1d(fig.subfigures(len(names), 1))
        for row, name in zip(rows, names):
            left, right = row.subfigures(1, 2, width_ratios=[1.0, 1.4])
            ax = left.add_subplot()
            plot_latent_scatter(codes[name], labels, ax=ax, method="none",
                                class_names=class_names)
            ax.scatter(draws[:, 0], draws[:, 1], marker="x", s=80, c="black", zorder=3)
            for k, (x, y) in enumerate(draws):
                ax.annotate(str(k + 1), (x, y), xytext=(4, 4), textcoords="offset points",
                            color="black", fontweight="bold")
            ax.set_xlim(*limits[name][:2])
            ax.set_ylim(*limits[name][2:])
            ax.set_title(f"{name}: codes of N(0, I) marked")
            images = decode(decoders[name], draws, image_shape)
            flat = images.reshape(len(images), -1)
            near = np.argmin(train_norms[None, :] - 2 * flat @ flat_train.T, axis=1)
            plot_image_rows([images, flat_train[near].reshape(-1, *image_shape)],
                            [f"{name}:\ndecoded", "nearest\ntraining image"], n=len(draws),
                            fig=right)
            for k, ax_k in enumerate(right.axes[:len(draws)]):
                ax_k.set_title(str(k + 1), fontsize="medium")
        return fig

    show = _shows_widgets(show)
    if not show:
        return _static(static)

    w = _widgets()
    scatters = {name: _scatter(codes[name], labels, class_names, limits[name], name)
                for name in names}

    start = limits[names[0]]
    model = w.ToggleButtons(options=names, value=names[0], description="model")
    z0 = w.FloatSlider(value=0.0, min=start[0], max=start[1], step=0.05, description="z[0]",
                       continuous_update=True, readout_format=".2f")
    z1 = w.FloatSlider(value=0.0, min=start[2], max=start[3], step=0.05, description="z[1]",
                       continuous_update=True, readout_format=".2f")
    prior = w.Button(description="draw z ~ N(0, I)")
    nearest = w.Checkbox(value=False, description="nearest training image")
    status = w.Label(value="")
    blank = np.ones(image_shape, np.float32)
    decoded = _image_widget(panels([blank]))
    scatter = _image_widget(scatters[names[0]].pixels)

    def render() -> None:
        code = np.array([[z0.value, z1.value]], dtype=np.float32)
        image = decode(decoders[model.value], code, image_shape)[0]
        shown = [image]
        text = f"{model.value}: z = ({_shown_value(z0.value)}, {_shown_value(z1.value)})"
        if nearest.value:
            flat = image.reshape(-1).astype(np.float32)
            distances = train_norms - 2 * flat_train @ flat + flat @ flat
            k = int(np.argmin(distances))
            shown.append(flat_train[k].reshape(image_shape))
            text += f"; nearest training image: #{k}, squared distance {distances[k]:.1f}"
        decoded.value = png(panels(shown))
        scatter.value = scatters[model.value].with_marker(z0.value, z1.value)
        status.value = text

    def switch_model(change) -> None:
        lo0, hi0, lo1, hi1 = limits[change["new"]]
        for slider, lo, hi in ((z0, lo0, hi0), (z1, lo1, hi1)):
            if lo > slider.max:          # keep min <= max while changing both
                slider.max, slider.min = hi, lo
            else:
                slider.min, slider.max = lo, hi

    def draw_prior(_button) -> None:
        z = rng.standard_normal(2)     # both changes are rendered once, in a kernel
        z0.value = float(np.clip(z[0], z0.min, z0.max))
        z1.value = float(np.clip(z[1], z1.min, z1.max))

    model.observe(switch_model, names="value")
    prior.on_click(draw_prior)
    layout = w.VBox([model, w.HBox([w.VBox([z0, z1, prior, nearest]), decoded]), status,
                     w.HBox([scatter])])     # in an HBox, an image keeps its own size
    explorer = Explorer({"model": model, "z0": z0, "z1": z1, "prior": prior,
                         "nearest": nearest}, {"decoded": decoded, "scatter": scatter},
                        layout, render)

    return _shown(explorer, show)


def _limits(codes: np.ndarray) -> tuple[float, float, float, float]:
    """Slider and axes ranges: the codes' extent with a margin, at least [-3.5, 3.5],
    rounded out to multiples of 0.5 (so the sliders' steps fall on round values)."""
    lo, hi = codes.min(axis=0), codes.max(axis=0)
    margin = 0.05 * (hi - lo)
    lo = np.floor(np.minimum(lo - margin, -3.5) * 2) / 2
    hi = np.ceil(np.maximum(hi + margin, 3.5) * 2) / 2
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def _scatter(codes, labels, class_names, limits, name) -> _Figure:
    fig = plt.figure(figsize=(6.4, 4.8), dpi=80, layout="constrained")
    ax = fig.add_subplot()
    plot_latent_scatter(codes, labels, ax=ax, method="none", class_names=class_names)
    ax.set_xlim(*limits[:2])
    ax.set_ylim(*limits[2:])
    ax.set_title(f"{name}: codes of the images, and the chosen code")
    return _Figure(fig, ax)


# --- 2: interpolation in code space and in pixel space ---------------------------------------

def explore_interpolation(
    encoder: Decoder,
    decoder: Decoder,
    images: np.ndarray,
    first: int = 0,
    second: int = 1,
    steps: int = 8,
    show: bool | None = None,
) -> Explorer:
    """Blend two chosen images with one slider: in code space and, for contrast, in pixels.

    The code-space blend decodes ``(1 - w) * encoder(a) + w * encoder(b)``; the pixel-space
    blend is ``(1 - w) * a + w * b``. Two number boxes choose the images (indices into
    ``images``); the slider chooses ``w``.

    Returns
    -------
    Explorer
        ``controls``: ``"first"``, ``"second"``, ``"w"``; ``images``: ``"blend"``, four
        panels: image a, the code-space blend, the pixel-space blend, image b.
    """
    images = np.asarray(images, dtype=np.float32)
    image_shape = as_images(images[:1]).shape[1:]
    last = len(images) - 1
    decoder = compile_decoder(decoder)
    cache: dict[int, np.ndarray] = {}

    def code_of(index: int) -> np.ndarray:
        if index not in cache:
            batch = images[index:index + 1]
            out = encoder(batch, training=False) if hasattr(encoder, "predict") else encoder(batch)
            cache[index] = np.asarray(out, dtype=np.float32)[0]
        return cache[index]

    def blends(i: int, j: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        codes = np.stack([(1 - t) * code_of(i) + t * code_of(j) for t in weights])
        in_code = decode(decoder, codes, image_shape)
        in_pixels = as_images(np.stack([(1 - t) * images[i] + t * images[j]
                                        for t in weights]))
        return in_code, in_pixels

    def static() -> plt.Figure:
        weights = interpolate(np.zeros(1), np.ones(1), steps)[:, 0]
        in_code, in_pixels = blends(first, second, weights)
        fig = plot_image_rows([in_code, in_pixels], ["code space", "pixel space"], n=steps)
        for ax, t in zip(fig.axes[:steps], weights):
            ax.set_title(f"w = {t:.2f}", fontsize="medium")
        return fig

    show = _shows_widgets(show)
    if not show:
        return _static(static)

    w = _widgets()
    a = w.BoundedIntText(value=first, min=0, max=last, description="image a")
    b = w.BoundedIntText(value=second, min=0, max=last, description="image b")
    weight = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.01, description="w",
                           continuous_update=True, readout_format=".2f")
    blend = _image_widget(panels([np.ones(image_shape)] * 4))
    titles = w.Label(value="image a | blend of the codes, decoded | blend of the pixels | image b")

    def render() -> None:
        i, j = int(a.value), int(b.value)
        in_code, in_pixels = blends(i, j, np.array([weight.value], np.float32))
        pair = as_images(images[[i, j]])
        blend.value = png(panels([pair[0], in_code[0], in_pixels[0], pair[1]]))

    layout = w.VBox([w.HBox([a, b]), weight, titles, w.HBox([blend])])
    explorer = Explorer({"first": a, "second": b, "w": weight}, {"blend": blend}, layout,
                        render)

    return _shown(explorer, show)


# --- 3: a traversal along principal directions ---------------------------------------------

def principal_directions(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Principal directions of a set of codes (rows of the first result, unit length, by
    decreasing variance) and the standard deviation of the codes along each."""
    codes = np.asarray(codes, dtype=np.float64)
    centred = codes - codes.mean(axis=0)
    _, singular, directions = np.linalg.svd(centred, full_matrices=False)
    return directions.astype(np.float32), (singular / np.sqrt(len(codes))).astype(np.float32)


def explore_traversal(
    decoder: Decoder,
    codes: np.ndarray,
    images: np.ndarray,
    index: int = 0,
    span: float = 3.0,
    steps: int = 9,
    show: bool | None = None,
) -> Explorer:
    """Walk from one image's code along a principal direction of all the codes.

    The code is ``codes[index] + t * s_k * v_k``, with ``v_k`` the k-th principal direction
    of ``codes`` and ``s_k`` the codes' standard deviation along it, so ``t`` counts
    standard deviations of the codes' cloud; the slider covers ``[-span, span]``.

    Returns
    -------
    Explorer
        ``controls``: ``"index"``, ``"direction"`` (0 = the first principal direction),
        ``"t"``; ``images``: ``"traversal"``, three panels: the image, its code decoded,
        the moved code decoded.
    """
    codes = np.asarray(codes, dtype=np.float32)
    images = np.asarray(images, dtype=np.float32)
    image_shape = as_images(images[:1]).shape[1:]
    decoder = compile_decoder(decoder)
    directions, spreads = principal_directions(codes)
    shares = spreads**2 / np.sum(spreads**2)
    options = [(f"PC {k + 1} ({share:.0%} of the variance)", k)
               for k, share in enumerate(shares)]
    def moved(i: int, k: int, ts: np.ndarray) -> np.ndarray:
        return codes[i] + ts[:, None] * spreads[k] * directions[k]

    def static() -> plt.Figure:
        ts = np.linspace(-span, span, steps).astype(np.float32)
        shown = min(3, len(directions))
        rows = [decode(decoder, moved(index, k, ts), image_shape) for k in range(shown)]
        fig = plot_image_rows(rows, [f"PC {k + 1}" for k in range(shown)], n=steps)
        for ax, value in zip(fig.axes[:steps], ts):
            ax.set_title(f"t = {value:+.1f}", fontsize="medium")
        return fig

    show = _shows_widgets(show)
    if not show:
        return _static(static)

    w = _widgets()
    chosen = w.BoundedIntText(value=index, min=0, max=len(codes) - 1, description="image")
    direction = w.Dropdown(options=options, value=0, description="direction")
    t = w.FloatSlider(value=0.0, min=-span, max=span, step=0.05, description="t (std)",
                      continuous_update=True, readout_format=".2f")
    traversal = _image_widget(panels([np.ones(image_shape)] * 3))
    titles = w.Label(value="image | its code, decoded | the moved code, decoded")

    def render() -> None:
        i, k = int(chosen.value), int(direction.value)
        pair = decode(decoder, moved(i, k, np.array([0.0, t.value], np.float32)), image_shape)
        traversal.value = png(panels([as_images(images[i:i + 1])[0], pair[0], pair[1]]))

    layout = w.VBox([w.HBox([chosen, direction]), t, titles, w.HBox([traversal])])
    explorer = Explorer({"index": chosen, "direction": direction, "t": t},
                        {"traversal": traversal}, layout, render)

    return _shown(explorer, show)
