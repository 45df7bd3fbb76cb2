"""The grading engine: run one notebook safely and decide its verdicts.

What the assignment is:

- :mod:`.release`: the release notebook, read once per process: cells by ``grade_id``,
  the setup, and per task its context, answer and test cells, graded functions and
  points; which released cell a submitted cell stands for; the hidden-test markers;
- :mod:`.cells`: reading nbgrader's cells, tolerant of damaged metadata;
- :mod:`.preprocessors`: restored deleted cells and metadata, feedback without hidden
  tests; :mod:`.inert`: what a student controls made inert where a person views it.

The processes of one graded notebook, and the files they run:

- :mod:`.execute`: nbgrader's execute step: every test cell run by the outside check,
  whose verdict is the cell's output; in the ``tasks`` scope (the default) no kernel
  starts, and the answer cells' outputs are those the answer process reports; with
  ``SCOPE=notebook`` every other cell runs in a sandboxed kernel, which runs no test
  cell and decides nothing;
- :mod:`.outside`: the outside check: starts the checking process (:mod:`.checking`),
  which runs each test cell, and the answer process (:mod:`.answers`), which runs the
  student's answer cells against a ``helpers`` without the course's implementations of
  the tasks (:mod:`.stripped`) and reports their outputs; between them, requests and
  proxies (:mod:`.remote`) and replies as data (:mod:`.wire`); each test cell's verdict
  becomes its output; :mod:`.review` reads the student's code for what can change how
  tests run;
- :mod:`.check_server`: forks checking processes with the setup already imported,
  through :mod:`.forking` (fork server, the grader's handle, the pool of servers), which
  it shares with :mod:`instructor.workflow.nbgrader_server`;
- :mod:`.roles`: one spec per sandboxed process (kernel, answer and checking processes,
  check server, preflight): what it reads, its caps, its environment, the key or not;
- :mod:`.kernel`, :mod:`.sandbox`, :mod:`.limits`, :mod:`.cgroups`: the start of every
  sandboxed process under bubblewrap (its own namespaces, a built read-only view, no
  network, uid 65534 without capabilities; as ``course-grader`` when the grader is
  root), the caps bwrap does not set, the limits, and one control group per submission;
- :mod:`.untrusted`: how the grader touches a folder a sandbox can write (never through
  a link);
- :mod:`.hidden`: the grader's secret and each submission's hidden-test key;
- :mod:`.notes`: grading notes, in the words a student reads;
- :mod:`.runner`: run a notebook in a fresh kernel with a given environment (scripts,
  benchmarks and tests that run notebooks outside grading).

Imports :mod:`helpers` only, never :mod:`instructor.workflow`.
"""
