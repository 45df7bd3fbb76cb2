"""TensorFlow and Keras imported on first use in the answer process
(instructor/engine/first_use.py): never for a NumPy answer, before the tests for an answer
that names them, seeded as ``helpers.setup()`` seeds them, outside a cell's time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types

import pytest

from instructor.engine import first_use
from tests.test_remote import Answering

NOTEBOOK_SETUP = "import helpers\ninfo = helpers.setup()\nimport keras\nimport numpy as np\n"

LOADED = """
import sys

def loaded():
    return sorted({m.split(".")[1] for m in sys.modules
                   if m.split(".")[0] in ("tensorflow", "keras") and "." in m})
"""


def answering(tmp_path, sources: list[str]) -> Answering:
    return Answering(tmp_path, sources, setup=(NOTEBOOK_SETUP,))


def test_a_numpy_answer_never_loads_tensorflow(tmp_path):
    answers = answering(tmp_path, [LOADED + "def total(a):\n    return float(np.sum(a))\n"])
    try:
        assert answers.total([1.0, 2.0]) == 3.0
        assert answers.loaded() == []  # neither library's code ran: no submodule
    finally:
        answers.close()


def test_an_answer_that_names_keras_finds_it_loaded_before_any_call(tmp_path):
    build = ("def build(n):\n"
             "    return keras.Sequential([keras.Input((n,)), keras.layers.Dense(1)])\n")
    answers = answering(tmp_path, [LOADED + build])
    try:
        assert "src" in answers.loaded()  # loaded when the answer cells were done
    finally:
        answers.close()


SEEDED = """
import json, random, sys
if sys.argv[1] == "first use":
    from instructor.engine import first_use
    first_use.install()
import helpers
info = helpers.setup(verbose=False)
import keras
import numpy as np
drawn = [np.random.rand(2).tolist(), random.random()]
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
drawn += [model.get_weights()[0].ravel().tolist(), keras.random.normal((2,)).numpy().tolist(),
          np.random.rand(2).tolist()]
print(json.dumps(drawn))
"""


def test_loaded_on_first_use_the_libraries_draw_what_helpers_setup_makes_them_draw(tmp_path):
    """NumPy and Python draw before Keras loads, Keras' weights and random numbers after:
    the same numbers as when ``helpers.setup()`` imported and seeded everything at once."""
    script = tmp_path / "seeded.py"
    script.write_text(SEEDED)
    runs = [subprocess.run([sys.executable, str(script), how], capture_output=True,
                           text=True, check=True).stdout for how in ("setup", "first use")]
    assert json.loads(runs[0]) == json.loads(runs[1])


def with_slowlib(tmp_path, init: str, script: str) -> subprocess.CompletedProcess:
    """``script`` run in a fresh Python where the package ``slowlib`` is ``init``."""
    (tmp_path / "slowlib").mkdir()
    (tmp_path / "slowlib" / "__init__.py").write_text(init)
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)})


SLOW = """
import signal, os, sys, warnings
during = signal.getitimer(signal.ITIMER_REAL)[0]
os.write(2, b"C++ says hello\\n")
print("Python says hello", file=sys.stderr)
warnings.warn("a warning at import")
value = 1
"""


def test_a_library_loads_quietly_on_first_use_and_outside_the_cells_time(tmp_path):
    check = textwrap.dedent("""
        import signal, sys
        from instructor.engine import first_use
        first_use.LIBRARIES = ("slowlib",)
        first_use.install()
        import slowlib
        import slowlib  # a second import does not load it
        assert isinstance(sys.modules["slowlib"], first_use._Waiting)
        signal.signal(signal.SIGALRM, lambda *_: sys.exit("the cell's alarm rang"))
        signal.alarm(50)
        assert slowlib.value == 1
        assert slowlib.during == 0.0, slowlib.during  # paused while it loaded
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 40  # and set again after
        print("ok")
    """)
    run = with_slowlib(tmp_path, SLOW, check)
    assert (run.returncode, run.stdout.strip()) == (0, "ok"), run.stderr
    assert "hello" not in run.stderr and "warning" not in run.stderr


def test_scikit_learn_is_absent_while_a_library_loads_and_importable_after(tmp_path):
    """Keras imports scikit-learn only for ``keras.wrappers``, if installed: not during
    the load; a student's ``import sklearn`` after it gets the real package."""
    init = ("try:\n    import sklearn\nexcept ImportError:\n    sklearn = None\n"
            "value = 1\n")
    check = textwrap.dedent("""
        import sys
        from instructor.engine import first_use
        first_use.LIBRARIES = ("slowlib",)
        first_use.install()
        import slowlib
        assert slowlib.value == 1 and slowlib.sklearn is None
        assert "sklearn" not in sys.modules
        import sklearn.base
        print(sklearn.base.BaseEstimator.__name__)
    """)
    run = with_slowlib(tmp_path, init, check)
    assert (run.returncode, run.stdout.strip()) == (0, "BaseEstimator"), run.stderr


THREADS = """
import signal, sys, threading, time
from instructor.engine import first_use
first_use.LIBRARIES = ("slowlib",)
first_use.install()
import slowlib
seen = []
def touch():
    try:
        seen.append(slowlib.value)
    except AttributeError as err:
        seen.append(repr(err))
signal.alarm(50)  # a cell's alarm
first = threading.Thread(target=touch)
first.start()
time.sleep(0.2)  # the first thread is loading it
touch()  # this one waits for the end of that load
signal.alarm(0)  # the cell ends before the thread's load does
first.join()
print(seen, signal.getitimer(signal.ITIMER_REAL)[0])
"""


def test_threads_wait_for_a_load_and_a_thread_leaves_the_cells_alarm_alone(tmp_path):
    run = with_slowlib(tmp_path, "import time\ntime.sleep(1)\nvalue = 1\n", THREADS)
    assert run.stdout.split() == ["[1,", "1]", "0.0"], run.stdout + run.stderr


def test_matplotlib_asks_a_waiting_tensorflow_and_does_not_load_it(tmp_path):
    check = textwrap.dedent("""
        import sys
        from instructor.engine import first_use
        first_use.install()
        import tensorflow
        import matplotlib.pyplot as plt
        plt.plot([1, 2, 3], [4, 5, 6])
        print(type(sys.modules["tensorflow"]).__name__)
    """)
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                         env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.stdout.strip() == "_Waiting", run.stderr


@pytest.fixture()
def waiting(monkeypatch):
    """A library ``fakelib`` imported and not loaded."""
    monkeypatch.setattr(first_use, "LIBRARIES", ("fakelib",))
    module = first_use._Waiting("fakelib")
    monkeypatch.setitem(sys.modules, "fakelib", module)
    return module


def functions(source: str, **names) -> dict:
    namespace = dict(names)
    exec(source, namespace)  # noqa: S102 - the test's own source
    return namespace


@pytest.mark.parametrize("source, found", [
    ("def f(x):\n    return fl.thing(x)\n", {"fakelib"}),        # a name bound to it
    ("def f(x):\n    import fakelib\n    return x\n", {"fakelib"}),  # imported inside
    ("def f(x):\n    def g():\n        return fl\n    return g\n", {"fakelib"}),  # nested
    ("def g(x):\n    return fl\n\ndef f(x):\n    return g(x)\n", {"fakelib"}),  # through g
    ("def deco(g):\n    def inner(x):\n        return g(x)\n    return inner\n\n"
     "@deco\ndef f(x):\n    return fl\n", {"fakelib"}),  # inside a decorator's closure
    ("class B:\n    def make(self):\n        return fl\n\n"
     "def f(x):\n    return B().make()\n", {"fakelib"}),  # a method of a class
    ("import functools\ndef _f(k, x):\n    return fl\nf = functools.partial(_f, 3)\n",
     {"fakelib"}),
    ("def f(x):\n    return np.sum(x)\n", set()),
    ("class F:\n    pass\n", set()),
    ("def f(x):\n    return sum(x)\n", set()),  # a builtin: not in the namespace
])
def test_what_an_answer_names_is_loaded_before_the_tests(waiting, source, found):
    namespace = functions(source, fl=waiting, np=types.SimpleNamespace())
    if "class B" in source:
        del namespace["f"]  # the class alone
    assert first_use.wanted([namespace]) == found


def test_shared_code_objects_are_read_once_and_the_reading_is_bounded(waiting, monkeypatch):
    code = functions("def f():\n    return fl\n")["f"].__code__
    for _ in range(6):  # 30 ** 6 paths to the innermost code object
        code = code.replace(co_consts=(code,) * 30)
    assert first_use.wanted([{"g": types.FunctionType(code, {"fl": waiting})}]) == {"fakelib"}
    monkeypatch.setattr(first_use, "MAX_LOOKED_AT", 3)
    many = functions("def a():\n    pass\ndef b():\n    pass\ndef c():\n    pass\n")
    assert first_use.wanted([many]) == {"fakelib"}  # past the bound: all of them
