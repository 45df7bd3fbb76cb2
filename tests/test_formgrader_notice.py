"""Formgrader's Autograde says what it leaves out; the course's own runs do not say it."""

from __future__ import annotations

import logging
import subprocess

import nbformat

from instructor.workflow import nbgrader_cli
from instructor.workflow.formgrader import MESSAGE, RUN_BY_THE_COURSE, SayWhichGrader


def _logged(monkeypatch, caplog, value: str | None) -> list[str]:
    if value is None:
        monkeypatch.delenv(RUN_BY_THE_COURSE, raising=False)
    else:
        monkeypatch.setenv(RUN_BY_THE_COURSE, value)
    step = SayWhichGrader()
    step.log.propagate = True
    with caplog.at_level(logging.WARNING, logger=step.log.name):
        nb, _ = step.preprocess(nbformat.v4.new_notebook(), {})
    return [r.getMessage() for r in caplog.records]


def test_nbgraders_own_autograde_says_what_it_leaves_out(monkeypatch, caplog):
    assert MESSAGE in _logged(monkeypatch, caplog, None)
    assert "canary" in MESSAGE and "make autograde" in MESSAGE


def test_the_courses_own_runs_do_not(monkeypatch, caplog):
    assert MESSAGE not in _logged(monkeypatch, caplog, "1")


def test_every_nbgrader_command_of_the_course_is_marked(monkeypatch):
    seen = {}

    def run(command, **kwargs):
        seen.update(kwargs["env"])
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.delenv(RUN_BY_THE_COURSE, raising=False)
    monkeypatch.setattr(nbgrader_cli.subprocess, "run", run)
    nbgrader_cli.nbgrader("--version")
    assert seen[RUN_BY_THE_COURSE] == "1"
