"""The grading engine: run one notebook safely and decide its verdicts.

- :mod:`.execute`: nbgrader's execute step: the student's cells in a sandboxed kernel
  (:mod:`.sandboxed_run`), which runs no test cell and decides nothing, and every test
  cell run by the outside check (:mod:`.outside`), whose verdict is the cell's output;
- :mod:`.outside`: the checking process (:mod:`.verify`) runs each test cell, its graded
  functions answered by the student's answer cells in an answer process
  (:mod:`.answers`) over pipes (:mod:`.remote`), against a ``helpers`` without the course's
  implementations of the tasks (:mod:`.stripped`); :mod:`.check_server` forks checking
  processes with the setup already imported (through :mod:`.forking`, the fork server
  it shares with :mod:`instructor.workflow.nbgrader_server`); :mod:`.review` reads the
  student's code for what can change how tests run;
- :mod:`.sandboxed_run`: nbgrader's execute step in a sandboxed kernel, bounded and
  recovering from crashes;
- :mod:`.kernel`, :mod:`.sandbox`, :mod:`.limits`: the start of every sandboxed process
  under bubblewrap (its own namespaces, a built read-only view, no network, uid 65534
  without capabilities) with the caps bwrap does not set, and the limits;
- :mod:`.untrusted`: how the grader touches a folder a sandbox can write (never through
  a link);
- :mod:`.hidden`: the grader's secret and each submission's hidden-test key;
- :mod:`.preprocessors`: restored deleted cells and metadata, inert content, feedback
  without hidden tests;
- :mod:`.cells`, :mod:`.scope`: reading nbgrader's cells; the cells the ``tasks`` scope
  skips;
- :mod:`.notes`: grading notes, in the words a student reads;
- :mod:`.runner`: run a notebook in a fresh kernel with a given environment (scripts,
  benchmarks and tests that run notebooks outside grading).

Imports :mod:`helpers` only, never :mod:`instructor.workflow`.
"""
