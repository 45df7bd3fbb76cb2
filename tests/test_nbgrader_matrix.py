"""The bad-submission matrix, graded end to end by real ``nbgrader autograde`` runs.

Three small assignments are built in a scratch course folder:

- ``m02_vanilla``: notebook 02's ``grade-setup`` cell and the cells of its ``vanilla``
  task (6 points: shapes 2, layers 2, training 2): honest mistakes, broken notebooks,
  attacks on the grader, grading metadata that is valid but not the release's, a cell
  added after the tests that rewrites the grader's records, input over the grader's size
  caps (s50, s51, s54), and fakes that report the spec's structure but compute nothing
  (s70-s71);
- ``m05_psnr``: notebook 05's setup and ``psnr`` task (3 points): answers that call the
  course's own implementation;
- ``m_meta``: a tiny numpy-only task (3 points), whose kernels import no TensorFlow:
  notebooks whose nbgrader metadata is damaged in every way we know, one submission the
  grader cannot even read, and what needs no model: an infinite loop, a crash, resource
  abuse, output over the caps (s52, s53), an import of ctypes, a snoop on the hidden tests
  and the gradebook, and escapes from the sandbox (processes left behind, /dev/shm, the grader's
  environment, other kernels' ports and processes, while another student is graded at
  the same time).

One synthetic student per case is collected from a folder (some as zips, one misnamed,
one truncated), the whole class is autograded through the parallel path
(``instructor.workflow.autograde``, 2 jobs), then feedback and grades.csv are generated. Each
case must get a deterministic score and a clear message, and everyone else must be
graded normally. With ``-k`` selecting only per-student tests, only those students are
graded (2 at a time). The cell timeout is lowered to 20 s here (the course uses 180 s), and
the kernels' file size and process caps are small enough for a quick, bounded probe.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import socket
import sqlite3
import uuid
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from instructor.engine.judge import WITHHELD_MESSAGE
from instructor.engine.sandbox import PIDS_CGROUP
from instructor.workflow.autograde import autograde
from instructor.workflow.collect import collect
from instructor.workflow.feedback import export_grades, feedback
from instructor.workflow.generate import generate
from instructor.workflow.sample_class import reference
from tests import answer_cells
from tests.course_copy import gradebook_scores

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks" / "02_stacked_autoencoders" / "02_stacked_autoencoders.ipynb"
SOURCE_05 = ROOT / "notebooks" / "05_denoising_autoencoders" / "05_denoising_autoencoders.ipynb"
A = "m02_vanilla"
P = "m05_psnr"
M = "m_meta"
#: Where a process cap can be tested: a cgroup we may write, or a user RLIMIT_NPROC
#: applies to (not root).
CAN_CAP_PROCESSES = os.access(PIDS_CGROUP, os.W_OK) or os.geteuid() != 0
#: A secret in the grader's environment (ENV), which no kernel may see (s43).
GRADER_SECRET = "matrix-grader-secret-4f1c"
ENV = {"COURSE_CELL_TIMEOUT": "20", "COURSE_NOTEBOOK_TIMEOUT": "300",
       "COURSE_SANDBOX_MEMORY_GB": "5", "COURSE_SANDBOX_FILE_MB": "16",
       "GRADER_SECRET": GRADER_SECRET,
       **({"COURSE_SANDBOX_PROCESSES": "64"} if os.access(PIDS_CGROUP, os.W_OK) else {})}

# ------------------------------------------------------------------ the answers
REF = None  # the reference solution of task vanilla, set by the fixture


def _sub(old: str, new: str, text: str | None = None) -> str:
    text = REF if text is None else text
    assert old in text, f"{old!r} not in the reference solution: update the matrix"
    return text.replace(old, new)


def wrong_arch():       # decoder not mirrored
    return _sub("for units in reversed(hidden_layers):", "for units in hidden_layers:")


def wrong_compile():    # optimizer and loss
    return _sub('auto.compile(optimizer="adam", loss="binary_crossentropy")',
                'auto.compile(optimizer="sgd", loss="mse")')


def hidden_only():      # passes the visible tests, fails a hidden one
    return _sub("for units in reversed(hidden_layers):",
                "for units in reversed(hidden_layers[:2]):",
                _sub("for units in hidden_layers:", "for units in hidden_layers[:2]:"))


def _in_double(code: str) -> str:
    """The m_meta answer, with ``code`` run first at each call of ``double``."""
    return _sub(META_RETURN, code + META_RETURN, META_REF)


def infinite_loop():
    return _in_double("    while True:  # debugging left in\n        pass\n")


def memory_hog():
    return _in_double("    cache = []\n    while True:  # grows without bound\n"
                      "        cache.append(np.ones(10**7))\n")


def crash():
    return META_REF + "\nimport os\nos._exit(1)\n"


def library_stderr():
    """Correct, but reading a layer's kernel prints a library-style warning to stderr.

    The warning comes from the layer class the student used, when the *test* cell reads
    the layers' kernels outside ``helpers.quiet()``: stderr inside a graded cell, every
    time, as a TensorFlow or Keras log line would be."""
    return (
        "import warnings\n\n\n"
        "class Dense(keras.layers.Dense):\n"
        "    @property\n"
        "    def kernel(self):\n"
        "        warnings.warn('W0000 00:00:1700000000.000000 4242 cpu_allocator_impl.cc:83]"
        " Allocation of 3211264 exceeds 10% of free system memory.', UserWarning)\n"
        "        return super().kernel\n\n\n"
        + _sub("keras.layers.Dense(", "Dense("))


def snoop(paths: list[str]):
    """Correct, plus attempts to read the hidden tests and to write the gradebook."""
    return META_REF + f"""
import glob, os, sqlite3
_targets = {paths!r}
_cmd = open(f"/proc/{{os.getppid()}}/cmdline").read().split("\\0")
for _arg in _cmd:
    if _arg.startswith("--CourseDirectory.root="):
        _root = _arg.split("=", 1)[1]
        _targets += [os.path.join(_root, "gradebook.db")]
        _targets += glob.glob(os.path.join(_root, "autograded", "*", "*", "*.ipynb"))
        _targets += [os.path.join(_root, "autograded")]
_targets += glob.glob("*.ipynb") + glob.glob("../*.ipynb")
_targets += [f"/proc/{{os.getppid()}}/cwd/README.md"]
for _path in _targets:
    try:
        _text = open(_path, "rb").read()
        print("READ", _path, "HIDDEN FOUND" if b"BEGIN " + b"HIDDEN" in _text else "")
    except OSError as _err:
        print("blocked read:", type(_err).__name__)
    if _path.endswith(".db"):
        try:
            _db = sqlite3.connect(f"file:{{_path}}?mode=rw", uri=True)
            _db.execute("UPDATE grade SET manual_score = 100")
            _db.commit()
            print("WROTE", _path)
        except sqlite3.Error as _err:
            print("blocked write:", _err)
"""


# ------------------------------------------------------------------ attacks on the grader
#: A useless model: one Dense layer, SGD, MSE (0 of 6 points when honestly graded).
USELESS = """\
def autoencoder(input_dims, hidden_layers, latent_dims):
    inputs = keras.Input(shape=(input_dims,))
    auto = keras.Model(inputs, keras.layers.Dense(input_dims)(inputs))
    auto.compile(optimizer="sgd", loss="mse")
    return auto, auto, auto
"""
ANYTHING = """
class _Anything:
    def __getattr__(self, name):
        return lambda *args, **kwargs: (1.0, 0.5)
"""


def noop_checks():      # the checking module's functions replaced by no-ops
    return USELESS + (
        "\nfor _name in ['expect_equal', 'expect_close', 'expect_io', 'expect_composed']:\n"
        "    setattr(mc, _name, lambda *a, **k: None)\n"
        "mc.train_losses = lambda *a, **k: (1.0, 0.5)\n")


def rebind_checks():    # the name the tests use for the checks, bound to anything
    return USELESS + ANYTHING + "mc = _Anything()\n"


def rebind_probes():    # both names the tests use, the checks and the probes, bound to anything
    return USELESS + ANYTHING + "mc = _Anything()\nprobes = _Anything()\n"


def patch_probes():     # every expect_ function of the checks and the probes a no-op
    return USELESS + (
        "\nimport helpers.grading.model_checks as _checks\n"
        "import helpers.grading.probes as _probes\n"
        "for _module in (_checks, _probes):\n"
        "    for _name in dir(_module):\n"
        "        if _name.startswith('expect_'):\n"
        "            setattr(_module, _name, lambda *a, **k: None)\n")


def patch_numpy():      # numpy's comparisons and the equality check always say yes
    return USELESS + (
        "\nnp.allclose = lambda *a, **k: True\n"
        "import helpers.grading.model_checks\n"
        "helpers.grading.model_checks.expect_equal = lambda *a, **k: None\n"
        "helpers.grading.model_checks.train_losses = lambda *a, **k: (1.0, 0.5)\n")


def hide_traceback():   # IPython's traceback display silenced
    return USELESS + "\nget_ipython().showtraceback = lambda *a, **k: None\n"


def custom_exc():       # an IPython handler that swallows every exception
    return USELESS + ("\nget_ipython().set_custom_exc((BaseException,), "
                      "lambda *a, **k: None)\n")


def hide_errors():      # the kernel's error display replaced (ipykernel still reports it)
    return USELESS + "\nget_ipython()._showtraceback = lambda *a, **k: None\n"


def partial_credit():   # a number published as the test cell's result (partial credit)
    return USELESS.replace('    inputs = keras.Input(shape=(input_dims,))',
                           '    import sys\n    sys.displayhook(2)\n'
                           '    inputs = keras.Input(shape=(input_dims,))')


def wire_patched():     # correct, and patches the answer process's wire format
    return (REF + "\nfrom instructor.engine.answer import wire\n"
            "wire.wrap = lambda *a, **k: None\n")


def frame_rebind():     # the tests' namespace changed from inside the graded function
    return ANYTHING + USELESS.replace(
        '    inputs = keras.Input(shape=(input_dims,))',
        '    import sys\n    frame = sys._getframe(1)\n'
        '    while "mc" not in frame.f_globals:  # past any wrapper, to the tests\n'
        '        frame = frame.f_back\n'
        '    frame.f_globals["mc"] = _Anything()\n'
        '    inputs = keras.Input(shape=(input_dims,))')


def fork_loop():        # a bounded fork loop: up to 200 children that sleep 3 s
    return _in_double("    import os, time\n"
                      "    for _ in range(200):\n"
                      "        if os.fork() == 0:\n"
                      "            time.sleep(3)\n"
                      "            os._exit(0)\n")


def big_file():         # writes a 64 MiB file in its scratch folder
    return _in_double("    with open('filler.bin', 'wb') as out:\n"
                      "        for _ in range(64):\n"
                      "            out.write(bytes(2 ** 20))\n")


def tells_probes_from_use():  # trains right only once its weights were set (as probes do)
    return _sub("auto = keras.Model(", "auto = Autoencoder(") .replace(
        "def autoencoder(", """class Autoencoder(keras.Model):
    def set_weights(self, weights):
        self.probed = True
        return super().set_weights(weights)

    def train_step(self, data):
        if getattr(self, "probed", False):
            return super().train_step(data)       # Adam and binary cross-entropy
        x, y = data[0], data[1]
        loss = keras.ops.mean(keras.ops.square(self(x) - y))
        return {"mse": loss}                      # in use: trains nothing at all


def autoencoder(""", 1)


def custom_layer_tamper():   # correct, but only checkable in the kernel, and it tampers
    return ("class Dense(keras.layers.Dense):\n    pass\n\n\n"
            + _sub("keras.layers.Dense(", "Dense(")
            + "\nmc.expect_equal = lambda *a, **k: None\n")


# ------------------------------------------------------------------ escapes from the sandbox
#: Command-line markers of the processes the s40/s41 answers leave behind.
SLEEPERS = ("matrix-s40-sleeper", "matrix-s41-pipe-holder")


# These attacks use ``os`` only: imports of ``subprocess``, ``signal`` or ``sys`` would
# also send them to review (instructor/engine/review.py), and the sandbox, not the review,
# is what is tested here.
def detached_sleeper():  # correct, plus a double-forked, setsid, nohup sleeper
    return META_REF + f"""
import os
_exe = os.path.realpath("/proc/self/exe")
if os.fork() == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            _null = os.open("/dev/null", os.O_RDWR)
            for _fd in (0, 1, 2):
                os.dup2(_null, _fd)
            os.execvp("nohup", ["nohup", _exe, "-c", "import time; time.sleep(900)",
                                {SLEEPERS[0]!r}])
    finally:
        os._exit(0)
os.wait()
"""


def pipe_holder():       # correct, plus a detached sleeper holding the grader's fds 1 and 2
    return META_REF + f"""
import os
_exe = os.path.realpath("/proc/self/exe")
if os.fork() == 0:
    try:
        os.setsid()
        os.execv(_exe, [_exe, "-c", "import time; time.sleep(900)", {SLEEPERS[1]!r}])
    finally:
        os._exit(1)
"""


def shm_filler():        # correct, plus 450 MiB written to /dev/shm, 1 MiB a file
    return META_REF + """
_n = 0
try:
    for _n in range(450):
        with open(f"/dev/shm/matrix-s42-{_n}", "wb") as _out:
            _out.write(bytes(2 ** 20))
    print("shm: wrote 450 MiB")
except OSError as _err:
    print("shm: capped after", _n, "MiB:", _err.strerror)
"""


def env_secret():        # correct, plus a search for the grader's secret
    return META_REF + f"""
import glob, os
_found = [k for k, v in os.environ.items() if {GRADER_SECRET!r} in v]
for _path in glob.glob("/proc/*/environ"):
    try:
        if {GRADER_SECRET!r}.encode() in open(_path, "rb").read():
            _found.append(_path)
    except OSError:
        pass
print("SECRET FOUND" if _found else "secret: not found", _found)
"""


def port_scan():         # correct, plus connections to every listening port for 8 s
    return META_REF + """
import socket, time
_seen, _reached = set(), set()
_end = time.monotonic() + 8
while time.monotonic() < _end:
    for _table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            _rows = open(_table).read().splitlines()[1:]
        except OSError:
            continue
        for _row in _rows:
            _fields = _row.split()
            if _fields[3] == "0A":  # LISTEN
                _seen.add(int(_fields[1].split(":")[-1], 16))
    for _port in sorted(_seen - _reached):
        _c = socket.socket()
        _c.settimeout(1)
        try:
            _c.connect(("127.0.0.1", _port))
            _reached.add(_port)
        except OSError:
            pass
        finally:
            _c.close()
    time.sleep(0.5)
print("ports: saw", len(_seen), "listening;", "CONNECTED" if _reached else "reached none")
"""


def kill_others():       # correct, plus SIGKILL to every other grading process for 8 s
    return META_REF + """
import os, time
_mine = {os.getpid(), *map(int, os.listdir("/proc/self/task"))}
_seen, _killed = set(), set()
_end = time.monotonic() + 8
while time.monotonic() < _end:
    for _pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            _cmd = open(f"/proc/{_pid}/cmdline", "rb").read()
        except OSError:
            continue
        # (pid 1 in a sandbox is its own init, which Linux protects from what it starts)
        if int(_pid) in _mine or _pid == "1" or not any(
                _w in _cmd for _w in (b"checking.py", b"ipykernel", b"nbgrader", b"sandbox.py")):
            continue
        _seen.add(int(_pid))
        try:
            os.kill(int(_pid), 9)  # SIGKILL
            _killed.add(int(_pid))
        except OSError:
            pass
    time.sleep(0.5)
print("kill: saw", len(_seen), "grading processes;", "KILLED" if _killed else "killed none")
"""


def root_powers():       # correct, plus what root's capabilities and /dev once allowed
    return META_REF + """
import os, socket, time
try:                      # read the loopback traffic of the kernels graded beside it
    _s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    _s.bind(("lo", 0))
    _s.settimeout(0.5)
    _got, _end = 0, time.monotonic() + 5
    while time.monotonic() < _end:
        try:
            _got += len(_s.recv(65535))
        except socket.timeout:
            pass
    print("SNIFFED", _got, "bytes")
except OSError as _err:
    print("sniff: refused", _err.errno)
try:                      # a file in the machine's /dev, where every sandbox could reach it
    open("/dev/matrix-s46-%d" % os.getpid(), "w").write("x")
    print("DEV WRITTEN")
except OSError as _err:
    print("dev: refused", _err.errno)
"""


#: A cell added after the tests: it marks every recorded call as one the records cannot
#: hold, so that checks reading the kernel's records would give up. The
#: check reads nothing the kernel writes now: the useless answer still scores 0.
REWRITE_RECORDS = """\
import glob, json
for _path in glob.glob(".grading-evidence/*/calls.jsonl"):
    with open(_path, "a") as _out:
        _out.write(json.dumps({"name": "autoencoder", "not_recordable": "a lie"}) + "\\n")
"""


# ------------------------------------------------------------------ fakes of the spec's structure
#: No Keras at all (red team A1): classes named Model, Dense and Adam that report the
#: spec's layers, kernels and loss, output zeros, report a falling loss, and cannot be
#: saved, so the checks have only their claims.
FAKE_MODELS = answer_cells.PRELUDE + answer_cells.DENSE + answer_cells.DENSE_BUILDER

#: A real keras.Model subclass (red team A2b) holding built Dense layers of the spec's
#: sizes, compiled with Adam and binary cross-entropy, whose call returns zeros and
#: whose evaluate reports a falling loss.
KERAS_SUBCLASS_LIAR = """
import numpy as np


class Liar(keras.Model):
    def __init__(self, stack, in_dim, out, **kwargs):
        super().__init__(**kwargs)
        self.stack, self.in_dim, self.out, self.ticks = stack, in_dim, out, 0

    @property
    def inputs(self):
        return [keras.KerasTensor((None, self.in_dim))]

    def call(self, x):
        return keras.ops.zeros((keras.ops.shape(x)[0], self.out))

    def evaluate(self, *args, **kwargs):
        self.ticks += 1
        return 1.0 / self.ticks

    def train_on_batch(self, *args, **kwargs):
        return 0.0


def _dense(sizes, acts):
    layers = [keras.layers.Dense(b, activation=f) for b, f in zip(sizes[1:], acts)]
    x = np.zeros((1, sizes[0]), dtype=np.float32)
    for layer in layers:
        x = layer(x)
    return layers


def autoencoder(input_dims, hidden_layers, latent_dims):
    sizes = [input_dims, *hidden_layers, latent_dims]
    hid = ["relu"] * len(hidden_layers)
    enc = _dense(sizes, hid + ["relu"])
    dec = _dense(sizes[::-1], hid + ["sigmoid"])
    encoder = Liar(enc, input_dims, latent_dims, name="encoder")
    decoder = Liar(dec, latent_dims, input_dims, name="decoder")
    auto = Liar(enc + dec, input_dims, input_dims, name="autoencoder")
    for model in (encoder, decoder, auto):
        model.compile(optimizer="adam", loss="binary_crossentropy")
    return encoder, decoder, auto
"""

# ------------------------------------------------------------------ bounded input
def huge_cell():        # correct, plus 1.5 MB of data pasted into the answer cell
    return REF + "\n_pasted = '" + "x" * 1_500_000 + "'\n"


def prints_in_answer():  # correct, but the answer cell prints 32 MiB
    return META_REF + "\nfor _ in range(32):\n    print('x' * (2 ** 20 - 1))\n"


def prints_when_called():  # the graded function prints 9 MiB at each call
    return _in_double("    for _ in range(9):\n        print('x' * (2 ** 20 - 1))\n")


def record_bomb():      # correct, but in the process that answers the grader, every
    # model file it sends becomes a zip bomb Keras would unpack: its config, and 300 MiB
    # of weights in 0.3 MiB
    return ("import zipfile as _zipfile\n"
            "from instructor.engine.answer import wire as _evidence\n\n\n"
            "def _bomb(path):\n"
            "    with _zipfile.ZipFile(path) as _zf:\n"
            "        _keep = {n: _zf.read(n) for n in _zf.namelist() if n.endswith('.json')}\n"
            "    with _zipfile.ZipFile(path, 'w', _zipfile.ZIP_DEFLATED) as _zf:\n"
            "        for _name, _data in _keep.items():\n"
            "            _zf.writestr(_name, _data)\n"
            "        with _zf.open('model.weights.h5', 'w', force_zip64=True) as _f:\n"
            "            for _ in range(300):\n"
            "                _f.write(bytes(2 ** 20))\n\n\n"
            "_save = _evidence.Writer.save_models\n\n\n"
            "def _save_bombs(self):\n"
            "    _save(self)\n"
            "    for _path in self.folder.glob('*.keras'):\n"
            "        _bomb(_path)\n\n\n"
            "_evidence.Writer.save_models = _save_bombs\n\n\n" + REF)


#: A notebook file over COURSE_SUBMISSION_MB (32 MiB): a markdown cell of 33 MiB.
HUGE_NOTEBOOK_MB = 33


def edit_metadata(nb: nbformat.NotebookNode, how: str) -> None:
    """Metadata nbgrader can read but that is not the release's, or a cell added after the
    tests; the answer is useless with no-op checks where the edit is an attack, the
    reference (or a wrong compile) where it only changes the grading metadata."""
    solution = next(c for c in nb.cells if _grade_id(c) == "vanilla-solution")
    tests = [c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("grade")]
    training = next(c for c in tests if _grade_id(c) == "vanilla-tests-training")
    solution.source = {"untag": noop_checks, "retag": noop_checks, "after": noop_checks,
                       "ungrade-failing": wrong_compile}.get(how, lambda: REF)()
    for cell in tests if how in ("untag", "retag") else []:
        cell.metadata["tags"] = [] if how == "untag" else ["task-other"]
    if how.startswith("ungrade"):
        training.metadata["nbgrader"]["grade"] = False
    elif how == "points":
        tests[0].metadata["nbgrader"]["points"] = 100
    elif how == "after":
        nb.cells.append(nbformat.v4.new_code_cell(REWRITE_RECORDS))


#: What the useless model (MSE, SGD) meets first: the checks' own compile check, in the
#: checking process, which the attacks on the checks' names in the kernel do not reach.
PROBED = "auto's optimizer: expected 'adam', got 'sgd'"
# case: (how the notebook is made, expected score, words the student must see)
CASES = {
    "s01_correct": (lambda: REF, 6, []),
    "s02_stub": (None, 0, ["exercise not done yet"]),
    "s03_wrong_arch": (wrong_arch, 4, ["decoder Dense kernels"]),
    "s04_wrong_compile": (wrong_compile, 4, ["auto's optimizer: expected 'adam', got 'sgd'"]),
    "s05_hidden_only": (hidden_only, 4, ["encoder weights of autoencoder(20, [12, 8, 6], 3)"]),
    "s08_deleted_answer": ("delete:vanilla-solution", 0, ["exercise not done yet"]),
    "s09_deleted_test": ("delete:vanilla-tests-training", 4, ["auto's optimizer"]),
    "s10_edited_test": ("edit:vanilla-tests-training", 4, ["auto's optimizer"]),
    "s11_truncated": ("truncate", 0, []),
    "s12_damaged": ("damage", 6, []),
    "s13_wrong_name": ("rename", 6, []),
    "s14_zip": ("zip", 6, []),
    # its warning comes from a Dense subclass of its own, which task (a) does not need:
    # the tests go to review (0 until then); its stderr still costs nothing in the kernel
    "s16_library_stderr": (library_stderr, 0, ["NeedsReview"]),
    "s18_noop_checks": (noop_checks, 0, [PROBED]),
    "s19_rebind_checks": (rebind_checks, 0, [PROBED]),
    "s20_patch_numpy": (patch_numpy, 0, [PROBED]),
    "s21_hide_traceback": (hide_traceback, 0, []),
    "s22_custom_exc": (custom_exc, 0, []),
    "s23_hide_errors": (hide_errors, 0, ["auto's optimizer"]),
    "s24_partial_credit": (partial_credit, 0, []),
    # nothing the kernel writes is read, but it changes an attribute of helpers: review
    "s25_recorder_off": (wire_patched, 0, ["NeedsReview", "wire.wrap"]),
    # its frame walk finds no tests' namespace in the answer process: its function fails
    "s26_frame_rebind": (frame_rebind, 0, ["a hidden test failed; the message is withheld"]),
    # a model with a class of its own, in a task that needs none: its code could tell the
    # probes from real use (a train_step that trains right only after set_weights), so
    # the checks do not ask it through a proxy; the instructor reviews it
    "s29_custom_layer_tamper": (custom_layer_tamper, 0, ["NeedsReview",
                                                         "a model with code of your own"]),
    "s75_tells_probes_from_use": (tells_probes_from_use, 0, ["NeedsReview",
                                                             "a model with code of your own"]),
    # the submission's metadata decides nothing; cells added after the tests change no record
    "s30_task_tag_removed": ("meta:untag", 0, [PROBED]),
    "s31_task_tag_changed": ("meta:retag", 0, [PROBED]),
    "s32_grade_false": ("meta:ungrade", 6, []),
    "s33_grade_false_failing": ("meta:ungrade-failing", 4, ["auto's optimizer"]),
    "s34_points_changed": ("meta:points", 6, []),
    "s35_rewrites_records_after": ("meta:after", 0, [PROBED]),
    # bounded input: the grader's own processes never hold more than the caps
    "s50_huge_notebook": ("huge", 0, []),
    "s51_huge_cell": (huge_cell, 0, ["CellTooLarge", "COURSE_CELL_SOURCE_KB"]),
    "s54_record_bomb": (record_bomb, 0, ["RecordTooLarge", "COURSE_RECORD_MB"]),
    # fakes that report the spec's structure and compute nothing (the behaviour probes)
    # the probes bypassed too, in the kernel, where no test runs: the probes still fail it
    "s73_rebind_probes": (rebind_probes, 0, [PROBED]),
    "s74_patch_probes": (patch_probes, 0, [PROBED]),
    # models of the student's own classes: no test cell runs in the kernel any more, so the
    # probes' messages there are gone; outside, such a model cannot be checked for this
    # task and the test waits for the instructor's review (0 until then)
    "s70_fake_models": (lambda: FAKE_MODELS, 0, ["model with code of your own"]),
    "s71_keras_subclass_liar": (lambda: KERAS_SUBCLASS_LIAR, 0, [
        "model with code of your own"]),
}

# ------------------------------------------------------------------ task psnr of notebook 05
#: Listeners on the grader's side that no sandboxed process may reach (p05 tries each,
#: from the kernel and from the answer process).
_TCP = socket.create_server(("127.0.0.1", 0))
_UDP = socket.socket(type=socket.SOCK_DGRAM)
_UDP.bind(("127.0.0.1", 0))
_ABSTRACT = socket.socket(socket.AF_UNIX)
_ABSTRACT.bind(f"\0course-matrix-{uuid.uuid4().hex}")  # imported twice: unique per import
_ABSTRACT.listen(1)
for _listener in (_TCP, _UDP, _ABSTRACT):
    _listener.setblocking(False)
#: A correct psnr only where every property of the sandbox holds where it runs: a
#: process with uid 0, a /proc with the grader's processes, a connection that reaches
#: the grader, the repository or a hidden test's source in sight make it wrong.
PROBES_FROM_INSIDE = f"""import linecache, os, socket


def _sandbox_broken():
    broken = []
    if os.getuid() == 0:
        broken.append("uid 0")
    if len([p for p in os.listdir("/proc") if p.isdigit()]) > 12:
        broken.append("the grader's processes")
    for family, address in [(socket.AF_INET, {_TCP.getsockname()!r}),
                            (socket.AF_UNIX, {_ABSTRACT.getsockname()!r})]:
        with socket.socket(family) as s:
            s.settimeout(2)
            try:
                s.connect(address)
                broken.append(f"connected to {{address}}")
            except OSError:
                pass
    with socket.socket(type=socket.SOCK_DGRAM) as s:
        try:
            s.sendto(b"from inside", {_UDP.getsockname()!r})
        except OSError:
            pass
    for path in [{str(SOURCE)!r}, {str(SOURCE_05)!r}]:
        if os.path.exists(path):
            broken.append(path)
    if any("HIDDEN" + " TESTS" in "".join(v[2]) for v in list(linecache.cache.values())
           if len(v) > 2 and isinstance(v[2], list)):
        broken.append("a hidden test's source")
    return broken


def psnr(pred, target):
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    mse = ((pred - target) ** 2).reshape(len(pred), -1).mean(axis=1)
    return 10.0 * np.log10(1.0 / mse) + len(_sandbox_broken())
"""
PSNR_CASES = {
    "p01_correct": (None, 3, []),
    "p02_course_psnr": ("def psnr(pred, target):\n    return helpers.psnr(pred, target)\n",
                        0, ["calls helpers.psnr, the course's own implementation"]),
    "p03_course_alias": ("from helpers.metrics import psnr as _theirs\n\n\n"
                         "def psnr(pred, target):\n    return _theirs(pred, target)\n",
                         0, ["calls helpers.metrics.psnr, the course's own implementation"]),
    # caught by running it: in the answer process, the course's psnr raises
    "p04_obfuscated": ("import importlib\n\n\ndef psnr(pred, target):\n    return "
                       "importlib.import_module('helpers.metr' + 'ics').psnr(pred, target)\n",
                       0, ["UsesCourseImplementation",
                           "is the course's own implementation of this task"]),
    # probes the sandbox at each call, in the kernel and in the answer process
    "p05_probes_from_inside": (PROBES_FROM_INSIDE, 3, []),
}
#: Submissions set aside for the instructor's review.
REVIEW = {"s16_library_stderr", "s25_recorder_off", "s29_custom_layer_tamper",
          "s70_fake_models", "s71_keras_subclass_liar",
          "s72_reaches_beyond_the_kernel", "s75_tells_probes_from_use"}

# ------------------------------------------------------------------ damaged metadata
META_SOLUTION = '''def double(x):
    """Twice ``x``, elementwise."""
    ### BEGIN SOLUTION
    return 2 * np.asarray(x)
    ### END SOLUTION
'''
RESTORED = "was damaged; the grader restored it from the assignment"
# case: (cell to damage, how, expected score, note)
META_CASES = {
    "m01_correct": (None, None, 3, None),
    "m02_string": ("double-solution", "string", 3, RESTORED),
    "m03_list": ("double-tests-visible", "list", 3, RESTORED),
    "m04_null": ("double-solution", "null", 3, RESTORED),
    "m05_missing_keys": ("double-solution", "missing", 3, RESTORED),
    "m06_points_string": ("double-tests-hidden", "points", 3, RESTORED),
    "m07_grade_id_int": ("double-tests-visible", "grade_id", 3, RESTORED),
    "m08_duplicate": ("double-solution", "duplicate", 3, "2 cells had the grade_id"),
    "m09_unmatched": ("double-solution", "unmatched", 3, "stands where that answer cell stood"),
    # under another name, read by collect to choose it: one student's note, not the class's
    "m11_nesting_bomb": ("double-solution", "nesting", 0, "nested over 100 deep"),
    "m12_values_bomb": ("double-solution", "values", 0, "over 200,000 JSON values"),
}
META_RETURN = "    return 2 * np.asarray(x)\n"
META_REF = reference(META_SOLUTION)
# case: (the answer, expected score, words the student must see): mistakes and attacks
# that need no model, in the task whose kernels import no TensorFlow
META_ANSWERS = {
    "s06_infinite_loop": (infinite_loop, 0, ["ran longer than 20 s"]),
    "s07_crash": (crash, 0, ["ended in this cell"]),
    "s15_memory": (memory_hog, 0, ["MemoryError"]),
    "s28_big_file": (big_file, 0, ["OSError"]),
    "s17_snoop": ("snoop", 3, []),
    "s52_prints_in_answer": (prints_in_answer, 3, ["OutputTooLarge", "COURSE_CELL_OUTPUT_MB"]),
    # correct; what it prints when the tests call it stays in the answer process's
    # capped log, never in the grader's memory or the graded notebook
    "s53_prints_when_called": (prints_when_called, 3, []),
    # correct, but it imports ctypes: code that could reach past Python is set aside
    "s72_reaches_beyond_the_kernel": (lambda: META_REF + "\nimport ctypes\n", 0,
                                      ["NeedsReview", "ctypes"]),
    # escapes from the sandbox: each is stopped, and the honest answer keeps its marks
    "s40_detached_sleeper": (detached_sleeper, 3, []),
    "s41_pipe_holder": (pipe_holder, 3, []),
    "s42_shm_filler": (shm_filler, 3, []),
    "s43_env_secret": (env_secret, 3, []),
    "s44_port_scan": (port_scan, 3, []),
    "s45_kill_others": (kill_others, 3, []),
    "s46_root_powers": (root_powers, 3, []),
}
if CAN_CAP_PROCESSES:
    # its errno message is its own process's, withheld under hidden tests: the type stays
    META_ANSWERS["s27_fork_loop"] = (fork_loop, 0, ["BlockingIOError"])
#: a cell's metadata that the file holds as these bytes (too deep, too many to write)
BOMBS = {"nesting": "[" * 50_000 + "]" * 50_000, "values": "[" + "{}," * 400_000 + "{}]"}
NOTES = {
    "s06_infinite_loop": "ran too long",
    "s07_crash": "crashed the Python process running it",
    "s08_deleted_answer": "answer cell 'vanilla-solution' was missing",
    "s09_deleted_test": "test cell 'vanilla-tests-training' was missing",
    "s10_edited_test": "locked cell 'vanilla-tests-training' was edited",
    "s11_truncated": "could not be read as a notebook",
    "s12_damaged": "rebuilt it",
    "s13_wrong_name": "was named 'Untitled1.ipynb'",
    "s15_memory": "ran out of memory",
    "s30_task_tag_removed": "cell 'vanilla-tests-shapes' was not the assignment's (tags [])",
    "s31_task_tag_changed": "was not the assignment's (tags ['task-other'])",
    "s32_grade_false": "cell 'vanilla-tests-training' was not the assignment's (grade: False)",
    "s33_grade_false_failing": "'vanilla-tests-training' was not the assignment's (grade: False)",
    "s34_points_changed": "cell 'vanilla-tests-shapes' was not the assignment's (points: 100)",
    "s50_huge_notebook": "over the grader's limit of 32 MiB for a notebook",
    "s51_huge_cell": "over the grader's limit of 128 KiB for one cell",
    "s52_prints_in_answer": "printed more than the grader keeps",
    "s54_record_bomb": "returned more than the grader unpacks",
}
HIDDEN_CODE = ["enc_shapes", "x_check", "BEGIN HIDDEN", "mc.expect_composed"]


def _grade_id(cell):
    return (cell.metadata.get("nbgrader") or {}).get("grade_id")


def _meta(grade_id: str, *, points=None, solution=False, locked=False) -> dict:
    meta = {"grade": points is not None, "grade_id": grade_id, "locked": locked,
            "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta, "tags": ["task-double"]}


def _meta_notebook() -> nbformat.NotebookNode:
    """A tiny numpy-only assignment: one answer cell, tests worth 1 and 2 points."""
    setup = nbformat.v4.new_code_cell("import numpy as np")
    setup.metadata = {"nbgrader": {**_meta("setup", locked=True)["nbgrader"]},
                      "tags": ["grade-setup"]}
    cells = [nbformat.v4.new_markdown_cell("# Matrix test: damaged metadata"), setup,
             nbformat.v4.new_code_cell(META_SOLUTION,
                                       metadata=_meta("double-solution", solution=True)),
             nbformat.v4.new_code_cell(
                 'assert np.array_equal(double([1, 2]), [2, 4]), "double([1, 2])"',
                 metadata=_meta("double-tests-visible", points=1, locked=True)),
             nbformat.v4.new_code_cell(
                 "### BEGIN HIDDEN TESTS\n_x = np.arange(6.0).reshape(2, 3)\n"
                 "assert np.array_equal(double(_x), 2 * _x), 'double of a 2x3 array'\n"
                 "### END HIDDEN TESTS",
                 metadata=_meta("double-tests-hidden", points=2, locked=True))]
    return nbformat.v4.new_notebook(cells=cells)


def _task_notebook(source: Path, task: str, title: str) -> nbformat.NotebookNode:
    src = nbformat.read(source, as_version=4)
    cells = [nbformat.v4.new_markdown_cell(f"# Matrix test: {title}")]
    cells += [c for c in src.cells if {"grade-setup", f"task-{task}"}
              & set(c.metadata.get("tags", []))]
    return nbformat.v4.new_notebook(cells=cells, metadata=src.metadata)


def _build_course(tmp: Path) -> None:
    for name, nb in [(A, _task_notebook(SOURCE, "vanilla", "task (a) of notebook 02")),
                     (P, _task_notebook(SOURCE_05, "psnr", "task (e) of notebook 05")),
                     (M, _meta_notebook())]:
        (tmp / "notebooks" / name).mkdir(parents=True)
        nbformat.write(nb, tmp / "notebooks" / name / f"{name}.ipynb")
    generate("release", [A, P, M], root=tmp)


def _release(tmp: Path, name: str) -> nbformat.NotebookNode:
    return nbformat.read(tmp / "release" / name / f"{name}.ipynb", as_version=4)


def _student_notebook(tmp: Path, how) -> nbformat.NotebookNode:
    nb = _release(tmp, A)
    solution = next(c for c in nb.cells if _grade_id(c) == "vanilla-solution")
    if callable(how):
        solution.source = how()
    elif isinstance(how, str) and how.startswith("delete:"):
        solution.source = REF if how.endswith("solution") else wrong_compile()
        nb.cells = [c for c in nb.cells if _grade_id(c) != how.split(":")[1]]
    elif isinstance(how, str) and how.startswith("meta:"):
        edit_metadata(nb, how[5:])
    elif isinstance(how, str) and how.startswith("edit:"):
        solution.source = wrong_compile()
        test = next(c for c in nb.cells if _grade_id(c) == how.split(":")[1])
        test.source = "pass  # always passes"
    elif how is not None:
        solution.source = REF
    return nb


def _psnr_notebook(tmp: Path, answer: str | None) -> nbformat.NotebookNode:
    nb = _release(tmp, P)
    solution = next(c for c in nb.cells if _grade_id(c) == "psnr-solution")
    src = nbformat.read(SOURCE_05, as_version=4)
    solution.source = answer or reference(
        next(c.source for c in src.cells if _grade_id(c) == "psnr-solution"))
    return nb


def _meta_answer(tmp: Path, answer: str) -> nbformat.NotebookNode:
    nb = _release(tmp, M)
    next(c for c in nb.cells if _grade_id(c) == "double-solution").source = answer
    return nb


def _damaged_notebook(tmp: Path, target: str | None, how: str | None) -> dict:
    """The m_meta answer key as JSON, with ``target``'s metadata damaged ``how``."""
    nb = _release(tmp, M)
    for cell in nb.cells:
        if _grade_id(cell) == "double-solution":
            cell.source = reference(META_SOLUTION)
    data = json.loads(nbformat.writes(nb))
    cells = data["cells"]
    index = next((i for i, c in enumerate(cells)
                  if (c["metadata"].get("nbgrader") or {}).get("grade_id") == target), None)
    if index is None:
        return data
    meta = cells[index]["metadata"]
    if how == "string":
        meta["nbgrader"] = "damaged"
    elif how == "list":
        meta["nbgrader"] = []
    elif how == "null":
        meta["nbgrader"] = None
    elif how == "missing":
        meta["nbgrader"] = {"solution": True}
    elif how == "points":
        meta["nbgrader"]["points"] = "2"
    elif how == "grade_id":
        meta["nbgrader"]["grade_id"] = 7
    elif how == "duplicate":
        copy = json.loads(json.dumps(cells[index]))
        copy["id"] = "copied-cell"
        cells.insert(index + 1, copy)
    elif how in BOMBS:
        meta["bomb"] = how  # its bytes are put in place in the file
    elif how == "unmatched":
        meta["nbgrader"] = "damaged"
        cells[index]["id"] = "renamed-cell"
        cells[index]["source"] = "# my answer\n" + "".join(cells[index]["source"])
    return data


@pytest.fixture(scope="module")
def graded(request, tmp_path_factory, data_dir):
    """The matrix class, collected, autograded (2 jobs), with feedback and grades.csv.

    When only per-student tests of this module are selected (``-k s40``), only those
    students are graded (still 2 at a time); any other test grades the whole class."""
    global REF
    wanted = _selected_students(request)
    tmp = tmp_path_factory.mktemp("matrix")
    src = nbformat.read(SOURCE, as_version=4)
    REF = reference(next(c.source for c in src.cells if _grade_id(c) == "vanilla-solution"))
    _build_course(tmp)
    incoming = tmp / "incoming"
    incoming.mkdir()
    for student, (how, _, _) in CASES.items():
        if wanted is not None and student not in wanted:
            continue
        nb = _student_notebook(tmp, how)
        if how == "huge":
            nb.cells.append(nbformat.v4.new_markdown_cell("x" * HUGE_NOTEBOOK_MB * 2 ** 20))
        text = nbformat.writes(nb)
        folder = incoming / student
        if how == "zip":
            with zipfile.ZipFile(incoming / f"{student}.zip", "w") as zf:
                zf.writestr(f"{A}/{A}.ipynb", text)
                zf.writestr(f"__MACOSX/{A}/._{A}.ipynb", "junk")
            continue
        folder.mkdir()
        name = "Untitled1.ipynb" if how == "rename" else f"{A}.ipynb"
        if how == "truncate":
            text = text[: len(text) // 2]
        elif how == "damage":
            data = json.loads(text)
            for cell in data["cells"]:
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
            text = json.dumps(data)
        (folder / name).write_text(text)
    if any(incoming.iterdir()):  # (none when -k selects students of the others only)
        collect(incoming, A, root=tmp)
    for name, students in [(P, PSNR_CASES), (M, META_CASES)]:
        folder = tmp / f"incoming_{name}"
        folder.mkdir()
        for student, case in students.items():
            if wanted is not None and student not in wanted:
                continue
            (folder / student).mkdir(parents=True)
            data = _damaged_notebook(tmp, case[0], case[1]) if name == M else \
                json.loads(nbformat.writes(_psnr_notebook(tmp, case[0])))
            text, how = json.dumps(data), case[1] if name == M else None
            if how in BOMBS:
                text = text.replace(f'"bomb": "{how}"', f'"bomb": {BOMBS[how]}')
            (folder / student / ("Untitled.ipynb" if how in BOMBS else f"{name}.ipynb")
             ).write_text(text)
        if name == M:
            for student, (how, _, _) in META_ANSWERS.items():
                if wanted is None or student in wanted:
                    (folder / student).mkdir()
                    answer = snoop([str(tmp / "gradebook.db"), str(SOURCE), str(
                        tmp / "notebooks" / M / f"{M}.ipynb")]) if how == "snoop" else how()
                    nbformat.write(_meta_answer(tmp, answer), folder / student / f"{M}.ipynb")
        if any(folder.iterdir()):
            collect(folder, name, root=tmp)
    # a submission the grader cannot even open: a folder where the notebook should be
    (tmp / "submitted" / "m10_unreadable" / M / f"{M}.ipynb").mkdir(parents=True)
    # the class's answers are the matrix; the canary has tests of its own (test_canary.py)
    if wanted is None:
        results = autograde([A, P, M], root=tmp, jobs=2, env=ENV, canary=False)
    else:
        results = []
        for name, group in ((A, CASES), (P, PSNR_CASES), (M, {**META_CASES, **META_ANSWERS})):
            if mine := [s for s in wanted if s in group]:
                results += autograde([name], students=mine, root=tmp, jobs=2, env=ENV,
                                     canary=False)
    feedback(sorted({r.assignment for r in results}), root=tmp)
    csv_path = export_grades(tmp / "grades.csv", root=tmp)
    return {"root": tmp, "results": {r.student: r for r in results}, "csv": csv_path}


def _selected_students(request) -> list[str] | None:
    """The students the selected tests of this module are about; None: everyone."""
    students = set()
    for item in request.session.items:
        if getattr(item, "module", None) is not request.module:
            continue
        student = getattr(getattr(item, "callspec", None), "params", {}).get("student")
        if student is None:
            return None
        students.add(student)
    return sorted(students) or None


def _graded_nb(root: Path, student: str, assignment: str = A):
    path = root / "autograded" / student / assignment / f"{assignment}.ipynb"
    return nbformat.read(path, as_version=4) if path.exists() else None


def _student_view(root: Path, student: str, assignment: str = A) -> str:
    """Everything the student gets back: feedback HTML and notes, as text."""
    folder = root / "feedback" / student / assignment
    view = "\n".join(p.read_text() for p in sorted(folder.glob("*")) if p.is_file())
    return html.unescape(re.sub(r"<[^>]+>", "", view))


#: student -> (assignment, expected score, max score)
EXPECTED = {**{s: (A, c[1], 6) for s, c in CASES.items()},
            **{s: (P, c[1], 3) for s, c in PSNR_CASES.items()},
            **{s: (M, c[2], 3) for s, c in META_CASES.items()},
            **{s: (M, c[1], 3) for s, c in META_ANSWERS.items()}}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_score_is_as_expected(graded, student):
    result = graded["results"][student]
    assignment, expected, max_score = EXPECTED[student]
    assert result.assignment == assignment
    assert not result.failed, f"{student}: the grader failed: {result.notes}"
    assert bool(result.review) == (student in REVIEW), f"{student}: {result.notes}"
    assert (result.score, result.max_score) == (expected, max_score), \
        f"{student}: {result.score}/{result.max_score}, notes {result.notes}"


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_student_sees_a_clear_message_and_no_hidden_code(graded, student):
    assignment = EXPECTED[student][0]
    text = _student_view(graded["root"], student, assignment)
    words = {**CASES, **PSNR_CASES, **META_ANSWERS}.get(student, (None, None, []))[2]
    for word in words:
        assert word in text, f"{student}'s feedback lacks {word!r}"
    note = NOTES.get(student) or META_CASES.get(student, (None,) * 4)[3]
    if note:
        assert note in text, f"{student}'s feedback lacks the note {note!r}"
    for code in HIDDEN_CODE:
        assert code not in text, f"{student}'s feedback shows hidden-test code {code!r}"


def test_an_unreadable_submission_costs_that_student_only(graded):
    # a folder in the notebook's place: read by the one bounded reader, set aside with a note
    result = graded["results"]["m10_unreadable"]
    assert result.score == 0 and not result.failed, result
    assert any("could not be read as a notebook (IsADirectoryError)" in n
               for n in result.notes), result.notes
    others = [r for s, r in graded["results"].items() if s != "m10_unreadable"]
    assert others and not any(r.failed for r in others)


def test_gradebook_holds_everyone_and_was_not_tampered(graded):
    scores = gradebook_scores(graded["root"])
    assert scores == {**{s: float(e[1]) for s, e in EXPECTED.items()}, "m10_unreadable": 0.0}


def test_grades_csv(graded):
    import csv

    rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(graded["csv"].open())}
    submitted = {(s, e[0]) for s, e in EXPECTED.items()} | {("m10_unreadable", M)}
    assert submitted <= set(rows)
    assert float(rows["s03_wrong_arch", A]["score"]) == 4
    assert rows["s03_wrong_arch", A]["tasks"] == "vanilla 4/6"
    assert "could not be read" in rows["s11_truncated", A]["notes"]
    assert float(rows["p02_course_psnr", P]["score"]) == 0


def test_snooping_was_blocked(graded):
    nb = _graded_nb(graded["root"], "s17_snoop", M)
    solution = next(c for c in nb.cells if _grade_id(c) == "double-solution")
    out = "".join(o.get("text", "") for o in solution.outputs)
    assert "blocked read" in out and "blocked write" in out, out
    assert "READ" not in out and "WROTE" not in out and "HIDDEN FOUND" not in out, out


#: student -> what its answer cell must print (the attack stopped), and must not.
ESCAPES = {"s40_detached_sleeper": ([], []), "s41_pipe_holder": ([], []),
           "s42_shm_filler": (["shm: capped after"], ["wrote 450 MiB"]),
           "s43_env_secret": (["secret: not found"], ["SECRET FOUND"]),
           # its own network: what it sees listening is its own kernel's (p05 and
           # test_nothing_from_inside_reached_the_grader try the grader's listeners)
           "s44_port_scan": (["ports: saw"], []),
           "s45_kill_others": (["killed none"], ["KILLED"]),
           "s46_root_powers": (["sniff: refused", "dev: refused"], ["SNIFFED", "DEV WRITTEN"])}


def _alive_with(marker: str) -> list[str]:
    """This machine's processes whose command line holds ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


@pytest.mark.parametrize("student", sorted(ESCAPES))
def test_escapes_from_the_sandbox_were_stopped(graded, student):
    """Nothing a kernel started outlived it, its /dev/shm was its own, it saw no secret,
    reached no other kernel's port and killed no other grading process."""
    nb = _graded_nb(graded["root"], student, M)
    solution = next(c for c in nb.cells if _grade_id(c) == "double-solution")
    out = "".join(o.get("text", "") for o in solution.outputs)
    must, must_not = ESCAPES[student]
    for words in must:
        assert words in out, (student, out)
    for words in must_not:
        assert words not in out, (student, out)
    for marker in SLEEPERS:
        assert not _alive_with(marker), f"{marker} outlived its kernel"
    assert not list(Path("/dev/shm").glob("matrix-s42-*")), "the kernel's /dev/shm leaked"
    assert not list(Path("/dev").glob("matrix-s46-*")), "a kernel wrote to the host's /dev"


def test_nothing_from_inside_reached_the_grader(graded):
    """p05 connected and sent from its kernel and its answer process: nothing arrived."""
    assert graded["results"].get("p05_probes_from_inside") is not None
    for listener in (_TCP, _ABSTRACT):
        with pytest.raises(BlockingIOError):
            listener.accept()
    with pytest.raises(BlockingIOError):
        _UDP.recvfrom(64)


def test_library_stderr_did_not_cost_points(graded):
    nb = _graded_nb(graded["root"], "s16_library_stderr")
    tests = [c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("grade")]
    assert not any(o.get("name") == "stderr" for c in tests for o in c.outputs)


def test_tampering_with_the_checks_names_changes_no_verdict(graded):
    """The attacks on the checks' names (and on the probes') run in the kernel, where
    no test runs: every test cell shows the checks' own failure."""
    every = {"vanilla-tests-shapes", "vanilla-tests-layers", "vanilla-tests-training"}
    for student in ("s18_noop_checks", "s19_rebind_checks", "s26_frame_rebind",
                    "s73_rebind_probes", "s74_patch_probes"):
        nb = _graded_nb(graded["root"], student)
        for cell in nb.cells:
            if _grade_id(cell) in every:
                names = [o.get("ename") for o in cell.outputs if o.output_type == "error"]
                assert names and "NeedsReview" not in names, (student, _grade_id(cell), names)


def test_review_is_marked_for_manual_grading_in_the_gradebook(graded):
    db = sqlite3.connect(graded["root"] / "gradebook.db")
    flagged = {row[0] for row in db.execute(
        "SELECT DISTINCT student.id FROM grade "
        "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = "
        "submitted_assignment.id JOIN student ON submitted_assignment.student_id = student.id "
        "WHERE grade.needs_manual_grade = 1")}
    assert REVIEW <= flagged, flagged


def test_a_published_number_is_not_partial_credit(graded):
    nb = _graded_nb(graded["root"], "s24_partial_credit")
    tests = [c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("grade")]
    assert not any(o.output_type == "execute_result" for c in tests for o in c.outputs)


def test_regrading_gives_the_same_score(graded):
    root = graded["root"]
    again = autograde([A], students=["s03_wrong_arch", "s12_damaged"], root=root, jobs=2,
                      env=ENV, progress=lambda *_: None, sync=False, canary=False)
    for result in again:
        first = graded["results"][result.student]
        assert (result.score, result.max_score) == (first.score, first.max_score)
    assert gradebook_scores(root) == {**{s: float(e[1]) for s, e in EXPECTED.items()},
                                       "m10_unreadable": 0.0}


def test_report_lists_every_kind_of_flagged_submission(graded):
    """``make report`` on this class: each flag with its reason (instructor.analytics)."""
    import csv

    from instructor.analytics.graded import load
    from instructor.analytics.report import write_report

    root, flags = graded["root"], {}
    for name in (A, P, M):
        page = write_report(name, root=root)
        assert "Flagged submissions" in page.read_text()
        flags.update({s.student: {f for f, _ in s.flags} for s in load(name, root).submitted})
        with (page.parent / "flagged.csv").open() as f:
            assert all(row["reason"] for row in csv.DictReader(f))
    expected = {"m10_unreadable": "UNREADABLE", "s11_truncated": "UNREADABLE",
                "s06_infinite_loop": "TIMEOUT", "s07_crash": "CRASH", "s15_memory": "CRASH",
                "s08_deleted_answer": "REPAIRED", "s09_deleted_test": "REPAIRED",
                "s10_edited_test": "REPAIRED", "s12_damaged": "REPAIRED",
                **{s: "REPAIRED" if c[2] else "TOO LARGE" for s, c in META_CASES.items()
                   if s != "m01_correct"},
                **{s: "REPAIRED" for s in NOTES if s.startswith(("s30", "s31", "s32", "s33",
                                                                 "s34"))},
                **{s: "NEEDS REVIEW" for s in REVIEW},
                # s53's prints stay in the answer process's capped log: full marks, no flag
                **{s: "TOO LARGE" for s in {**CASES, **META_ANSWERS}
                   if s.startswith("s5") and s != "s53_prints_when_called"}}
    missing = {s: f for s, f in expected.items() if f not in flags[s]}
    assert not missing, {s: flags[s] for s in missing}
    assert flags["s01_correct"] == flags["p01_correct"] == set()


# ------------------------------------------------------------------ hidden tests stay hidden
# Notebook 05's psnr task graded with a grader's secret: answers that try to show the
# hidden test's code, inputs and expected values in their feedback (In[-1], _ih, frames,
# exception messages, a file read back by a later cell), and answers that memorise the
# inputs of a published run (the notebook run without a secret, as a student runs it).
# Graded in a course folder of their own, so `-k s6` grades these alone.
H = "m05_hidden"
HIDDEN_SECRET = "the matrix grader's secret"
PSNR_BODY = """\
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    return 10.0 * np.log10(1.0 / ((pred - target) ** 2).reshape(len(pred), -1).mean(axis=1))
"""
#: a cell added after the tests, looking for what the hidden test left behind
LOOK_AFTER = """\
import glob, linecache
print(In, _ih)
print([v for v in linecache.cache.values()])
for _name in glob.glob("**/leak*", recursive=True):
    print(_name, open(_name).read())
"""


def _leaky(first: str) -> str:
    """A correct psnr that first runs ``first`` (with pred and target in scope)."""
    return "def psnr(pred, target):\n" + first + PSNR_BODY


def _memorising(memo: dict[str, list[float]], preamble: str = "") -> str:
    """Right answers for the inputs it memorised (by their bytes), zeros elsewhere."""
    return (preamble + "import hashlib\n\n_MEMO = " + repr(memo) + "\n\n\n"
            "def psnr(pred, target):\n"
            "    key = hashlib.sha256(np.asarray(pred).tobytes()\n"
            "                         + np.asarray(target).tobytes()).hexdigest()\n"
            "    return np.array(_MEMO.get(key, [0.0] * len(pred)))\n")


def _published_memo() -> dict[str, list[float]]:
    """The inputs and results of notebook 05's psnr tests as a run without a grader's
    secret draws them (what a student sees running the notebook, or a published run)."""
    return {hashlib.sha256(np.asarray(p).tobytes() + np.asarray(t).tobytes()).hexdigest():
            list(result) for p, t, result in _psnr_calls(key="")}


def _psnr_calls(key: str) -> list[tuple]:
    """(pred, target, psnr) of every call notebook 05's psnr tests make, drawn with
    ``key`` (run here with the reference answer)."""
    import helpers
    from helpers.grading.hidden import KEY_VARIABLE

    src = nbformat.read(SOURCE_05, as_version=4)
    calls = []

    def psnr(pred, target):
        namespace = {"np": np}
        exec(reference(next(c.source for c in src.cells  # noqa: S102
                            if _grade_id(c) == "psnr-solution")), namespace)
        result = namespace["psnr"](pred, target)
        calls.append((np.array(pred), np.array(target), result))
        return result

    saved = os.environ.get(KEY_VARIABLE)
    os.environ[KEY_VARIABLE] = key
    try:
        for grade_id in ("psnr-tests-visible", "psnr-tests-hidden"):
            source = next(c.source for c in src.cells if _grade_id(c) == grade_id)
            exec(source, {"np": np, "helpers": helpers, "psnr": psnr})  # noqa: S102
    finally:
        if saved is None:
            os.environ.pop(KEY_VARIABLE, None)
        else:
            os.environ[KEY_VARIABLE] = saved
    return calls


# case: (answer, cells added after the tests, expected score)
HIDDEN_CASES = {
    "s60_correct": (lambda: _leaky(""), (), 3),
    "s61_prints_source": (lambda: _leaky("    print(In[-1])\n    print(_ih)\n"), (), 3),
    "s62_prints_inputs": (lambda: _leaky("    print(repr(pred), repr(target))\n"), (), 3),
    "s63_raises_with_inputs": (lambda: _leaky(
        "    if np.ndim(pred) != 3:  # not the visible test's shape\n"
        "        raise ValueError(f'{pred!r} {target!r} {In[-1]}')\n"), (), 1),
    "s64_reads_frames": (lambda: _leaky(
        "    import inspect\n"
        "    print([(f.frame.f_locals, f.code_context) for f in inspect.stack()])\n"), (), 0),
    "s65_file_read_later": (lambda: _leaky(
        "    with open('leak.txt', 'a') as out:\n"
        "        out.write(repr(pred) + repr(target) + In[-1])\n"), (LOOK_AFTER,), 3),
    # the grader's own withheld sentence first: no text of the student's is trusted
    "s68_raises_graders_words": (lambda: _leaky(
        "    if np.ndim(pred) != 3:\n"
        f"        raise ValueError({WITHHELD_MESSAGE!r} + f' {{pred!r}} {{target!r}}')\n"),
        (), 1),
    "s66_memorises_published_run": (lambda: _memorising(_published_memo()), (), 1),
    "s67_memorises_and_unsets_key": (lambda: _memorising(
        _published_memo(), "import os\n\nos.environ.pop('GRADER_HIDDEN_KEY', None)\n"), (), 1),
}
#: ... set aside for review (the frames are read with inspect)
HIDDEN_REVIEW = {"s64_reads_frames"}
HIDDEN_TEST_CODE = ["_hidden_psnr_tests", "hidden_rng", "BEGIN HIDDEN", "float32 inputs, as"]


@pytest.fixture(scope="module")
def hidden_graded(tmp_path_factory, data_dir):
    """The students of HIDDEN_CASES, graded with a grader's secret, with feedback."""
    tmp = tmp_path_factory.mktemp("matrix_hidden")
    (tmp / "notebooks" / H).mkdir(parents=True)
    nbformat.write(_task_notebook(SOURCE_05, "psnr", "task (e) of notebook 05, hidden tests"),
                   tmp / "notebooks" / H / f"{H}.ipynb")
    generate("release", [H], root=tmp)
    secret = tmp / "grader-secret"
    secret.write_text(HIDDEN_SECRET)
    incoming = tmp / "incoming"
    for student, (answer, after, _) in HIDDEN_CASES.items():
        nb = _release(tmp, H)
        next(c for c in nb.cells if _grade_id(c) == "psnr-solution").source = answer()
        nb.cells += [nbformat.v4.new_code_cell(source) for source in after]
        (incoming / student).mkdir(parents=True)
        nbformat.write(nb, incoming / student / f"{H}.ipynb")
    collect(incoming, H, root=tmp)
    env = {**ENV, "COURSE_HIDDEN_SECRET_FILE": str(secret)}
    results = autograde([H], root=tmp, jobs=2, env=env, canary=False)
    feedback([H], root=tmp)
    return {"root": tmp, "results": {r.student: r for r in results}, "env": env}


def _drawn_digits(root: Path, student: str) -> list[str]:
    """Seven digits of each value the hidden test drew for this submission and of each
    expected result: numbers no answer could have written, since they come from the
    grader's secret."""
    from helpers.grading.hidden import submission_key

    stamp = (root / "submitted" / student / H / "timestamp.txt").read_text().strip()
    key = submission_key(HIDDEN_SECRET.encode(), student, stamp)
    digits = []
    for pred, target, result in _psnr_calls(key)[1:]:  # the first call is the visible test
        for value in [*pred.ravel()[:3], *target.ravel()[:3]]:
            digits.append(f"{value:.10f}"[2:9])
        digits += [f"{value:.10f}".split(".")[1][:7] for value in result[:2]]
    # (a value clipped to 0 or 1 prints as zeros, which anything may contain)
    return [d for d in digits if len(set(d)) >= 4]


@pytest.mark.parametrize("student", sorted(HIDDEN_CASES))
def test_hidden_tests_stay_hidden(hidden_graded, student):
    result = hidden_graded["results"][student]
    assert not result.failed, f"{student}: the grader failed: {result.notes}"
    assert bool(result.review) == (student in HIDDEN_REVIEW), f"{student}: {result.notes}"
    assert (result.score, result.max_score) == (HIDDEN_CASES[student][2], 3), \
        f"{student}: {result.score}/{result.max_score}, notes {result.notes}"
    root = hidden_graded["root"]
    outputs = json.dumps([c.get("outputs", []) for c in _graded_nb(root, student, H).cells])
    # seven digits can occur by chance in the student's own code (a memo of floats), which
    # the feedback shows: only what the student did not write counts
    submitted = nbformat.read(root / "submitted" / student / H / f"{H}.ipynb", 4)
    own = "".join(c.source for c in submitted.cells)
    drawn = [d for d in _drawn_digits(root, student) if d not in own]
    assert len(drawn) > 20
    for where, text in [("feedback", _student_view(root, student, H)),
                        ("graded notebook's outputs", outputs)]:
        for code in HIDDEN_TEST_CODE:
            assert code not in text, f"{student}'s {where} shows hidden-test code {code!r}"
        for digits in drawn:
            assert digits not in text, f"{student}'s {where} shows a hidden input or result"


def test_a_regrade_draws_the_same_inputs(hidden_graded):
    """Same submission, same secret: the same score (the memoriser still fails, the
    correct answers still pass)."""
    root = hidden_graded["root"]
    students = ["s60_correct", "s66_memorises_published_run"]
    again = autograde([H], students=students, root=root, jobs=2, env=hidden_graded["env"],
                      progress=lambda *_: None, sync=False, canary=False)
    for result in again:
        first = hidden_graded["results"][result.student]
        assert (result.score, result.max_score) == (first.score, first.max_score)
