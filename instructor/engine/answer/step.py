"""What a model does through each public method the checks use, taken the same way on
both sides: by the answer process on the student's model, and by the checking process on
its copy (:meth:`instructor.engine.remote.AnswerChannel.proof`). Runs no student code of
its own: it is given a model.
"""

from __future__ import annotations

import json


def arrays(value):
    import numpy as np

    if isinstance(value, list | tuple):
        return [np.asarray(v) for v in value]
    return np.asarray(value)


def _logs(logs) -> list:
    import numpy as np

    if isinstance(logs, dict):  # fit's history: the last epoch's
        return [float(np.ravel(v)[-1]) for _, v in sorted(logs.items())]
    return [float(v) for v in np.ravel(logs)]


#: The functions Keras makes on a model's first predict, evaluate and training (put back).
FUNCTIONS = ("predict_function", "test_function", "train_function")


def behaviour(model, x, y) -> dict:
    """What ``model`` does with the batch ``(x, y)`` through Keras' public API: its weights,
    which of them train, its outputs called and by ``predict``; compiled, its optimizer's
    class and settings, ``evaluate``'s and ``test_on_batch``'s losses, and for one step of
    ``train_on_batch`` and of ``fit`` each, the loss, every weight and ``predict`` after
    it, random layers drawing from one fixed seed. Run eagerly (no tracing; a function
    the model was given is still the one run), then its weights, optimizer state, seeds,
    metrics and functions are put back."""
    import keras
    import numpy as np

    trains = {id(v) for v in model.trainable_weights}
    done = {"weights": arrays(model.get_weights()), "outputs": arrays(model(x)),
            "trainable": [id(v) in trains for v in model.weights]}
    optimizer = getattr(model, "optimizer", None)
    compiled = optimizer is not None and getattr(model, "compiled", False)
    if compiled and not getattr(optimizer, "built", False):  # as its first step would
        optimizer.build(model.trainable_variables)  # (tf_keras': built once, no flag)
    weights = model.get_weights()
    state = [np.array(keras.ops.convert_to_numpy(v)) for v in
             (optimizer.variables if compiled else [])]
    # the same draws on both sides (no file holds a seed generator's state): Keras 3
    # counts seed generators' states among a model's variables, not its weights
    weighted = {id(v) for v in model.weights}
    seeds = [v for v in model.variables if id(v) not in weighted]
    drawn = [np.array(keras.ops.convert_to_numpy(v)) for v in seeds]
    functions, eager = {n: getattr(model, n, None) for n in FUNCTIONS}, model.run_eagerly

    def seeded():
        for v in seeds:
            v.assign(np.full(v.shape, 1, dtype=v.dtype))

    def put_back():
        if compiled and len(optimizer.variables) != len(state):
            raise RuntimeError("the optimizer's state could not be put back")
        model.set_weights(weights)
        for variable, value in [*zip(optimizer.variables if compiled else [], state, strict=True),
                                *zip(seeds, drawn, strict=True)]:
            variable.assign(value)
        if compiled:
            model.reset_metrics()

    model.run_eagerly = True
    try:
        done["predict"] = arrays(model.predict(x, verbose=0))
        if not compiled:
            return done
        done["optimizer"] = type(optimizer).__name__ + json.dumps(optimizer.get_config(),
                                                                  sort_keys=True, default=str)
        seeded()
        done["evaluate"] = _logs(model.evaluate(x, y, verbose=0, return_dict=True))
        seeded()
        done["test_on_batch"] = _logs(model.test_on_batch(x, y, return_dict=True))
        for name, step in (
                ("train_on_batch", lambda: model.train_on_batch(x, y, return_dict=True)),
                ("fit", lambda: model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False,
                                          verbose=0).history)):
            put_back()
            seeded()
            done[name] = _logs(step())
            done[f"{name} weights"] = arrays(model.get_weights())
            done[f"{name} predict"] = arrays(model.predict(x, verbose=0))
    finally:
        put_back()
        model.run_eagerly = eager
        for name, function in functions.items():
            setattr(model, name, function)
    return done
