"""Where each number in a notebook's text comes from.

A number a student reads in a markdown cell, or in the ``# Answer:`` comments of a worked
exercise, must be one of:

- a **literal of the notebook's own code** (a parameter: 784, 0.5, 28 for 28×28);
- **quoted by a claim** (:mod:`tests.claims`): inside the text a claim's ``run.says``
  pattern matches, so that the claim checks it against the run or a record;
- a **fact** listed in :data:`FACTS` with where it comes from (a dataset's size, a paper's
  year, a library's version);
- a **small whole number** (0 to 10): dimensions (2-D), counts of things on the page. A
  small count that is a result still needs its claim; this rule cannot see that.

Not prose numbers: numbers inside names (``Conv2D``, ``CIFAR-10``, ``float32``, ``L1``),
links and inline code, headings' and list items' numbers, references (section 11,
notebook 02, exercise 3, a paper's §3.4 or eq. 11), a citation's year (Vincent et al.,
2008) and a library's version (TensorFlow 2.16).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tests import claims
from tests.nbval_claims import comments

#: Facts of the world every notebook may state: the number as written -> its source.
COMMON_FACTS = {
    "28": "MNIST's and Fashion-MNIST's images are 28×28 pixels",
    "784": "28 × 28 pixels",
    "14": "28 / 2, the size after one halving",
    "32": "CIFAR-10's photos are 32×32 pixels",
    "16": "32 / 2, the size after one halving",
    "255": "the largest 8-bit pixel value",
    "60,000": "MNIST's and Fashion-MNIST's training images; CIFAR-10's photos in all",
    "50,000": "CIFAR-10's training photos",
    "10,000": "the test images of MNIST, Fashion-MNIST and CIFAR-10",
}
#: Facts of the world one notebook states: the number as written -> its source.
FACTS: dict[str, dict[str, str]] = {
    "01_linear_autoencoder_pca": {
        "0.25": "the noise's variance, 0.5²", "0.08": "0.25 / 3", "0.003": "0.01 / 3",
        "25": "0.25 / 0.01, the ratio of the two noise variances",
    },
    "02_stacked_autoencoders": {
        "26": "784 / 30, the code's compression",
        "0.5": "a pixel value halfway between black and white (an example)",
        "1.05": "SELU's slope for positive inputs, λ = 1.0507 (Klambauer et al., 2017; "
                "keras.activations.selu's scale)",
        "−1.76": "SELU's lower bound, −λα = −1.0507 × 1.6733 (Klambauer et al., 2017; "
                 "keras.activations.selu's constants)",
    },
    "03_convolutional_autoencoders": {
        "0.57": "4/7, a mixing weight of helpers.plot_interpolation with steps=8 "
                "(np.linspace(0, 1, 8))",
        "0.71": "5/7, the next mixing weight of the same strip",
        "44": "3 × 2^4 − 4, the third size H = k × 2^n − 4 for n = 4 filters",
    },
    "04_recurrent_autoencoder": {
        "1,000": "fast mode's evaluation images (helpers/modes.py)",
        "1e-7": "Keras' Adam's default epsilon (keras.optimizers.Adam, epsilon=1e-07)",
        "0.9": "Keras' Adam's default beta_1 (keras.optimizers.Adam, beta_1=0.9)",
        "0.999": "Keras' Adam's default beta_2 (keras.optimizers.Adam, beta_2=0.999)",
        "3.2": "(1 − 0.9) / √(1 − 0.999) = 3.16: Adam's step, in learning rates, after one "
               "gradient far above its running scale once the bias corrections are near 1 "
               "(Kingma and Ba, 2015, algorithm 1)",
    },
    "05_denoising_autoencoders": {"0.9": "9 dB / 10 dB, the exponent in 10^0.9"},
    "06_super_resolution": {
        "196": "14 × 14 block averages", "588": "784 − 196", "3,072": "32 × 32 × 3",
        "192": "8 × 8 × 3", "2,880": "3,072 − 192", "768": "16 × 16 × 3",
        "2,304": "3,072 − 768",
    },
    "07_colorization": {
        "2016": "Zhang, Isola and Efros, Colorful Image Colorization, ECCV 2016",
        "0.38": "an example's red: 0.114 / 0.299, the red of pure blue's luma",
        "0.114": "pure blue's luma (the weight of B in section 1's luma)",
        "0.23": "the example's mean red, 0.6 × 0.38", "0.4": "the example's mean blue, 0.4 × 1",
        "60": "an example's proportions (60 % red, 40 % blue)", "40": "the same example",
    },
    "10_vector_quantization_and_masking": {
        "49": "7 × 7, the positions of the code grid",
        "0.3125": "0.5² + 0.25² = (0.5 − 1)² + 0.25², the toy vector's squared distances "
                  "to codes 0 and 1 (printed by the toy cell)",
        "11": "tf.image.ssim's default filter_size (an 11×11 Gaussian window)",
        "1,024": "16 × 16 × 4, the code of f = 2; 16 tokens × 64 numbers, the masked "
                 "autoencoder's features",
        "75": "He et al., 2022's masking ratio (75 %), the model of section 12",
        "12": "0.75 × 16 patches",
        "14": "16 − round(16 × 0.1), the patches a ratio of 90 % hides",
        "87.5": "14 / 16",
        "25": "a ratio of the sweep, MASK_RATIOS (0.25)",
        "50": "a ratio of the sweep, MASK_RATIOS (0.5)",
        "90": "a ratio of the sweep, MASK_RATIOS (0.9)",
    },
    "12_sparse_autoencoders": {
        "72": "360° / 5, the angle between neighbouring directions of a regular pentagon",
    },
    "08_variational_autoencoder": {
        "0.71": "sqrt(1/2), the Gaussian likelihood's standard deviation",
        "99.5": "N(0, I)'s mass in [-3, 3]^2: 0.9973^2",
    },
}

SMALL = 10
# A number as prose writes it: 55,000 · 0.0846 · 1e-3 · 5 % · −0.5 · 2.3; not inside a name.
NUMBER = re.compile(r"(?<![\w.\-])(?<![A-Za-z]-)[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
                    r"(?:[eE][-−]?\d+)?(?![\w])(?!\.\d)")
INLINE_CODE = re.compile(r"`[^`]*`")
LINK = re.compile(r"\]\([^)]*\)|https?://\S+")
# What a number follows when it is a reference, a citation's year or a version
NOT_A_QUANTITY = re.compile(
    r"(?:(?:sections?|notebooks?|exercises?|tasks?|steps?|figures?|chapters?|cells?)"
    r"(?: \d+,| \d+ and| \d+ or)*"
    r"|et al\.,|[A-Z][a-z]+,|§|eqs?\.|TensorFlow|Keras|Python|NumPy|TFP|tf_keras|ipywidgets"
    r"|nbgrader|Probability|ITU-R|BT\.)\s*\(?$", re.I)
HEADING_OR_ITEM = re.compile(r"^(?:#+ .*|\s*(?:\d+\.|[-*])\s)", re.M)


def value(text: str) -> float:
    return float(text.replace(",", "").replace("_", "").replace("−", "-"))


def code_literals(source: str) -> set[float]:
    """The numbers written in code (``55_000``, ``1e-3``, ``-0.5``), signs dropped."""
    found = set()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        tokens = []
    for token in tokens:
        if token.type == tokenize.NUMBER:
            try:
                found.add(abs(float(token.string.replace("_", "").rstrip("jJ"))))
            except ValueError:
                pass
    return found


def answers(nb) -> list[str]:
    """The sources of the notebook's worked exercise answers."""
    return [c.source for c in nb.cells if c.cell_type == "code"
            and "exercise-answer" in c.get("metadata", {}).get("tags", [])]


def prose(nb) -> list[str]:
    """Every paragraph a student reads: markdown cells and worked answers' comments."""
    texts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    texts += [comments(source) for source in answers(nb)]
    return [p for text in texts for p in re.split(r"\n\s*\n", text) if p.strip()]


def _quotes(tree: ast.AST, per_call: bool = False) -> list[tuple]:
    """(kind, marker, pattern) for every quote of the text under ``tree`` (below);
    ``per_call``: an ``answer``'s patterns together, as a tuple, as the call says them."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) \
                and isinstance(node.left.value, str) and isinstance(node.ops[0], ast.In):
            found.append(("text", None, re.escape(node.left.value)))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "search" and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            found.append(("text", None, node.args[0].value))
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("says", "answer")):
            continue
        args = [a.value if isinstance(a, ast.Constant) else False for a in node.args]
        if node.func.attr == "says" and args and isinstance(args[0], str):
            found.append(("says", None, args[0]))
        elif node.func.attr == "answer" and args and args[0] is not False:
            texts = tuple(text for text in args[1:] if isinstance(text, str))
            found += [("answer", args[0], texts)] if per_call else \
                [("answer", args[0], text) for text in texts]
    return found


def claim_patterns() -> list[tuple[str, str | None, str]]:
    """What the claims quote, read from tests/claims.py's source: (``says`` or ``answer``,
    the answer's marker, the pattern) for every call whose pattern is written out, and
    (``text``, None, the pattern) for every ``re.search(pattern, ...)`` and every
    ``assert "words" in ...`` on the text a ``says`` or ``answer`` returned."""
    return _quotes(ast.parse(Path(claims.__file__).read_text()))


def claim_quotes() -> list[tuple[str, str, str, str | None, str]]:
    """The same quotes per claim: (notebook, claim, kind, marker, pattern), for each
    function of tests/claims.py registered with ``@claim(<notebook>)``; an ``answer``'s
    patterns as one tuple per call."""
    found = []
    for fn in ast.parse(Path(claims.__file__).read_text()).body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        notebook = next((getattr(claims, d.args[0].id) for d in fn.decorator_list
                         if isinstance(d, ast.Call) and getattr(d.func, "id", None) == "claim"
                         and d.args and isinstance(d.args[0], ast.Name)), None)
        if notebook is not None:
            found += [(notebook, fn.name, *quote) for quote in _quotes(fn, per_call=True)]
    return found


def quoted(paragraphs: list[str], sources: list[str]) -> str:
    """All the text of a notebook that claims quote, joined."""
    flat = [" ".join(p.split()) for p in paragraphs]
    spans = []
    for kind, marker, pattern in claim_patterns():
        if kind == "says":
            texts = flat
        elif kind == "text":
            texts = flat + [comments(s) for s in sources]
        else:
            texts = [comments(s) for s in sources if marker is None or marker in s]
        spans += [m.group(0) for text in texts for m in re.finditer(pattern, text)]
    return "\n".join(spans)


@dataclass
class Unsourced:
    number: str
    paragraph: str

    def __str__(self) -> str:
        text = " ".join(self.paragraph.split())
        at = text.find(self.number)
        return f"{self.number!r} in: ...{text[max(0, at - 70):at + 50]}..."


def unsourced(nb, name: str) -> list[Unsourced]:
    """The numbers of ``nb``'s text that come from nowhere this module accepts."""
    literals = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            literals |= code_literals(cell.source)
    paragraphs = prose(nb)
    claimed = {abs(value(m.group(0)))
               for m in NUMBER.finditer(quoted(paragraphs, answers(nb)))}
    facts = {abs(value(n)) for n in {**COMMON_FACTS, **FACTS.get(name, {})}}
    found = []
    for paragraph in paragraphs:
        text = LINK.sub(" ", INLINE_CODE.sub(" ", paragraph))
        text = HEADING_OR_ITEM.sub(lambda m: " " * len(m.group(0)) if m.group(0).startswith("#")
                                   else m.group(0).replace(m.group(0).strip(), " "), text)
        for match in NUMBER.finditer(text):
            before = " ".join(text[max(0, match.start() - 40):match.start()].split())
            if NOT_A_QUANTITY.search(before):
                continue
            number = abs(value(match.group(0)))
            if number <= SMALL and number == int(number):
                continue
            if number in literals or number in claimed or number in facts:
                continue
            found.append(Unsourced(match.group(0), paragraph))
    return found


def read(path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)
