"""Draw every plotting helper on real data and save the figures as PNGs, for a visual check.

Models are stand-ins (PCA fitted on MNIST), so the script needs no TensorFlow and runs in
well under a minute:

    python scripts/make_helper_gallery.py --data /work/shared/data /tmp/helper_pngs
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from scipy.ndimage import zoom
from sklearn.decomposition import PCA

from helpers.figures import save_figure
from helpers.history import plot_history
from helpers.images import (
    plot_image_rows,
    plot_images,
    plot_reconstructions,
    plot_triplets,
)
from helpers.latent import (
    plot_interpolation,
    plot_latent_scatter,
    plot_manifold,
)

matplotlib.use("Agg")

DIGIT_NAMES = [str(d) for d in range(10)]
CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]


class PCAAutoencoder:
    """Stand-in autoencoder: PCA codes scaled to unit variance, Keras-like ``predict``."""

    def __init__(self, x_flat: np.ndarray, latent_dims: int) -> None:
        self.pca = PCA(n_components=latent_dims, random_state=0).fit(x_flat)
        self.scale = np.sqrt(self.pca.explained_variance_)

    def encode(self, x_flat: np.ndarray) -> np.ndarray:
        """Flat images -> unit-variance codes."""
        return self.pca.transform(x_flat) / self.scale

    def predict(self, z: np.ndarray, verbose: int = 0) -> np.ndarray:
        """Codes -> images of shape (k, 28, 28, 1) in [0, 1] (like a Keras decoder)."""
        flat = self.pca.inverse_transform(np.asarray(z) * self.scale)
        return np.clip(flat, 0.0, 1.0).reshape(-1, 28, 28, 1)


def fake_history(epochs: int, rng: np.random.Generator) -> dict[str, list[float]]:
    """A VAE-like history with decreasing, slightly noisy curves."""
    t = np.arange(epochs)
    recon = 60 + 40 * np.exp(-t / 4) + rng.normal(0, 0.5, epochs)
    kl = 8 + 6 * (1 - np.exp(-t / 3)) + rng.normal(0, 0.2, epochs)
    val_recon = recon + 2 + 0.15 * t
    return {
        "kl_loss": kl.tolist(),
        "loss": (recon + kl).tolist(),
        "reconstruction_loss": recon.tolist(),
        "val_kl_loss": (kl + 0.3).tolist(),
        "val_loss": (val_recon + kl + 0.3).tolist(),
        "val_reconstruction_loss": val_recon.tolist(),
    }


def make_gallery(data_dir: Path, out_dir: Path) -> list[Path]:
    """Draw every helper and save the PNGs in ``out_dir``; return the paths."""
    rng = np.random.default_rng(0)
    with np.load(data_dir / "mnist.npz") as mnist:
        x_train = mnist["x_train"][:10000].astype(np.float32) / 255
        x_test_raw = mnist["x_test"][:2000]
        y_test = mnist["y_test"][:2000]
    x_test = x_test_raw.astype(np.float32) / 255
    flat_train, flat_test = x_train.reshape(-1, 784), x_test.reshape(-1, 784)
    ae2 = PCAAutoencoder(flat_train, 2)
    ae32 = PCAAutoencoder(flat_train, 32)
    saved: list[Path] = []

    def save(fig, name: str) -> None:
        saved.append(save_figure(fig, out_dir / f"{name}.png"))
        plt.close(fig)

    # images.py
    save(plot_images(x_test[:10], titles=[str(y) for y in y_test[:10]]), "images_row_titles")
    save(plot_images(x_test_raw[:30]), "images_grid_uint8")
    recon = ae32.predict(ae32.encode(flat_test[:10]))
    save(plot_reconstructions(x_test[:10], recon), "reconstructions")
    noisy = np.clip(x_test + rng.normal(0, 0.4, x_test.shape), 0, 1)
    denoised = ae32.predict(ae32.encode(noisy[:8].reshape(-1, 784)))
    save(plot_triplets(noisy, denoised, x_test, row_titles=("noisy", "denoised", "clean")),
         "triplets_denoising")
    low = x_test[:8].reshape(8, 14, 2, 14, 2).mean(axis=(2, 4))
    nearest = low.repeat(2, axis=1).repeat(2, axis=2)
    bicubic = np.clip(zoom(low, (1, 2, 2), order=3), 0, 1)
    network = ae32.predict(ae32.encode(bicubic.reshape(-1, 784)))
    save(plot_triplets(low, network, x_test, row_titles=("low-res", "predicted", "high-res")),
         "triplets_super_resolution")
    save(plot_image_rows([low, nearest, bicubic, network, x_test],
                         ["low-res 14x14", "nearest", "bicubic", "network", "truth"]),
         "image_rows_super_resolution")
    cifar_path = data_dir / "cifar10.npz"
    if cifar_path.exists():
        with np.load(cifar_path) as cifar:
            colour = cifar["x_test"][:8].astype(np.float32) / 255
        gray = colour.mean(axis=-1, keepdims=True)
        predicted = 0.6 * colour + 0.4 * gray
        save(plot_triplets(gray, predicted, colour,
                           row_titles=("gray", "predicted", "true colour")),
             "triplets_colourisation")

    # history.py
    save(plot_history(fake_history(30, rng)), "history_vae")
    save(plot_history({"loss": [0.21], "val_loss": [0.19], "rounded_accuracy": [0.91],
                       "val_rounded_accuracy": [0.93]}), "history_single_epoch")

    # latent.py
    codes2 = ae2.encode(flat_test)
    save(plot_latent_scatter(codes2, y_test, images=x_test, n_thumbnails=30),
         "latent_scatter_2d_thumbnails")
    save(plot_latent_scatter(ae32.encode(flat_test[:1500]), y_test[:1500],
                             class_names=[f"digit {d}" for d in DIGIT_NAMES]),
         "latent_scatter_tsne")
    save(plot_latent_scatter(codes2, x_test.mean(axis=(1, 2))), "latent_scatter_colorbar")
    save(plot_manifold(ae2, n=15, span=3.0), "manifold")
    save(plot_manifold(ae32, n=9, span=2.0, dims=(2, 3), latent_dims=32), "manifold_dims_2_3")
    one, seven = codes2[y_test == 1][0], codes2[y_test == 7][0]
    save(plot_interpolation(ae2, one, seven, steps=10), "interpolation")
    save(plot_interpolation(ae32.predict, ae32.encode(flat_test[:1]),
                            ae32.encode(flat_test[1:2]), steps=8), "interpolation_callable")
    return saved


def main() -> None:
    """Parse arguments and write the gallery."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("/tmp/helper_pngs"),
                        help="output folder (default: /tmp/helper_pngs)")
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"),
                        help="folder with mnist.npz (and optionally cifar10.npz)")
    args = parser.parse_args()
    for path in make_gallery(args.data, args.out):
        print(path)


if __name__ == "__main__":
    main()
