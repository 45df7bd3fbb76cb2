"""Gradescope's autograder (instructor/workflow/gradescope.py), graded as Gradescope runs it.

Gradescope's own image cannot be pulled here, so the image is the hub image's ``deps``
stage (deploy/jupyterhub/Dockerfile: the Debian base made by mmdebstrap, Python 3.11, the
pinned wheels, layers shared with tests/test_image.py) and its ``gradescope`` target does
what Gradescope does with ``make gradescope``'s zip: unpacked in /autograder/source,
``setup.sh`` run as root. Each hand-in is then graded by ``/autograder/run_autograder`` as
root in a fresh container with podman's default seccomp profile and no added capability
(bwrap cannot start there: the ``grading-user`` isolation): for 05, the answer key (full
marks), the release's stub (0), a wrong answer (loses points) and an attacker (the key,
whose first answer cell reads /autograder/source, writes /autograder/results and prints a
forged results.json); for 02, whose checks load TensorFlow, the key (its other hand-ins
take the paths from verdicts to results.json that 05's take, and its attacker's reads and
writes are 05's attacker's).
``make test-gradescope``; ``make test`` runs it after the hub's images, in the background
(tests/suite.sh).
"""

from __future__ import annotations

import errno
import json
import os
import platform
import pwd
import shutil
import subprocess
import time
import uuid
import zipfile

import nbformat
import pytest

from instructor.engine import roles
from instructor.engine.cells import nbgrader_meta
from instructor.workflow import gradescope
from instructor.workflow.sample_class import make_notebook
from tests import needs
from tests.course_copy import ROOT
from tests.test_image import _base, _build_volumes, _limits, _missing, podman

pytestmark = pytest.mark.grading

ASSIGNMENTS = ("02_stacked_autoencoders", "05_denoising_autoencoders")
#: The hand-ins each assignment's autograder grades (the module's docstring).
KINDS = {"02_stacked_autoencoders": ("correct",),
         "05_denoising_autoencoders": ("correct", "stub", "partial", "attacker")}
FORGED = {"score": 1000, "output": "forged", "tests": []}
ATTACK = f"""
import glob as _g, json as _j, os as _o
_seen = {{}}
for _name, _do in (("list", lambda: _o.listdir("/autograder/source")),
                   ("find", lambda: [p for p in _g.glob("/tmp/**/gradebook.db", recursive=True)
                                     + _g.glob("/tmp/**/grading/secret", recursive=True)
                                     if _o.access(p, _o.R_OK)]),
                   ("secret", lambda: open("/autograder/source/grading/secret").read()),
                   ("gradebook", lambda: open("/autograder/source/grading/gradebook.db",
                                              "rb").read(16)),
                   ("write", lambda: open("/autograder/results/results.json", "w").write(
                       _j.dumps({FORGED!r}))),
                   ("plant", lambda: open("/autograder/results/extra.json", "w").write("x"))):
    try:
        _seen[_name] = repr(_do())[:80]
    except Exception as _err:
        _seen[_name] = type(_err).__name__
open("/witness/seen.json", "w").write(_j.dumps(_seen))
print(_j.dumps({FORGED!r}))
"""


def attacker(assignment: str) -> nbformat.NotebookNode:
    """The answer key with :data:`ATTACK` at the top of its first graded answer cell."""
    nb = make_notebook(assignment, "correct")
    cell = next(c for c in nb.cells if nbgrader_meta(c).get("solution")
                and nbgrader_meta(c).get("grade_id", "").endswith("-solution"))
    cell.source = ATTACK + "\n" + cell.source
    return nb


def wrong(assignment: str) -> nbformat.NotebookNode:
    """A wrong answer of 05 that passes some tests: its PSNR averaged over two axes, right
    for the visible test's 4x4 images only."""
    nb = make_notebook(assignment, "correct")
    cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "psnr-solution")
    mean = ".reshape(len(pred), -1).mean(axis=1)"
    assert mean in cell.source
    cell.source = cell.source.replace(mean, ".mean(axis=(1, 2))")
    return nb


@pytest.fixture(scope="session")
def images(tmp_path_factory, data_dir):
    """One Gradescope-like image per assignment, from ``make gradescope``'s zip."""
    needs.need("the Gradescope test", _missing())
    tmp = tmp_path_factory.mktemp("gradescope")
    base, built, times = _base(tmp, {}), {}, {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_HIDDEN_SECRET_FILE", str(tmp / "secret"))
        for a in ASSIGNMENTS:
            context = tmp / a
            context.mkdir()
            for name in ("requirements.txt", "pyproject.toml"):
                shutil.copy(ROOT / name, context / name)
            zipped = gradescope.build(a, context, data_dir)
            tag = f"localhost/autoencoders-gradescope-{a[:2]}:test-{uuid.uuid4().hex[:12]}"
            t0 = time.monotonic()
            done = podman("build", "--layers", "-f", str(ROOT / "deploy/jupyterhub/Dockerfile"),
                          "--target", "gradescope", "--build-arg", f"BASE={base}",
                          *_build_volumes(tmp), "-t", tag, str(context), check=False)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            size = int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout)
            times[a] = time.monotonic() - t0
            print(f"\ngradescope {a}: zip {zipped.stat().st_size / 1e6:.1f} MB, image "
                  f"{size / 1e6:.0f} MB, built in {times[a]:.0f} s (wall, busy machine)")
            built[a] = tag
    yield built
    for tag in built.values():
        podman("rmi", tag, check=False)


def run(image: str, nb: nbformat.NotebookNode, tmp_path, name: str) -> tuple[dict, dict]:
    """``nb`` graded by run_autograder as root in a fresh container: its results.json,
    and what an attacker left in the witness folder."""
    sub, results, witness = (tmp_path / name / d for d in ("submission", "results", "witness"))
    for folder in (sub, results, witness):
        folder.mkdir(parents=True)
    witness.chmod(0o777)
    nbformat.write(nb, sub / "my work (1).ipynb")  # any file name
    t0 = time.monotonic()
    done = podman("run", "--rm", *_limits(), "-v", f"{sub}:/autograder/submission:ro",
                  "-v", f"{results}:/autograder/results", "-v", f"{witness}:/witness",
                  image, "/autograder/run_autograder", check=False)
    print(f"\n{name}: graded in the container in {time.monotonic() - t0:.0f} s (wall)")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name for p in results.iterdir()) == ["results.json"]
    seen = witness / "seen.json"
    return (json.loads((results / "results.json").read_text()),
            json.loads(seen.read_text()) if seen.exists() else {})


def check_spec(out: dict, assignment: str) -> None:
    """Gradescope's fields, every test cell once, no hidden test's source."""
    assert {"score", "output", "tests", "execution_time", "visibility"} <= set(out)
    assert assignment in out["output"] and "Autoencoders course" in out["output"]
    for t in out["tests"]:
        assert {"name", "score", "max_score", "output", "visibility"} <= set(t)
        assert t["visibility"] in gradescope.VISIBILITIES
    assert any(t["visibility"] == "after_published" for t in out["tests"])
    source = nbformat.read(ROOT / "notebooks" / assignment / f"{assignment}.ipynb", 4)
    hidden = [line.strip() for c in source.cells for line in c.source.splitlines()
              if "### BEGIN HIDDEN TESTS" in c.source and len(line.strip()) > 30
              and c.source.index("### BEGIN HIDDEN TESTS") < c.source.index(line)]
    text = json.dumps(out)
    assert hidden and not [line for line in hidden if line in text]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_gradescope_grades_each_hand_in(images, assignment, tmp_path):
    full = None
    for kind in KINDS[assignment]:
        made = {"attacker": attacker, "partial": wrong}.get(kind)
        nb = made(assignment) if made else make_notebook(assignment, kind)
        out, seen = run(images[assignment], nb, tmp_path, kind)
        check_spec(out, assignment)
        top = sum(t["max_score"] for t in out["tests"])
        assert out["score"] == sum(t["score"] for t in out["tests"])
        if kind == "correct":
            full = out["score"]
            assert full == top > 0, out
            assert "grading-user" in out["output"]  # bwrap cannot start here: said
        elif kind == "stub":
            assert out["score"] == 0, out
        elif kind == "partial":
            assert 0 < out["score"] < full, out
        else:  # nothing read, nothing written; its own grade is the key's
            assert out["score"] == full and "forged" not in json.dumps(out), out
            assert seen.pop("find") == "[]", seen  # the grader's copies: out of reach
            assert seen and all(seen[k] == "PermissionError" for k in seen), seen


@pytest.mark.skipif(os.geteuid() != 0 or platform.machine() != "x86_64",
                    reason="root drops to the grading user; the filter is x86-64's")
def test_grading_user_drops_to_the_grading_user_under_the_filter(tmp_path):
    """``grading-user`` (no bwrap): student code runs as course-grader, which cannot read a
    folder of root's, under the seccomp filter the launcher installs (ptrace: ENOSYS, as
    every call outside the allow-list)."""
    source, cwd = tmp_path / "source", tmp_path / "cwd"
    source.mkdir(mode=0o700)
    (source / "secret").write_text("x")
    cwd.mkdir()
    code = ("import os, ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print(os.getuid(), libc.syscall(101, 0, 0, 0, 0), ctypes.get_errno())\n"
            f"try:\n    open({str(source / 'secret')!r}).read(); print('read')\n"
            "except PermissionError:\n    print('refused')\n")
    box = roles.Box(isolation="grading-user", environment=dict(os.environ))
    argv, env = roles.launch(roles.ANSWERS, ["/usr/bin/python3", "-c", code], str(cwd), box)
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    uid = pwd.getpwnam("course-grader").pw_uid
    assert done.stdout.split() == [str(uid), "-1", str(errno.ENOSYS), "refused"], done


def test_the_zip_holds_one_assignment_and_gradescope_run_grades_a_damaged_hand_in(
        tmp_path, data_dir, monkeypatch):
    """``make gradescope``'s zip: the scripts at its root, that assignment's hidden tests and
    the secret, nothing of another assignment's nor the answer key; ``gradescope-run``
    grades a damaged notebook 0, saying why, each test cell still listed."""
    from instructor.__main__ import main

    monkeypatch.setenv("COURSE_HIDDEN_SECRET_FILE", str(tmp_path / "secret"))
    a = "02_stacked_autoencoders"
    zipped = gradescope.build(a, tmp_path / "zip", data_dir)
    names = zipfile.ZipFile(zipped).namelist()
    assert {"setup.sh", "run_autograder", "grading/gradebook.db", "grading/secret",
            f"course/release/{a}/{a}.ipynb", "data/mnist.npz"} <= set(names)
    assert [n for n in names if n.endswith(".ipynb")] == [f"course/release/{a}/{a}.ipynb"]
    assert not [n for n in names if "05_" in n or "solutions" in n or "submitted" in n]
    bad = tmp_path / "my upload.ipynb"
    bad.write_text('{"cells": [tru')
    main(["gradescope-run", str(zipped), str(bad), "--results", str(tmp_path / "r.json")])
    out = json.loads((tmp_path / "r.json").read_text())
    assert out["score"] == 0 and "could not be read as a notebook" in out["output"], out
    assert len(out["tests"]) == 6 and all(t["visibility"] == "after_published"
                                          for t in out["tests"]), out["tests"]
