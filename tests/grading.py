"""Grade one task of a source notebook the way nbgrader would, without the whole notebook.

A graded task is a set of cells in a source notebook: the cells tagged ``grade-setup``
(imports, ``helpers.setup()``, small data) and the cells tagged ``task-<name>`` (the
solution cell and its test cells, plus any context they need). :func:`grade_task`
runs just those cells in a fresh kernel, with the solution cell's code replaced by a
variant, and scores the test cells as nbgrader does: a test cell earns its points only
if it raised no error and wrote nothing to stderr.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


@dataclass
class TaskGrade:
    """The result of grading one task: points per test cell and why cells failed."""

    points: float
    max_points: float
    cells: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    #: test cells marked as checked through the student's own model code (OWN MODEL CODE)
    own_code: set[str] = field(default_factory=set)

    @property
    def full_marks(self) -> bool:
        return self.points == self.max_points


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def task_cells(nb, task: str) -> list:
    """The cells that grading ``task`` needs, in notebook order."""
    wanted = {"grade-setup", f"task-{task}"}
    cells = [c for c in nb.cells if c.cell_type == "code" and wanted & set(_tags(c))]
    if not any(f"task-{task}" in _tags(c) for c in cells):
        raise ValueError(f"no cells tagged task-{task}")
    return cells


def solution_cell(cells: list, task: str):
    """The one solution cell of ``task``."""
    found = [c for c in cells if f"task-{task}" in _tags(c)
             and c.metadata.get("nbgrader", {}).get("solution")]
    if len(found) != 1:
        raise ValueError(f"task-{task} has {len(found)} solution cells, expected 1")
    return found[0]


def notebook_path(notebook: str | Path) -> Path:
    """A source notebook given by its file name (searched under notebooks/) or its path."""
    path = Path(notebook)
    if not path.is_absolute():
        path = next(NOTEBOOKS.glob(f"**/{path}"), NOTEBOOKS / path)
    return path


def reference_solution(notebook: str | Path, task: str) -> str:
    """The source of ``task``'s solution cell, solution region included."""
    nb = nbformat.read(notebook_path(notebook), as_version=4)
    return solution_cell(task_cells(nb, task), task).source


def released_stub(notebook: str | Path, task: str) -> str:
    """The solution cell as students receive it: the solution region replaced by a raise."""
    return re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION",
                  "# YOUR CODE HERE\n    raise NotImplementedError()",
                  reference_solution(notebook, task), flags=re.S)


def reference_with(notebook: str | Path, task: str, *replacements: tuple[str, str]) -> str:
    """The reference solution with each ``(old, new)`` replaced (``old`` must occur)."""
    source = reference_solution(notebook, task)
    for old, new in replacements:
        assert old in source, f"{old!r} not in the reference solution"
        source = source.replace(old, new)
    return source


def hidden_cell_passes(notebook: str | Path, grade_id: str, answer: str, seed: int,
                        failures: tuple[type[BaseException], ...] = (AssertionError,)) -> bool:
    """Whether the NumPy task's hidden test cell ``grade_id`` passes ``answer`` with
    ``seed`` as its draws (``helpers.hidden_rng``); ``failures``: what a failed check raises."""
    import contextlib
    from types import SimpleNamespace

    import numpy as np

    import helpers as course

    nb = nbformat.read(notebook_path(notebook), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    helpers = SimpleNamespace(hidden_rng=lambda _: np.random.default_rng(seed),
                              quiet=contextlib.nullcontext, downscale=course.downscale,
                              gray_to_rgb=course.gray_to_rgb)
    names = {"np": np, "helpers": helpers}
    exec(answer, names)
    try:
        exec(cell.source, names)
    except failures:
        return False
    return True


def errors(cell) -> list[str]:
    """``"Name: message"`` for every error a cell raised."""
    return [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", [])
            if o.output_type == "error"]


def _failure(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            return f"{out.ename}: {out.evalue}"
        if out.output_type == "stream" and out.name == "stderr":
            return f"wrote to stderr: {out.text[:300]}"
    return None


_RESET = """\
for _name in [n for n in list(globals()) if n not in _grading_baseline]:
    del globals()[_name]
"""
_BASELINE = "_grading_baseline = set(globals()) | {'_grading_baseline', '_name'}"


GRADING_ENV = {"NBGRADER_EXECUTION": "autograde", "COURSE_MODE": "fast"}


def execute(nb, cwd: Path, env: Mapping[str, str], timeout: int = 600,
            release: Path | None = None) -> None:
    """Run ``nb`` in place as the grader does, through the course's ``SafeExecute`` with
    the course's nbgrader configuration (the setup and answer cells in the answer
    process, the tests in the checking process, both sandboxed, beside ``cwd``'s files),
    with ``env`` added to their environment (this process's is not changed); errors stay
    in the cells' outputs (see :func:`errors`).

    ``release``: the trusted notebook (setup, context, answer and test cells) the outside
    check reads; ``None``: no test can be checked (each needs review).
    """
    from traitlets.config.loader import PyFileConfigLoader

    from instructor.engine import limits
    from instructor.engine.execute import SafeExecute
    from instructor.engine.runner import kernel_env

    environment = kernel_env(env)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    # what the kernels may read, for this environment (its data folder): in the config,
    # since SafeExecute re-reads its config when it starts the notebook
    config.SafeExecute.readable_paths = limits.readable_paths(environment)
    # a notebook of many variants: its checks run every variant's tests, so it
    # gets twice as long as the notebook itself (a submission has one variant, far less)
    executor = SafeExecute(config=config, cell_timeout=timeout,
                           checks_timeout=2 * max(timeout, 900),
                           release_notebook=str(release or ""),
                           kernel_environment=environment)
    executor.readable_paths = [*executor.readable_paths, str(cwd)]
    executor.preprocess(nb, {"metadata": {"path": str(cwd)}})


def _score(cells: list) -> TaskGrade:
    from instructor.engine.judge import OWN_CODE_NOTE

    grade = TaskGrade(points=0.0, max_points=0.0)
    for cell in cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        points = float(meta.get("points", 0))
        grade.max_points += points
        reason = _failure(cell)
        earned = 0.0 if reason else points
        grade.cells[meta["grade_id"]] = earned
        grade.points += earned
        if any(o.output_type == "stream" and OWN_CODE_NOTE in o.text
               for o in cell.get("outputs", [])):
            grade.own_code.add(meta["grade_id"])
        if reason:
            grade.failures[meta["grade_id"]] = reason
    return grade


def _copy(cell):
    """A copy of a code cell with a fresh id (a notebook's cell ids must be unique)."""
    copy = nbformat.v4.new_code_cell(cell.source)
    copy.metadata = nbformat.from_dict(dict(cell.metadata))
    return copy


def grade_variants(notebook: str | Path, task: str, variants: dict[str, str | None],
                   timeout: int = 300, env: Mapping[str, str] | None = None,
                   ) -> dict[str, TaskGrade]:
    """Grade several answers to ``task`` in one kernel, each from a clean namespace.

    The setup cells run once; before each variant every name defined since then is
    deleted, then the task's cells run with the variant as the solution (``None``
    keeps the reference solution). Much faster than one kernel per variant. ``env`` is
    added to the kernel's environment, over :data:`GRADING_ENV`.
    """
    path = notebook_path(notebook)
    nb = nbformat.read(path, as_version=4)
    cells = task_cells(nb, task)
    setup = [c for c in cells if f"task-{task}" not in _tags(c)]
    task_only = [c for c in cells if f"task-{task}" in _tags(c)]
    solution_cell(task_only, task)  # exactly one
    new_cells = [_copy(c) for c in setup]
    new_cells.append(nbformat.v4.new_code_cell(_BASELINE))
    spans: dict[str, tuple[int, int]] = {}
    for name, source in variants.items():
        new_cells.append(nbformat.v4.new_code_cell(_RESET))
        begin = len(new_cells)
        for cell in task_only:
            copy = _copy(cell)
            if source is not None and copy.metadata.get("nbgrader", {}).get("solution"):
                copy.source = source
            new_cells.append(copy)
        spans[name] = (begin, len(new_cells))
    small = nbformat.v4.new_notebook(cells=new_cells, metadata=nb.metadata)
    # what the grader trusts: the source notebook and this harness's own cells
    trusted = nbformat.v4.new_notebook(cells=[*nb.cells, nbformat.v4.new_code_cell(_BASELINE),
                                              nbformat.v4.new_code_cell(_RESET)])
    with tempfile.TemporaryDirectory() as tmp:
        release = Path(tmp) / path.name
        nbformat.write(trusted, release)
        execute(small, path.parent, {**GRADING_ENV, **(env or {})}, timeout, release=release)
    return {name: _score(small.cells[a:b]) for name, (a, b) in spans.items()}


def grade_task(notebook: str | Path, task: str, solution_source: str | None = None,
               timeout: int = 300, env: Mapping[str, str] | None = None) -> TaskGrade:
    """Grade one answer to ``task`` (``None``: the reference solution) in a fresh kernel."""
    return grade_variants(notebook, task, {"answer": solution_source}, timeout, env)["answer"]


# ---------------------------------------------------------------- assertions for the grading tests
def assert_full_marks(grade: TaskGrade, name: str, max_points: float) -> None:
    """A correct answer earns every point of a task worth ``max_points``."""
    assert grade.full_marks, f"{name}: {grade.points}/{grade.max_points}, {grade.failures}"
    assert grade.max_points == max_points


def assert_variant_points(grades: dict[str, TaskGrade], expected: dict[str, float],
                          max_points: float) -> None:
    """Every variant of :func:`grade_variants` earns exactly the expected points (full
    marks where not listed), of a task worth ``max_points``."""
    assert set(expected) <= set(grades)
    for name, grade in grades.items():
        want = expected.get(name, grade.max_points)
        assert grade.max_points == max_points, (name, grade)
        assert grade.points == want, (
            f"{name}: expected {want} of {grade.max_points}, got {grade.points}; "
            f"failures: {grade.failures}")


def assert_stub_scores_nothing(grade: TaskGrade) -> None:
    """The released stub earns nothing, and every test cell says it is not implemented."""
    assert grade.points == 0
    assert all("NotImplementedError" in why for why in grade.failures.values())


def assert_loses(grade: TaskGrade, reference: TaskGrade, name: str, lost: set[str],
                 message: str) -> None:
    """A wrong answer fails exactly the ``lost`` test cells, keeps the points of the
    others (as the reference earns them), and one failure explains it with ``message``."""
    assert set(grade.failures) == lost, f"{name}: failed {grade.failures}"
    assert grade.points == sum(p for cell, p in reference.cells.items() if cell not in lost)
    assert any(message in why for why in grade.failures.values()), grade.failures


# ---------------------------------------------------------------- the tests of one builder task
@dataclass
class GradedTask:
    """What the grading tests of one task check (see :func:`task_tests`).

    ``points``: test cell -> points. ``correct``: differently written correct answers
    (name -> source, ``None`` for the reference, which must be there). ``wrong``: name ->
    the test cells that wrong answer must fail, and words one of its failures must
    contain. ``sources``: gives the wrong answers' sources when the tests run (most are
    the reference solution with a mistake put in, so reading it waits until then).
    """

    notebook: str
    task: str
    points: dict[str, float]
    correct: dict[str, str | None]
    wrong: dict[str, tuple[set[str], str]]
    sources: Callable[[], dict[str, str]]
    timeout: int = 300
    #: the correct answers whose tests run code of the student's own behind the checks
    #: (a class or layer of theirs): their passing tests say so, and no other's do
    own_code: frozenset[str] = frozenset()


def task_tests(spec: GradedTask) -> dict[str, object]:
    """The grading tests of one task, for a test module's globals.

    A module-scoped ``grades`` fixture grades every answer in one kernel
    (:func:`grade_variants`; ``pytest -s`` shows the score matrix); the tests check the
    points per test cell, full marks for each correct answer, nothing for the released
    stub, and each wrong answer losing exactly the points of its test cells, with its
    message.
    """

    @pytest.fixture(scope="module")
    def grades(data_env):
        sources = spec.sources()
        assert set(sources) == set(spec.wrong), "each wrong answer needs a source and an outcome"
        variants = {**spec.correct, "stub": released_stub(spec.notebook, spec.task), **sources}
        results = grade_variants(spec.notebook, spec.task, variants, spec.timeout, data_env)
        for name, grade in results.items():
            print(f"{name:<22}{grade.points:g}/{grade.max_points:g}  "
                  f"lost: {sorted(grade.failures)}")
        return results

    def test_points_per_cell(grades):
        assert grades["reference"].cells == spec.points

    @pytest.mark.parametrize("name", list(spec.correct))
    def test_correct_answers_score_full_marks(grades, name):
        assert_full_marks(grades[name], name, sum(spec.points.values()))

    def test_stub_scores_nothing(grades):
        assert_stub_scores_nothing(grades["stub"])

    @pytest.mark.parametrize("name", list(spec.wrong))
    def test_wrong_answers_lose_specific_points(grades, name):
        lost, message = spec.wrong[name]
        assert_loses(grades[name], grades["reference"], name, lost, message)

    @pytest.mark.parametrize("name", list(spec.correct))
    def test_own_model_code_is_flagged_where_it_ran(grades, name):
        flagged = grades[name].own_code
        if name in spec.own_code:
            assert flagged, f"{name}: no test says it ran the student's own model code"
        else:
            assert not flagged, f"{name} has no code of its own, yet {sorted(flagged)} say so"

    tests = (test_points_per_cell, test_correct_answers_score_full_marks,
             test_stub_scores_nothing, test_wrong_answers_lose_specific_points,
             test_own_model_code_is_flagged_where_it_ran)
    return {"grades": grades, **{test.__name__: pytest.mark.grading(test) for test in tests}}
