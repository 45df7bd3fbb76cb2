"""The nbgrader server (instructor/workflow/nbgrader_server.py): ``nbgrader`` forked from
a process that imported nbgrader once, never TensorFlow; a child that hangs past its
timeout or dies costs that one run (that one student), the server serves the next; a
server that is gone sends the run back to a spawned ``nbgrader``.

Each child is told, through a ``nbgrader_config.py`` in ``JUPYTER_CONFIG_DIR`` (read by
nbgrader as by any Jupyter application), to write its parent's PID, then to finish,
hang or kill itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import nbformat
import pytest

from instructor.workflow import nbgrader_server
from instructor.workflow.nbgrader_cli import nbgrader
from instructor.workflow.submission import grade_one
from tests.test_forking import gone_before_telling

TELL = "import os\nopen({path!r}, 'w').write(f'{{os.getpid()}} {{os.getppid()}}')\n"
THEN = {"finish": "", "hang": "import time\ntime.sleep(600)\n",
        "die": "import signal\nos.kill(os.getpid(), signal.SIGKILL)\n"}
#: A hanging child's first timeout: a forked nbgrader reads its configuration in well under
#: a second; on a machine so busy that it has not by then, the run is tried again with
#: twice the time (:func:`_until_it_hung`). Each test that hangs a child waits this long.
HANG_TIMEOUT = 8


def _told(tmp_path, what: str) -> tuple[dict, object]:
    """The environment of a child that does ``what``; the file it writes its PIDs to."""
    folder = tmp_path / f"config-{what}"
    folder.mkdir(exist_ok=True)
    said = folder / "pids"
    said.unlink(missing_ok=True)
    (folder / "nbgrader_config.py").write_text(TELL.format(path=str(said)) + THEN[what])
    return {"JUPYTER_CONFIG_DIR": str(folder)}, said


def _until_it_hung(tmp_path, attempt):
    """``attempt(env, timeout)`` with a child told to hang, until the child has written its
    PIDs (it reached its configuration before the timeout), the timeout doubled each time
    from :data:`HANG_TIMEOUT`: what the last attempt returned, and the PIDs' file."""
    for timeout in (HANG_TIMEOUT, 2 * HANG_TIMEOUT, 4 * HANG_TIMEOUT):
        env, said = _told(tmp_path, "hang")
        out = attempt(env, timeout)
        if said.is_file() and said.read_text().strip():
            return out, said
    pytest.fail(f"a child told to hang did not reach its configuration in {timeout} s")


def _pids(said) -> tuple[int, int]:
    child, parent = said.read_text().split()
    return int(child), int(parent)


def _gone(pid: int) -> bool:
    for _ in range(500):  # the server reaps it at once; bounded, not a timing claim
        if not os.path.exists(f"/proc/{pid}"):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def server(tmp_path):
    with nbgrader_server.running(1, tmp_path) as servers:
        (path, process), = servers
        yield path, process


def _version(tmp_path, path):
    env, said = _told(tmp_path, "finish")
    done = nbgrader("db", "student", "list", root=tmp_path, capture=True, env=env,
                    server=path, timeout=300)
    return done, said


def test_the_server_never_imports_tensorflow(server, tmp_path):
    path, process = server
    done, said = _version(tmp_path, path)  # once it served, it has preloaded everything
    assert done.returncode == 0 and "students in the database" in done.stdout, done
    assert _pids(said)[1] == process.pid  # forked from the server
    maps = open(f"/proc/{process.pid}/maps").read()
    assert "tensorflow" not in maps
    code = ("import sys\nfrom instructor.workflow import nbgrader_server\n"
            "nbgrader_server.preload()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'tensorflow_probability')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]", out


@pytest.mark.parametrize("what", ["hang", "die"])
def test_a_child_that_hangs_or_dies_costs_that_run_only(server, tmp_path, what):
    path, process = server
    if what == "hang":
        def attempt(env, timeout):
            with pytest.raises(subprocess.TimeoutExpired):
                nbgrader("db", "student", "list", root=tmp_path, capture=True, env=env,
                         server=path, timeout=timeout, check=False)

        _, said = _until_it_hung(tmp_path, attempt)
    else:
        env, said = _told(tmp_path, what)
        done = nbgrader("db", "student", "list", root=tmp_path, capture=True, env=env,
                        server=path, timeout=300, check=False)
        assert done.returncode == -9, done
    child, parent = _pids(said)
    assert parent == process.pid
    assert _gone(child)
    assert process.poll() is None  # the server goes on, and serves the next
    done, said = _version(tmp_path, path)
    assert done.returncode == 0 and _pids(said)[1] == process.pid


def test_a_submission_whose_nbgrader_hangs_fails_alone(server, tmp_path):
    """grade_one: the student whose nbgrader hangs past the timeout is marked failed with
    a note; the server then grades the next run."""
    root, run_dir, name = tmp_path / "course", tmp_path / "run", "01_x"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    for folder in (root / "notebooks" / name, root / "submitted" / "s1" / name,
                   run_dir / "release" / name):
        folder.mkdir(parents=True)
    nbformat.write(nb, root / "submitted" / "s1" / name / f"{name}.ipynb")
    nbformat.write(nb, run_dir / "release" / name / f"{name}.ipynb")
    assert _version(tmp_path, server[0])[0].returncode == 0  # made tmp_path/gradebook.db
    shutil.copy2(tmp_path / "gradebook.db", run_dir / "gradebook.db")
    (result, found, _course, log), said = _until_it_hung(
        tmp_path, lambda env, timeout: grade_one("s1", name, root, run_dir, env, timeout))
    assert result.failed and found is None and "TimeoutExpired" in log
    assert any("could not grade" in note for note in result.notes), result.notes
    assert _pids(said)[1] == server[1].pid and _gone(_pids(said)[0])
    assert _version(tmp_path, server[0])[0].returncode == 0


def test_a_child_whose_grader_went_away_before_asking_ends_quietly(server):
    """Its standard input closed before the request: nothing to run, status 0, no
    traceback."""
    assert gone_before_telling(server[0], 2) == ([b"forked", b"0"], b"")


def test_a_server_that_is_gone_sends_the_run_back_to_spawning(server, tmp_path):
    path, process = server
    process.kill()
    process.wait()
    done, said = _version(tmp_path, path)
    assert done.returncode == 0 and "students in the database" in done.stdout, done
    assert _pids(said)[1] != process.pid  # a spawned nbgrader, not a fork
