"""What nbgrader's own Autograde (Formgrader's button, ``nbgrader autograde``) says.

Formgrader's *Autograde* button runs nbgrader's Autograde in the instructor's Jupyter
server with the course's ``nbgrader_config.py``: the sandbox, the outside check, the
hidden tests' inputs and the cells restored from the release all apply. What
``make autograde`` adds around it does not: the canary (no student is graded by a
grader that cannot give the answer key full marks), the submission's checks and their
notes (``GRADING_NOTES.txt``), one scratch course folder per submission, the grading
logs, parallel graders (docs/jupyterhub.md, "Formgrader's Autograde and make
autograde"). Formgrader shows Autograde's log after each click: :class:`SayWhichGrader`
writes the difference there, unless the course's own commands run nbgrader
(:data:`RUN_BY_THE_COURSE`, set by :func:`instructor.workflow.nbgrader_cli.nbgrader`).
"""

from __future__ import annotations

import os

from nbgrader.preprocessors import NbGraderPreprocessor

#: Set to "1" in the environment of every nbgrader command the course's tools run.
RUN_BY_THE_COURSE = "NBGRADER_RUN_BY_THE_COURSE"

MESSAGE = ("Graded by nbgrader's own Autograde (Formgrader's button or `nbgrader "
           "autograde`): the course's sandbox and outside check ran, but not the canary, "
           "the submission checks (GRADING_NOTES.txt) or the grading log. "
           "`make autograde` grades with them (docs/jupyterhub.md).")


class SayWhichGrader(NbGraderPreprocessor):
    """Log :data:`MESSAGE` when nbgrader grades outside the course's own commands."""

    def preprocess(self, nb, resources):
        if os.environ.get(RUN_BY_THE_COURSE) != "1":
            self.log.warning(MESSAGE)
        return nb, resources
