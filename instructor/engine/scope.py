"""The ``tasks`` grading scope: which cells grading does not need to run."""

from __future__ import annotations

import ast
import re
import symtable

from instructor.engine.cells import nbgrader_meta

_DYNAMIC = {"globals", "locals", "exec", "eval", "vars", "__import__",
            # IPython's own reads of the namespace and its history, which skipped cells change
            "get_ipython", "In", "Out", "_ih", "_oh", "_dh", "_", "__", "___", "_i", "_ii",
            "_iii"}
_HISTORY = re.compile(r"_i?\d+")
#: attributes that reach the namespace a cell runs in by another road
_DYNAMIC_ATTRIBUTES = {"f_globals", "user_ns", "_getframe"}


def bindings(source: str, sure_with: bool = True) -> tuple[set[str], set[str], bool] | None:
    """(names a cell may bind, names it reads from the namespace it runs in, whether it
    has a star import); ``None`` when it is not plain Python (IPython's magics, shell
    escapes, ``?``) or reaches the namespace by a road the analysis does not follow
    (``__main__``, a frame's ``f_globals``, IPython's ``user_ns``),
    or is too deep to analyse.

    The names it reads are its free names (:func:`free_names`): a name read only after
    the cell itself surely bound it (``encoder, decoder, auto = autoencoder(...)`` then
    ``auto.fit``), a function's own local variables and arguments are not among them. A
    cell with a syntax error runs nothing (IPython compiles a whole cell before running
    any of it): it binds and reads nothing. The names it may bind include the object an
    assignment to an attribute or an item changes (``cfg["epochs"] = 1`` binds ``cfg``).
    ``sure_with``: a ``with`` block's bindings hold after it (its context manager does
    not swallow exceptions: the course's own cells, which use ``helpers.quiet()``)."""
    try:
        return _bindings(source, sure_with)
    except (RecursionError, MemoryError, ValueError):
        return None


def _bindings(source: str, sure_with: bool) -> tuple[set[str], set[str], bool] | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        if TransformerManager().transform_cell(source).rstrip() != source.rstrip():
            return None  # IPython syntax: a magic may do anything
        return set(), set(), False
    defined, star = set(), False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            defined.add(node.id)
        elif isinstance(node, ast.Attribute | ast.Subscript) \
                and isinstance(node.ctx, ast.Store | ast.Del):
            root = node
            while isinstance(root, ast.Attribute | ast.Subscript):
                root = root.value
            if isinstance(root, ast.Name):
                defined.add(root.id)  # the object it changes
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                star = star or alias.name == "*"
                if alias.name == "__main__" or getattr(node, "module", None) == "__main__":
                    return None
                defined.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            defined.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            defined.add(node.rest)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            defined.add(node.name)
        elif isinstance(node, ast.Attribute) and node.attr in _DYNAMIC_ATTRIBUTES \
                or isinstance(node, ast.Constant) and node.value == "__main__":
            return None  # sys.modules["__main__"], importlib.import_module("__main__")
    try:
        free = free_names(source, tree, sure_with)
    except SyntaxError:  # a rule the compiler checks after parsing: nothing runs either
        return set(), set(), False
    return defined, free, star


class _Loads(ast.NodeVisitor):
    """Names an expression or statement reads in the scope it runs in: not inside the
    bodies of the functions, classes, lambdas and comprehensions it defines (their own
    scopes), but their decorators, defaults, annotations, bases and first iterable."""

    def __init__(self):
        self.names: set[str] = set()

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.names.add(node.id)

    def visit_AugAssign(self, node):  # x += 1 reads x
        if isinstance(node.target, ast.Name):
            self.names.add(node.target.id)
        self.generic_visit(node)

    def _arguments(self, args: ast.arguments) -> list:
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        return [*args.defaults, *args.kw_defaults,
                *(a.annotation for a in every if a is not None)]

    def visit_FunctionDef(self, node):
        for part in [*node.decorator_list, *self._arguments(node.args), node.returns]:
            if part is not None:
                self.visit(part)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for part in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(part)

    def visit_Lambda(self, node):
        for part in self._arguments(node.args):
            if part is not None:
                self.visit(part)

    def _comprehension(self, node):
        self.visit(node.generators[0].iter)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension


def _loads(*nodes) -> set[str]:
    visitor = _Loads()
    for node in nodes:
        if node is not None:
            visitor.visit(node)
    return visitor.names


def _targets(node) -> set[str]:
    """Names an assignment target surely binds (``a``, ``a, (b, *c)``; not ``a.b``)."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Tuple | ast.List):
        return set().union(*map(_targets, node.elts)) if node.elts else set()
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    return set()


def _binds(stmt) -> set[str]:
    """Names a simple statement surely binds when it completes."""
    if isinstance(stmt, ast.Assign):
        return set().union(*map(_targets, stmt.targets))
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        return _targets(stmt.target)
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names if a.name != "*"}
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {stmt.name}
    return set()


def _scopes(source: str) -> list[tuple[int, set[str], bool]]:
    """The scopes a cell defines (functions, lambdas, generators, classes,
    comprehensions): (first line, the names they read as globals, whether they run only
    when called, perhaps after a later cell rebound those names)."""
    found = []
    pending = [(table, False) for table in
               symtable.symtable(source, "<cell>", "exec").get_children()]
    while pending:
        table, outer_deferred = pending.pop()
        kind, name = table.get_type(), table.get_name()
        deferred = outer_deferred or (
            kind != "class" and name not in ("listcomp", "setcomp", "dictcomp"))
        pending += [(child, deferred) for child in table.get_children()]
        # a class body reads a name it has not bound yet from the globals, so every
        # name it reads counts
        found.append((table.get_lineno(), {
            s.get_name() for s in table.get_symbols() if s.is_referenced()
            and (s.is_global() or kind == "class")}, deferred))
    return found


def deferred_names(source: str) -> set[str]:
    """The globals a cell's functions, lambdas and generators read when they run: a call
    in a later cell reads them as that cell finds them."""
    try:
        return set().union(*(names for _line, names, deferred in _scopes(source) if deferred))
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return set()


def free_names(source: str, tree: ast.Module | None = None, sure_with: bool = True,
               ) -> set[str]:
    """The names a cell reads from the namespace it runs in (a superset of them).

    Top-level statements are read in order: a name read after the cell surely bound it
    (an assignment, an import, a ``def``, and with ``sure_with`` a ``with`` block's, in the
    same block or one that encloses it) is not free; a binding inside an ``if``, a loop or
    a ``try`` counts only inside it. The names the cell's functions, lambdas and
    generators read as globals (:mod:`symtable`) are always free; those its classes and
    comprehensions read as globals are, unless the cell bound them before the statement
    that runs them. A name the cell deletes is free (``del`` needs it).
    """
    tree = tree or ast.parse(source)
    deleted = {t.id for node in tree.body for t in ast.walk(node)
               if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Del)}
    nested = _scopes(source)
    free: set[str] = set(deleted)

    def block(stmts, bound: set[str]) -> None:
        for stmt in stmts:
            known = bound - deleted
            if isinstance(stmt, ast.With | ast.AsyncWith):
                inner = bound if sure_with else set(bound)
                for item in stmt.items:
                    free.update(_loads(item.context_expr) - (inner - deleted))
                    if item.optional_vars is not None:
                        free.update(_loads(item.optional_vars) - (inner - deleted))
                        inner |= _targets(item.optional_vars)
                block(stmt.body, inner)
            elif isinstance(stmt, ast.If | ast.While):
                free.update(_loads(stmt.test) - known)
                block(stmt.body, set(bound))
                block(stmt.orelse, set(bound))
            elif isinstance(stmt, ast.For | ast.AsyncFor):
                free.update(_loads(stmt.iter, stmt.target) - known)
                block(stmt.body, bound | _targets(stmt.target))
                block(stmt.orelse, set(bound))
            elif isinstance(stmt, ast.Try | getattr(ast, "TryStar", ast.Try)):
                block(stmt.body, set(bound))
                for handler in stmt.handlers:
                    free.update(_loads(handler.type) - known)
                    block(handler.body, bound | ({handler.name} if handler.name else set()))
                block(stmt.orelse, set(bound))
                block(stmt.finalbody, set(bound))
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) \
                    or not hasattr(stmt, "body"):
                free.update(_loads(stmt) - known)
                bound |= _binds(stmt)
            else:  # match, and anything newer: every name it reads
                free.update(_loads(stmt) - known)

    def statement_lines(stmt) -> range:
        first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
        return range(first, (stmt.end_lineno or stmt.lineno) + 1)

    bound: set[str] = set()
    for stmt in tree.body:
        # the globals of the scopes this statement defines: as bound where it starts
        # for those that run at once, all of them for those that run when called
        lines = statement_lines(stmt)
        for line, names, deferred in nested:
            if line in lines:
                free.update(names if deferred else names - (bound - deleted))
        block([stmt], bound)
    return free


def names_of(source: str, sure_with: bool = True) -> tuple[set[str], set[str]] | None:
    """(names a cell defines, names it uses); ``None`` when it cannot be analysed
    (not Python, a magic, a star import or dynamic access to the namespace)."""
    found = bindings(source, sure_with)
    if found is None or found[2] or found[1] & _DYNAMIC \
            or any(_HISTORY.fullmatch(name) for name in found[1]):
        return None
    return found[0], found[1]


def cells_to_skip(cells, release_cells, setup_tag: str = "grade-setup") -> set[int]:
    """Indices of cells grading does not need: unchanged, untagged instructor cells
    (demos, figures, long training) whose names no needed cell uses.

    Needed: the setup cell, every ``task-*`` cell, every nbgrader cell, every cell the
    student added or changed, and, transitively, every earlier cell that defines a name
    a needed cell uses, and every cell, earlier or later, that defines a name a needed
    cell's functions read when they are called. If a needed cell cannot be analysed,
    nothing is skipped; if a demo cell cannot be analysed, it runs, and so does every
    cell before it. The course's own cells (a release cell's source, a locked or test
    cell) are read with their ``with`` blocks' bindings holding after them; a
    student's, without.
    """
    released = {c.source.strip() for c in release_cells if c.cell_type == "code"}
    demo_sources = {c.source.strip() for c in release_cells if c.cell_type == "code"
                    and not nbgrader_meta(c) and not c.metadata.get("tags")}
    analysed, demo, late_of = [], [], []
    for cell in cells:
        tags = cell.metadata.get("tags", [])
        code = cell.cell_type == "code"
        is_demo = (code and not nbgrader_meta(cell) and setup_tag not in tags
                   and not any(t.startswith("task-") for t in tags)
                   and cell.source.strip() in demo_sources)
        demo.append(is_demo)
        meta = nbgrader_meta(cell)
        # the course's own: a release cell's source, or a locked or test cell (nbgrader
        # put back its source from the gradebook, hidden tests included, before this runs)
        own = cell.source.strip() in released or (
            bool(meta.get("locked") or meta.get("grade")) and not meta.get("solution"))
        analysed.append(names_of(cell.source, own) if code else (set(), set()))
        late_of.append(deferred_names(cell.source) if code else set())
    late: set[str] = set()
    while True:
        skip = _skipped(cells, analysed, demo, late)
        if skip is None:
            return set()
        more = set().union(*(late_of[i] for i in range(len(cells)) if i not in skip))
        if more <= late:
            return skip
        late |= more


def _skipped(cells, analysed, demo, late: set[str]) -> set[int] | None:
    """One pass from the last cell up; ``late``: names read when functions run (a cell
    defining one runs wherever it is). None: nothing may be skipped."""
    wanted: set[str] = set()
    skip: set[int] = set()
    for index in reversed(range(len(cells))):
        names = analysed[index]
        if not demo[index]:
            if names is None:
                if cells[index].source.strip():
                    return None
                continue
            wanted |= names[1]
        elif names is None:  # it runs, and it may need anything before it
            return skip
        elif names[0] & (wanted | late):
            wanted |= names[1]
        else:
            skip.add(index)
    return skip
