"""What can be checked here of the hub's deployment files (deploy/jupyterhub/).

The images are built and run in tests/test_image.py; no Kubernetes runs here, so these
tests read the files. The Dockerfile installs the course as ``make setup`` does, without
the dev tools; the values file is valid for the chart version it names (its schema in
deploy/jupyterhub/schema/) and wires the course's hub settings, the exchange and the data
as the other files expect; the hub settings give each role its tools and an instructor's
pod what grading needs (a real hub runs them in tests/test_hub.py).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
import types
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

from tests import needs
from tests.course_copy import ROOT

DEPLOY = ROOT / "deploy" / "jupyterhub"


def _commands(text: str, prefix: str) -> list[list[str]]:
    """The lines of ``text`` that start with ``prefix``, continuation lines joined,
    each split as the shell would."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [shlex.split(line.strip()[len(prefix):]) for line in joined.splitlines()
            if line.strip().startswith(prefix)]


def test_the_images_install_what_make_setup_does_without_the_dev_tools():
    """The image installs with requirements.txt's pins (jupyterhub's aside: the chart's),
    the extras of ``make setup``'s ``dev`` but its own tools and the website's, and the
    course's kernel as ``make setup`` does."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP):\n", 1)[1]
    recipe = recipe.split("\n\n", 1)[0]
    kernel = re.search(r"^KERNEL\s*:=\s*(\S+)", makefile, re.M).group(1)
    setup = [[w.replace("$(KERNEL)", kernel) for w in words[1:]]
             for words in _commands(recipe, "") if words[:1] == ["$(BIN)/python"]]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", dockerfile).replace(" && ", "\nRUN ")
    image = [words[1:] for words in _commands(joined, "RUN ") if words[:1] == ["python"]]
    assert setup[2] in image and setup[1] in image, (image, setup)  # pip check, the kernel
    # the image's stamp is the one make looks for (named by the content, as make names it)
    key = re.search(r"^SETUP_KEY := \$\(shell (.*)\)$", makefile, re.M).group(1)
    assert f'touch "/opt/venv/.installed-$({key})"' in dockerfile
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dev = re.search(r"\[(.*)\]", pyproject["optional-dependencies"]["dev"][0]).group(1)
    installs = [w for w in image if w[:3] == ["-m", "pip", "install"] and "-e" in w]
    extras = {e for w in installs for e in re.findall(r"\.\[(.*)\]", " ".join(w))}
    assert extras == {",".join(e for e in dev.split(",") if e != "site")}, extras
    assert "-c" in installs[0] and "grep -v '^jupyterhub==' requirements.txt" in dockerfile
    version = re.search(r"ARG JUPYTERHUB_VERSION=(\S+)", dockerfile).group(1)
    values = (DEPLOY / "values.yaml").read_text()
    assert f"runs JupyterHub {version}" in values and f"runs JupyterHub\n# {version}" \
        not in values


def _over(defaults: dict, given: dict) -> dict:
    """``given`` over ``defaults`` as helm merges values: tables key by key, the rest
    replaced."""
    out = dict(defaults)
    for key, value in given.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _over(out[key], value) if both else value
    return out


def test_the_values_file_is_valid_for_the_chart_version_it_names():
    text = (DEPLOY / "values.yaml").read_text()
    values = yaml.safe_load(text)
    # as helm sees them: values.yaml's header installs it with the hub settings as a file
    assert "--set-file hub.extraFiles.course.stringData=deploy/jupyterhub/" \
        "jupyterhub_config.py" in text
    values["hub"]["extraFiles"]["course"]["stringData"] = \
        (DEPLOY / "jupyterhub_config.py").read_text()
    chart = re.search(r"jupyterhub chart (\S+), which", text).group(1)
    schema = json.loads((DEPLOY / "schema" / f"z2jh-{chart}-values.schema.json").read_text())
    # helm validates the chart's defaults with the given values over them
    values = _over(yaml.safe_load((DEPLOY / "schema" / f"z2jh-{chart}-values.yaml").read_text()),
                   values)
    jsonschema.Draft7Validator(schema).validate(values)
    # the schema refuses what the chart does not know (a misspelt key)
    wrong = {**values, "singleuser": {**values["singleuser"], "extraVolumez": []}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(wrong)


def _pod(name: str, values: dict, monkeypatch, tmp_path, shape: type = dict) -> dict:
    """The pod manifest KubeSpawner 7.0.0 (what the chart 4.4.0 runs) makes for ``name``,
    configured from ``values`` as the chart's own ``files/hub/jupyterhub_config.py``
    configures it (4.4.0, lines 255-362): volumes and volume mounts as dicts, the home
    volume ``volume-{user_server}``, each of ``singleuser.storage.extraVolumes`` under its
    name and each extra mount under ``<index>-<name>``; then the course's pre-spawn hook,
    with ``z2jh.get_config`` reading ``custom.course`` from ``values``. ``shape=list``:
    the same volumes as lists, as KubeSpawner also takes them (a configuration of one's
    own)."""
    import asyncio

    from kubespawner import KubeSpawner
    from traitlets.config import Config

    z2jh = types.ModuleType("z2jh")  # what Zero to JupyterHub's hub provides
    z2jh.get_config = lambda key, default=None: values["custom"]["course"] \
        if key == "custom.course" else default
    monkeypatch.setitem(sys.modules, "z2jh", z2jh)
    # KubeSpawner loads a cluster's address as it starts (and never calls it here)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "here",
        "clusters": [{"name": "here", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "here", "user": {"token": "unused"}}],
        "contexts": [{"name": "here", "context": {"cluster": "here", "user": "here"}}]}))
    from kubernetes_asyncio.config import kube_config

    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    single, home = values["singleuser"], "volume-{user_server}"
    config = Config()
    config.KubeSpawner.image = f"{single['image']['name']}:{single['image']['tag']}"
    config.KubeSpawner.mem_limit = single["memory"]["limit"]
    config.KubeSpawner.cpu_limit = float(single["cpu"]["limit"])
    config.KubeSpawner.container_security_context = {"runAsUser": 1000}
    config.KubeSpawner.volumes = {
        home: {"name": home, "persistentVolumeClaim": {"claimName": "{pvc_name}"}},
        **{v["name"]: v for v in single["storage"]["extraVolumes"]}}
    config.KubeSpawner.volume_mounts = {
        home: {"mountPath": "/home/jovyan", "name": home},
        **{f"{i}-{m['name']}": m for i, m in enumerate(single["storage"]["extraVolumeMounts"])}}
    if shape is list:
        config.KubeSpawner.volumes = list(config.KubeSpawner.volumes.values())
        config.KubeSpawner.volume_mounts = list(config.KubeSpawner.volume_mounts.values())
    user = SimpleNamespace(name=name, id=1, url=f"/user/{name}/", escaped_name=name)

    async def manifest():  # KubeSpawner makes its API client in a running event loop
        spawner = KubeSpawner(config=config, user=user, _mock=True)
        for _start in range(2):  # the hook runs at each start; the hub keeps the spawner
            _spawn(name, monkeypatch, spawner)
        return spawner, (await spawner.get_pod_manifest()).to_dict()

    spawner, pod = asyncio.run(manifest())
    return {"pod": pod["spec"], "container": pod["spec"]["containers"][0],
            "environment": spawner.environment}


@pytest.mark.parametrize("shape", [dict, list], ids=["the chart's dicts", "lists"])
def test_an_instructors_pod_gets_the_instructor_image_and_what_bubblewrap_needs(
        monkeypatch, tmp_path, shape):
    """Each role's pod as KubeSpawner makes it on the chart: only an instructor's gets the
    instructor image, the grader's secret, the grading profile and the grading limits."""
    values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
    course = values["custom"]["course"]
    teacher, alice = (_pod(n, values, monkeypatch, tmp_path, shape)
                      for n in ("instructor", "alice"))
    assert teacher["container"]["image"] == course["instructorImage"]
    assert alice["container"]["image"].startswith(values["singleuser"]["image"]["name"])
    assert teacher["pod"]["host_users"] is False and alice["pod"]["host_users"] is None
    context = teacher["container"]["security_context"]  # as given: Kubernetes' own keys
    assert context["procMount"] == "Unmasked" and context["runAsUser"] == 1000
    assert context["allowPrivilegeEscalation"] is False
    assert context["seccompProfile"]["type"] == "Localhost"
    assert "procMount" not in alice["container"]["security_context"]
    # the chart's volumes stay, and the grader's secret joins an instructor's alone
    volumes = {role: sorted(v["name"] for v in pod["pod"]["volumes"])
               for role, pod in (("teacher", teacher), ("alice", alice))}
    assert volumes["alice"] == ["course-data", "exchange", "volume-alice"], volumes
    assert volumes["teacher"] == ["course-data", "exchange", "grader-secret",
                                  "volume-instructor"], volumes
    mounts = {m["name"]: m for m in teacher["container"]["volume_mounts"]}
    assert {"exchange", "course-data", "volume-instructor"} < set(mounts)
    secret = mounts["grader-secret"]
    assert secret["read_only"] and teacher["environment"]["COURSE_HIDDEN_SECRET_FILE"] \
        .startswith(secret["mount_path"] + "/")
    assert "grader-secret" not in {m["name"] for m in alice["container"]["volume_mounts"]}
    assert "COURSE_HIDDEN_SECRET_FILE" not in alice["environment"]
    # an instructor's pod grades two submissions at a time, as a grading Job would
    from instructor.workflow.shards import job_limits

    assert job_limits(1, 2)["mem"] == course["instructorMemoryLimit"] == "18G"
    assert teacher["container"]["resources"]["limits"]["memory"] == 18 * 2 ** 30
    assert alice["container"]["resources"]["limits"]["memory"] == 8 * 2 ** 30  # singleuser's


def test_the_values_file_parses_and_wires_the_course():
    values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
    hub, single = values["hub"], values["singleuser"]
    mounted = hub["extraFiles"]["course"]["mountPath"]
    assert f'load_subconfig("{mounted}")' in hub["extraConfig"]["course"]
    mounts = {m["name"]: m for m in single["storage"]["extraVolumeMounts"]}
    assert mounts["exchange"]["mountPath"] == hub["extraEnv"]["COURSE_EXCHANGE"]
    assert mounts["course-data"].get("readOnly") is True
    assert {v["name"] for v in single["storage"]["extraVolumes"]} == set(mounts)
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"COURSE_ROOT={hub['extraEnv']['COURSE_ROOT']}" in dockerfile
    assert f"COURSE_DATA_DIR={mounts['course-data']['mountPath']}" in dockerfile
    assert f"COURSE_EXCHANGE={mounts['exchange']['mountPath']}" in dockerfile


def _spawn(name: str, monkeypatch, spawner=None) -> dict:
    """The environment the course's hub settings give ``name``'s server."""
    monkeypatch.setenv("COURSE_ROOT", "/opt/course")
    monkeypatch.setenv("HUB_INSTRUCTORS", "instructor, ta")
    monkeypatch.setenv("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(DEPLOY)).load_config()
    spawner = spawner or SimpleNamespace(user=SimpleNamespace(name=name))
    spawner.environment = {"KEEP": "1"}
    config.Spawner.pre_spawn_hook(spawner)
    return spawner.environment


def test_students_get_the_students_tools_and_instructors_every_tool(monkeypatch):
    student, teacher, ta = (_spawn(n, monkeypatch) for n in ("alice", "instructor", "ta"))
    assert student["JUPYTER_CONFIG_PATH"] == \
        "/opt/course/scripts/student_lab:/opt/course/deploy/jupyterhub"
    assert student["COURSE_ROLE"] == "student"
    for env in (teacher, ta):
        assert env["JUPYTER_CONFIG_PATH"] == "/opt/course/deploy/jupyterhub"
        assert env["COURSE_ROLE"] == "instructor"
    for env in (student, teacher):
        assert env["COURSE_EXCHANGE"] == "/srv/nbgrader/exchange" and env["KEEP"] == "1"
    # the student's folder is the one `make lab` uses, and it turns Formgrader off
    assert (ROOT / "scripts" / "student_lab" / "jupyter_server_config.json").is_file()


def test_the_grading_seccomp_profile_is_in_the_form_every_runtime_reads(tmp_path):
    """deploy/jupyterhub/grading_seccomp.py writes the OCI runtime specification's form
    (containerd reads a Localhost profile as that, dropping podman's ``includes`` and
    ``excludes``, which would leave a rule meant for CAP_SYS_ADMIN's holders applied to
    every process): no rule depends on a capability or an architecture, the rules for a
    container without CAP_SYS_ADMIN are kept, and the sandbox's two calls are allowed.
    tests/test_image.py grades a class under it with podman and runc."""
    source, named = "/usr/share/containers/seccomp.json", {"sethostname", "setdomainname"}
    needs.need("the seccomp profile's test", None if Path(source).exists() else
               f"{source} (Debian's containers-common, with podman)")
    out = tmp_path / "profile.json"
    subprocess.run([sys.executable, str(DEPLOY / "grading_seccomp.py"), source, str(out)],
                   check=True)
    profile, podman = json.loads(out.read_text()), json.loads(Path(source).read_text())
    assert set(profile) <= {"defaultAction", "defaultErrnoRet", "syscalls"}  # the node's arch
    assert {k for rule in profile["syscalls"] for k in rule} <= {"names", "action", "args",
                                                                "errnoRet"}
    assert {"names": ["setdomainname", "sethostname"], "action": "SCMP_ACT_ALLOW"} in \
        profile["syscalls"]
    allowed = {n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"
               for n in r["names"]}
    to_all = {n for r in podman["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"
              and not r.get("includes", {}).get("caps") for n in r["names"]}
    admins_only = {n for r in podman["syscalls"] if "CAP_SYS_ADMIN" in
                   r.get("includes", {}).get("caps", []) for n in r["names"]} - to_all - named
    assert admins_only and not admins_only & allowed, admins_only & allowed
    without_admin = [r for r in podman["syscalls"]
                     if "CAP_SYS_ADMIN" in r.get("excludes", {}).get("caps", [])]
    assert without_admin and all(
        any(set(r["names"]) - named <= set(k["names"])
            and k["action"] == r["action"] for k in profile["syscalls"]) for r in without_admin)
