"""The class as a Kubernetes Indexed Job (deploy/kubernetes/), checked without a cluster.

Every manifest validates against Kubernetes' own schema of ``VERSION``, as
kubernetes-validate ships it (offline), strict: a field Kubernetes does not know fails.
The Indexed Job's settings agree with one another, with the course's caps and with what
the sandbox needs; and its container command, run here for one index with the
manifest's environment (its volumes' mount paths mapped to local folders), grades that
shard.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import kubernetes_validate
import nbformat
import pytest
import yaml

from instructor.engine import sandbox
from instructor.workflow.collect import collect
from instructor.workflow.sample_class import make_notebook
from instructor.workflow.shards import DONE, job_limits, shard_of
from tests.course_copy import ROOT, fresh_copy

KUBE = ROOT / "deploy" / "kubernetes"
VERSION = "1.35.0"


def _documents() -> dict[str, dict]:
    return {f"{p.name}:{d['metadata']['name']}": d for p in sorted(KUBE.glob("*.yaml"))
            for d in yaml.safe_load_all(p.read_text()) if d}


def _errors(doc: dict) -> str | None:
    try:
        kubernetes_validate.validate(doc, VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return str(error).splitlines()[0]
    return None


def _job(name: str = "grade-job.yaml:autograde") -> dict:
    return _documents()[name]


def _pod(job: dict) -> dict:
    return job["spec"]["template"]["spec"]


def _container(job: dict) -> dict:
    (container,) = _pod(job)["containers"]
    return container


def _env(job: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in _container(job)["env"]}


def test_every_manifest_is_valid_kubernetes_of_the_stated_version():
    docs = _documents()
    assert {d["kind"] for d in docs.values()} == {"Job", "Secret", "PersistentVolumeClaim"}
    for where, doc in docs.items():
        assert _errors(doc) is None, where


def test_the_schema_refuses_what_kubernetes_would():
    job = _job()
    # a misspelt field, a wrong type, a completion mode Kubernetes does not have a type for
    for path, value in ((("spec", "template", "spec", "containers", 0, "securityContext",
                          "procMnt"), "Unmasked"),
                        (("spec", "completions"), "eight"),
                        (("spec", "template", "spec", "hostUsers"), "no")):
        broken = json.loads(json.dumps(job))
        node = broken
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        assert _errors(broken), path


def test_the_indexed_job_grades_each_shard_once_with_the_courses_limits():
    job = _job()
    spec, env, container = job["spec"], _env(job), _container(job)
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == int(env["SHARDS"]) >= spec["parallelism"] >= 1
    script = container["command"][-1]
    assert '--shard "$((JOB_COMPLETION_INDEX + 1))/$SHARDS" --skip-canary' in script
    limits = job_limits(1, int(env["JOBS"]))
    for given in (container["resources"]["requests"], container["resources"]["limits"]):
        assert given["cpu"] == limits["cpus-per-task"]
        assert given["memory"] == limits["mem"] + "i"  # the course's GB are GiB


def test_the_canary_job_is_the_grading_pod_but_for_its_command():
    grade, canary = _job(), _job("canary-job.yaml:autograde-canary")
    assert "completionMode" not in canary["spec"] and canary["spec"]["completions"] == 1
    assert "--canary-only" in _container(canary)["command"][-1]
    strip = {"command": None}
    assert {**_container(canary), **strip} == {**_container(grade), **strip}
    assert {**_pod(canary), "containers": None} == {**_pod(grade), "containers": None}


def test_the_sandbox_gets_what_bubblewrap_needs_and_no_more():
    pod = _pod(_job())
    context, own = pod["securityContext"], _container(_job())["securityContext"]
    # bwrap makes a user namespace (refused by the runtime's default seccomp profile) and
    # mounts a /proc of its own (refused over a masked /proc): both allowed, nothing else
    assert pod["hostUsers"] is False and own["procMount"] == "Unmasked"
    assert context["seccompProfile"] == {"type": "Unconfined"}
    assert own["allowPrivilegeEscalation"] is False and own["privileged"] is False
    assert own["readOnlyRootFilesystem"]


def test_the_sandboxed_processes_reach_neither_the_course_nor_the_secret_nor_the_cluster():
    """The grader is root of the pod's own user namespace, with only what dropping each
    sandboxed process to the grading user takes (sandbox.grading_user: it owns nothing
    of the course and cannot read the secret, 0400 and root's); no Job holds a token."""
    pod = _pod(_job())
    context, own = pod["securityContext"], _container(_job())["securityContext"]
    assert pod["hostUsers"] is False and context["runAsUser"] == context["runAsGroup"] == 0
    assert "fsGroup" not in context and "runAsNonRoot" not in context
    assert own["capabilities"] == {"drop": ["ALL"], "add": [
        "CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"]}
    (secret,) = (v["secret"] for v in pod["volumes"] if "secret" in v)
    assert secret["defaultMode"] == 0o400
    jobs = [d for d in _documents().values() if d["kind"] == "Job"]
    assert len(jobs) == 3 and all(_pod(j)["automountServiceAccountToken"] is False
                                  for j in jobs)
    dockerfile = (ROOT / "deploy" / "jupyterhub" / "Dockerfile").read_text()
    assert f"--shell /usr/sbin/nologin {sandbox.GRADER}" in dockerfile  # a read-only root


def test_the_secret_and_the_volumes_are_wired():
    docs, job = _documents(), _job()
    pod, env = _pod(job), _env(job)
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in _container(job)["volumeMounts"]}
    assert set(volumes) == set(mounts)
    secret = docs["secret.yaml:course-grader-secret"]
    assert volumes["grader-secret"]["secret"]["secretName"] == secret["metadata"]["name"]
    (key,) = secret["stringData"]
    assert env["COURSE_HIDDEN_SECRET_FILE"] == f"{mounts['grader-secret']}/{key}"
    claim = docs["volume.yaml:course"]
    assert volumes["course"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert "ReadWriteMany" in claim["spec"]["accessModes"]
    assert _container(job)["workingDir"] == mounts["course"]
    hub = yaml.safe_load((ROOT / "deploy" / "jupyterhub" / "values.yaml").read_text())
    data = {m["name"]: m for m in hub["singleuser"]["storage"]["extraVolumeMounts"]}
    assert env["COURSE_DATA_DIR"] == mounts["course-data"] == data["course-data"]["mountPath"]


def _local(job: dict, places: dict[str, Path]) -> tuple[str, dict[str, str]]:
    """The container's script and environment with each mount path a local folder."""
    mounts = {m["mountPath"]: str(places[m["name"]]) for m in _container(job)["volumeMounts"]}

    def here(value: str) -> str:
        for inside, outside in mounts.items():  # one mount at most: a local path stays
            if re.match(rf"{re.escape(inside)}(/|$)", value):
                return outside + value[len(inside):]
        return value

    return _container(job)["command"][-1], {k: here(v) for k, v in _env(job).items()}


def test_the_hub_and_the_jobs_share_one_secret_and_its_volumes_are_made_here():
    """deploy/jupyterhub/values.yaml's instructors' pods and the grading Jobs read the
    same Secret under the same key (so both draw the same hidden inputs), and the two
    claims every user's pod mounts are made by hub-volumes.yaml, read-write for many."""
    docs, job = _documents(), _job()
    values = yaml.safe_load((ROOT / "deploy" / "jupyterhub" / "values.yaml").read_text())
    course = values["custom"]["course"]
    (hub_volume,) = course["instructorVolumes"]
    (hub_mount,) = course["instructorVolumeMounts"]
    (key,) = docs["secret.yaml:course-grader-secret"]["stringData"]
    assert hub_volume["secret"]["secretName"] == "course-grader-secret"
    assert course["instructorEnvironment"]["COURSE_HIDDEN_SECRET_FILE"] == \
        f"{hub_mount['mountPath']}/{key}"
    assert _env(job)["COURSE_HIDDEN_SECRET_FILE"].endswith(f"/{key}")
    claims = {v["persistentVolumeClaim"]["claimName"]
              for v in values["singleuser"]["storage"]["extraVolumes"]}
    made = {d["metadata"]["name"]: d for k, d in docs.items()
            if k.startswith("hub-volumes.yaml:") and d["kind"] == "PersistentVolumeClaim"}
    assert set(made) == claims == {"nbgrader-exchange", "course-data"}
    assert all(d["spec"]["accessModes"] == ["ReadWriteMany"] for d in made.values())
    setup = _pod(docs["hub-volumes.yaml:course-volumes"])
    assert {v["persistentVolumeClaim"]["claimName"] for v in setup["volumes"]} == claims
    assert "chown 1000:100 /exchange" in _container(docs["hub-volumes.yaml:course-volumes"]
                                                    )["command"][-1]
    for name in ("grade-job.yaml:autograde", "canary-job.yaml:autograde-canary",
                 "hub-volumes.yaml:course-volumes"):
        image = _container(docs[name])["image"]
        target = "student" if name.startswith("hub-") else "instructor"
        assert image.rsplit(":", 1)[0].endswith(f"autoencoders-course-{target}"), (name, image)


@pytest.mark.grading
def test_the_container_command_grades_its_shard(tmp_path, data_dir, canary_cache):
    job = _job()
    course = fresh_copy(tmp_path / "course")
    shards = int(_env(job)["SHARDS"])
    a = "05_denoising_autoencoders"
    students = [s for s in (f"student{i}" for i in range(40)) if shard_of(s, shards) == 2][:1]
    students += [s for s in (f"student{i}" for i in range(40)) if shard_of(s, shards) == 3][:1]
    for student in students:
        (tmp_path / "in" / student).mkdir(parents=True)
        nbformat.write(make_notebook(a, "correct", course),
                       tmp_path / "in" / student / f"{a}.ipynb")
    collect(tmp_path / "in", a, root=course)
    (tmp_path / "secret").mkdir()
    secret = tmp_path / "secret" / "grader-secret"
    places = {"course": course, "course-data": data_dir, "grader-secret": secret.parent,
              "tmp": tmp_path / "tmp"}
    places["tmp"].mkdir()
    script, env = _local(job, places)
    env.update(ASSIGNMENT=a, JOB_COMPLETION_INDEX="1", COURSE_MODE="fast",
               COURSE_CANARY_CACHE=str(canary_cache),
               PATH=f"{course / '.venv' / 'bin'}:{os.environ['PATH']}")
    cwd = course  # the container's workingDir, the course volume
    # an empty secret: the pod refuses to start
    secret.write_text("")
    refused = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True,
                             text=True, timeout=600)
    assert refused.returncode != 0 and "secret is empty" in refused.stderr
    secret.write_text("a grader's secret")
    done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    folder = course / "shards" / a / f"2-of-{shards}"
    assert json.loads((folder / DONE).read_text())["graded"] == [[students[0], a]]
    assert (folder / "autograded" / students[0] / a).is_dir()
    assert not (course / "shards" / a / f"3-of-{shards}").exists()
    assert "autograding 1 submission(s)" in done.stdout + done.stderr
