"""A notebook recorded by the Colab-like run is checked on its record by ``make test``,
not executed again; a stale record, or none, and it is executed (tests/nbval_claims.py).

Each test runs pytest on one notebook in a subprocess with ``--collect-only`` or on a
hand-made record: no kernel starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

from helpers.session import FIGURES_FROM
from tests.nbval_claims import QUOTED_VERSIONS, ROOT, run_key

NOTEBOOK = ROOT / "notebooks" / "05_denoising_autoencoders" / "05_denoising_autoencoders.ipynb"
#: its claims check figures the text quotes (tests/claims.py's as_quoted)
QUOTING = ROOT / "notebooks" / "01_linear_autoencoder_pca" / "01_linear_autoencoder_pca.ipynb"
COLAB = {"tensorflow": "2.20.0", "keras": "3.13.2"}


def _record(folder, *, key=None, outcome="passed", versions=COLAB, notebook=NOTEBOOK):
    sources = [c.source for c in nbformat.read(notebook, as_version=4).cells
               if c.cell_type == "code"]
    record = {"notebook": notebook.stem, "key": key or run_key(notebook), "versions": versions,
              "cells": [{"source": s, "outcome": outcome, "outputs": []} for s in sources]}
    (folder / f"{notebook.stem}.json").write_text(json.dumps(record))


def _pytest(folder, *args, reuse: str = "1", notebook=NOTEBOOK) -> str:
    env = {**os.environ, "NOTEBOOK_RUNS": str(folder), "COURSE_MODE": "fast",
           "REUSE_NOTEBOOK_RUNS": reuse}
    env.pop("RECORD_NOTEBOOK_RUNS", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0",
                           "--nbval-lax", "--nbval-current-env", "-rA", *args,
                           str(notebook)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    return done.stdout + done.stderr


@pytest.fixture(autouse=True)
def _fast_mode(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "fast")   # the key includes it


def test_a_fresh_record_stands_for_the_run(tmp_path):
    _record(tmp_path)
    out = _pytest(tmp_path, "--collect-only", "-q")
    assert "::recorded" in out and "::claims" in out, out
    assert "::Cell 0" not in out, out


@pytest.mark.parametrize("stale", ["key", "reuse off"])
def test_a_stale_record_or_reuse_off_and_the_notebook_is_executed(tmp_path, stale):
    _record(tmp_path, key="0" * 64 if stale == "key" else None)
    out = _pytest(tmp_path, "--collect-only", "-q", reuse="0" if stale == "reuse off" else "1")
    assert "::Cell 0" in out and "::recorded" not in out, out


def test_the_key_follows_the_notebook_the_helpers_and_the_mode(monkeypatch):
    key = run_key(NOTEBOOK)
    assert run_key(NOTEBOOK) == key
    assert run_key(NOTEBOOK.parents[1] / "02_stacked_autoencoders"
                   / "02_stacked_autoencoders.ipynb") != key
    monkeypatch.setenv("COURSE_MODE", "full")
    assert run_key(NOTEBOOK) != key


def test_a_failed_cell_in_the_record_fails_and_claims_read_the_record(tmp_path):
    _record(tmp_path, outcome="failed")
    out = _pytest(tmp_path)
    assert "FAILED notebooks/05_denoising_autoencoders/05_denoising_autoencoders.ipynb" \
           "::recorded" in out, out
    # the record printed nothing: the claims fail on it (they read it, not a run)
    assert "::claims" in out and "claims of 05_denoising_autoencoders failed" in out, out


@pytest.mark.skipif(not QUOTED_VERSIONS, reason="the quoted figures' versions are not here")
@pytest.mark.parametrize("versions", ["Colab's", "the quoted figures'"])
def test_a_record_from_other_versions_never_stands_for_claims_on_quoted_figures(tmp_path,
                                                                                versions):
    pinned = {name: f"{version}.0" for name, version in FIGURES_FROM.items()}
    _record(tmp_path, notebook=QUOTING, versions=COLAB if versions == "Colab's" else pinned)
    out = _pytest(tmp_path, "--collect-only", "-q", notebook=QUOTING)
    if versions == "Colab's":
        assert "::Cell 0" in out and "::recorded" not in out, out
    else:
        assert "::recorded" in out and "::Cell 0" not in out, out


@pytest.mark.parametrize("outcome", ["passed", "failed"])
def test_the_recording_run_writes_a_notebook_only_when_every_cell_passed(tmp_path, outcome):
    from types import SimpleNamespace as Fake

    from tests.nbval_claims import Recorder

    cells = [Fake(cell=Fake(source=f"print({i})"), test_outputs=[
        {"output_type": "stream", "name": "stdout", "text": f"{i}\n"}]) for i in range(3)]
    recorder = Recorder(tmp_path, NOTEBOOK, cells)
    (tmp_path / f"{NOTEBOOK.stem}.json").write_text("an older record")
    for i, cell in enumerate(cells):
        for when in ("setup", "call", "teardown"):
            failed = outcome == "failed" and i == 1 and when == "call"
            recorder.report(cell, Fake(when=when, failed=failed, skipped=False,
                                       outcome="failed" if failed else "passed"))
    file = tmp_path / f"{NOTEBOOK.stem}.json"
    if outcome == "failed":
        assert not file.exists(), "a notebook with a failed cell is not recorded (nor kept)"
    else:
        record = json.loads(file.read_text())
        assert record["key"] == run_key(NOTEBOOK)
        assert [c["outputs"][0]["text"] for c in record["cells"]] == ["0\n", "1\n", "2\n"]
