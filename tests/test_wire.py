"""instructor.engine.answer.wire: values written by the answer process (Writer) and read back
by the checking process (Reader)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from instructor.engine.answer import protocol, wire


def _roundtrip(folder, value):
    """``value`` written as the answer process writes a reply, and read back."""
    writer = wire.Writer(folder, "r")
    encoded = writer.encode(value)
    writer.save_models()
    return wire.Reader(folder).decode(encoded)


def test_arrays_and_numbers_come_back(tmp_path):
    x = np.arange(6.0).reshape(2, 3)
    got = _roundtrip(tmp_path, (x, np.arange(3, dtype="uint8"), 2.5, float("inf"),
                                [2, None, True]))
    assert np.array_equal(got[0], x) and got[0].dtype == x.dtype
    assert got[1].dtype == np.uint8 and list(got[1]) == [0, 1, 2]
    assert got[2:5] == (2.5, float("inf"), [2, None, True])
    assert np.isnan(_roundtrip(tmp_path, float("nan")))
    with pytest.raises(TypeError, match="returned text"):  # numbers only cross (issue 79)
        _roundtrip(tmp_path, [2, "s"])
    # a dict's keys are free text: none comes back from a call; the checker's own
    # requests (no folder) still carry them
    with pytest.raises(TypeError, match="returned a dict"):
        _roundtrip(tmp_path, {"hidden t=0.25": np.float32(1.5)})
    assert wire.Reader().decode(wire.Writer().encode({"k": 1.5})) == {"k": 1.5}


def test_a_number_record_holding_text_is_refused_without_quoting_it(tmp_path):
    """A forged reply's "number" of text (a record no writer makes: JSON carries NaN and
    the infinities) is refused; float() would have quoted it in its error."""
    with pytest.raises(wire.Unreadable) as refused:
        wire.Reader(tmp_path).decode({"float": "hidden t=0.25 x0=0.5"})
    assert "hidden" not in str(refused.value)
    frame = protocol.frame([float("nan"), float("-inf")])
    assert str(json.loads(frame[protocol.HEADER.size:])) == "[nan, -inf]"


def _build(n=4):
    import keras

    x = keras.Input(shape=(n,))
    encoder = keras.Model(x, keras.layers.Dense(2)(x), name="encoder")
    z = keras.Input(shape=(2,))
    decoder = keras.Model(z, keras.layers.Dense(n)(z), name="decoder")
    auto = keras.Model(x, decoder(encoder(x)), name="auto")
    auto.compile(optimizer="adam", loss="mse")
    return encoder, decoder, auto


def test_models_keep_nesting_and_weights(tmp_path):
    enc, dec, auto = _build()
    enc2, dec2, auto2 = _roundtrip(tmp_path, (enc, dec, auto))
    x = np.random.default_rng(0).random((3, 4)).astype("float32")
    assert np.allclose(auto2(x), auto(x)) and np.allclose(dec2(enc2(x)), auto2(x))
    assert auto2 is not auto
    assert any(layer is enc2 for layer in auto2.layers), "the encoder stays inside auto"
    assert auto2.optimizer.__class__.__name__ == "Adam"
    assert [p.name for p in tmp_path.glob("*.keras")] == ["r-1.keras"]  # auto's, once


def test_models_sharing_layers_without_nesting_are_each_saved_alone_and_said_so(tmp_path):
    """Loaded, they would share nothing: the checker only compares them with the models
    in the answer process, which it then asks through proxies."""
    import keras

    dense = keras.layers.Dense(2)
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    writer = wire.Writer(tmp_path, "r")
    writer.encode([keras.Model(a, dense(a)), keras.Model(b, dense(b))])
    writer.save_models()
    assert writer.shared and len(list(tmp_path.glob("*.keras"))) == 2


def test_a_model_with_its_own_code_is_not_loaded_and_its_code_not_run(tmp_path):
    import keras

    made = []

    class Mine(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            made.append(self)

        def call(self, x):
            return x * 2

    x = keras.Input(shape=(3,))
    with pytest.raises(wire.Unreadable, match="without running its own code"):
        _roundtrip(tmp_path, keras.Model(x, Mine()(x)))
    assert len(made) == 1  # only the student's own construction, none while reading


def test_a_lambda_layer_is_not_loaded(tmp_path):
    import keras

    x = keras.Input(shape=(3,))
    with pytest.raises(wire.Unreadable, match="without running its own code"):
        _roundtrip(tmp_path, keras.Model(x, keras.layers.Lambda(lambda t: t * 2)(x)))


def test_unknown_values_are_refused_both_ways(tmp_path):
    writer = wire.Writer(tmp_path, "r")
    with pytest.raises(wire.NotData, match="type object"):
        writer.encode(object())
    with pytest.raises(wire.NotData, match="an array of kind 'O'"):
        writer.encode(np.array([None, 1], dtype=object))
    with pytest.raises(wire.NotData):
        writer.encode({1: "not a string key"})
    reader = wire.Reader(tmp_path)
    with pytest.raises(wire.Unreadable, match="unknown record"):
        reader.decode({"code": "print(1)"})
    (tmp_path.parent / "outside.npy").write_bytes(b"")
    with pytest.raises(wire.Unreadable, match="outside its folder"):
        reader.decode({"array": "../outside.npy"})


def test_an_array_record_holds_an_array_and_nothing_else():
    """np.load would open a zip (a lazy NpzFile, unpacked past the record cap on access):
    the reader takes a .npy alone, refuses a model where data was expected, and an array
    of elements without bytes claiming a huge shape."""
    import base64
    import io

    def inline(write) -> dict:
        buffer = io.BytesIO()
        write(buffer)
        return {"npy": base64.b64encode(buffer.getvalue()).decode()}

    reader = wire.Reader()
    assert reader.decode(inline(lambda f: np.save(f, np.arange(3)))).tolist() == [0, 1, 2]
    for record in (inline(lambda f: np.savez_compressed(f, x=np.zeros(10 ** 6))),
                   {"model": ["x"]}, {"model": "m.keras"}):
        with pytest.raises(wire.Unreadable):
            reader.decode(record)
    with pytest.raises(TypeError, match="kind 'V'"):  # elements without bytes: not numbers
        reader.decode(inline(lambda f: np.lib.format.write_array_header_1_0(
            f, {"descr": "|V0", "fortran_order": False, "shape": (2 ** 60,)})))


def test_an_array_in_another_npy_format_is_refused_by_name(tmp_path):
    """The size check reads the headers of .npy formats 1.0 and 2.0; a 3.0 header is
    refused with the grader's own error, before any array is read."""
    with open(tmp_path / "a.npy", "wb") as f:
        np.lib.format.write_array(f, np.arange(3), version=(3, 0))
    with pytest.raises(wire.Unreadable, match="format"):
        wire.record_size(tmp_path)
