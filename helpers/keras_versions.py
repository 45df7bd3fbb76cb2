"""What differs between the Keras versions the course runs on (3.13, Colab's, to 3.15).

Keras 3.15 divides an activity-regularization loss by the batch size when a layer records
it; Keras 3.13 records the sum over the batch. The same ``activity_regularizer=L1(lam)``
therefore trains a penalty as many times stronger on 3.13 as the batch has examples.
:func:`activity_weight` gives the weight that trains the same objective on either.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.cache
def activity_loss_is_averaged() -> bool:
    """Whether this Keras divides a recorded activity loss by the batch size (3.15 does,
    3.13 does not), measured on a one-unit layer and a batch of two."""
    import keras

    layer = keras.layers.Activation("linear", activity_regularizer=keras.regularizers.L1(1.0))
    layer(np.ones((2, 1), dtype=np.float32))
    return abs(sum(float(keras.ops.convert_to_numpy(loss)) for loss in layer.losses) - 1.0) < 1e-6


def activity_weight(lambtha: float, batch_size: int) -> float:
    """The weight to give a Keras activity regularizer so that, in batches of
    ``batch_size``, it costs ``lambtha`` times the penalty per example, averaged over the
    batch: ``lambtha`` itself where Keras averages, ``lambtha / batch_size`` where it sums.

    On a Keras that sums, a last, smaller batch of ``n`` examples is still divided by
    ``batch_size``, so its penalty counts ``n / batch_size`` as much as where Keras averages.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    return float(lambtha) if activity_loss_is_averaged() else float(lambtha) / batch_size
