"""Disguised copies of an answer, to try the similarity check on (tests, benchmark).

A student who copies an answer and wants it not to look copied renames its variables,
moves independent statements around, reformats it, adds comments and pads it with code
that does nothing. :func:`disguise` does each of these to a Python answer, keeping what
it computes: statements only move past statements they do not depend on, and the
function names a test calls are kept.
"""

from __future__ import annotations

import ast
import random
import textwrap

COMMENTS = ["# build it step by step", "# TODO tidy this up", "# as in the lecture",
            "# this part was tricky", "# check the shapes here", "# keep it simple"]
DEAD_CODE = ["_unused = [i ** 2 for i in range(10)]",
             "if False:\n    print('debug', 42)",
             "def _helper(a, b):\n    return a * b + 1",
             "_tmp = {'k': 1}\n_tmp.clear()"]


# Two correct answers to task (a) `vanilla` of notebook 02 besides the answer key, each
# in a style of its own (graded in tests/test_grading_vanilla.py; the similarity check is
# tried on them in tests/test_similarity.py and benchmarks/similarity_class.py).
#: Correct: Sequential models, optimizer and loss as objects, auto as Sequential.
SEQUENTIAL = '''
def autoencoder(input_dims, hidden_layers, latent_dims):
    encoder = keras.Sequential([keras.Input(shape=(input_dims,))]
                               + [keras.layers.Dense(u, activation="relu") for u in hidden_layers]
                               + [keras.layers.Dense(latent_dims, activation="relu")])
    decoder = keras.Sequential([keras.Input(shape=(latent_dims,))]
                               + [keras.layers.Dense(u, activation="relu")
                                  for u in hidden_layers[::-1]]
                               + [keras.layers.Dense(input_dims, activation="sigmoid")])
    auto = keras.Sequential([encoder, decoder])
    auto.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.BinaryCrossentropy())
    return encoder, decoder, auto
'''

#: Correct: tensorflow.keras, input_shape instead of Input, activations as separate layers,
#: the loss as a function.
TF_KERAS = '''
from tensorflow import keras


def autoencoder(input_dims, hidden_layers, latent_dims):
    encoder = keras.models.Sequential()
    sizes = list(hidden_layers) + [latent_dims]
    for i, units in enumerate(sizes):
        if i == 0:
            encoder.add(keras.layers.Dense(units, input_shape=(input_dims,)))
        else:
            encoder.add(keras.layers.Dense(units))
        encoder.add(keras.layers.ReLU())
    decoder = keras.models.Sequential()
    decoder.add(keras.layers.InputLayer(shape=(latent_dims,)))
    for units in reversed(hidden_layers):
        decoder.add(keras.layers.Dense(units))
        decoder.add(keras.layers.Activation("relu"))
    decoder.add(keras.layers.Dense(input_dims))
    decoder.add(keras.layers.Activation("sigmoid"))
    x = keras.layers.Input((input_dims,))
    auto = keras.models.Model(x, decoder(encoder(x)))
    auto.compile(optimizer="Adam", loss=keras.losses.binary_crossentropy)
    return encoder, decoder, auto
'''


class _Renamer(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]):
        self.names = names

    def visit_Name(self, node):
        node.id = self.names.get(node.id, node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.names.get(node.arg, node.arg)
        return node


def _bound_inside(tree: ast.Module) -> set[str]:
    """Names bound inside the answer's functions (the functions' own names are kept)."""
    names = set()
    for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        for node in ast.walk(fn):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg) and node is not fn:
                names.add(node.arg)
    return names


def rename(source: str, rng: random.Random) -> str:
    tree = ast.parse(source)
    new = {n: f"{rng.choice(['my', 'the', 'tmp', 'val'])}_{n[::-1]}{i}"
           for i, n in enumerate(sorted(_bound_inside(tree)))}
    return ast.unparse(_Renamer(new).visit(tree))


def _uses(stmt: ast.stmt) -> tuple[set[str], set[str]]:
    """(names read, names written) by a statement; a method call writes its object."""
    reads, writes = set(), set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.alias):
            writes.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            writes.add(node.name)
        elif isinstance(node, ast.Name):
            (writes if isinstance(node.ctx, ast.Store) else reads).add(node.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name):
            writes.add(node.func.value.id)
    return reads, writes


def _shuffle(body: list[ast.stmt], rng: random.Random) -> list[ast.stmt]:
    """A different order of ``body`` that keeps every dependency (returns stay last)."""
    uses = [_uses(s) for s in body]
    before = {j: {i for i in range(j)
                  if uses[i][1] & (uses[j][0] | uses[j][1]) or uses[i][0] & uses[j][1]
                  or isinstance(body[j], ast.Return | ast.Raise)}
              for j in range(len(body))}
    done: list[int] = []
    while len(done) < len(body):
        ready = [j for j in range(len(body)) if j not in done and before[j] <= set(done)]
        # prefer a later statement: the order changes wherever it can
        pick = max(ready) if rng.random() < 0.7 else rng.choice(ready)
        done.append(pick)
    return [body[j] for j in done]


def reorder(source: str, rng: random.Random) -> str:
    tree = ast.parse(source)
    tree.body = _shuffle(tree.body, rng)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            node.body = _shuffle(node.body, rng)
    return ast.unparse(tree)


def _indent_at(lines: list[str], i: int) -> str:
    line = lines[i] if i < len(lines) else ""
    return line[: len(line) - len(line.lstrip())]


def add_comments(source: str, rng: random.Random, n: int = 4) -> str:
    lines = source.splitlines()
    for _ in range(n):
        i = rng.randrange(len(lines) + 1)
        lines.insert(i, _indent_at(lines, i) + rng.choice(COMMENTS))
    return "\n".join(lines)


def add_dead_code(source: str, rng: random.Random, n: int = 2) -> str:
    lines = source.splitlines()
    for snippet in rng.sample(DEAD_CODE, n):
        # at the top level or as the first statements of a function body
        spots = [0, len(lines)] + [i + 1 for i, line in enumerate(lines)
                                   if line.lstrip().startswith("def ")
                                   and line.rstrip().endswith(":")]
        i = rng.choice(spots)
        indent = _indent_at(lines, i) if 0 < i < len(lines) else ""
        lines[i:i] = textwrap.indent(snippet, indent).splitlines()
    return "\n".join(lines)


DISGUISES = {"rename": rename, "reorder": reorder, "comments": add_comments,
             "dead_code": add_dead_code}


def disguise(source: str, how: tuple[str, ...] = tuple(DISGUISES), seed: int = 0) -> str:
    """``source`` disguised each way in ``how`` (see :data:`DISGUISES`), in that order."""
    rng = random.Random(seed)
    out = textwrap.dedent(source).strip("\n")
    for name in how:
        out = DISGUISES[name](out, rng)
    ast.parse(out)  # still Python
    return out + "\n"
