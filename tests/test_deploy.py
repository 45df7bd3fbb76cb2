"""What can be checked here of the hub's deployment files (deploy/jupyterhub/).

The single-user image and the Zero to JupyterHub release are not built here (no Docker,
no Kubernetes): these tests read them. The Dockerfile installs the course with the
commands of ``make setup``; the values file parses and wires the course's hub settings,
the exchange and the data as the other files expect; the hub settings give each role
its tools (a real hub runs them in tests/test_hub.py).
"""

from __future__ import annotations

import re
import shlex
from types import SimpleNamespace

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


def test_the_images_install_commands_are_make_setups():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP): requirements.txt pyproject.toml\n", 1)[1]
    recipe = recipe.split("\n\n", 1)[0]
    kernel = re.search(r"^KERNEL\s*:=\s*(\S+)", makefile, re.M).group(1)
    setup = [[w.replace("$(KERNEL)", kernel) for w in words[1:]]
             for words in _commands(recipe, "") if words[:1] == ["$(BIN)/python"]]
    image = [words[1:] for words in _commands((DEPLOY / "Dockerfile").read_text(), "RUN ")
             if words[:1] == ["python"]]
    assert len(setup) == 3 and image == setup, (image, setup)


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


def _spawn(name: str, monkeypatch) -> dict:
    """The environment the course's hub settings give ``name``'s server."""
    monkeypatch.setenv("COURSE_ROOT", "/opt/course")
    monkeypatch.setenv("HUB_INSTRUCTORS", "instructor, ta")
    monkeypatch.setenv("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(DEPLOY)).load_config()
    spawner = SimpleNamespace(user=SimpleNamespace(name=name), environment={"KEEP": "1"})
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
