"""What nbgrader's own Autograde (Formgrader's button) says: it grades with the course's
sandbox and checks, without what ``make autograde`` adds (docs/jupyterhub.md), and
:class:`SayWhichGrader` says so unless the course's commands run it.
"""

from __future__ import annotations

import os

from nbgrader.preprocessors import NbGraderPreprocessor

#: Set to "1" in the environment of every nbgrader command the course's tools run.
RUN_BY_THE_COURSE = "NBGRADER_RUN_BY_THE_COURSE"

MESSAGE = ("Graded by nbgrader's own Autograde (Formgrader's button or `nbgrader "
           "autograde`): the course's sandbox and checks ran, but not the canary, "
           "the submission checks (GRADING_NOTES.txt) or the grading log. "
           "`make autograde` grades with them (docs/jupyterhub.md).")


class SayWhichGrader(NbGraderPreprocessor):
    """Log :data:`MESSAGE` when nbgrader grades outside the course's own commands."""

    def preprocess(self, nb, resources):
        if os.environ.get(RUN_BY_THE_COURSE) != "1":
            self.log.warning(MESSAGE)
        return nb, resources
