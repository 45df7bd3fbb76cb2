"""The grading engine: run one notebook safely and decide its verdicts.

- :mod:`.execute`: nbgrader's execute step: every test cell run by the outside check
  (:mod:`.outside`), whose verdict is the cell's output; in the ``tasks`` scope (the
  default) no kernel starts, and the answer cells' outputs are those the answer process
  reports; with ``SCOPE=notebook`` every other cell runs in a sandboxed kernel
  (:mod:`.sandboxed_run`), which runs no test cell and decides nothing;
- :mod:`.outside`: the checking process (:mod:`.verify`) runs each test cell, its graded
  functions answered by the student's answer cells in an answer process
  (:mod:`.answers`) over pipes (:mod:`.remote`), against a ``helpers`` without the course's
  implementations of the tasks (:mod:`.stripped`); :mod:`.check_server` forks checking
  processes with the setup already imported (through :mod:`.forking`, the fork server
  it shares with :mod:`instructor.workflow.nbgrader_server`); :mod:`.review` reads the
  student's code for what can change how tests run;
- :mod:`.sandboxed_run`: nbgrader's execute step in a sandboxed kernel, bounded and
  recovering from crashes;
- :mod:`.roles`: one spec per sandboxed process (kernel, answer and checking processes,
  check server, preflight): what it reads, its caps, its environment, the key or not;
- :mod:`.kernel`, :mod:`.sandbox`, :mod:`.limits`: the start of every sandboxed process
  under bubblewrap (its own namespaces, a built read-only view, no network, uid 65534
  without capabilities; as ``course-grader`` when the grader is root) with the caps
  bwrap does not set, and the limits; :mod:`.cgroups`: one cgroup per submission, which
  all its processes join;
- :mod:`.untrusted`: how the grader touches a folder a sandbox can write (never through
  a link);
- :mod:`.hidden`: the grader's secret and each submission's hidden-test key;
- :mod:`.preprocessors`: restored deleted cells and metadata, feedback without hidden
  tests; :mod:`.inert`: everything a student controls made safe to show;
- :mod:`.cells`: reading nbgrader's cells;
- :mod:`.notes`: grading notes, in the words a student reads;
- :mod:`.runner`: run a notebook in a fresh kernel with a given environment (scripts,
  benchmarks and tests that run notebooks outside grading).

Imports :mod:`helpers` only, never :mod:`instructor.workflow`.
"""
