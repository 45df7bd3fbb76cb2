"""Shared code for the autoencoders course: data, run modes, setup and figures.

Importing this package sets ``TF_CPP_MIN_LOG_LEVEL=3`` (unless already set) so that
TensorFlow, imported afterwards, keeps its C++ log lines off stderr. Everything else
is loaded on first use, so ``import helpers`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from helpers.session import quiet_tensorflow_logs

quiet_tensorflow_logs()

#: public name -> module that defines it
_EXPORTS = {
    "setup": "session", "SessionInfo": "session", "seed_everything": "session",
    "import_quietly": "session", "quiet": "session",
    "current_mode": "modes", "budget": "modes", "Budget": "modes",
    "load_dataset": "datasets", "load_mnist": "datasets", "load_fashion_mnist": "datasets",
    "load_cifar10": "datasets", "Dataset": "datasets", "DataError": "datasets",
    "DataNotFoundError": "datasets", "ChecksumError": "datasets",
    "add_noise": "transforms", "downscale": "transforms", "upscale": "transforms",
    "rgb_to_gray": "transforms", "gray_to_rgb": "transforms",
    "mse": "metrics", "psnr": "metrics", "mean_psnr": "metrics", "mean_chroma": "metrics",
    "mean_gradient": "metrics", "image_scores": "metrics", "score_table": "metrics",
    "as_images": "figures", "save_figure": "figures",
    "plot_images": "images", "plot_reconstructions": "images", "plot_triplets": "images",
    "plot_image_rows": "images",
    "plot_history": "history",
    "plot_latent_scatter": "latent", "plot_manifold": "latent",
    "plot_interpolation": "latent", "interpolate": "latent",
    "plot_code_channels": "latent",
    "explore_latent_2d": "explorers", "explore_interpolation": "explorers",
    "explore_traversal": "explorers",
    "fit_or_load": "pretrained", "TrainingRecord": "pretrained", "WeightsError": "pretrained",
    "weights_dir": "pretrained", "load_weights": "pretrained",
    "activity_weight": "keras_versions",
    "hidden_rng": "grading.hidden",
    "quantize": "codes", "code_counts": "codes", "perplexity": "codes",
    "alphas_cumprod": "diffusion", "q_sample": "diffusion", "plot_schedule": "diffusion",
    "topk_activation": "sae",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"helpers.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
