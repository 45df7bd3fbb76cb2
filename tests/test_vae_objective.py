"""Notebook 09's objective: the loss it optimizes is reconstruction + beta * KL, KL counted once.

Runs the notebook's own cells that define the data, the prior, the model and the loss
(tags ``grade-setup``, ``checkpoint-demo``, ``vae-objective``; no training), then a check
cell that recomputes the loss of fresh models (random weights, 8 validation images) with
plain NumPy: the closed-form KL between the encoder's Gaussian (its mean and scale_tril)
and the standard normal, and the Bernoulli negative log-likelihood (binary cross-entropy
summed over pixels) of the images under the decoder's logits at the code the decoder was
given. A KL counted twice, a missing or misplaced beta, or a loss that is not the sum of
the two terms fails it.
"""

from __future__ import annotations

import pytest

from tests.test_tfp_checkpoint import run_tagged_cells

TAGS = {"grade-setup", "checkpoint-demo", "vae-objective"}

CHECK = r'''
import types


def numpy_kl(mean, scale_tril):
    """KL(N(mean, L L^T) || N(0, I)) per row, in closed form."""
    k = mean.shape[-1]
    trace = np.sum(scale_tril.astype("float64") ** 2, axis=(-2, -1))
    log_det = 2 * np.sum(np.log(np.abs(np.diagonal(scale_tril, axis1=-2, axis2=-1))), axis=-1)
    return 0.5 * (trace + np.sum(mean.astype("float64") ** 2, axis=-1) - k - log_det)


def numpy_bce(x, logits):
    """-log p(x) under independent Bernoulli(sigmoid(logits)), summed over pixels, per image."""
    x, logits = x.astype("float64"), logits.astype("float64")
    per_pixel = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
    return per_pixel.reshape(len(x), -1).sum(axis=1)


class RecordingDecoder:
    """The model's decoder, remembering the code it was given and the logits it returned."""

    def __init__(self, decoder):
        self.decoder, self.seen = decoder, []

    def __call__(self, z, training=False):
        likelihood = self.decoder(z, training=training)
        self.seen.append((tf.convert_to_tensor(z).numpy(),
                          likelihood.distribution.logits.numpy()))
        return likelihood


x = x_val[:8]
assert set(np.unique(x)) <= {0.0, 1.0}, "binarized images expected"
for seed, test_beta in ((1, 0.5), (2, 3.0)):
    tf_keras.utils.set_random_seed(seed)
    model = ProbabilisticVAE(latent_dims, test_beta)
    model(x)
    posterior = model.encoder(x)
    kl_np = numpy_kl(posterior.mean().numpy(), posterior.scale.to_dense().numpy())
    assert np.all(kl_np > 0.1), kl_np

    # loss_terms, the function the training step differentiates, on the same code z
    decoder = RecordingDecoder(model.decoder)
    view = types.SimpleNamespace(encoder=model.encoder, decoder=decoder, beta=model.beta)
    loss, reconstruction, kl = (float(v) for v in loss_terms(view, x, training=True))
    (z, logits), = decoder.seen
    reconstruction_np = numpy_bce(x, logits).mean()
    expected = reconstruction_np + test_beta * kl_np.mean()
    assert np.isclose(kl, kl_np.mean(), rtol=1e-4, atol=1e-4), (kl, kl_np.mean())
    assert np.isclose(reconstruction, reconstruction_np, rtol=1e-5), (reconstruction,
                                                                      reconstruction_np)
    assert np.isclose(loss, expected, rtol=1e-5), (test_beta, loss, expected)
    assert not model.losses, f"the layers add losses of their own: {model.losses}"

    # the training step returns the loss it took the gradient of, before its update
    step = tf.function(train_step.python_function)
    optimizer_ = tf_keras.optimizers.Adam(learning_rate=1e-3)
    step_loss, step_reconstruction, step_kl = (float(v) for v in step(model, optimizer_, x))
    assert np.isclose(step_kl, kl_np.mean(), rtol=1e-4, atol=1e-4), (step_kl, kl_np.mean())
    assert np.isclose(step_loss - step_reconstruction, test_beta * kl_np.mean(),
                      rtol=1e-3, atol=1e-3), (test_beta, step_loss, step_reconstruction, kl_np)
    after = numpy_kl(model.encoder(x).mean().numpy(),
                     model.encoder(x).scale.to_dense().numpy())
    assert not np.allclose(after, kl_np), "the step did not change the encoder"
    print(f"beta {test_beta}: loss {loss:.4f} = reconstruction {reconstruction_np:.4f} "
          f"+ beta * KL {kl_np.mean():.4f}")
print("OBJECTIVE-OK")
'''


@pytest.mark.notebook
def test_loss_is_reconstruction_plus_beta_times_one_kl(data_env, tmp_path):
    text = run_tagged_cells(TAGS, CHECK, data_env, tmp_path)
    assert "OBJECTIVE-OK" in text, text
