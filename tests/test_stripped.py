"""The stripped ``helpers`` copy an answer runs against (instructor/engine/stripped.py).

Every route to the course's own implementations of tasks (e)-(i), run in a fresh
interpreter that imports the copy, reaches only ``raise UsesCourseImplementation``;
the rest of the package still works.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import helpers
from instructor.engine.stripped import (
    USES_COURSE_IMPLEMENTATION,
    course_names,
    plan,
    strip_package,
)

ROOT = Path(__file__).resolve().parents[1]


def course_package() -> Path:
    """The folder of the ``helpers`` package this process imports."""
    return Path(helpers.__file__).resolve().parent


def configured_implementations() -> dict[str, str]:
    """``c.SafeExecute.course_implementations`` of nbgrader_config.py, read without
    loading the whole configuration (that takes seconds)."""
    tree = ast.parse((ROOT / "nbgrader_config.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and \
                ast.unparse(node.targets[0]) == "c.SafeExecute.course_implementations":
            return ast.literal_eval(node.value)
    raise AssertionError("nbgrader_config.py sets no c.SafeExecute.course_implementations")


NAMES = course_names(configured_implementations())


@pytest.fixture(scope="module")
def dest(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("stripped")
    strip_package(course_package(), NAMES, folder)
    return folder


def run(code: str, dest: Path, *flags: str, cwd: Path | None = None, activate: bool = True,
        pythonpath: bool = True, before: str = "", stdin: str | None = None
        ) -> subprocess.CompletedProcess:
    """``before``, :func:`activate` (of ``dest``, ``sys.argv[1]``) and ``code`` in a fresh
    interpreter: ``python -I`` unless ``flags`` say otherwise, in ``dest`` unless ``cwd``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    if pythonpath:
        env["PYTHONPATH"] = str(dest)
    activation = ("from instructor.engine.answer.activation import activate\n"
                  "activate(sys.argv[1])\n") if activate else ""
    return subprocess.run([sys.executable, *(flags or ["-I"]), "-c",
                           f"import sys\n{before}\n{activation}{code}", str(dest)],
                          cwd=cwd or dest, env=env, input=stdin, capture_output=True,
                          text=True, timeout=300)


def test_course_names_reads_the_configured_tasks():
    assert course_names({"psnr": "psnr, mean_psnr", "nearest": "upscale",
                         "again": "psnr,,", "chroma": "mean_chroma"}) == \
        ["psnr", "mean_psnr", "upscale", "mean_chroma"]
    assert NAMES == ["psnr", "mean_psnr", "upscale", "mean_chroma", "quantize", "q_sample",
                     "topk_activation"]


def test_the_plan_strips_each_name_and_what_it_uses_of_its_module():
    assert {str(path): set(kinds) for path, (_, kinds) in plan(course_package(), NAMES).items()
            } == {
        "metrics.py": {"psnr", "mean_psnr", "mean_chroma",
                       "_per_image", "_psnr_of", "_finite_mean",
                       "mse", "image_scores"},                  # they use the ones above
        "transforms.py": {"upscale", "_split_channels", "_zoom_matrix",
                          "downscale", "gray_to_rgb"},
        "codes.py": {"quantize"},
        "diffusion.py": {"q_sample", "alphas_cumprod"},     # named like q_sample's argument
        "sae.py": {"topk_activation"}}
    [(path, (_, kinds))] = plan(course_package(), ["metrics.psnr"]).items()
    assert (path, set(kinds)) == (Path("metrics.py"), {"psnr", "_per_image", "_psnr_of",
                                                      "mse", "mean_psnr", "image_scores"})


@pytest.mark.parametrize("name", ["no_such_function", "transforms.psnr", "_EXPORTS"])
def test_a_name_no_module_defines_is_refused(name, tmp_path):
    with pytest.raises(ValueError, match="not a module-level function"):
        strip_package(course_package(), [name], tmp_path)
    assert not (tmp_path / "helpers").exists()


def test_the_copy_keeps_signatures_and_loses_the_code(dest):
    metrics = (dest / "helpers" / "metrics.py").read_text()
    transforms = (dest / "helpers" / "transforms.py").read_text()
    assert "def psnr(pred: np.ndarray, target: np.ndarray, data_range: float=1.0)" in metrics
    assert "@functools.lru_cache(maxsize=32)\ndef _zoom_matrix(" in transforms
    assert "log10" not in metrics and "isfinite" not in metrics     # psnr's and its helpers'
    assert "repeat(factor" not in transforms and "ndimage.zoom(" not in transforms
    assert "def mean_gradient" in metrics and "np.diff(images, axis=1)" in metrics
    assert not list(dest.rglob("__pycache__"))
    assert (dest / "helpers" / "session.py").read_bytes() == \
        (course_package() / "session.py").read_bytes()


# Each case: code that leaves its result in ``r``; run in one interpreter, each on its own.
# With the real package, each of them computes.
CASES = {
    # the names themselves, every way they are reached
    "helpers.psnr": "r = helpers.psnr(x, y)",
    "helpers.mean_psnr": "r = helpers.mean_psnr(x, y)",
    "helpers.upscale": "r = helpers.upscale(x, 2)",
    "helpers.upscale bicubic": "r = helpers.upscale(x, 2, 'bicubic')",
    "helpers.mean_chroma": "r = helpers.mean_chroma(x)",
    "helpers.quantize": "r = helpers.quantize(x, x[0, 0])",
    "quantize from its module": "from helpers.codes import quantize as q\nr = q(x, x[0, 0])",
    "helpers.q_sample": "r = helpers.q_sample(x, [0] * len(x), x, [0.5])",
    "alphas_cumprod, named like q_sample's argument": "r = helpers.alphas_cumprod(10)",
    "module attribute": "import helpers.metrics\nr = helpers.metrics.psnr(x, y)",
    "from-import alias": "from helpers import psnr as p\nr = p(x, y)",
    "alias assignment": "f = helpers.psnr\nr = f(x, y)",
    "attrgetter": "import operator\nr = operator.attrgetter('psnr')(helpers)(x, y)",
    "attrgetter, dotted": "import operator, helpers.transforms\n"
                          "r = operator.attrgetter('transforms.upscale')(helpers)(x, 2)",
    "reduce(getattr)": "import functools, helpers.metrics\n"
                       "r = functools.reduce(getattr, ['metrics', 'psnr'], helpers)(x, y)",
    "pkgutil.resolve_name": "import pkgutil\n"
                            "r = pkgutil.resolve_name('helpers.metrics:psnr')(x, y)",
    "import_module": "import importlib\n"
                     "r = importlib.import_module('helpers.metrics').mean_chroma(x)",
    "__import__ + vars": "r = vars(__import__('helpers.metrics').metrics)['psnr'](x, y)",
    "reload": "import importlib, helpers.metrics\n"
              "r = importlib.reload(helpers.metrics).psnr(x, y)",
    "reload the package": "import importlib\nr = importlib.reload(helpers).psnr(x, y)",
    "reload transforms": "import importlib, helpers.transforms\n"
                         "r = importlib.reload(helpers.transforms).upscale(x, 2)",
    "exec of getsource(module)": "import inspect, helpers.metrics\nns = {}\n"
                                 "exec(inspect.getsource(helpers.metrics), ns)\n"
                                 "r = ns['psnr'](x, y)",
    "exec of getsource(function)": "import inspect, helpers.metrics\n"
                                   "ns = dict(vars(helpers.metrics))\n"
                                   "exec(inspect.getsource(helpers.psnr), ns)\n"
                                   "r = ns['psnr'](x, y)",
    "exec of the module's file": "import helpers.metrics\nns = {}\n"
                                 "exec(open(helpers.metrics.__file__).read(), ns)\n"
                                 "r = ns['mean_psnr'](x, y)",
    "spec_from_file_location": "import importlib.util as u\n"
                               "import helpers.transforms as t\n"
                               "s = u.spec_from_file_location('mine', t.__file__)\n"
                               "m = u.module_from_spec(s); s.loader.exec_module(m)\n"
                               "r = m.upscale(x, 2)",
    "__code__ copy, module globals": "import types, helpers.metrics as m\n"   # no defaults:
                                     "f = types.FunctionType(m.psnr.__code__, vars(m))\n"
                                     "r = f(x, y, 1.0)",
    "__code__ copy, own globals": "import types\n"
                                  "f = types.FunctionType(helpers.mean_chroma.__code__,\n"
                                  "    {'np': np, '__builtins__': __builtins__})\n"
                                  "r = f(x)",
    "__code__ copy, globals without builtins": "import types\n"
                                               "f = types.FunctionType(helpers.mean_chroma"
                                               ".__code__, {'np': np})\nr = f(x)",
    "__wrapped__ of the cached helper": "import helpers.transforms as t\n"
                                        "r = t._zoom_matrix.__wrapped__(4, 2, 1)",
    # private helpers of the implementations
    "metrics._psnr_of": "import helpers.metrics\n"
                        "r = helpers.metrics._psnr_of(np.array([0.01]))",
    "metrics._per_image": "import helpers.metrics\nr = helpers.metrics._per_image(x, y)",
    "metrics._finite_mean": "import helpers.metrics\n"
                            "r = helpers.metrics._finite_mean(np.array([1.0]))",
    "transforms._split_channels": "import helpers.transforms as t\n"
                                  "r = t._split_channels(x)",
    "transforms._zoom_matrix": "import helpers.transforms as t\nr = t._zoom_matrix(4, 2, 3)",
    # public functions that use a stripped one raise too (intended)
    "image_scores": "r = helpers.image_scores(x, y)",
    "image_scores, chroma": "r = helpers.image_scores(x, y, chroma=True)",
    "mse": "r = helpers.mse(x, y)",
    "downscale": "r = helpers.downscale(x, 2)",
    "gray_to_rgb": "r = helpers.gray_to_rgb(x[..., :1])",
}
PUBLIC_CALLERS = {"image_scores": "metrics", "mse": "metrics", "downscale": "transforms",
                  "gray_to_rgb": "transforms"}
UNTOUCHED = {
    "mean_gradient": "import helpers.metrics\nr = helpers.metrics.mean_gradient(x)",
    "score_table": "r = helpers.score_table({'a': {'mse': 0.01, 'psnr': 20.0, "
                   "'psnr_median': 20.0}})",
    "add_noise": "r = helpers.add_noise(x, 0.1)",
    "rgb_to_gray": "r = helpers.rgb_to_gray(x)",
    "setup": "from helpers import setup\nr = callable(setup)",
    "grading.model_checks": "import helpers.grading.model_checks as mc\n"
                            "r = callable(mc.check_layers) if hasattr(mc, 'check_layers') "
                            "else mc.__name__",
    "grading.hidden": "r = callable(helpers.hidden_rng)",
    "modes": "r = helpers.current_mode()",
    "code_counts": "r = helpers.code_counts(np.array([0, 2, 2]), 3)",
    "perplexity": "r = helpers.perplexity(np.array([1, 1, 0]))",
}
PROBE = """
import json, traceback
import numpy as np
import helpers, helpers.grading
x = np.random.default_rng(0).random((2, 4, 4, 3))
y = np.clip(x + 0.05, 0, 1)
results = {"file": helpers.__file__}
for name, code in json.loads(sys.stdin.read()).items():
    try:
        exec(code, {"helpers": helpers, "np": np, "x": x, "y": y})
        results[name] = ["ok", ""]
    except BaseException as e:
        results[name] = [type(e).__name__, str(e),
                         isinstance(e, getattr(helpers.grading, "UsesCourseImplementation", ()))]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def probed(dest) -> dict:
    done = run(PROBE, dest, stdin=json.dumps({**CASES, **UNTOUCHED}))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_answer_process_imports_the_copy(probed, dest):
    assert Path(probed["file"]).is_relative_to(dest)


@pytest.mark.parametrize("case", CASES)
def test_every_route_to_an_implementation_raises(probed, case):
    name, message, caught = probed[case]
    assert (name, caught) == (USES_COURSE_IMPLEMENTATION, True), (case, name, message)
    assert message.startswith(("helpers.metrics.", "helpers.transforms.", "helpers.codes.",
                               "helpers.diffusion."))
    called = case.split(",")[0].split(" ")[0]
    if called in PUBLIC_CALLERS:
        # a public function that uses an implementation names itself, not a private helper
        assert message == (f"helpers.{PUBLIC_CALLERS[called]}.{called} uses the course's "
                           "own implementation of a task, so it is not available while "
                           "your answer is checked; write your own")
    else:
        assert message.endswith(("is the course's own implementation of this task; "
                                 "write your own", "is part of the course's own "
                                 "implementation of this task; write your own"))


@pytest.mark.parametrize("case", UNTOUCHED)
def test_the_rest_of_the_package_works(probed, case):
    assert probed[case][0] == "ok", probed[case]


# Where ``import helpers`` finds the package. The editable install's finder comes after
# sys.path's: PYTHONPATH wins over it, but ``python -I`` ignores PYTHONPATH, and
# ``python -c`` puts the current folder (the repository, say) first; activate() wins in
# every case and hides the package from the editable finder.
WHERE = "import helpers; print(helpers.__file__)"


@pytest.mark.parametrize("flags, in_repo, activate, copy", [
    (["-I"], False, False, False),        # PYTHONPATH ignored: the editable install's
    (["-s"], False, False, True),         # PYTHONPATH ahead of the editable finder
    (["-s"], True, False, False),         # the current folder ahead of PYTHONPATH
    (["-I"], False, True, True),
    (["-s"], True, True, True),
])
def test_where_helpers_comes_from(dest, flags, in_repo, activate, copy):
    done = run(WHERE, dest, *flags, cwd=ROOT if in_repo else None, activate=activate)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(dest) == copy, done.stdout


def test_activate_hides_helpers_from_the_editable_finder_only(dest):
    code = ("import importlib.util\n"
            "print(sorted(type(f).__name__ for f in sys.meta_path if not isinstance(f, type)))\n"
            "print(importlib.util.find_spec('instructor') is not None)\n" + WHERE)
    done = run(code, dest, pythonpath=False)
    assert done.returncode == 0, done.stderr
    finders, instructor, where = done.stdout.splitlines()
    assert "_Without" in finders        # the editable finder, wrapped
    assert instructor == "True"         # what else it finds stays found
    assert Path(where).is_relative_to(dest)


def test_activate_after_importing_helpers_is_refused(dest):
    done = run(WHERE, dest, before="import helpers")
    assert done.returncode != 0
    assert "RuntimeError: activate(" in done.stderr and "already imported" in done.stderr


def test_activate_refuses_a_folder_without_the_copy(tmp_path):
    done = run(WHERE, tmp_path, pythonpath=False)
    assert done.returncode != 0
    assert "RuntimeError: helpers would be imported from None" in done.stderr


def test_with_the_real_package_every_case_computes(tmp_path):
    """The control: the cases above are working routes to the implementations."""
    done = run(PROBE, tmp_path, activate=False, pythonpath=False,
               stdin=json.dumps({**CASES, **UNTOUCHED}))
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert Path(results.pop("file")).is_relative_to(course_package())
    assert {case: result for case, result in results.items() if result[0] != "ok"} == {}
