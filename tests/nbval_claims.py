"""A pytest plugin: check the notebooks' claims on the suite's own nbval run.

``make test`` executes every notebook once, under nbval, in fast mode with the shipped
weights. For each notebook with claims in :mod:`tests.claims`, this plugin adds one item
right after the notebook's last cell, ``<notebook>::claims``: it reads what the cells
printed in that same run and the notebook's markdown, and checks each claim. So the
text cannot drift from the numbers, and no notebook runs a second time. (With
``--dist loadfile`` the item goes to the worker that ran the notebook, after it.)

Loaded with ``-p tests.nbval_claims`` (``pyproject.toml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.session import FIGURES_FROM, figures_from_these_versions

#: Whether this run's TensorFlow and Keras are the versions the text's fast-mode figures
#: were printed with (``helpers.session.FIGURES_FROM``, requirements.txt's pins). Other
#: versions, Colab's among them, train to slightly different figures; there a claim checks
#: its directions and relations, not the quoted figures (:func:`as_quoted`).
QUOTED_VERSIONS = figures_from_these_versions()


@dataclass
class Run:
    """One execution of a notebook: each code cell's source and printed text, and the
    notebook's markdown."""

    name: str
    sources: list[str]
    printed: list[str | None]   # None: the cell did not run
    markdown: str

    def output(self, marker: str) -> str:
        """What the first code cell whose source contains ``marker`` printed."""
        for source, text in zip(self.sources, self.printed):
            if marker in source:
                if text is None:
                    raise AssertionError(f"the cell with {marker!r} did not run")
                return text
        raise AssertionError(f"{self.name} has no code cell with {marker!r}")

    def says(self, text: str) -> str:
        """``text`` (a regular expression) in the markdown, or a failure saying so;
        returns the paragraph it is in."""
        for paragraph in re.split(r"\n\s*\n", self.markdown):
            if re.search(text, " ".join(paragraph.split())):
                return paragraph
        raise AssertionError(f"{self.name}'s text no longer says /{text}/: "
                             "update the claim with the text")

    def answer(self, marker: str | None, *texts: str) -> str:
        """The written part of a worked exercise, on one line: the ``#`` comments of the
        code cell whose source holds ``marker`` (of the first such cell whose comments say
        every ``texts``, regular expressions, when ``marker`` is ``None``); fails unless
        they say each of ``texts``."""
        cells = [s for s in self.sources if marker is None or marker in s]
        if not cells:
            raise AssertionError(f"{self.name} has no code cell with {marker!r}")
        for source in cells:
            said = comments(source)
            missing = [text for text in texts if not re.search(text, said)]
            if not missing:
                return said
        raise AssertionError(f"{self.name}'s answer ({marker!r}) no longer says "
                             f"/{missing[0]}/: update the claim with the text")


def as_quoted(actual, expected, printed: str = "") -> None:
    """Fail unless ``actual == expected``: the exact fast-mode figures the text quotes,
    checked on the versions they were printed with (:data:`QUOTED_VERSIONS`) only. A claim
    that uses it also asserts what the figures show, which holds on every version."""
    if QUOTED_VERSIONS:
        assert actual == expected, (
            f"{actual!r} != {expected!r} (the text quotes these as printed with "
            f"{FIGURES_FROM}):\n{printed}")


def comments(source: str) -> str:
    """A code cell's ``#`` comments, as one line of prose."""
    lines = [line.strip().lstrip("#").strip() for line in source.splitlines()
             if line.strip().startswith("#")
             and not line.strip().startswith(("### BEGIN", "### END"))]
    return " ".join(" ".join(lines).split())


def number(pattern: str, text: str) -> float:
    """The number captured by ``pattern``'s first group in ``text``."""
    match = re.search(pattern, text)
    if not match:
        raise AssertionError(f"/{pattern}/ not found in:\n{text}")
    return float(match.group(1).replace(",", ""))


def numbers(label: str, text: str) -> list[float]:
    """The numbers on the line of ``text`` where ``label`` appears, after it."""
    for line in text.splitlines():
        if label in line:
            found = re.findall(r"-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?", line.split(label, 1)[1])
            return [float(v.replace(",", "")) for v in found]
    raise AssertionError(f"no line with {label!r} in:\n{text}")


def _printed(outputs) -> str:
    parts = []
    for out in outputs or []:
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out and "text/plain" in out["data"]:
            parts.append(out["data"]["text/plain"])
    return "".join(parts)


class ClaimsItem(pytest.Item):
    """The claims of one notebook, checked on the outputs of its cells in this run."""

    def __init__(self, *, cells, checks, **kwargs):
        super().__init__(**kwargs)
        self.cells, self.checks = cells, checks

    def runtest(self) -> None:
        nb = self.parent.nb
        markdown = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        run = Run(self.parent.path.stem, [c.cell.source for c in self.cells],
                  [None if c.test_outputs is None else _printed(c.test_outputs)
                   for c in self.cells], markdown)
        failed = []
        for check in self.checks:
            try:
                check(run)
            except Exception as err:  # noqa: BLE001 - report every claim, not the first
                failed.append(f"{check.__name__}: {type(err).__name__}: {err}")
        if failed:
            raise AssertionError(f"{len(failed)} of {len(self.checks)} claims of "
                                 f"{run.name} failed:\n" + "\n".join(failed))

    def reportinfo(self):
        return self.path, None, f"{self.parent.path.stem}: {len(self.checks)} claims"


def pytest_collection_modifyitems(session, config, items) -> None:
    from tests.claims import CLAIMS

    by_file: dict[Path, list] = {}
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            by_file.setdefault(item.parent.path, []).append(item)
    for path, cells in by_file.items():
        checks = CLAIMS.get(path.stem)
        if not checks:
            continue
        # the cells' node id prefix, so that --dist loadfile sends it to their worker
        nodeid = cells[-1].nodeid.rsplit("::", 1)[0] + "::claims"
        claims = ClaimsItem.from_parent(cells[-1].parent, name="claims", nodeid=nodeid,
                                        cells=cells, checks=checks)
        items.insert(items.index(cells[-1]) + 1, claims)
