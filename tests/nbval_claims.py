"""A pytest plugin: check the notebooks' claims on the run that executed them, and
execute each notebook once per `.ci/run`.

Each notebook is executed under nbval in fast mode with the shipped weights. For each
notebook with claims in :mod:`tests.claims`, this plugin adds one item right after the
notebook's last cell, ``<notebook>::claims``: it reads what the cells printed in that same
run and the notebook's markdown, and checks each claim. So the text cannot drift from the
numbers. (With ``--dist loadfile`` the item goes to the worker that ran the notebook.)

A recording run (``RECORD_NOTEBOOK_RUNS=<folder>``: the Colab-like run, tests/colab/run.py)
writes each notebook whose every cell passed to ``<folder>/<notebook>.json``: its code
cells' sources and outputs, the TensorFlow and Keras that printed them, and a key over
what the outputs depend on (:func:`run_key`). A later run (``make test``) that finds such
a record in :data:`RECORDS` with the key of this checkout does not execute the notebook
again: one item, ``<notebook>::recorded``, checks that the record covers every
code cell as it is now, and the claims read the recorded outputs. No record, or a stale
one, and the notebook is executed here as before; so is a notebook whose claims check
figures the text quotes (:func:`as_quoted`, 01 and 02) when this run has the versions
they were printed with and the record does not (the Colab-like run's): those figures stay
checked on every whole run. ``REUSE_NOTEBOOK_RUNS=0``: always
executed here.

Loaded through conftest.py's ``pytest_plugins``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.session import FIGURES_FROM, figures_from_these_versions

ROOT = Path(__file__).resolve().parents[1]
#: Where ``make test`` looks for the Colab-like run's records (NOTEBOOK_RUNS: elsewhere).
RECORDS = Path(os.environ.get("NOTEBOOK_RUNS") or ROOT / "build" / "notebook-runs")
#: What a notebook's outputs depend on besides the notebook itself (tracked files only).
RUN_INPUTS = ["helpers", "weights", "pyproject.toml", "tests/colab"]

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


def run_key(notebook: Path) -> str | None:
    """What a notebook's fast-mode outputs depend on, hashed: the notebook, the tracked
    files of :data:`RUN_INPUTS` as they are in this checkout (uncommitted edits included)
    and ``COURSE_MODE``; ``None`` outside a git checkout (then nothing is recorded or
    reused). The data is the course's fixed download and is not hashed."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--", *RUN_INPUTS], cwd=ROOT,
                                capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    names = sorted({notebook.resolve().relative_to(ROOT).as_posix(),
                    *(name.decode() for name in listed.split(b"\0") if name)})
    digest = hashlib.sha256(os.environ.get("COURSE_MODE", "").encode() + b"\0")
    for name in names:
        path = ROOT / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(deleted)")
        digest.update(b"\0")
    return digest.hexdigest()


def _kept(outputs) -> list[dict] | None:
    """The part of a cell's outputs a claim reads (:func:`_printed`), or an error's name."""
    if outputs is None:
        return None
    kept = []
    for out in outputs:
        if out.get("output_type") == "stream":
            kept.append({"output_type": "stream", "text": out.get("text", "")})
        elif "data" in out and "text/plain" in out["data"]:
            kept.append({"output_type": out["output_type"],
                         "data": {"text/plain": out["data"]["text/plain"]}})
        elif out.get("output_type") == "error":
            kept.append({"output_type": "error", "ename": out.get("ename", "")})
    return kept


def _versions() -> dict[str, str]:
    from importlib import metadata

    found = {}
    for name in FIGURES_FROM:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


class Recorder:
    """A recording run's notes on one notebook: each cell's outcome and outputs, written
    to ``<folder>/<notebook>.json`` after the last cell when every cell passed (an older
    record of the notebook is removed when its first cell starts)."""

    def __init__(self, folder: Path, path: Path, cells: list) -> None:
        self.file = folder / f"{path.stem}.json"
        self.path, self.cells = path, cells
        self.outcomes: dict[int, str] = {}

    def report(self, item, report) -> None:
        index = self.cells.index(item)
        if index == 0 and report.when == "setup":
            self.file.unlink(missing_ok=True)
        if report.failed:
            self.outcomes[index] = "failed"
        elif report.when == "call" or report.skipped:
            self.outcomes.setdefault(index, report.outcome)
        if index == len(self.cells) - 1 and report.when == "teardown":
            self.write()

    def write(self) -> None:
        outcomes = [self.outcomes.get(i) for i in range(len(self.cells))]
        key = run_key(self.path)
        if key is None or any(outcome not in ("passed", "skipped") for outcome in outcomes):
            return
        record = {"notebook": self.path.stem, "key": key, "versions": _versions(),
                  "cells": [{"source": cell.cell.source, "outcome": outcome,
                             "outputs": _kept(cell.test_outputs)}
                            for cell, outcome in zip(self.cells, outcomes)]}
        self.file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.file.with_suffix(".partial")
        partial.write_text(json.dumps(record))
        partial.replace(self.file)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    recorder = getattr(item, "_course_recorder", None)
    if recorder is not None:
        recorder.report(item, outcome.get_result())


def quotes_figures(checks) -> bool:
    """Whether any of these claims checks figures the text quotes (:func:`as_quoted`)."""
    import inspect

    return any("as_quoted(" in inspect.getsource(check) for check in checks)


def fresh_record(path: Path, sources: list[str], checks=()) -> dict | None:
    """The Colab-like run's record of the notebook at ``path``, if it was made from this
    checkout as it is now (:func:`run_key`) for these code cells, and on the versions
    the text's figures come from when ``checks`` quote figures (elsewhere those are not
    checked: the notebook is executed here instead); else ``None``."""
    file = RECORDS / f"{path.stem}.json"
    try:
        record = json.loads(file.read_text())
    except (OSError, ValueError):
        return None
    if record.get("key") != run_key(path) or [c["source"] for c in record["cells"]] != sources:
        return None
    if QUOTED_VERSIONS and not figures_from_these_versions(record["versions"]) \
            and quotes_figures(checks):
        return None
    return record


class RecordedItem(pytest.Item):
    """A notebook executed by the Colab-like run (its fresh record) instead of here."""

    def __init__(self, *, record, sources, **kwargs):
        super().__init__(**kwargs)
        self.record, self.sources = record, sources

    def runtest(self) -> None:
        cells = self.record["cells"]
        assert [c["source"] for c in cells] == self.sources, \
            f"the record of {self.path.stem} is not of its code cells as they are now"
        bad = [i for i, c in enumerate(cells) if c["outcome"] not in ("passed", "skipped")
               or any(out["output_type"] == "error" for out in c["outputs"] or [])]
        assert not bad, f"cells {bad} of {self.path.stem} did not pass in the recorded run"

    def reportinfo(self):
        versions = ", ".join(f"{k} {v}" for k, v in self.record["versions"].items())
        return self.path, None, f"{self.path.stem}: {len(self.sources)} cells run by the " \
                                f"Colab-like run ({versions})"


class ClaimsItem(pytest.Item):
    """The claims of one notebook, checked on the outputs of its cells in this run, or in
    the recorded run that stands for it here."""

    def __init__(self, *, cells, checks, record=None, **kwargs):
        super().__init__(**kwargs)
        self.cells, self.checks, self.record = cells, checks, record

    def runtest(self) -> None:
        global QUOTED_VERSIONS
        import nbformat

        nb = nbformat.read(self.path, as_version=4)
        markdown = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        if self.record is None:
            run = Run(self.path.stem, [c.cell.source for c in self.cells],
                      [None if c.test_outputs is None else _printed(c.test_outputs)
                       for c in self.cells], markdown)
            quoted = QUOTED_VERSIONS
        else:
            cells = self.record["cells"]
            run = Run(self.path.stem, [c["source"] for c in cells],
                      [None if c["outputs"] is None else _printed(c["outputs"])
                       for c in cells], markdown)
            quoted = figures_from_these_versions(self.record["versions"])
        failed = []
        here, QUOTED_VERSIONS = QUOTED_VERSIONS, quoted
        try:
            for check in self.checks:
                try:
                    check(run)
                except Exception as err:  # noqa: BLE001 - report every claim, not the first
                    failed.append(f"{check.__name__}: {type(err).__name__}: {err}")
        finally:
            QUOTED_VERSIONS = here
        if failed:
            raise AssertionError(f"{len(failed)} of {len(self.checks)} claims of "
                                 f"{run.name} failed:\n" + "\n".join(failed))

    def reportinfo(self):
        return self.path, None, f"{self.path.stem}: {len(self.checks)} claims"


def pytest_collection_modifyitems(session, config, items) -> None:
    from tests.claims import CLAIMS

    by_file: dict[Path, list] = {}
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            by_file.setdefault(item.parent.path, []).append(item)
    folder = os.environ.get("RECORD_NOTEBOOK_RUNS")
    reuse = not folder and os.environ.get("REUSE_NOTEBOOK_RUNS", "1") != "0"
    for path, cells in by_file.items():
        # the cells' node id prefix, so that --dist loadfile sends it to their worker
        prefix = cells[-1].nodeid.rsplit("::", 1)[0]
        sources = [c.cell.source for c in cells]
        checks = CLAIMS.get(path.stem) or []
        record = fresh_record(path, sources, checks) if reuse else None
        at = items.index(cells[0])
        if record is not None:   # not executed here: no nbval item, no kernel
            for cell in cells:
                items.remove(cell)
            items.insert(at, RecordedItem.from_parent(
                session, name="recorded", nodeid=f"{prefix}::recorded", path=path,
                record=record, sources=sources))
        elif folder:
            recorder = Recorder(Path(folder), path, cells)
            for cell in cells:
                cell._course_recorder = recorder
        if not checks:
            continue
        parent = session if record is not None else cells[-1].parent
        claims = ClaimsItem.from_parent(parent, name="claims", nodeid=f"{prefix}::claims",
                                        path=path, cells=cells, checks=checks, record=record)
        last = at if record is not None else items.index(cells[-1])
        items.insert(last + 1, claims)
