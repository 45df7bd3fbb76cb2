"""The layout is the architecture: each room imports only from the rooms below it.

    instructor.analytics -> instructor.workflow -> instructor.engine -> helpers

and, inside ``helpers``, the student's toolkit never imports what the grader uses
(``helpers.grading``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: room -> the rooms it may import from (itself included)
ALLOWED = {
    "helpers": {"helpers"},
    "helpers.grading": {"helpers", "helpers.grading"},
    "instructor.engine": {"helpers", "helpers.grading", "instructor", "instructor.engine"},
    "instructor.workflow": {"helpers", "helpers.grading", "instructor", "instructor.engine",
                            "instructor.workflow"},
    "instructor.analytics": {"helpers", "helpers.grading", "instructor", "instructor.engine",
                             "instructor.workflow", "instructor.analytics"},
}
ROOMS = sorted(ALLOWED, key=len, reverse=True)


def room_of(module: str) -> str | None:
    """The room a dotted module name belongs to (the longest matching prefix)."""
    for room in ROOMS:
        if module == room or module.startswith(room + "."):
            return room
    return "instructor" if module.split(".")[0] == "instructor" else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(module: str, source: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, at any depth."""
    names = set()
    package = module if is_package else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = (f"{base}.{node.module}" if node.module else base) if node.level \
                else node.module
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """The imports of ``module`` that run against the layout."""
    own = room_of(module)
    if own == "instructor":  # the package's entry points: ROOT and the command line
        return []
    assert own in ALLOWED, f"{module} is in no room of the layout"
    return sorted(m for m in imported(module, source, is_package)
                  if (room := room_of(m)) is not None and room not in ALLOWED[own])


def course_modules() -> list[Path]:
    return sorted(p for pkg in ("helpers", "instructor") for p in (ROOT / pkg).rglob("*.py"))


def test_instructor_has_no_loose_modules():
    """Everything but the package's entry points lives in a room."""
    loose = sorted(p.name for p in (ROOT / "instructor").glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"], loose


@pytest.mark.parametrize("path", course_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_one_way(path):
    module = module_name(path)
    wrong = violations(module, path.read_text(), path.name == "__init__.py")
    assert not wrong, f"{module} ({room_of(module)}) imports {wrong} against the layout"


@pytest.mark.parametrize("module, source, expected", [
    ("instructor.engine.execute", "from instructor.workflow.gradebook import sync\n",
     ["instructor.workflow.gradebook", "instructor.workflow.gradebook.sync"]),
    ("instructor.engine.execute", "from ..workflow import shards\n",
     ["instructor.workflow", "instructor.workflow.shards"]),
    ("helpers.metrics", "import instructor.engine.cells\n", ["instructor.engine.cells"]),
    ("helpers.images", "from helpers.grading import probes\n",
     ["helpers.grading", "helpers.grading.probes"]),
    ("instructor.workflow.shards", "from instructor.analytics import report\n",
     ["instructor.analytics", "instructor.analytics.report"]),
    ("instructor.analytics.report", "from instructor.workflow import gradebook\n", []),
])
def test_the_rule_catches_an_upward_import(module, source, expected):
    assert violations(module, source) == expected


def test_no_import_cycle_among_the_graders_modules():
    """Inside a room, imports run one way too: no module of ``instructor`` reaches itself
    through its imports, at any depth (``workflow.autograde`` and ``workflow.shards``
    imported each other)."""
    paths = sorted((ROOT / "instructor").rglob("*.py"))
    modules = {module_name(p): p for p in paths}
    graph = {m: {i for i in imported(m, p.read_text(), p.name == "__init__.py")
                 if i in modules and i != m} for m, p in modules.items()}

    def reaches(start: str) -> list[str] | None:
        todo, seen = [[start]], set()
        while todo:
            path = todo.pop()
            for nxt in sorted(graph[path[-1]]):
                if nxt == start:
                    return path + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(path + [nxt])
        return None

    cycles = [c for m in sorted(graph) if (c := reaches(m))]
    assert not cycles, " -> ".join(cycles[0])


def test_nothing_outside_the_answer_package_imports_what_runs_student_code():
    """The answer process's runner and its ``helpers`` switch are the answer side's alone:
    no other module of the course imports them (the package's other modules, which run no
    student code, the trusted side shares: the lazy imports too, which the checking
    process and the check server use as the answer process does)."""
    answer_side = {f"instructor.engine.answer.{name}" for name in ("__main__", "activation")}
    wrong = {}
    for path in course_modules():
        module = module_name(path)
        if not module.startswith("instructor.engine.answer"):
            found = imported(module, path.read_text(encoding="utf-8"),
                             path.name == "__init__.py") & answer_side
            wrong.update({module: sorted(found)} if found else {})
    assert not wrong, wrong


def test_the_graders_processes_load_no_plotting_library():
    """The weights' folder (``helpers.pretrained.weights_dir``), which the grader's limits
    and every command that collects or grades read, comes without matplotlib: 0.3 CPU-s
    that each such process paid for nothing."""
    code = ("import sys, instructor.workflow.collect, instructor.workflow.autograde\n"
            "print('matplotlib' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", done.stdout


@pytest.mark.parametrize("argv", [["--help"], ["collect", "--help"], ["report", "--help"],
                                  ["lms-export", "--help"]])
def test_the_instructors_commands_load_nbgrader_and_the_grader_only_to_run(argv):
    """The parser every ``python -m instructor`` command builds first imports neither
    nbgrader nor the grader (Gradescope's module): about a CPU-second each command paid
    (collect: 0.8 s, was 2), loaded only by the commands that read a gradebook or grade."""
    code = (f"import sys\nfrom instructor.__main__ import main\ntry:\n    main({argv!r})\n"
            "except SystemExit:\n    pass\nprint(sorted(m for m in ('nbgrader', "
            "'instructor.workflow.gradescope') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
