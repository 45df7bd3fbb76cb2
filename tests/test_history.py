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
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \[.accuracy.\]"):
        plot_history(vae_history, metrics=["loss", "accuracy"])


def test_plot_history_empty():
    with pytest.raises(ValueError, match="empty"):
        plot_history({})


def test_plot_history_rejects_other_objects():
    with pytest.raises(TypeError, match="Keras History or a dict of per-epoch values"):
        plot_history([0.1, 0.2])


# ---------------------------------------------------------------- several runs compared
@pytest.fixture
def two_runs():
    """Two runs to compare, as a notebook's exercise builds them."""
    return {"binary cross-entropy": FakeHistory({"loss": [0.3, 0.2, 0.1],
                                                 "val_mse": [0.03, 0.02, 0.015]}),
            "mse": {"loss": [0.05, 0.04, 0.03], "val_mse": [0.04, 0.03, 0.025]}}


def test_runs_to_compare_share_one_axes_labelled_by_their_names(two_runs):
    fig = plot_history(two_runs, metrics="val_mse")
    assert len(fig.axes) == 1
    drawn = curves(fig.axes[0])
    assert set(drawn) == {"binary cross-entropy", "mse"}
    np.testing.assert_array_equal(drawn["binary cross-entropy"][1], [0.03, 0.02, 0.015])
    np.testing.assert_array_equal(drawn["mse"][1], [0.04, 0.03, 0.025])
    np.testing.assert_array_equal(drawn["mse"][0], [1, 2, 3])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["binary cross-entropy", "mse"]
    assert "train" not in " ".join(legend)


def test_compared_runs_name_train_and_validation_when_both_are_drawn(two_runs):
    two_runs["mse"]["mse"] = [0.05, 0.04, 0.03]
    two_runs["binary cross-entropy"].history["mse"] = [0.04, 0.03, 0.02]
    fig = plot_history(two_runs, metrics="mse")
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert set(lines) == {"binary cross-entropy, train", "binary cross-entropy, validation",
                          "mse, train", "mse, validation"}
    assert lines["mse, train"].get_color() == lines["mse, validation"].get_color()
    assert lines["mse, train"].get_color() != lines["binary cross-entropy, train"].get_color()
    assert lines["mse, train"].get_linestyle() == "--"
    assert lines["mse, validation"].get_linestyle() == "-"


def test_compared_runs_one_panel_per_metric_loss_first(two_runs):
    fig = plot_history(two_runs)
    # "mse" has only validation curves in these runs, and its panel says so
    assert [ax.get_title() for ax in fig.axes] == ["loss", "val_mse"]
    assert set(curves(fig.axes[0])) == {"binary cross-entropy", "mse"}


def test_first_epoch_zero_puts_the_untrained_value_at_epoch_0():
    runs = {"whole image": {"val_loss": [0.2, 0.05, 0.04]},
            "residual": {"val_loss": [0.01, 0.008, 0.007]}}
    fig = plot_history(runs, first_epoch=0)
    ax = fig.axes[0]
    assert ax.get_title() == "val_loss"          # only validation curves: named so
    for x, _ in curves(ax).values():
        np.testing.assert_array_equal(x, [0, 1, 2])
    assert ax.get_xlim() == (-0.5, 2.5)


def test_val_name_draws_only_the_validation_curve(vae_history):
    fig = plot_history(vae_history, metrics="val_loss")
    assert set(curves(fig.axes[0])) == {"validation"}
    assert fig.axes[0].get_title() == "val_loss"


def test_a_plain_dict_of_series_is_one_run_not_a_comparison():
    fig = plot_history({"loss": [0.3, 0.2], "val_loss": [0.4, 0.3]})
    assert set(curves(fig.axes[0])) == {"train", "validation"}
