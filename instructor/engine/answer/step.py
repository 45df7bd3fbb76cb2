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
#: Public methods the checks call whose work the proof runs by a cheaper route of the same
#: functions (``predict_on_batch``, ``test_on_batch``, ``train_on_batch``): the model's own
#: must be its class's (:func:`shadowed`).
ROUTED = ("predict", "evaluate", "fit")
#: The proof's name for :func:`shadowed`'s answer (none on the checker's copy).
ROUTED_KEY = "own fit, predict and evaluate"


def shadowed(model) -> list[str]:
    """Which of :data:`ROUTED` the model answers with another method than its class's."""
    return [name for name in ROUTED if getattr(getattr(model, name, None), "__func__", None)
            is not getattr(type(model), name, None)
            or getattr(getattr(model, name), "__self__", None) is not model]


def behaviour(model, x, y, full: bool = True, weights=None, rate=None) -> dict:
    """What ``model`` does with the batch ``(x, y)`` through Keras' public API, from
    ``weights`` and learning rate ``rate`` if given: its weights, which of them train, its
    outputs, called and by ``predict_on_batch``; compiled, its optimizer's class and
    settings. And ``full`` and compiled: ``test_on_batch``'s loss and one step of
    ``train_on_batch``: its loss, every weight and ``predict_on_batch`` after it. Each
    draws from the model's own seed generators, set alike (a layer drawing from Keras'
    global generator draws otherwise on each side: not proven). Run eagerly (no
    tracing; a function the model was given is still the one run), then its weights,
    learning rate, optimizer state, seeds, metrics and functions are put back."""
    import keras
    import numpy as np

    optimizer = getattr(model, "optimizer", None)
    compiled = optimizer is not None and getattr(model, "compiled", False)
    if full and compiled and not getattr(optimizer, "built", False):  # as a first step would
        optimizer.build(model.trainable_variables)  # (tf_keras': built once, no flag)
    original = model.get_weights()
    was = float(np.asarray(optimizer.learning_rate)) if compiled and rate is not None else None
    state = [np.array(keras.ops.convert_to_numpy(v)) for v in
             (optimizer.variables if compiled and full else [])]
    # the same draws on both sides (no file holds a seed generator's state): Keras 3
    # counts seed generators' states among a model's variables, not its weights
    weighted = {id(v) for v in model.weights}
    seeds = [v for v in model.variables if id(v) not in weighted]
    drawn = [np.array(keras.ops.convert_to_numpy(v)) for v in seeds]
    functions, eager = {n: getattr(model, n, None) for n in FUNCTIONS}, model.run_eagerly

    def put_back(weights, rate):
        if state and len(optimizer.variables) != len(state):
            raise RuntimeError("the optimizer's state could not be put back")
        model.set_weights(weights)
        for variable, value in [*zip(optimizer.variables if state else [], state,
                                     strict=True), *zip(seeds, drawn, strict=True)]:
            variable.assign(value)
        if rate is not None:
            optimizer.learning_rate = rate
        if compiled and full:
            model.reset_metrics()

    def seeded(run):  # the model's own generators from one state on both sides (no global
        for v in seeds:  # seeding: TF's set_seed clears its kernel cache, 2-3 x a proof)
            v.assign(np.full(v.shape, 1, dtype=v.dtype))
        return run()

    model.run_eagerly = True
    try:
        put_back(original if weights is None else weights, rate)
        trains = {id(v) for v in model.trainable_weights}
        done = {"weights": arrays(model.get_weights()),
                "outputs": arrays(seeded(lambda: model(x))),
                "trainable": [id(v) in trains for v in model.weights]}
        if compiled:
            done["optimizer"] = type(optimizer).__name__ + json.dumps(
                optimizer.get_config(), sort_keys=True, default=str)
        done["predict"] = arrays(seeded(lambda: model.predict_on_batch(x)))
        for name in ("test_on_batch", "train_on_batch") if compiled and full else ():
            done[name] = _logs(seeded(lambda n=name: getattr(model, n)(x, y, return_dict=True)))
        if compiled and full:
            done["weights after training"] = arrays(model.get_weights())
            done["predict after training"] = arrays(seeded(lambda: model.predict_on_batch(x)))
    finally:
        put_back(original, was)
        model.run_eagerly = eager
        for name, function in functions.items():
            setattr(model, name, function)
    return done
