"""nbgrader settings for every user of a JupyterHub that runs the course.

Every server finds this file on ``JUPYTER_CONFIG_PATH``, which the course's hub settings
set (jupyterhub_config.py; docs/jupyterhub.md); nothing is copied to ``/etc/jupyter``.
It tells nbgrader's Assignment List (fetch, Validate, submit, feedback) which course to
show and where the exchange folder is; the instructor's ``nbgrader_config.py`` in the
course folder names the same course and exchange.
"""

import os

c = get_config()  # noqa: F821  (nbgrader provides get_config)

# The course id, as in the course's nbgrader_config.py.
c.CourseDirectory.course_id = "autoencoders"
# A folder every user's server mounts read-write (a shared volume on the hub).
c.Exchange.root = os.environ.get("COURSE_EXCHANGE") or "/srv/nbgrader/exchange"
# Validate runs the whole notebook; the course's longest cell takes about a minute
# on 2 CPU cores in full mode, so nbgrader's default of 30 s per cell is too short.
c.Execute.timeout = 600

# An instructor's server (the hub sets COURSE_ROLE: deploy/jupyterhub/jupyterhub_config.py)
# reads the course's own configuration from the instructor's clone of the course: its
# folders, its grader and its sandbox, as Formgrader's buttons use them.
if os.environ.get("COURSE_ROLE") == "instructor":
    course = os.path.expanduser(os.environ.get("COURSE_INSTRUCTOR_COURSE") or "~/course")
    if os.path.isfile(os.path.join(course, "nbgrader_config.py")):
        load_subconfig(os.path.join(course, "nbgrader_config.py"))  # noqa: F821
