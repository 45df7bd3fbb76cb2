"""TensorFlow and Keras imported lazily in the answer process (instructor/engine/answer/lazy.py):
never loaded for a NumPy answer, loaded before any call for an answer that names them,
seeded as ``helpers.setup()`` seeds them."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.test_remote import Answering

SETUP = "import helpers\ninfo = helpers.setup()\nimport keras\nimport numpy as np\n"
LOADED = ("import sys\n\ndef loaded(names):\n"  # names from the caller: not in the source
          "    found = sorted(m for m in sys.modules if m.partition('.')[0] in names)\n"
          "    return [list(m.encode()) for m in found]\n")  # numbers: no text crosses back


def loaded(answers, names: list[str]) -> list[str]:
    """The modules of ``names`` loaded in the answer process, sent back as their bytes."""
    return [bytes(int(b) for b in m).decode() for m in answers.loaded(names)]
LIBRARIES = ["keras", "tensorflow"]


def test_a_numpy_answer_never_loads_tensorflow(tmp_path):
    answers = Answering(tmp_path, [LOADED + "def total(a):\n    return float(np.sum(a))\n"],
                        setup=(SETUP,))
    try:
        assert answers.total([1.0, 2.0]) == 3.0
        assert loaded(answers, LIBRARIES) == ["keras"]  # lazy: no submodule, no TensorFlow
    finally:
        answers.close()


def test_an_answer_that_names_keras_finds_it_loaded_before_any_call(tmp_path):
    build = "def build(n):\n    return keras.Sequential([keras.layers.Dense(n)])\n"
    answers = Answering(tmp_path, [LOADED + build], setup=(SETUP,))
    try:
        assert "keras.src" in loaded(answers, LIBRARIES)
    finally:
        answers.close()


SEEDED = """
import json, random, sys
if sys.argv[1] == "lazy":
    from instructor.engine.answer import lazy
    lazy.install()
import helpers
info = helpers.setup(verbose=False)
import keras
import numpy as np
drawn = [np.random.rand(2).tolist(), random.random()]
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
drawn += [model.get_weights()[0].ravel().tolist(), keras.random.normal((2,)).numpy().tolist(),
          np.random.rand(2).tolist(), random.random()]
print(json.dumps(drawn))
"""


def test_loaded_lazily_the_libraries_draw_what_helpers_setup_makes_them_draw(tmp_path):
    """Python and NumPy draw before Keras loads, Keras after: the same numbers as when
    ``helpers.setup()`` imported and seeded everything at once."""
    script = tmp_path / "seeded.py"
    script.write_text(SEEDED)
    runs = [subprocess.run([sys.executable, str(script), how], capture_output=True,
                           text=True, check=True).stdout for how in ("setup", "lazy")]
    assert json.loads(runs[0]) == json.loads(runs[1])


WHOLE = """
import sys
from instructor.engine.answer import lazy
lazy.install()
import helpers
info = helpers.setup(extra_modules=("tensorflow_probability",))
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
{first}.__name__
print(hasattr(keras, "layers"), hasattr(tf, "ones"), hasattr(tfp, "distributions"),
      sys.modules["keras"] is keras, sys.modules["tensorflow"] is tf)
"""


def test_whichever_library_is_touched_first_each_loads_whole(tmp_path):
    """08's setup binds TensorFlow, Keras and TensorFlow Probability unrun; TensorFlow,
    touched first, asks half-way through its own code whether Keras is installed: that
    must not run Keras then (it would find TensorFlow half-made and end without
    ``keras.layers``)."""
    for first in ("tf", "keras", "tfp"):
        script = tmp_path / f"whole_{first}.py"
        script.write_text(WHOLE.format(first=first))
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             timeout=600)
        assert run.stdout.split() == ["True"] * 5, (first, run.stdout, run.stderr[-2000:])


def test_an_answer_naming_keras_alone_leaves_tensorflow_probability_unrun_until_touched(
        tmp_path):
    """08's setup binds TensorFlow Probability too: an answer naming only Keras finds
    TensorFlow and Keras loaded, not TensorFlow Probability (half a second), which still
    loads whole where code reaches it unnamed."""
    setup = SETUP.replace("setup()", 'setup(extra_modules=("tensorflow_probability",))')
    build = "def build(n):\n    return keras.Sequential([keras.layers.Dense(n)])\n"
    mean = ("def mean():  # reaches the library by a name no pattern knows\n"
            "    probability = sys.modules['tensorflow' + '_probability']\n"
            "    return float(probability.distributions.Normal(2.0, 1.0).mean())\n")
    answers = Answering(tmp_path, [LOADED + build + mean],
                        setup=(setup + "import tensorflow_probability as tfp\n",))
    try:
        assert "keras.src" in loaded(answers, LIBRARIES)
        assert loaded(answers, ["tensorflow_probability"]) == ["tensorflow_probability"]
        assert answers.mean() == 2.0
        assert "tensorflow_probability.python" in loaded(answers, ["tensorflow_probability"])
    finally:
        answers.close()


def test_a_cell_that_is_not_python_loads_nothing_it_names(tmp_path):
    """A cell that cannot run (a syntax error) names Keras in vain: 2.5 s not spent."""
    broken = ("def build(n):\n    return keras.Sequential([keras.layers.Dense(n)])\n"
              "this is not python (\n")
    answers = Answering(tmp_path, [broken, LOADED], setup=(SETUP,))
    try:
        assert loaded(answers, LIBRARIES) == ["keras"]
    finally:
        answers.close()


def test_keras_loads_without_scikit_learn_which_an_answer_still_imports(tmp_path):
    """Keras imports scikit-learn if it can, for wrappers no answer here uses (0.8 s of
    its load): not while Keras loads, as usual after."""
    build = ("def build(n):\n    return keras.Sequential([keras.layers.Dense(n)])\n\n"
             "def learn():\n    import sklearn\n    return sklearn.__name__ == 'sklearn'\n")
    answers = Answering(tmp_path, [LOADED + build], setup=(SETUP,))
    try:
        assert "keras.src" in loaded(answers, LIBRARIES) and loaded(answers, ["sklearn"]) == []
        assert answers.learn() is True
    finally:
        answers.close()
