"""A copy of the ``helpers`` package without the course's own implementations of the tasks.

Tasks (e)-(i) ask for functions ``helpers`` already has (docs/grading.md, "The course's
own implementations"). Spotting a call by name misses every indirect route (an alias,
``importlib.reload``, ``__code__``, a private helper computing the same thing), so the
answer process's only ``helpers`` is a copy (:func:`strip_package`) in which those
functions, what they use of their module and what uses them (:func:`plan`) raise
``UsesCourseImplementation``; its sandbox does not bind the real package.
"""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

#: What a stripped function raises; the answer process says ``course`` when a call raises
#: that class itself (never a namesake): :data:`.outcomes.USES_COURSE_IMPLEMENTATION`.
USES_COURSE_IMPLEMENTATION = "UsesCourseImplementation"
#: The subpackage of the copy that defines it (every stripped body imports it from there).
EXCEPTION_MODULE = "grading"

_EXCEPTION_SOURCE = f'''

class {USES_COURSE_IMPLEMENTATION}(Exception):
    """Raised by a function of the stripped ``helpers`` copy (instructor/engine/stripped.py):
    the answer reached the course's own implementation of its task."""
'''

_Function = ast.FunctionDef | ast.AsyncFunctionDef


def course_names(course_implementations: Mapping[str, str]) -> list[str]:
    """Every name of ``course_implementations`` (task -> ``a, b``), once each, in order."""
    names: list[str] = []
    for value in course_implementations.values():
        names += [n for n in (part.strip() for part in value.split(","))
                  if n and n not in names]
    return names


def _module_name(package: str, path: Path) -> str:
    """``helpers.grading`` for ``grading/__init__.py``, ``helpers.metrics`` for ``metrics.py``."""
    parts = [package, *path.with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level(statements: list[ast.stmt]):
    """The statements run at import (into ``if``/``try``/``with``, not functions)."""
    for node in statements:
        yield node
        if isinstance(node, ast.If | ast.For | ast.While | ast.With | ast.Try | ast.TryStar):
            for field in ("body", "orelse", "finalbody"):
                yield from _top_level(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                yield from _top_level(handler.body)


def _functions(tree: ast.Module) -> dict[str, list[_Function | str]]:
    """Module-level functions by name: ``def`` nodes, or an alias's target name."""
    found: dict[str, list[_Function | str]] = {}
    for node in _top_level(tree.body):
        if isinstance(node, _Function):
            found.setdefault(node.name, []).append(node)
    for node in _top_level(tree.body):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) \
                and node.value.id in found:
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id != node.value.id:
                    found.setdefault(target.id, []).append(node.value.id)
    return found


def _uses(function: _Function, names: Iterable[str]) -> set[str]:
    """Which of ``names`` the body of ``function`` (nested functions included) reads.
    Decorators, defaults and annotations run when the module is imported: not counted."""
    read = {node.id for statement in function.body for node in ast.walk(statement)
            if isinstance(node, ast.Name)}
    return read & set(names)


def _closure(functions: dict[str, list[_Function | str]], start: Iterable[str]) -> set[str]:
    """``start`` and every module-level function they use, directly or transitively."""
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for definition in functions[name]:
            todo += [definition] if isinstance(definition, str) \
                else sorted(_uses(definition, functions))
    return seen


def _callers(functions: dict[str, list[_Function | str]], stripped: set[str]) -> set[str]:
    """The module-level functions outside ``stripped`` that use one of them, at any
    depth: they would raise anyway, naming a function the answer never called."""
    found = set(stripped)
    while grown := {name for name, definitions in functions.items() if name not in found
                    and any(d in found if isinstance(d, str) else _uses(d, functions) & found
                            for d in definitions)}:
        found |= grown
    return found - stripped


def _defines(source: str, name: str) -> bool:
    """Whether ``source`` may define ``name``: only such modules are parsed."""
    return re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}\b"
                     rf"|^[ \t]*{re.escape(name)}[ \t]*=", source, re.MULTILINE) is not None


def plan(package_dir: Path, names: Iterable[str]) -> dict[Path, tuple[ast.Module, dict]]:
    """Which functions of which module (relative path, parsed) to strip, each with its
    kind (:data:`MESSAGES`): each of ``names`` where it is defined (``module.name``: in that
    module), what it uses of its module, and every function there that uses one of these
    (their message names them, not a private helper). ValueError for a name never defined."""
    sources = {path.relative_to(package_dir): path.read_text(encoding="utf-8")
               for path in sorted(package_dir.rglob("*.py")) if "__pycache__" not in path.parts}
    trees: dict[Path, ast.Module] = {}
    functions: dict[Path, dict[str, list[_Function | str]]] = {}
    wanted: dict[Path, set[str]] = {}
    for name in names:
        module, _, function = name.rpartition(".")
        where = []
        for path, source in sources.items():
            if module and _module_name(package_dir.name, path) not in \
                    (module, f"{package_dir.name}.{module}"):
                continue
            if path not in trees and _defines(source, function):
                trees[path] = ast.parse(source, str(package_dir / path))
                functions[path] = _functions(trees[path])
            if function in functions.get(path, {}):
                where.append(path)
        if not where:
            raise ValueError(f"{name!r} is not a module-level function of any module of "
                             f"the package {package_dir}: nothing to strip")
        for path in where:
            wanted.setdefault(path, set()).add(function)
    plans = {}
    for path, start in wanted.items():
        used = _closure(functions[path], start)
        kinds = {**dict.fromkeys(_callers(functions[path], used), "caller"),
                 **dict.fromkeys(used, "used"), **dict.fromkeys(start, "named")}
        plans[path] = (trees[path], kinds)
    return plans


#: What a stripped function says: it is named in ``course_implementations``, one of
#: those uses it, or it uses one of those.
MESSAGES = {
    "named": "{} is the course's own implementation of this task; write your own",
    "used": "{} is part of the course's own implementation of this task; write your own",
    "caller": "{} uses the course's own implementation of a task, so it is not available "
              "while your answer is checked; write your own",
}


def _stripped_body(qualified: str, package: str, kind: str = "named") -> list[ast.stmt]:
    """``from <package>.grading import UsesCourseImplementation; raise ...``: imported
    inside the body, so a copy of the code object with other globals raises it too."""
    message = MESSAGES[kind].format(qualified)
    return [ast.ImportFrom(module=f"{package}.{EXCEPTION_MODULE}",
                           names=[ast.alias(USES_COURSE_IMPLEMENTATION)], level=0),
            ast.Raise(exc=ast.Call(func=ast.Name(USES_COURSE_IMPLEMENTATION, ast.Load()),
                                   args=[ast.Constant(message)], keywords=[]))]


def strip_package(package_dir: Path, names: Iterable[str], dest: Path) -> Path:
    """Copy ``package_dir`` into ``dest``, :func:`plan`'s functions made to raise."""
    package_dir, dest = Path(package_dir).resolve(), Path(dest).resolve()
    todo = plan(package_dir, names)
    copy = dest / package_dir.name
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(package_dir, copy, ignore=shutil.ignore_patterns("__pycache__"))
    exception_init = copy / EXCEPTION_MODULE / "__init__.py"
    exception_init.parent.mkdir(exist_ok=True)
    with exception_init.open("a", encoding="utf-8") as f:
        f.write(_EXCEPTION_SOURCE)
    for path, (tree, kinds) in todo.items():
        module = _module_name(package_dir.name, path)
        for node in _top_level(tree.body):
            if isinstance(node, _Function) and node.name in kinds:
                node.body = _stripped_body(f"{module}.{node.name}", package_dir.name,
                                           kinds[node.name])
        (copy / path).write_text(ast.unparse(ast.fix_missing_locations(tree)) + "\n",
                                 encoding="utf-8")
    return dest
