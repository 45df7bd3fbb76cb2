"""The canary: the answer key and the released stub graded before any student.

A grader that cannot give the key full marks, or gives the stub points, grades every
student wrongly and says nothing. So a preflight (:func:`preflight`) loads what the
cells load from inside the sandbox, then the key and the stub are graded as students
are (never into the course's gradebook); anything but full marks and 0 raises
:class:`CanaryFailed`. A pass is cached (:func:`cache_key`); docs/grading.md, "The canary".
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import fcntl
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import nbformat

from helpers import settings
from instructor import ROOT
from instructor.engine import judge, outcomes
from instructor.engine.cells import is_exercise_answer, nbgrader_meta, task_of
from instructor.engine.release import hide_hidden
from instructor.workflow.gradebook import (
    digest,
    files_digest,
    grader_files,
    installed_packages,
    notebook_digest,
)
from instructor.workflow.nbgrader_cli import grading_env, load_config
from instructor.workflow.submission import grade_one

#: The canary's two submissions (student ids in the scratch gradebook only).
KEY, STUB = "canary-answer-key", "canary-stub"
_DATASET_CALLS = (re.compile(r"load_(mnist|fashion_mnist|cifar10)\("),
                  re.compile(r"load_dataset\(\s*[\"'](\w+)"),
                  re.compile(r"DATASET\s*=\s*[\"'](\w+)"))
_WEIGHT_NAME = re.compile(r"[\"'](\d\d_[\w.-]+)[\"']")


class CanaryFailed(SystemExit):
    """The answer key or the stub was not graded as it must be, so no student is:
    its message is what the instructor reads (exit status 1)."""


@dataclass
class Canary:
    """The canary of one assignment."""

    assignment: str
    key_score: float = 0.0
    stub_score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0  # the key's and the stub's grading seconds, added (also cached)
    cached: bool = False
    problems: list[str] = field(default_factory=list)
    looked: list[str] = field(default_factory=list)  # preflight: where data was looked for
    warnings: list[str] = field(default_factory=list)  # preflight, when the verdict is good

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        how = (f"cached (it took {self.seconds:.1f} s)" if self.cached
               else f"{self.seconds:.1f} s")
        return (f"canary {self.assignment}: answer key {self.key_score:g}/{self.max_score:g}, "
                f"stub {self.stub_score:g}/{self.max_score:g}, {how}")


# ---------------------------------------------------------------- what the tests need
def needs(assignment: str, root: Path = ROOT) -> tuple[list[str], list[str]]:
    """The datasets and shipped weights the assignment's code cells name."""
    nb = nbformat.read(Path(root) / "notebooks" / assignment / f"{assignment}.ipynb", 4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    from helpers.datasets import FINDERS

    found = {m for pattern in _DATASET_CALLS for m in pattern.findall(code)}
    shipped = {p.name.removesuffix(".weights.npz") for folder in {ROOT, Path(root)}
               for p in (folder / "weights").glob("*.weights.npz")}
    return (sorted(found & set(FINDERS)),
            sorted(set(_WEIGHT_NAME.findall(code)) & shipped))


def names_libraries(assignments: list[str], root: Path = ROOT) -> bool:
    """Whether a task of ``assignments`` (context, answer key, tests with the hidden ones)
    names TensorFlow or a library loaded with it (``answer/lazy.py``): their check servers
    then import them (``check_server.preload``). An assignment without its source: yes."""
    from instructor.engine.answer import lazy

    for name in assignments:
        path = Path(root) / "notebooks" / name / f"{name}.ipynb"
        if not path.is_file() or lazy.named(c.source for c in nbformat.read(path, 4).cells
                                            if c.cell_type == "code" and task_of(c)) is not None:
            return True
    return False


_PREFLIGHT = """
import json, sys
from helpers import datasets, pretrained
out = {"looked": [str(p) for p in datasets.search_dirs()], "problems": {}}
for name in filter(None, sys.argv[1].split(",")):
    try:
        datasets.load_raw(name, download=False)
    except Exception as err:
        out["problems"][name] = f"dataset '{name}': {type(err).__name__}: {err}"
for name in filter(None, sys.argv[2].split(",")):
    path = pretrained.weights_path(name)
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as err:
        out["problems"][name] = (f"pre-trained weights '{name}' ({path}): "
                                 f"{type(err).__name__}: {err.strerror}")
print(json.dumps(out))
"""


def _run_preflight(datasets: set[str], weights: set[str], work: Path, env: dict | None,
                   ) -> dict | str:
    """One sandboxed preflight process: its findings, or why it gave none."""
    from instructor.engine import roles

    work.mkdir(parents=True, exist_ok=True)
    box = roles.Box.from_settings(grading_env(env))
    command, environment = roles.launch(roles.PREFLIGHT, [
        sys.executable, "-c", _PREFLIGHT, ",".join(sorted(datasets)),
        ",".join(sorted(weights))], str(work), box)
    done = subprocess.run(command, cwd=work, env=environment,
                          capture_output=True, text=True, timeout=600)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return (f"the preflight could not run in the sandbox (exit {done.returncode}): "
                f"{done.stderr.strip()[-800:]}")


def preflight(assignments: list[str], root: Path, work: Path, env: dict | None = None,
              ) -> tuple[dict[str, list[str]], list[str]]:
    """Load the datasets and open the weights of ``assignments`` inside the grading
    sandbox, in one process for all (else one each, so one's crash hides no other's missing
    data); ``({assignment: problems}, places looked)``."""
    wanted = {a: need for a in assignments if any(need := needs(a, root))}
    if not wanted:
        return {}, []
    union = [{n for need in wanted.values() for n in need[i]} for i in (0, 1)]
    out = _run_preflight(*union, Path(work), env)
    found = {a: out for a in wanted}
    if isinstance(out, str) and len(wanted) > 1:
        found = {a: _run_preflight(*map(set, need), Path(work), env)
                 for a, need in wanted.items()}
    looked = next((f["looked"] for f in found.values() if isinstance(f, dict)), [])
    return ({a: [f] if isinstance(f, str) else
             [f["problems"][n] for n in [*wanted[a][0], *wanted[a][1]] if n in f["problems"]]
             for a, f in found.items()}, looked)


# ---------------------------------------------------------------- the cache
def cache_key(assignment: str, root: Path, release: Path, key: Path,
              env: dict | None = None) -> str:
    """What the canary's result depends on: the release, source and answer key of
    ``assignment``, the grader's code, every package's version and Python's, the course's
    settings and Keras' home, the machine (name, cores)."""
    full = grading_env(env)
    source = Path(root) / "notebooks" / assignment
    values = {name: str(settings.read(name, full)) for name in settings.SETTINGS
              if name != "COURSE_CANARY_CACHE"}
    return digest(assignment, notebook_digest(release), notebook_digest(key),
                  files_digest((p for p in source.rglob("*")
                                if ".ipynb_checkpoints" not in p.parts), source),
                  files_digest(grader_files(ROOT), ROOT), sys.version, *installed_packages(),
                  json.dumps(values, sort_keys=True), full.get("KERAS_HOME", ""),
                  platform.node(), str(os.cpu_count()))


def cache_dir(root: Path, env: dict | None = None) -> Path:
    return settings.path("COURSE_CANARY_CACHE", grading_env(env)) or Path(root) / ".canary"


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock on ``path``: of two shards, one grades, the other reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:  # closing it releases the lock
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# ---------------------------------------------------------------- grading the canary
def stub_message() -> str:
    """The message of the stub left in a released answer cell (nbgrader_config.py)."""
    return judge.stub_message(load_config().ClearSolutions.code_stub["python"]) \
        or "NotImplementedError"


def answer_key(assignment: str, root: Path, dest: Path, release: Path) -> Path:
    """The answer key's notebook, written into ``dest`` (``solutions/``, else the
    source without outputs), its ungraded exercise answers the ``release``'s stubs, as a
    student who did only the graded tasks leaves them."""
    dest.mkdir(parents=True, exist_ok=True)
    committed = Path(root) / "solutions" / assignment / f"{assignment}.ipynb"
    source = Path(root) / "notebooks" / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(committed if committed.is_file() else source, as_version=4)
    stubs = {nbgrader_meta(c).get("grade_id"): c.source
             for c in nbformat.read(release, as_version=4).cells if is_exercise_answer(c)}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if is_exercise_answer(cell) and nbgrader_meta(cell).get("grade_id") in stubs:
                cell.source = stubs[nbgrader_meta(cell)["grade_id"]]
    target = dest / f"{assignment}.ipynb"
    nbformat.write(nb, target)
    return target


def _short(problem: str) -> str:
    """A preflight problem in two lines at most: what failed, and what to do."""
    lines = problem.splitlines()
    advice = [line for line in lines[1:] if line.startswith("To work offline")]
    return "\n      ".join([lines[0].removesuffix(" Places looked, in order:"), *advice])


def _errors(cell) -> list[str]:
    return [f"{o.get('ename')}: {str(o.get('evalue', '')).strip()}"
            for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def _hint(error: str) -> str:
    """What to do about a test's error that says data could not be loaded."""
    from helpers.datasets import keras_cache_dir

    found = re.search(r"Dataset '(\w+)' was not found", error)
    if found:
        return (f"could not load {found[1]}: set COURSE_DATA_DIR or fill Keras' cache "
                f"({keras_cache_dir()})")
    if error.startswith(("ChecksumError", "PermissionError")):
        return "a data or weights file is damaged or unreadable from the grading sandbox"
    if error.startswith(outcomes.CELL_TIMEOUT):
        return "too slow here: raise COURSE_CELL_TIMEOUT"
    return ""


def failing_tests(graded: nbformat.NotebookNode, source: nbformat.NotebookNode) -> list[str]:
    """One line per graded test cell of ``graded`` that raised: which, whether
    hidden, its first error, and what to do about a data error."""
    hidden = {nbgrader_meta(c).get("grade_id") for c in source.cells
              if hide_hidden(c.source)[1]}
    lines = []
    for cell in graded.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("grade") or not meta.get("points"):
            continue
        errors = _errors(cell)
        if not errors:
            continue
        grade_id = meta.get("grade_id")
        what = f"hidden test of '{grade_id}'" if grade_id in hidden else f"test '{grade_id}'"
        first = errors[0].splitlines()[0].removesuffix(" Places looked, in order:")[:300]
        hint = _hint(errors[0])
        lines.append(f"{what} failed: {first}" + (f"\n      -> {hint}" if hint else ""))
    return lines


def _judge(canary: Canary, key, stub, source: nbformat.NotebookNode) -> None:
    """Fill ``canary`` from the key's and the stub's ``(result, graded notebook, log)``."""
    (k, k_nb, k_log), (s, s_nb, s_log) = key, stub
    canary.key_score, canary.max_score, canary.stub_score = k.score, k.max_score, s.score
    name = canary.assignment
    if k.failed or k_nb is None:
        canary.problems.append(f"the answer key of {name} could not be graded: "
                               + " ".join(k.notes) + f"\n    log: {k_log.strip()[-600:]}")
    elif k.max_score <= 0:
        canary.problems.append(f"{name} has no graded test cell with points")
    elif k.score < k.max_score:
        canary.problems.append(f"the answer key of {name} scored {k.score:g}/{k.max_score:g}"
                               " (it must get full marks):")
        canary.problems += [f"  - {line}" for line in failing_tests(k_nb, source)
                            or [f"no test raised; notes: {'; '.join(k.notes)}"]]
    if s.failed or s_nb is None:
        canary.problems.append(f"the released stub of {name} could not be graded: "
                               + " ".join(s.notes) + f"\n    log: {s_log.strip()[-600:]}")
        return
    message = stub_message()
    if s.score > 0:
        canary.problems.append(
            f"the released stub of {name} scored {s.score:g}/{s.max_score:g} (it must "
            "score 0): the grader gives points to a notebook where nothing is done")
    elif not any(message in e for c in s_nb.cells for e in _errors(c)):
        canary.problems.append(f"the released stub of {name} scored 0 but no cell raised "
                               f"the stub's message ({message!r}): is it the release?")


def _grade_all(todo: list[tuple[str, str, Path]], root: Path, run_dir: Path, env: dict,
               timeout: float, jobs: int) -> dict[tuple[str, str], tuple]:
    """Grade each ``(assignment, who, folder)``, ``jobs`` at a time, as a student is;
    ``(assignment, who) -> (result, graded notebook, log)``."""
    out = {}
    with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {(assignment, who): pool.submit(grade_one, who, assignment, root, run_dir,
                                                  env, timeout, folder)
                   for assignment, who, folder in todo}
        for (assignment, who), future in futures.items():
            result, found, course, log = future.result()
            graded = None
            if course is not None:
                path = course / "autograded" / who / assignment / f"{assignment}.ipynb"
                if path.exists():
                    graded = nbformat.read(path, as_version=4)
                shutil.rmtree(course, ignore_errors=True)
            # as the course gradebook would record it (merge_scores), without writing it
            result.score = sum(auto or 0.0 for auto, _ in (found or {}).get("grades", {})
                               .values())
            result.max_score = sum(float(nbgrader_meta(c).get("points") or 0)
                                   for c in (graded or nbformat.v4.new_notebook()).cells
                                   if nbgrader_meta(c).get("grade"))
            out[assignment, who] = (result, graded, log)
    return out


@dataclass
class _Plan:
    """One assignment's canary before grading: cached (``sources`` None) or to grade."""

    canary: Canary
    work: Path
    cached: Path
    problems: list[str]
    sources: dict[str, Path] | None


def _plan(assignment: str, root: Path, run_dir: Path, env: dict, rerun: bool,
          locks: contextlib.ExitStack, checked: tuple[list[str], list[str]]) -> _Plan:
    """Cache lookup and the two folders to grade, given the preflight's ``checked``;
    the cache entry's lock is held on ``locks`` until the verdict is written."""
    work = run_dir / "canary" / assignment
    release = run_dir / "release" / assignment / f"{assignment}.ipynb"
    stub_dir = work / STUB / assignment
    stub_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(release, stub_dir / release.name)
    key = answer_key(assignment, root, work / KEY / assignment, release)
    canary = Canary(assignment)
    problems, looked = checked
    canary.looked = looked
    # data that cannot be loaded now may have been there when the canary passed: grade
    # again; weights that cannot be opened only cost time (the model trains instead)
    missing_data = any(p.startswith("dataset ") for p in problems)
    hashed = cache_key(assignment, root, release, key, env)
    cached = cache_dir(root, env) / f"{assignment}-{hashed[:24]}.json"
    locks.enter_context(_locked(cached.with_suffix(".lock")))
    entry = None if rerun or missing_data else _passed(cached)
    if entry is not None:
        return _Plan(Canary(**{**entry, "cached": True, "looked": looked}), work, cached,
                     problems, None)
    return _Plan(canary, work, cached, problems, {KEY: key.parent, STUB: stub_dir})


def _passed(cached: Path) -> dict | None:
    """The cache entry at ``cached`` if it is one :func:`_finish` writes: a JSON object of
    exactly :class:`Canary`'s fields, with no problem. Anything else (none, cut short,
    another grader's fields, one missing) is None: the canary grades again."""
    try:
        entry = json.loads(cached.read_bytes())
    except (OSError, ValueError):
        return None
    whole = isinstance(entry, dict) and entry.keys() == {f.name for f in fields(Canary)}
    return entry if whole and entry["problems"] == [] else None


def _finish(plan: _Plan, graded: dict, root: Path, progress) -> Canary:
    """Judge a graded canary and cache it if it passed; report it."""
    canary, problems = plan.canary, plan.problems
    if plan.sources is not None:
        key, stub = graded[canary.assignment, KEY], graded[canary.assignment, STUB]
        canary.seconds = key[0].seconds + stub[0].seconds
        source = nbformat.read(root / "notebooks" / canary.assignment
                               / f"{canary.assignment}.ipynb", 4)
        _judge(canary, key, stub, source)
        if problems and not canary.ok:
            canary.problems += ["what the tests load, checked from inside the grading "
                                "sandbox:", *(f"  - {_short(p)}" for p in problems),
                                "    data was looked for in, in order: "
                                + ", ".join([*canary.looked, "no download"])]
        if canary.ok:
            partial = plan.cached.with_suffix(".partial")  # never a half-written entry
            partial.write_text(json.dumps({**asdict(canary), "cached": False}))
            partial.replace(plan.cached)
    if canary.ok:
        canary.warnings = [_short(p) for p in problems]
    shutil.rmtree(plan.work, ignore_errors=True)
    progress(canary.line())
    for warning in canary.warnings:
        progress(f"  warning (the key still got full marks): {warning}")
    return canary


def run_all(assignments: list[str], root: Path, run_dir: Path, env: dict | None = None,
            timeout: float = 3600, progress=print, rerun: bool = False, jobs: int = 2,
            ) -> list[Canary]:
    """The canaries of ``assignments``, from the cache or graded now (``rerun``: always),
    their keys first in one pool of ``jobs`` graders, in ``run_dir``, autograde's scratch."""
    root, run_dir, env = Path(root), Path(run_dir), dict(env or {})
    with contextlib.ExitStack() as locks:
        names = sorted(set(assignments))
        # every run (data can vanish between runs), for all of them at once
        found, looked = preflight(names, root, run_dir / "canary" / "preflight", env)
        # the cache's locks are taken in one order, so two shards never wait on each other
        plans = {a: _plan(a, root, run_dir, env, rerun, locks, (found.get(a, []), looked))
                 for a in names}
        todo = [(a, who, plan.sources[who]) for who in (KEY, STUB)
                for a, plan in plans.items() if plan.sources is not None]
        if todo:
            progress(f"canary: grading the answer key and the stub of {len(todo) // 2} "
                     f"assignment(s), {max(1, jobs)} at a time")
        graded = _grade_all(todo, root, run_dir, env, timeout, jobs)
        return [_finish(plans[a], graded, root, progress) for a in assignments]


def check(assignments: list[str], root: Path, run_dir: Path, env: dict | None = None,
          timeout: float = 3600, progress=print, rerun: bool = False, jobs: int = 2,
          ) -> list[Canary]:
    """The proof's self-test (in a process of its own, while the canaries grade), and
    every assignment's canary; :class:`CanaryFailed`, before any student, if either is
    not as it must be."""
    from instructor.workflow import proof_check

    with cf.ThreadPoolExecutor(1) as pool:
        self_test = pool.submit(proof_check.check, cache_dir(root, env))
        canaries = run_all(assignments, root, run_dir, env, timeout, progress, rerun, jobs)
        found = self_test.result()
    if found:
        raise CanaryFailed("\n".join([
            "The grader's proof that a returned model's copy does what the model does "
            "failed its self-test on this installation, so no student was graded:", "",
            *(f"  {line}" for line in found), "",
            "Run the grader's tests (tests/test_proof_check.py) after a change of Keras or "
            "of instructor/engine/answer/step.py; --skip-canary grades anyway."]))
    failed = [c for c in canaries if not c.ok]
    if failed:
        lines = ["The grader cannot be trusted here, so no student was graded.", ""]
        for c in failed:
            lines += [f"{c.assignment}:", *(f"  {p}" for p in c.problems), ""]
        lines.append("Fix the environment (docs/grading.md, 'The canary') and run again; "
                     "--skip-canary grades anyway.")
        raise CanaryFailed("\n".join(lines))
    return canaries


