"""JupyterHub settings of the course: nbgrader's tools per role, the exchange, the kernel.

Load it from the hub's own ``jupyterhub_config.py`` (``load_subconfig(...)``), which
adds what only the site knows: its authenticator, spawner and address
(docs/jupyterhub.md; ``values.yaml`` loads it on Zero to JupyterHub;
``tests/test_hub.py`` on a hub with ``LocalProcessSpawner``). Read from the hub's
environment:

- ``COURSE_ROOT``: where the course is installed in the single-user image
  (``/opt/course``, as ``Dockerfile`` puts it);
- ``HUB_INSTRUCTORS``: comma-separated hub user names of the instructors;
  everyone else is a student;
- ``COURSE_EXCHANGE``: nbgrader's exchange, one folder every user's server mounts
  read-write (``/srv/nbgrader/exchange``).

Every server finds ``deploy/jupyterhub/nbgrader_config.py`` (the course id, the
exchange, Validate's time per cell) on ``JUPYTER_CONFIG_PATH``. A student's server
also reads ``scripts/student_lab/`` there (as ``make lab`` does): Formgrader, Create
Assignment and Course List are off, the Assignment List and Validate stay. An
instructor's server keeps every tool, and that file then loads ``~/course``'s
``nbgrader_config.py`` (the instructor's clone of the course), which Formgrader reads.
"""

import os

c = get_config()  # noqa: F821  (JupyterHub provides get_config)

COURSE_ROOT = os.environ.get("COURSE_ROOT", "/opt/course")
# No default: an instructor's server holds the answer key and the grader's secret.
INSTRUCTORS = {name.strip() for name in os.environ.get("HUB_INSTRUCTORS", "").split(",")
               if name.strip()}
EXCHANGE = os.environ.get("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
if not INSTRUCTORS:
    import logging

    logging.getLogger("JupyterHub").warning(
        "HUB_INSTRUCTORS is not set: every user gets a student's server")


def course_environment(spawner) -> None:
    """Set the spawner's environment and start folder for its user's role."""
    hub_config = os.path.join(COURSE_ROOT, "deploy", "jupyterhub")
    if spawner.user.name in INSTRUCTORS:
        role, config_path = "instructor", [hub_config]
    else:
        role = "student"
        config_path = [os.path.join(COURSE_ROOT, "scripts", "student_lab"), hub_config]
    spawner.environment = {**spawner.environment, "COURSE_EXCHANGE": EXCHANGE,
                           "COURSE_ROLE": role,
                           "JUPYTER_CONFIG_PATH": os.pathsep.join(config_path)}
    if role == "instructor":
        instructor_pod(spawner)


def instructor_pod(spawner) -> None:
    """On Zero to JupyterHub: values.yaml's ``custom.course`` for an instructor's pod, the
    instructor image and what bubblewrap needs there (docs/jupyterhub.md); students' pods
    keep the chart's defaults. Elsewhere (no ``z2jh`` module) nothing changes."""
    try:
        from z2jh import get_config
    except ImportError:
        return
    course = get_config("custom.course", None) or {}
    if course.get("instructorImage"):
        spawner.image = course["instructorImage"]
    spawner.extra_pod_config = {**(spawner.extra_pod_config or {}),
                                **course.get("instructorPod", {})}
    spawner.container_security_context = {**(spawner.container_security_context or {}),
                                          **course.get("instructorSecurityContext", {})}
    # the grader's secret: a Kubernetes Secret mounted in the instructors' pods only
    spawner.volumes = _added(spawner.volumes, course.get("instructorVolumes", []))
    spawner.volume_mounts = _added(spawner.volume_mounts,
                                   course.get("instructorVolumeMounts", []))
    spawner.environment.update(course.get("instructorEnvironment", {}))
    for key, trait in (("instructorMemoryLimit", "mem_limit"),
                       ("instructorCpuLimit", "cpu_limit")):
        if course.get(key):
            setattr(spawner, trait, course[key])


def _added(current, extra: list[dict]):
    """KubeSpawner's ``volumes`` or ``volume_mounts`` with ``extra``'s entries, once each:
    the chart (Zero to JupyterHub 4.x) gives them as a dict keyed by name, KubeSpawner
    also takes a list."""
    if isinstance(current, dict):
        return {**current, **{f"course-{e['name']}": e for e in extra}}
    current = list(current or [])
    return current + [e for e in extra if e not in current]


c.Spawner.pre_spawn_hook = course_environment
c.Spawner.default_url = "/lab"
