"""helpers.diffusion: DDPM's schedule, the forward process in one step, and the schedule's
figure (notebook 11)."""

import matplotlib.pyplot as plt
import numpy as np

from helpers import diffusion
from helpers.figures import description


def test_the_schedule_is_the_product_of_one_minus_the_linear_betas():
    abar = diffusion.alphas_cumprod()
    assert abar.shape == (1000,) and abar.dtype == np.float64
    assert abar[0] == 1 - 1e-4 and np.all(np.diff(abar) < 0)
    betas = 1e-4 + np.arange(1000) * (0.02 - 1e-4) / 999
    assert np.isclose(abar[-1], np.prod(1 - betas), rtol=1e-12)
    assert np.allclose(diffusion.alphas_cumprod(3, 0.1, 0.3), [0.9, 0.72, 0.504])


def test_q_sample_takes_each_example_at_its_own_step():
    rng = np.random.default_rng(0)
    abar = diffusion.alphas_cumprod()
    x0 = rng.normal(size=(3, 7, 7, 4)).astype(np.float32)
    noise = rng.normal(size=x0.shape).astype(np.float32)
    t = np.array([0, 500, 999])
    before = x0.copy(), noise.copy()
    x_t = diffusion.q_sample(x0, t, noise, abar)
    assert x_t.shape == x0.shape and x_t.dtype == np.float32
    for i, step in enumerate(t):
        expected = np.sqrt(abar[step]) * x0[i] + np.sqrt(1 - abar[step]) * noise[i]
        assert np.allclose(x_t[i], expected, rtol=1e-6, atol=1e-6)
    assert np.array_equal(x0, before[0]) and np.array_equal(noise, before[1])
    flat = diffusion.q_sample(x0.reshape(3, -1).astype(np.float64), t,
                              noise.reshape(3, -1).astype(np.float64), abar)
    assert flat.dtype == np.float64 and np.allclose(flat.reshape(x0.shape), x_t, atol=1e-6)


def test_the_schedule_figure_draws_both_panels_and_says_so():
    fig = diffusion.plot_schedule(diffusion.alphas_cumprod(), marks=[250, 500])
    try:
        weights, snr = fig.axes
        assert len(weights.lines) == 4 and snr.get_yscale() == "log"
        text = description(fig)
        assert "signal-to-noise ratio" in text and "t = 250, 500" in text
    finally:
        plt.close(fig)
