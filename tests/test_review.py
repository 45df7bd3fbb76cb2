"""instructor.engine.review: what the grader flags in a student's code, and what it lets pass."""

from __future__ import annotations

import pytest

from instructor.engine import review

PROTECTED = {"mc", "np", "helpers", "keras", "print", "len"}

HONEST = {
    "functional": "def autoencoder(a, b, c):\n    x = keras.Input(shape=(a,))\n"
                  "    model = keras.Model(x, x)\n    model.trainable = True\n    return model\n",
    "layer subclass": "class KL(keras.layers.Layer):\n    def __init__(self, **kw):\n"
                      "        super().__init__(**kw)\n        self.weight = 1.0\n\n"
                      "    def call(self, inputs):\n        self.add_loss(0.0)\n"
                      "        return inputs\n",
    "tf.keras import": "from tensorflow import keras\nimport numpy as np\n"
                       "import tensorflow as tf\n",
    "own globals": "history = {}\nhistory['a'] = 1\nresults = []\nresults.append(2)\n",
    "constant getattr": "act = getattr(keras.activations, 'relu')\n",
    "dict of layers": "layers = {}\nfor n in range(3):\n"
                      "    layers[n] = keras.layers.Dense(n + 1)\n",
    "quiet TensorFlow": "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n",
    "figure settings": "import matplotlib.pyplot as plt\nplt.rcParams['figure.dpi'] = 80\n",
    # a built-in a module names (socket.timeout is TimeoutError) reaches nothing
    "a built-in through a module": "import os, socket\ntry:\n    pass\n"
                                   "except (socket.timeout, os.error):\n    pass\n",
}

TAMPERING = {
    "module attribute": ("mc.expect_equal = lambda *a: None", "mc.expect_equal"),
    "rebinds a test name": ("mc = object()", "rebinds 'mc'"),
    "numpy patch": ("np.allclose = lambda *a, **k: True", "np.allclose"),
    "setattr": ("setattr(mc, 'expect_io', print)", "uses setattr"),
    "computed getattr": ("f = getattr(np, 'all' + 'close')", "computed name"),
    "frames": ("import sys\nsys._getframe(1).f_globals['mc'] = 0", "imports sys"),
    "ipython": ("get_ipython().showtraceback = None", "uses get_ipython"),
    "exec": ("exec('mc = 1')", "uses exec"),
    "dict": ("vars(np)['allclose'] = print", "uses vars"),
    "dunder": ("np.__dict__['allclose'] = print", "__dict__"),
    "imported module": ("import helpers.grading.model_checks as m\nm.expect_equal = print",
                        "imports helpers.grading.model_checks"),
    "other library as np": ("import math as np", "rebinds 'np'"),
    "builtin": ("len = lambda x: 0", "rebinds 'len'"),
    "global in a function": ("def f():\n    global mc\n    mc = 1\n", "(global)"),
    "from import then patch": ("from numpy import testing\ntesting.assert_allclose = print",
                               "testing.assert_allclose"),
    "magic": ("%load_ext something", "magics"),
    # code that runs later, at a time the student does not choose but the checks may
    # fall in (red team, round 2): a thread, a finalizer
    "a thread": ("import _thread\n_thread.start_new_thread(print, ())", "imports _thread"),
    "a pool": ("from concurrent.futures import ThreadPoolExecutor",
               "imports concurrent.futures"),
    "a finalizer": ("class Later:\n    def __del__(self):\n        pass\n", "defines __del__"),
    # a flagged module by another path (issue 79): seen by what the path is, not its name
    "ctypes through numpy": ("libc = np.ctypeslib.ctypes.CDLL(None)",
                             "reaches ctypes through np"),
    "ctypes through getattr": ("c = getattr(np.ctypeslib, 'ctypes')", "reaches ctypes"),
    "ctypes imported from numpy": ("from numpy.ctypeslib import ctypes as c",
                                   "imports numpy.ctypeslib.ctypes, which is ctypes"),
    "ctypes's function from numpy": ("from numpy.ctypeslib import ctypes\nctypes.CDLL",
                                     "which is ctypes"),
    "sys through os": ("import os\nm = os.sys", "reaches sys through os"),
    "importlib by name": ("import importlib\nc = importlib.import_module('ctypes')",
                          "imports importlib"),
    "importlib through a library": ("import pkgutil\nf = pkgutil.importlib.import_module",
                                    "reaches importlib through pkgutil"),
}


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_code_is_not_flagged(name):
    assert review.tampering([HONEST[name]], PROTECTED) == []


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_tampering_is_flagged_with_its_line(name):
    source, words = TAMPERING[name]
    found = review.tampering([source], PROTECTED)
    assert found and any(words in f for f in found), found
    assert all(f.startswith("cell 1") for f in found)


def test_free_names_are_what_trusted_cells_rely_on():
    tests = ["x = np.ones(3)\nmc.expect_equal(autoencoder(x), x, 'w')\nprint(len(x))"]
    assert review.free_names(tests) == {"np", "mc", "autoencoder", "print", "len"}


@pytest.mark.parametrize("source, found", [
    ("def psnr(p, t):\n    return helpers.psnr(p, t)", ["helpers.psnr"]),
    ("import helpers as h\ndef psnr(p, t):\n    return h.metrics.psnr(p, t)", ["h.metrics.psnr"]),
    ("from helpers.metrics import psnr as q", ["helpers.metrics.psnr"]),
    ("def psnr(p, t):\n    return getattr(helpers, 'psnr')(p, t)", ["getattr(helpers, 'psnr')"]),
    ("import tensorflow as tf\ndef psnr(p, t):\n    return tf.image.psnr(p, t, 1.0)", []),
    ("def psnr(p, t):\n    return 10 * np.log10(1 / helpers.mse(p, t))", []),
])
def test_course_calls(source, found):
    assert review.course_calls(source, {"psnr", "mean_psnr"}) == found


@pytest.mark.parametrize("source, names_only", [
    ("mc.expect_equal = print", True),
    ("mc = 1", True),
    ("setattr(mc, 'expect_io', print)", True),
    ("import ctypes", False),
    ("import sys\nsys.modules['numpy'] = None", False),
    ("exec('x = 1')", False),
    ("%timeit 1", False),
])
def test_findings_that_an_outside_check_makes_moot(source, names_only):
    found = review.tampering([source], PROTECTED)
    assert found and all(f.names_only for f in found) == names_only, found


#: The setup cell's imports: these names are libraries (the course's model_checks too).
SETUP = "import numpy as np\nimport keras\nfrom helpers.grading import model_checks as mc\n"


@pytest.mark.parametrize("source, patched", [
    ("keras.Model.train_step = lambda self, data: {}", "keras.Model.train_step"),
    ("keras.Model.set_weights = lambda self, w: None", "keras.Model.set_weights"),
    ("np.mean = np.median", "np.mean"),
    ("mc.expect_equal = print", "mc.expect_equal"),
    ("from keras import Model\nModel.fit = print", "Model.fit"),
    ("import keras as K\nsetattr(K.layers.Dense, 'call', print)", "K.layers.Dense through setattr"),
    # through a name bound to the library's object (red team, round 2)
    ("def f():\n    D = keras.layers.Dense\n    D.call = print\n", "D.call"),
    ("n = np\nn.mean = np.median", "n.mean"),
    ("m = keras.src.activations.activations\nm.relu = print", "m.relu"),
    ("def f():\n    D = keras.layers.Dense\n    setattr(D, 'call', print)\n", "D through setattr"),
    # an alias of an enclosing scope, annotated, or bound inside an expression
    ("D = keras.layers.Dense\ndef f():\n    D.call = print\n", "D.call"),
    ("def f():\n    D = keras.layers.Dense\n    def g():\n        D.call = print\n", "D.call"),
    ("D: type = keras.layers.Dense\nD.call = print", "D.call"),
    ("if (D := keras.layers.Dense):\n    D.call = print", "D.call"),
])
def test_a_patch_of_a_library_goes_to_review(source, patched):
    """The answer cells run again in the answer process, where a patch of Keras, NumPy or
    the course reaches what the checks ask (a proxied model's methods): review."""
    found = review.tampering([source], PROTECTED, [SETUP])
    patches = [f for f in found if "patches " in f]
    assert patches and all(not f.names_only for f in patches), found
    assert any(patched in f for f in patches), found


@pytest.mark.parametrize("source", [
    "def autoencoder(a, b, c):\n    model = keras.Sequential()\n    model.trainable = False\n"
    "    model.optimizer = 'adam'\n    return model\n",
    "def build():\n    Dense = keras.layers.Dense\n    layer = Dense(4)\n"
    "    layer.trainable = False\n    return layer\n",
    "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n",
    "results = {}\nresults['x'] = np.mean([1, 2])\n",
])
def test_own_objects_and_settings_are_no_patch(source):
    assert not [f for f in review.tampering([source], PROTECTED, [SETUP]) if "patches " in f]


def test_looking_a_path_up_runs_nothing():
    """The review imports what it looks up only from the standard library and NumPy, never
    a module's ``__main__``, a private one, nor what runs on import (the test suite)."""
    import sys

    found = review.tampering(["import venv, test\nv = venv.__main__\nt = test.autotest\n"
                              "a = antigravity.x\n"], set())
    assert not {"venv.__main__", "test.autotest", "antigravity"} & set(sys.modules), found
