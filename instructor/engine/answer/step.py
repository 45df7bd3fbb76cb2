"""One training step of a model, taken the same way on both sides: by the answer process
on the student's model, and by the checking process on its copy
(:meth:`instructor.engine.remote.AnswerChannel._differs`). Runs no student code of its
own: it is given a model.
"""

from __future__ import annotations

import json


def arrays(value):
    import numpy as np

    if isinstance(value, list | tuple):
        return [np.asarray(v) for v in value]
    return np.asarray(value)


def training_step(model, x, y, train: bool = True) -> dict:
    """What ``model`` does with the batch ``(x, y)`` (the same code here and in the
    checker, on the student's model and on its copy): its outputs, which weights train,
    its optimizer's class and configuration, and, compiled and ``train``, one training
    step's loss and every weight after it, its random layers drawing from one fixed seed;
    then its weights, optimizer state, seeds and metrics are put back."""
    import keras
    import numpy as np

    trains = {id(v) for v in model.trainable_weights}
    done = {"outputs": arrays(model(x)), "trainable": [id(v) in trains for v in model.weights]}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(model, "compiled", False):
        return done
    done["optimizer"] = type(optimizer).__name__ + json.dumps(optimizer.get_config(),
                                                              sort_keys=True, default=str)
    if not train:
        return done
    if not optimizer.built:  # as its first step would, on the weights that train
        optimizer.build(model.trainable_variables)
    weights = model.get_weights()
    state = [np.array(keras.ops.convert_to_numpy(v)) for v in optimizer.variables]
    # the same draws on both sides (no file holds a seed generator's state)
    seeds = [g.state for layer in model._flatten_layers()
             for g in getattr(layer, "_seed_generators", [])]
    drawn = [np.array(keras.ops.convert_to_numpy(v)) for v in seeds]
    for v in seeds:
        v.assign(np.full(v.shape, 1, dtype=v.dtype))
    eager, function = model.run_eagerly, model.train_function
    model.run_eagerly = True  # no tracing for one step, unless fit has its function made
    try:
        logs = model.train_on_batch(x, y, return_dict=True)
        done["loss"] = float(logs["loss"]) if "loss" in logs else None
        done["weights"] = [np.asarray(w) for w in model.get_weights()]
    finally:
        model.set_weights(weights)
        for variable, value in [*zip(optimizer.variables, state, strict=False),
                                *zip(seeds, drawn, strict=True)]:
            variable.assign(value)
        model.reset_metrics()
        model.run_eagerly, model.train_function = eager, function
    return done
