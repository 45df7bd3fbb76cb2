"""Tests for helpers.history: training-curve figures."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers.history import plot_history

matplotlib.use("Agg")



class FakeHistory:
    """Stands in for keras.callbacks.History: only the ``.history`` dict matters."""

    def __init__(self, history):
        self.history = history
        self.epoch = list(range(len(next(iter(history.values())))))


@pytest.fixture
def vae_history():
    """A VAE-like history where 'loss' is not the first key."""
    return {
        "kl_loss": [3.0, 2.0, 1.5],
        "loss": [10.0, 8.0, 7.0],
        "reconstruction_loss": [7.0, 6.0, 5.5],
        "val_loss": [11.0, 9.0, 8.5],
    }


def curves(ax):
    """{legend label: (x, y)} of the lines in ``ax``."""
    return {line.get_label(): (line.get_xdata(), line.get_ydata()) for line in ax.get_lines()}


def test_plot_history_one_axes_per_metric_loss_first(vae_history):
    fig = plot_history(vae_history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "kl_loss", "reconstruction_loss"]
    assert all(ax.get_xlabel() == "epoch" for ax in fig.axes)


def test_plot_history_train_and_validation_in_same_axes(vae_history):
    fig = plot_history(vae_history)
    loss = curves(fig.axes[0])
    assert set(loss) == {"train", "validation"}
    np.testing.assert_array_equal(loss["train"][0], [1, 2, 3])
    np.testing.assert_array_equal(loss["train"][1], vae_history["loss"])
    np.testing.assert_array_equal(loss["validation"][1], vae_history["val_loss"])
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["train", "validation"]
    assert set(curves(fig.axes[1])) == {"train"}


def test_plot_history_accepts_keras_like_history():
    history = FakeHistory({"loss": [0.3, 0.2], "rounded_accuracy": [0.8, 0.9],
                           "val_loss": [0.35, 0.25], "val_rounded_accuracy": [0.78, 0.88]})
    fig = plot_history(history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "rounded_accuracy"]
    acc = curves(fig.axes[1])
    np.testing.assert_array_equal(acc["validation"][1], [0.78, 0.88])


def test_plot_history_selects_metrics(vae_history):
    fig = plot_history(vae_history, metrics=["reconstruction_loss", "kl_loss"])
    assert [ax.get_title() for ax in fig.axes] == ["reconstruction_loss", "kl_loss"]
    fig = plot_history(vae_history, metrics="kl_loss")
    assert [ax.get_title() for ax in fig.axes] == ["kl_loss"]


def test_plot_history_wraps_many_metrics_into_rows():
    history = {f"m{i}": [float(i)] for i in range(5)}
    fig = plot_history(history)
    assert len(fig.axes) == 5
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == (2, 3)


def test_plot_history_single_epoch_is_visible():
    fig = plot_history({"loss": [0.5], "val_loss": [0.6]})
    ax = fig.axes[0]
    for line in ax.get_lines():
        assert line.get_marker() == "o"
        assert len(line.get_xdata()) == 1
    assert ax.get_xlim() == (0.5, 1.5)
    ticks = [t for t in ax.get_xticks() if 0.5 <= t <= 1.5]
    assert ticks == [1.0]


def test_plot_history_uses_given_figure(vae_history):
    given = plt.figure()
    assert plot_history(vae_history, metrics=["loss"], fig=given) is given
    assert len(given.axes) == 1


def test_plot_history_unknown_metric(vae_history):
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['accuracy'\]"):
        plot_history(vae_history, metrics=["loss", "accuracy"])


def test_plot_history_empty():
    with pytest.raises(ValueError, match="empty"):
        plot_history({})


def test_plot_history_rejects_other_objects():
    with pytest.raises(TypeError, match="Keras History or a dict of per-epoch values"):
        plot_history([0.1, 0.2])
