"""Read a submission's own code, unrun, for what could change how its tests run
(docs/grading.md, "The review"): :func:`tampering` (a passing test goes to the
instructor's review) and :func:`course_calls` (an answer that calls the course's own
implementation of its task scores 0). Source can hide code from a reader, so every
construct that could hide some (``exec``, a computed ``getattr``, ``__dict__``,
``importlib``...) is itself flagged.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import inspect
import sys
import types
from collections.abc import Iterable

#: Modules an answer has no reason to import: each reaches the interpreter, the grader
#: or other processes.
SUSPECT_MODULES = {
    "sys", "builtins", "importlib", "ctypes", "gc", "inspect", "types", "threading",
    "multiprocessing", "subprocess", "IPython", "ipykernel", "traceback", "ast",
    "marshal", "pickle", "dill", "code", "codeop", "runpy", "signal", "atexit",
    "unittest", "pytest", "faulthandler", "weakref", "_thread", "concurrent",
    "asyncio", "sched",
    "helpers.grading.model_checks", "helpers.grading.probes", "instructor",
}
#: Built-in functions that run or reach code and namespaces by name.
SUSPECT_CALLS = {
    "exec", "eval", "compile", "setattr", "delattr", "globals", "locals", "vars",
    "__import__", "get_ipython", "breakpoint", "memoryview",
}
#: Attributes that lead to frames, code objects or the interpreter.
SUSPECT_ATTRIBUTES = {
    "f_back", "f_locals", "f_globals", "f_builtins", "f_code", "tb_frame", "tb_next",
    "gi_frame", "cr_frame", "ag_frame", "co_code", "_getframe", "modules", "displayhook",
    "excepthook", "set_custom_exc", "showtraceback", "events", "run_cell", "clear_output",
}
#: Methods the interpreter calls at a time of its own (a finalizer: at a collection, which
#: may fall inside a check): code of the student's running behind the checks.
LATER_CALLED = {"__del__"}
#: Dunder attributes an answer may use (a Layer subclass calls ``super().__init__``).
ALLOWED_DUNDERS = {"__init__", "__name__", "__doc__", "__qualname__"}
#: Modules a cell may import under a name the tests use (the same library).
SAME_LIBRARY = {"np": {"numpy"}, "keras": {"keras", "tensorflow.keras", "tf_keras"},
                "tf": {"tensorflow"}, "tfp": {"tensorflow_probability"},
                "helpers": {"helpers"}}


#: Findings that only change names and attributes: moot, as no test runs where the
#: student's code ran, and the checker believes only the data that process returns.
#: Every other finding reaches the interpreter, other processes or hidden code: review.
NAMES_ONLY = ("changes ", "rebinds ", "uses setattr", "uses delattr")


class Finding(str):
    """One finding, as text; ``names_only`` when it only changes names and attributes."""

    @property
    def names_only(self) -> bool:
        what = self.split(": ", 1)[1] if ": " in self else self
        return what.startswith(NAMES_ONLY)


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call | ast.Starred):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


#: Settings an honest answer may change: environment variables (``os.environ[...] = ``,
#: to quiet TensorFlow) and matplotlib's ``rcParams[...]``. The checks use neither.
SETTINGS = {"environ", "rcParams"}


def _settings_item(node: ast.AST) -> bool:
    """Whether ``node`` stores an item of ``<anything>.environ`` or ``<anything>.rcParams``."""
    return isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
        and node.value.attr in SETTINGS


def _bound_in(scope: ast.AST) -> set[str]:
    """Names a function binds locally (its parameters and what it assigns)."""
    names: set[str] = set()
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        args = scope.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                    *([args.vararg] if args.vararg else []),
                    *([args.kwarg] if args.kwarg else [])]:
            names.add(arg.arg)
    for node in ast.walk(scope):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def imported_names(trees: Iterable[ast.AST]) -> set[str]:
    """The names import statements bind, with the course's own names for libraries (``np``,
    ``keras``, ``tf``, ``tfp``, ``helpers``): a module, or a class or function of one."""
    names = set(SAME_LIBRARY)
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names.update(a.asname or a.name.split(".")[0] for a in node.names
                             if a.name != "*")
    return names


def suspect(name: str) -> bool:
    """Whether module ``name`` is one of :data:`SUSPECT_MODULES` or inside one."""
    return any(name == m or name.startswith(m + ".") for m in SUSPECT_MODULES)


#: What the review may import to look a path up (no ``_`` module, no ``__main__``): the
#: standard library but what runs on import, NumPy; others once the grader has them.
IMPORTABLE = sys.stdlib_module_names - {"antigravity", "this", "idlelib", "turtledemo",
                                        "test"} | {"numpy"}


#: The built-ins that run code: a module's name for one of them reaches ``builtins``.
RUNNERS = [exec, eval, compile, __import__]


@functools.lru_cache(maxsize=4096)
def reached(path: str) -> str | None:
    """The suspect module the dotted ``path`` (``numpy.ctypeslib.ctypes``) is, passes
    through or holds a function of, by what each step is (no lazy attribute runs)."""
    parts, obj = path.split("."), None
    for depth in range(1, len(parts) + 1):
        found = inspect.getattr_static(obj, parts[depth - 1], None) if depth > 1 else None
        if found is None and (depth == 1 or hasattr(obj, "__path__")) and not parts[
                depth - 1].startswith("_") and (parts[0] in IMPORTABLE or parts[0] in sys.modules):
            with contextlib.suppress(Exception):  # no such module: nothing there
                found = importlib.import_module(".".join(parts[:depth]))
        if (obj := found) is None:
            return None
        module = obj if isinstance(obj, types.ModuleType) else inspect.getmodule(obj)
        if suspect(name := str(getattr(module, "__name__", ""))) and (  # not a built-in
                module is obj or name != "builtins" or obj in RUNNERS):
            return name
    return None


class _Reader(ast.NodeVisitor):
    def __init__(self, protected: set[str], cell_names: set[str],
                 libraries: frozenset[str] = frozenset()):
        self.protected, self.findings = protected, []
        self.modules = {n: sorted(same)[0] for n, same in SAME_LIBRARY.items()}  # + imports
        self.libraries = libraries
        self.scopes: list[set[str]] = [cell_names]
        #: per scope, the names bound to a library's module, class or function by name
        #: (``D = keras.layers.Dense``): a change through one patches the library
        self.aliases: list[set[str]] = [set()]
        self.depth = 0

    def flag(self, node: ast.AST, what: str) -> None:
        self.findings.append((getattr(node, "lineno", 0), what))

    def _function(self, node) -> None:
        if getattr(node, "name", None) in LATER_CALLED:
            self.flag(node, f"defines {node.name}, which runs when the interpreter chooses")
        self.scopes.append(_bound_in(node))
        self.aliases.append(set())
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1
        self.aliases.pop()
        self.scopes.pop()

    def _library(self, name: str) -> bool:
        """Whether ``name``, here, is a library's module, class or function: an
        alias the nearest scope binding it made, or a library's name no scope binds."""
        for scope, aliases in zip(reversed(self.scopes), reversed(self.aliases)):
            if name in aliases:
                return True
            if name in scope:
                break
        return name in self.libraries and name not in self.scopes[-1]

    def _alias(self, targets: list[ast.expr], value: ast.expr) -> None:
        """Record ``targets`` as aliases if ``value`` is a library's object."""
        while isinstance(value, ast.Attribute):
            value = value.value
        if isinstance(value, ast.Name) and self._library(value.id):
            self.aliases[-1].update(t.id for t in targets if isinstance(t, ast.Name))

    def visit_Assign(self, node: ast.Assign) -> None:
        self._alias(node.targets, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._alias([node.target], node.value)
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._alias([node.target], node.value)
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _import(self, node, module: str, alias: ast.alias) -> None:
        full = f"{module}.{alias.name}" if module else alias.name
        top = full.split(".")[0]
        if alias.name == "*":
            self.flag(node, f"a star import from {module}")
        # by its name, else by what it is (``from numpy.ctypeslib import ctypes``)
        if what := full if suspect(top) or suspect(full) else reached(full.lstrip(".")):
            self.flag(node, f"imports {full}" + (f", which is {what}" if what != full else ""))
        bound = alias.asname or alias.name.split(".")[0]
        self.modules[bound] = full if alias.asname or module else bound
        if self.depth == 0 and bound in self.protected:
            libraries = SAME_LIBRARY.get(bound, set())
            if not (full in libraries or (not module and alias.name in libraries)):
                self.flag(node, f"rebinds '{bound}', a name the tests use, to {full}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._import(node, "", alias)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self._import(node, "." * node.level + (node.module or ""), alias)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and node.id in SUSPECT_CALLS:
            self.flag(node, f"uses {node.id}")
        if isinstance(node.ctx, ast.Store | ast.Del) and self.depth == 0 \
                and node.id in self.protected:
            self.flag(node, f"rebinds '{node.id}', a name the tests use")
        if isinstance(node.ctx, ast.Load) and node.id.startswith("__") \
                and node.id not in ALLOWED_DUNDERS:
            self.flag(node, f"uses {node.id}")

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name in self.protected:
                self.flag(node, f"rebinds '{name}', a name the tests use (global)")
        self.generic_visit(node)

    visit_Nonlocal = visit_Global

    def _reaches(self, node: ast.AST) -> None:
        """Flag a path from a bound module that :func:`reached` a suspect one."""
        names, inner, args = [], node, getattr(node, "args", [])
        if isinstance(node, ast.Call):  # getattr(x, "a constant") only
            if not (ast.unparse(node.func) == "getattr" and len(args) >= 2 and isinstance(
                    args[1], ast.Constant) and isinstance(args[1].value, str)):
                return
            names, inner = args[1].value.split("."), args[0]
        while isinstance(inner, ast.Attribute):
            names, inner = [inner.attr, *names], inner.value
        root = inner.id if isinstance(inner, ast.Name) else ""
        if names and root in self.modules and not suspect(self.modules[root]) \
                and not any(root in scope for scope in self.scopes[1:]) \
                and (what := reached(".".join([self.modules[root], *names]))):
            self.flag(node, f"reaches {what} through {root}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._reaches(node)
        if node.attr in SUSPECT_ATTRIBUTES or (node.attr.startswith("__")
                                               and node.attr not in ALLOWED_DUNDERS):
            self.flag(node, f"uses the attribute {node.attr}")
        self.visit_Subscript(node)

    def visit_Subscript(self, node: ast.Attribute | ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del):
            self._store(node)
        self.generic_visit(node)

    def _store(self, node: ast.AST) -> None:
        root = _root(node)
        local = isinstance(root, ast.Name) and root.id in self.scopes[-1] \
            and root.id not in self.protected
        if not local and not _settings_item(node):
            where = root.id if isinstance(root, ast.Name) else "an object it did not create"
            self.flag(node, f"changes {ast.unparse(node)} (an attribute or item of "
                            f"{where}, which is not its own)")
        if isinstance(root, ast.Name) and self._library(root.id) and not _settings_item(node):
            self._patches(node, ast.unparse(node))

    def _patches(self, node: ast.AST, what: str) -> None:
        """A change to a library's module, class or function: it runs with the answer,
        so it reaches the models and functions the tests call there."""
        self.flag(node, f"patches {what}, a library's own (the change reaches the "
                        "models and functions the tests call)")

    def visit_Call(self, node: ast.Call) -> None:
        self._reaches(node)
        func = node.func
        if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2 \
                and not isinstance(node.args[1], ast.Constant):
            self.flag(node, "uses getattr with a computed name")
        if isinstance(func, ast.Name) and func.id in ("setattr", "delattr") and node.args:
            root = _root(node.args[0])
            if isinstance(root, ast.Name) and self._library(root.id):
                self._patches(node, f"{ast.unparse(node.args[0])} through {func.id}")
        self.generic_visit(node)


def _parsed(source: str) -> ast.Module | SyntaxError:
    try:
        return ast.parse(source)
    except SyntaxError as err:
        return err


def tampering(sources: Iterable[str], protected: Iterable[str],
              trusted: Iterable[str] = ()) -> list[Finding]:
    """What in the student's ``sources`` could change how the tests run, one line per
    finding; ``protected``: the names the instructor's cells use, less the graded functions;
    ``trusted``: those cells, whose imports name libraries too."""
    protected = set(protected)
    sources = list(sources)
    trees = [_parsed(source) for source in sources]
    libraries = frozenset(imported_names(t for t in [*trees, *map(_parsed, trusted)]
                                         if isinstance(t, ast.AST)))
    found: list[str] = []
    for number, (source, tree) in enumerate(zip(sources, trees), 1):
        if isinstance(tree, SyntaxError):
            if source.lstrip().startswith(("%", "!")) or "\n%" in source or "\n!" in source:
                found.append(Finding(f"cell {number}: IPython magics or shell commands "
                                     "(not plain Python)"))
            else:
                found.append(Finding(f"cell {number}: not valid Python ({tree.msg}, "
                                     f"line {tree.lineno})"))
            continue
        cell_names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                      and isinstance(n.ctx, ast.Store)}
        reader = _Reader(protected, cell_names - protected, libraries - cell_names)
        reader.visit(tree)
        lines = source.splitlines()
        for line, what in sorted(set(reader.findings)):
            code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            found.append(Finding(f"cell {number}, line {line}: {what}: `{code[:100]}`"))
    return found


def course_calls(source: str, names: Iterable[str]) -> list[str]:
    """Uses in ``source`` of the course's implementations ``names``, through any alias."""
    names = set(names)
    tree = _parsed(source)
    if isinstance(tree, SyntaxError):
        return []
    course = {"helpers"}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            course |= {a.asname or a.name.split(".")[0] for a in node.names
                       if a.name.split(".")[0] == "helpers"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "helpers":
            course |= {a.asname or a.name for a in node.names}
            found |= {f"{node.module}.{a.name}" for a in node.names if a.name in names}
    for node in ast.walk(tree):
        root = _root(node)
        if isinstance(node, ast.Attribute) and node.attr in names \
                and isinstance(root, ast.Name) and root.id in course:
            found.add(ast.unparse(node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "getattr" and len(node.args) >= 2 \
                and isinstance(_root(node.args[0]), ast.Name) \
                and _root(node.args[0]).id in course \
                and isinstance(node.args[1], ast.Constant) and node.args[1].value in names:
            found.add(ast.unparse(node))
    return sorted(found)


def free_names(sources: Iterable[str]) -> set[str]:
    """Names the given (trusted) cells read but do not bind themselves: what they rely on
    from the rest of the notebook (``helpers``, ``np``, ``mc``, the graded functions)."""
    read, bound = set(), set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue  # IPython's syntax (a magic), or nothing Python runs
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound.add(node.name)
            elif isinstance(node, ast.Attribute | ast.Subscript) and isinstance(
                    _root(node), ast.Name) and not isinstance(node.ctx, ast.Load):
                bound.add(_root(node).id)  # the object it changes
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, ast.alias):
                bound.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) \
                    and node.name:
                bound.add(node.name)
    return read - bound


def defined_functions(source: str) -> list[str]:
    """The functions a cell defines at its top level."""
    tree = _parsed(source)
    if isinstance(tree, SyntaxError):
        return []
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
