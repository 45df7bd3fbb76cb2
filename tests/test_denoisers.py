"""helpers.denoisers: the DDIM update, the sampler's steps, the Fréchet distance and the
multiply-add count, on cases whose answers are known."""

import numpy as np
import pytest

from helpers import denoisers
from helpers.diffusion import alphas_cumprod, q_sample


def test_a_ddim_step_with_the_true_noise_lands_on_q_sample_of_the_earlier_step():
    abar = alphas_cumprod()
    rng = np.random.default_rng(0)
    x0, noise = rng.normal(size=(3, 8, 8, 4)), rng.normal(size=(3, 8, 8, 4))
    x_t = q_sample(x0, np.full(3, 700), noise, abar)
    x_prev = denoisers.ddim_step(x_t, noise, 700, 400, abar, eta=0.0)
    np.testing.assert_allclose(x_prev, q_sample(x0, np.full(3, 400), noise, abar), atol=1e-10)
    np.testing.assert_allclose(denoisers.ddim_step(x_t, noise, 700, -1, abar), x0, atol=1e-10)


def test_eta_0_is_deterministic_and_eta_1_adds_the_posterior_variance():
    abar = alphas_cumprod()
    x_t, eps = np.ones((2000, 4)), np.zeros((2000, 4))
    one = denoisers.ddim_step(x_t, eps, 500, 499, abar, 0.0, np.random.default_rng(1))
    two = denoisers.ddim_step(x_t, eps, 500, 499, abar, 0.0, np.random.default_rng(2))
    np.testing.assert_array_equal(one, two)
    noisy = denoisers.ddim_step(x_t, eps, 500, 499, abar, 1.0, np.random.default_rng(1))
    beta_tilde = (1 - abar[499]) / (1 - abar[500]) * (1 - abar[500] / abar[499])
    assert np.var(noisy - one) == pytest.approx(beta_tilde, rel=0.05)


def test_the_sampler_steps_run_from_the_last_step_to_0_without_repeats():
    steps = denoisers.schedule_steps(1000, 50)
    assert steps[0] == 999 and steps[-1] == 0 and len(steps) == 50
    assert np.all(np.diff(steps) < 0)
    assert list(denoisers.schedule_steps(1000, 1000)) == list(range(999, -1, -1))


def test_frechet_distance_of_a_set_with_itself_is_0_and_of_gaussians_is_known():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 6))
    assert denoisers.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    # one dimension: (m1 - m2)^2 + (s1 - s2)^2, with the sets' own means and spreads
    x, y = rng.normal(1, 2, size=(400, 1)), rng.normal(-1, 0.5, size=(300, 1))
    expected = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert denoisers.frechet_distance(x, y) == pytest.approx(expected, rel=1e-9)


def test_multiply_adds_count_every_kernel_tap():
    import keras

    model = keras.Sequential([keras.Input((8, 8, 4)),
                              keras.layers.Conv2D(16, 3, padding="same"),
                              keras.layers.Conv2D(8, 3, strides=2, padding="same"),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    assert denoisers.multiply_adds(model) == 64 * 9 * 4 * 16 + 16 * 9 * 16 * 8 + 128 * 10


def test_the_denoiser_maps_a_grid_to_a_grid_of_its_shape():
    model = denoisers.build_denoiser((8, 8, 4), width=8)
    x = np.zeros((2, 8, 8, 4), "float32")
    out = denoisers.predict_noise(model, x, 10, np.array([3, 4]), guidance=2.0)
    assert out.shape == x.shape


def test_with_the_true_noise_any_eta_keeps_the_marginal_of_the_earlier_step():
    # x_0 = 0: x_t = sqrt(1 - abar_t) * noise; the step to t' must have variance 1 - abar_t'
    abar = alphas_cumprod()
    noise = np.random.default_rng(3).normal(size=(20_000, 4))
    x_t = q_sample(np.zeros_like(noise), np.full(len(noise), 500), noise, abar)
    for eta in (0.0, 0.5, 1.0):
        x_prev = denoisers.ddim_step(x_t, noise, 500, 100, abar, eta, np.random.default_rng(4))
        assert np.var(x_prev) == pytest.approx(1 - abar[100], rel=0.03), eta
