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
notebook 02, exercise 3), a citation's year (Vincent et al., 2008) and a library's version
(TensorFlow 2.16).
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

import nbformat

from tests.claims import CLAIMS
from tests.nbval_claims import Run

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
    r"|et al\.,|[A-Z][a-z]+,|TensorFlow|Keras|Python|NumPy|TFP|tf_keras|ipywidgets|nbgrader"
    r"|Probability|ITU-R|BT\.)\s*\(?$", re.I)
HEADING_OR_ITEM = re.compile(r"^(?:#+ .*|\s*(?:\d+\.|[-*])\s)", re.M)
ANSWER = re.compile(r"^\s*# ?(.*)$")


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


def answer_comments(source: str) -> str:
    """The written part of a worked exercise: its comment lines, as prose."""
    lines = [m.group(1) for line in source.splitlines() if (m := ANSWER.match(line))
             and not line.strip().startswith("###")]
    return "\n".join(lines)


def prose(nb) -> list[str]:
    """Every paragraph a student reads: markdown cells and worked answers' comments."""
    texts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    texts += [answer_comments(c.source) for c in nb.cells if c.cell_type == "code"
              and "exercise-answer" in c.get("metadata", {}).get("tags", [])]
    return [p for text in texts for p in re.split(r"\n\s*\n", text) if p.strip()]


class _Quotes(Run):
    """A run that only collects what a claim's ``says`` patterns match."""

    class Done(Exception):
        pass

    def __init__(self, name: str, paragraphs: list[str]):
        super().__init__(name, [], [], "\n\n".join(paragraphs))
        self.spans: list[str] = []

    def says(self, text: str) -> str:
        paragraph = super().says(text)
        self.spans += [m.group(0) for m in re.finditer(text, " ".join(paragraph.split()))]
        return paragraph

    def output(self, marker: str) -> str:
        raise self.Done


def quoted(name: str, paragraphs: list[str]) -> str:
    """All the text the claims of notebook ``name`` quote, joined."""
    run = _Quotes(name, paragraphs)
    for check in CLAIMS.get(name, []):
        try:
            check(run)
        except Exception:  # noqa: BLE001, S110 - a claim that stops early quoted what it quoted
            pass
    return "\n".join(run.spans)


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
    claimed = {abs(value(m.group(0))) for m in NUMBER.finditer(quoted(name, paragraphs))}
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
