"""helpers.grading.evidence: records of graded calls, and playing them back elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.grading import evidence


def _roundtrip(tmp_path, function, *calls):
    namespace = {"f": function}
    evidence.wrap(namespace, ["f"], tmp_path)
    results = [namespace["f"](*args) for args in calls]
    evidence.unwrap(namespace, ["f"])
    assert namespace["f"] is function
    return results, lambda: evidence.Replay(tmp_path)


def test_arrays_and_numbers_are_played_back(tmp_path):
    x = np.arange(6.0).reshape(2, 3)
    results, replay = _roundtrip(tmp_path, lambda a, k: (a * k, float(k), [k, "s"]), (x, 2))
    got = replay().function("f")(x, 2)
    assert np.array_equal(got[0], results[0][0]) and got[1:] == (2.0, [2, "s"])


def test_other_arguments_do_not_match(tmp_path):
    _, replay = _roundtrip(tmp_path, lambda a: a + 1, (np.zeros(3),))
    with pytest.raises(evidence.ReplayMismatch, match="other arguments"):
        replay().function("f")(np.ones(3))


def test_a_call_that_was_not_recorded_fails(tmp_path):
    _, replay = _roundtrip(tmp_path, lambda a: a, (1,))
    played = replay().function("f")
    played(1)
    with pytest.raises(evidence.ReplayMismatch, match="recorded 1 call"):
        played(1)


def test_no_records_at_all_fail_every_call(tmp_path):
    replay = evidence.Replay(tmp_path / "nothing")
    with pytest.raises(evidence.ReplayMismatch):
        replay.function("f")(1)


def test_changed_arguments_are_changed_again(tmp_path):
    def scale(a):
        a *= 2
        return a.sum()

    x = np.ones(3)
    _roundtrip(tmp_path, scale, (x,))
    y = np.ones(3)
    assert evidence.Replay(tmp_path).function("f")(y) == 6.0
    assert np.array_equal(y, [2.0, 2.0, 2.0])


def test_an_exception_is_raised_again_with_its_message(tmp_path):
    def broken(a):
        raise NotImplementedError("exercise not done yet")

    namespace = {"f": broken}
    evidence.wrap(namespace, ["f"], tmp_path)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)
    with pytest.raises(Exception, match="exercise not done yet") as info:
        evidence.Replay(tmp_path).function("f")(1)
    assert type(info.value).__name__ == "NotImplementedError"


def test_unrecordable_values_make_the_cell_unreplayable(tmp_path):
    _roundtrip(tmp_path, lambda: object(), ())
    with pytest.raises(evidence.NotReplayable, match="object"):
        evidence.Replay(tmp_path)


def test_models_keep_nesting_and_weights(tmp_path):
    import keras

    def build(n):
        x = keras.Input(shape=(n,))
        encoder = keras.Model(x, keras.layers.Dense(2)(x), name="encoder")
        z = keras.Input(shape=(2,))
        decoder = keras.Model(z, keras.layers.Dense(n)(z), name="decoder")
        auto = keras.Model(x, decoder(encoder(x)), name="auto")
        auto.compile(optimizer="adam", loss="mse")
        return encoder, decoder, auto

    (enc, dec, auto), = _roundtrip(tmp_path, build, (4,))[0]
    enc2, dec2, auto2 = evidence.Replay(tmp_path).function("f")(4)
    x = np.random.default_rng(0).random((3, 4)).astype("float32")
    assert np.allclose(auto2(x), auto(x)) and np.allclose(dec2(enc2(x)), auto2(x))
    assert any(layer is enc2 for layer in auto2.layers), "the encoder stays inside auto"
    assert auto2.optimizer.__class__.__name__ == "Adam"
    assert len(list(tmp_path.glob("*.keras"))) == 1


def test_models_sharing_layers_without_nesting_are_not_recordable(tmp_path):
    import keras

    def build():
        dense = keras.layers.Dense(2)
        a = keras.Input(shape=(3,))
        b = keras.Input(shape=(3,))
        return keras.Model(a, dense(a)), keras.Model(b, dense(b))

    _roundtrip(tmp_path, build, ())
    with pytest.raises(evidence.NotReplayable, match="share layers"):
        evidence.Replay(tmp_path)


def test_a_model_with_its_own_code_is_not_loaded(tmp_path):
    import keras

    class Mine(keras.layers.Layer):
        def call(self, x):
            return x * 2

    def build():
        x = keras.Input(shape=(3,))
        return keras.Model(x, Mine()(x))

    _roundtrip(tmp_path, build, ())
    with pytest.raises(evidence.NotReplayable, match="without running its own code"):
        evidence.Replay(tmp_path).function("f")()
