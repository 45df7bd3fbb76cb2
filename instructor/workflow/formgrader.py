"""What nbgrader's own Autograde (Formgrader's button, ``nbgrader autograde``) says.

It grades with the course's sandbox and checks, but without what ``make
autograde`` adds around it (docs/jupyterhub.md, "Formgrader's Autograde and make
autograde"): :class:`SayWhichGrader` says so in the log Formgrader shows, unless the
course's own commands run nbgrader (:data:`RUN_BY_THE_COURSE`).
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
