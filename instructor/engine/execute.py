"""``SafeExecute``: nbgrader's execute step, for untrusted notebooks (docs/grading.md,
"How a verdict is reached", step 5). No kernel starts: :class:`instructor.engine.judge.Judge`
makes each test cell's output its verdict, which nbgrader scores as usual.
"""

from __future__ import annotations

import contextlib
import os
import time

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict, Float, Integer, List, Unicode

from helpers import settings
from helpers.grading.hidden import KEY_VARIABLE, submission_key
from instructor.engine import cgroups, limits, roles, secret
from instructor.engine import release as released
from instructor.engine.cells import is_setup
from instructor.engine.judge import Judge, stdout
from instructor.engine.repair import repaired


@contextlib.contextmanager
def timed(seconds: dict[str, float], phase: str):
    """Add the block's wall-clock seconds to ``seconds[phase]`` (the benchmark's only)."""
    start = time.monotonic()
    try:
        yield
    finally:
        seconds[phase] = seconds.get(phase, 0.0) + time.monotonic() - start


#: What a cell grading does not run shows.
NOT_RUN = ("[not run while grading: the grader runs only the setup and your answer cells, "
           "in a process of their own, and the tests]\n")
#: What the setup cell shows there: it ran before the answer cells, its output not kept.
SETUP_RUN = "[run while grading before your answer cells; its output is not kept]\n"


def _cap(name: str):
    """A trait of a setting (:data:`limits.SAFE_EXECUTE`), declared in helpers/settings.py."""
    setting = settings.declared(name)
    kind = {"integer": Integer, "number": Float}.get(setting.kind, Unicode)
    return kind(setting.default, help=f"{setting.help} ({setting.name})").tag(config=True)


class SafeExecute(released.FromRelease, NbGraderPreprocessor):
    """nbgrader's execute step: verdicts as test cells' outputs; one cgroup per submission."""

    # the sandbox's limits and isolation, one trait each (helpers.settings.LIMITS)
    vars().update({trait: _cap(name) for trait, name in limits.SAFE_EXECUTE.items()})
    readable_paths = List(Unicode(), help="Paths the sandboxed processes may read besides "
                          "their own folders.").tag(config=True)
    checks_timeout = Integer(600, help="Seconds the checks of a notebook may take."
                               ).tag(config=True)
    kernel_environment = Dict(Unicode(), help="The environment of the sandboxed processes "
                              "(empty: this process's)").tag(config=True)
    hidden_secret_file = Unicode("", help="File of the grader's secret, from which each "
                                 "submission's hidden-test inputs are drawn (created if "
                                 "missing; empty: no secret, the public draws)."
                                 ).tag(config=True)
    course_implementations = Dict(Unicode(), help="Task -> comma-separated names of the "
                                  "course's own implementation of it, which an answer may "
                                  "not call.").tag(config=True)
    own_class_tasks = List(Unicode(), default_value=None, allow_none=True, help=(
        "Tasks whose answers may return models of the student's own class (custom layers, "
        "train_step), checked through proxies in the answer process; a test of any other "
        "task that gets such a model needs review. None: every task.")).tag(config=True)

    #: this submission's cgroup (:meth:`_open_group`), None: caps per process
    _group = None
    _hidden_key: str = ""

    def _box(self) -> roles.Box:
        """This grading's sandbox and caps, which every process of it starts in."""
        return roles.Box.from_settings(
            self._environment(), {trait: getattr(self, trait) for trait in limits.SAFE_EXECUTE},
            readable=list(self.readable_paths), checks_timeout=self.checks_timeout,
            groups=list(self._group.paths) if self._group else [])

    def _open_group(self) -> None:
        """This submission's cgroup, joined by all its processes; where none can be
        made, the caps are each process's and the notebook's metadata says so."""
        self._close_group()
        box = self._box()  # its caps checked (settings.CapMissing: this submission stops)
        try:
            self._group = cgroups.make(int(box.group_memory_gb * limits.MIB * 1024),
                                       int(box.processes))
        except cgroups.Unavailable as why:
            self.log.warning("caps per process: %s", why)

    def _close_group(self, nb=None) -> None:
        """End and remove the submission's group; its peak memory into ``nb``."""
        group, self._group = self._group, None
        if nb is not None:
            meta = nb.metadata.setdefault("course_grading", {})
            meta["caps"] = "per submission" if group else "per process"
            peak = group.memory_peak() if group else None
            if peak is not None:
                meta["memory_peak_mb"] = round(peak / limits.MIB)
        if group:
            group.remove()

    def _environment(self) -> dict[str, str]:
        """The sandboxed processes' environment: the submission's key, not the grader's secret."""
        env = dict(self.kernel_environment) or dict(os.environ)
        env.pop(roles.SECRET, None)
        env.pop(KEY_VARIABLE, None)
        if self._hidden_key:
            env[KEY_VARIABLE] = self._hidden_key
        return env

    def _set_hidden_key(self, resources: dict, folder: str) -> None:
        """This submission's key: the grader's secret, the student, the timestamp."""
        self._hidden_key = ""
        if self.hidden_secret_file:
            student = str(resources.get("nbgrader", {}).get("student") or "")
            self._hidden_key = submission_key(secret.read_secret(self.hidden_secret_file),
                                              student, secret.submission_stamp(folder))

    # -------------------------------------------------------------- the run
    def preprocess(self, nb, resources):
        source_dir = resources.get("metadata", {}).get("path") or os.getcwd()
        self._set_hidden_key(resources, source_dir)
        seconds: dict[str, float] = {}
        judge = None
        try:
            self._open_group()  # before the first sandboxed process starts
            release = self.read_release(resources)  # None: no test can be checked
            judge = Judge(nb.cells, release or released.NONE, self._box(),
                          dict(self.course_implementations), log=self.log,
                          own_class_tasks=None if self.own_class_tasks is None
                          else list(self.own_class_tasks))
            if judge.plan:
                with timed(seconds, "checks start"):
                    judge.start()
            _not_run(nb.cells)
            # the grader's own: the static pass's notes, never the student's metadata
            nb.metadata["course_grading"] = {"notes": repaired(nb)}
            meta = nb.metadata["course_grading"]  # (the node stores a copy of the dict)
            meta["isolation"] = self.isolation
            with timed(seconds, "checks (waited for)"):
                judge.decide(nb.cells)
            judge.answer_outputs(nb.cells)
            # what the grader saw happen to answer cells: notes read these, never a name
            # the student's process wrote; plain words (inert.notebook_metadata)
            meta["outcomes"] = {str(i): [f"{name}: {message}"[:200] for name, message in found]
                                for i, found in judge.outcomes.items() if found}
            self._close_group(nb)
            meta["seconds"] = {k: round(v, 2) for k, v in seconds.items()}
            return nb, resources
        finally:
            if judge is not None:
                judge.stop()
            self._close_group()


def _not_run(cells) -> None:
    """Every code cell but the tests and the answers says it was not run."""
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if cell.source.strip():
                cell.outputs = [stdout(SETUP_RUN if is_setup(cell) else NOT_RUN)]
