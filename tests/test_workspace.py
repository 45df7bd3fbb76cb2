"""make lab's student copy (scripts/workspace.py) and the authors' save hook."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


workspace = _load("workspace")
author = _load("author_lab_config")


def test_the_student_copy_is_made_from_release_only(tmp_path):
    work = tmp_path / "work"
    done = workspace.sync(ROOT / "release", work)
    copied = sorted(p.relative_to(work).as_posix() for p in work.rglob("*.ipynb"))
    released = sorted(p.relative_to(ROOT / "release").as_posix()
                      for p in (ROOT / "release").rglob("*.ipynb"))
    assert copied == released and len(done) >= len(released)
    for path in work.rglob("*.ipynb"):
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text


def test_a_later_run_never_writes_over_the_students_work(tmp_path):
    release, work = tmp_path / "release", tmp_path / "work"
    (release / "01").mkdir(parents=True)
    (release / "01" / "01.ipynb").write_text("v1")
    (release / "01" / "untouched.ipynb").write_text("v1")
    workspace.sync(release, work)
    (work / "01" / "01.ipynb").write_text("my answer")          # the student's work
    assert workspace.sync(release, work) == []                  # nothing new: nothing done
    (release / "01" / "01.ipynb").write_text("v2")              # a new release
    (release / "01" / "untouched.ipynb").write_text("v2")
    (release / "02").mkdir()
    (release / "02" / "02.ipynb").write_text("new notebook")
    done = workspace.sync(release, work)
    assert (work / "01" / "01.ipynb").read_text() == "my answer"
    assert (work / "01" / "01.new-release.ipynb").read_text() == "v2"
    assert (work / "01" / "untouched.ipynb").read_text() == "v2"
    assert (work / "02" / "02.ipynb").read_text() == "new notebook"
    assert any("yours is kept" in line for line in done)
    assert json.loads((work / ".release.json").read_text())["01/01.ipynb"]


def test_authors_saves_into_stored_folders_have_no_outputs(tmp_path):
    def model():
        return {"type": "notebook", "content": {"cells": [
            {"cell_type": "code", "outputs": [{"output_type": "stream"}],
             "execution_count": 3}]}}

    stored = model()
    author.strip_outputs(stored, "02_stacked_autoencoders/x.ipynb",
                         SimpleNamespace(root_dir=str(ROOT / "notebooks")))
    assert stored["content"]["cells"][0] == {"cell_type": "code", "outputs": [],
                                             "execution_count": None}
    elsewhere = model()
    author.strip_outputs(elsewhere, "x.ipynb", SimpleNamespace(root_dir=str(tmp_path)))
    assert elsewhere["content"]["cells"][0]["execution_count"] == 3


def test_a_real_jupyter_server_saves_stored_notebooks_without_outputs(tmp_path):
    """The hook as JupyterLab's server runs it: a notebook PUT through the contents API."""
    import shutil
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    (tmp_path / "scripts").mkdir()
    (tmp_path / "notebooks").mkdir()
    shutil.copy2(ROOT / "scripts" / "author_lab_config.py", tmp_path / "scripts")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", "--IdentityProvider.token=t", "--allow-root",
         f"--config={tmp_path / 'scripts' / 'author_lab_config.py'}",
         f"--ServerApp.root_dir={tmp_path / 'notebooks'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        notebook = {"cells": [{"cell_type": "code", "source": "1", "metadata": {},
                               "execution_count": 1, "outputs": [
                                   {"output_type": "stream", "name": "stdout",
                                    "text": "1\n"}]}],
                    "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        body = json.dumps({"type": "notebook", "content": notebook}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/contents/x.ipynb", data=body, method="PUT",
            headers={"Authorization": "token t", "Content-Type": "application/json"})
        for _ in range(60):
            try:
                urllib.request.urlopen(request, timeout=5).read()
                break
            except OSError:
                time.sleep(0.5)
        saved = json.loads((tmp_path / "notebooks" / "x.ipynb").read_text())
        assert saved["cells"][0]["outputs"] == []
        assert saved["cells"][0]["execution_count"] is None
    finally:
        server.terminate()
        server.wait(timeout=30)
