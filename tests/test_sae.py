"""helpers.sae: the TopK activation and the measures of notebook 12, on cases worked by hand."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from helpers import sae
from helpers.figures import description

matplotlib.use("Agg")


def test_topk_keeps_the_k_largest_in_place_ties_to_the_lower_index():
    pre = np.array([[0.5, -1.0, 2.0, 1.5], [3.0, 1.0, 1.0, -2.0]], dtype=np.float32)
    got = sae.topk_activation(pre, 2)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [[0, 0, 2.0, 1.5], [3.0, 1.0, 0, 0]])
    np.testing.assert_array_equal(sae.topk_activation(-np.ones((1, 3)), 1), [[-1, 0, 0]])


def test_topk_at_or_past_the_width_keeps_the_row_and_zero_keeps_nothing():
    pre = np.random.default_rng(0).normal(size=(3, 5))
    copy = pre.copy()
    np.testing.assert_array_equal(sae.topk_activation(pre, 5), pre)
    np.testing.assert_array_equal(sae.topk_activation(pre, 9), pre)
    assert not sae.topk_activation(pre, 0).any()
    np.testing.assert_array_equal(pre, copy)
    with pytest.raises(ValueError, match="at least 0"):
        sae.topk_activation(pre, -1)


def test_the_measures_on_small_cases():
    latents = np.array([[0, 2.0, 0], [1.0, 3.0, 0]])
    assert sae.l0(latents) == 1.5
    np.testing.assert_array_equal(sae.dead_latents(latents), [False, False, True])
    x = np.array([[0.0, 0.0], [2.0, 2.0]])
    assert sae.fvu(x, x) == 0.0
    assert sae.fvu(x, np.ones_like(x)) == 1.0          # the mean of x: nothing explained
    np.testing.assert_array_equal(sae.top_examples(np.array([[1.0], [3.0], [2.0]]), 0, 2),
                                  [1, 2])


def test_purity_counts_the_top_classes_and_leaves_rare_units_out():
    acts = np.array([[5.0, 0], [4.0, 1.0], [3.0, 0], [0.5, 0]])
    labels = np.array([1, 1, 2, 2])
    purity, best = sae.class_purity(acts, labels, top=3)
    assert purity[0] == pytest.approx(2 / 3) and best[0] == 1
    assert np.isnan(purity[1]) and best[1] == -1       # above 0 on one example only


def test_the_figures_describe_themselves():
    fig = sae.plot_frontier({"TopK": ([2, 4], [0.5, 0.3], [0.4, 0.2])}, {"zero": 2.3})
    assert "TopK" in description(fig) and "zero" in description(fig)
    fig = sae.plot_feature_geometry([np.eye(2)], ["dense"])
    assert "dense" in description(fig)
    fig = sae.plot_purity({"neurons": np.array([0.5, np.nan])})
    assert "neurons" in description(fig)
