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
import sys
import tomllib
import types
from types import SimpleNamespace

import jsonschema
import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

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
    recipe = makefile.split("$(STAMP): requirements.txt pyproject.toml\n", 1)[1]
    recipe = recipe.split("\n\n", 1)[0]
    kernel = re.search(r"^KERNEL\s*:=\s*(\S+)", makefile, re.M).group(1)
    setup = [[w.replace("$(KERNEL)", kernel) for w in words[1:]]
             for words in _commands(recipe, "") if words[:1] == ["$(BIN)/python"]]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", dockerfile).replace(" && ", "\nRUN ")
    image = [words[1:] for words in _commands(joined, "RUN ") if words[:1] == ["python"]]
    assert setup[2] in image and setup[1] in image, (image, setup)  # pip check, the kernel
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


def test_an_instructors_pod_gets_the_instructor_image_and_what_bubblewrap_needs(monkeypatch):
    values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
    z2jh = types.ModuleType("z2jh")  # what Zero to JupyterHub's hub provides
    z2jh.get_config = lambda key, default=None: values["custom"]["course"] \
        if key == "custom.course" else default
    monkeypatch.setitem(sys.modules, "z2jh", z2jh)
    pods = {}
    for name in ("instructor", "alice"):
        spawner = SimpleNamespace(image="student-image", extra_pod_config={},
                                  container_security_context={"runAsUser": 1000},
                                  volumes=[{"name": "home"}], volume_mounts=[{"name": "home"}])
        _spawn(name, monkeypatch, spawner)
        pods[name] = spawner
    course = values["custom"]["course"]
    teacher, alice = pods["instructor"], pods["alice"]
    assert teacher.image == course["instructorImage"] and alice.image == "student-image"
    assert teacher.extra_pod_config == {"hostUsers": False}
    assert teacher.container_security_context["procMount"] == "Unmasked"
    assert teacher.container_security_context["runAsUser"] == 1000
    assert alice.container_security_context == {"runAsUser": 1000}
    assert alice.extra_pod_config == {}
    # the grader's secret: mounted and named in the instructor's pod, never a student's
    assert [v["name"] for v in teacher.volumes] == ["home", "grader-secret"]
    assert [v["name"] for v in alice.volumes] == ["home"]
    mount = next(m for m in teacher.volume_mounts if m["name"] == "grader-secret")
    assert mount["readOnly"] and teacher.environment["COURSE_HIDDEN_SECRET_FILE"] \
        .startswith(mount["mountPath"] + "/")
    assert "COURSE_HIDDEN_SECRET_FILE" not in alice.environment


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
    spawner = spawner or SimpleNamespace()
    spawner.user, spawner.environment = SimpleNamespace(name=name), {"KEEP": "1"}
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
