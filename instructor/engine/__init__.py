"""The grading engine: run one notebook safely and decide its verdicts (docs/grading.md).

What the assignment is:

- :mod:`.release`: the release notebook, read once per process: graded cells, the setup,
  per task its context cells and graded functions; which released cell a submitted cell
  stands for, which are tests and answers; the hidden-test markers;
- :mod:`.cells`: nbgrader's cells, read tolerant of damaged metadata;
- :mod:`.repair`: the one static pass over a submission, first of nbgrader's sanitize
  step: cells over the cap, grading metadata and tags from the release, deleted cells
  put back, a note each;
- :mod:`.preprocessors`: feedback without hidden tests, with the grading notes;
  :mod:`.inert`: what a student controls made inert where a person views it.

The processes of one graded notebook, and the files they run:

- :mod:`.execute`: nbgrader's execute step: no kernel starts; each test cell's output is
  the judge's verdict, each answer cell's the answer process's;
- :mod:`.judge`: the checks, outside the student's process: the checking
  process (:mod:`.checking`) runs each test cell against the answer process
  (:mod:`.answers`), which runs the student's answer cells on a ``helpers`` without the
  course's implementations (:mod:`.stripped`), TensorFlow loaded lazily
  (:mod:`.lazy`), and reports their outputs; between them,
  requests and proxies (:mod:`.remote`), replies as data (:mod:`.wire`), every message
  framed and read within bounds (:mod:`.protocol`: the answer cells' report, the
  verdicts and what the grader tells each process on its standard input too);
  :mod:`.review` finds what in student code can change how tests run;
- :mod:`.check_server`: checking processes forked with the setup imported, through
  :mod:`.forking` (shared with :mod:`instructor.workflow.nbgrader_server`);
- :mod:`.roles`: per sandboxed process, what it reads, its caps, environment and key;
- :mod:`.sandbox`, :mod:`.limits`, :mod:`.cgroups`: every sandboxed process starts
  under bubblewrap, with the caps bwrap does not set, the limits, and one
  control group per submission;
- :mod:`.untrusted`: a folder a sandbox can write, touched never through a link;
- :mod:`.secret`: the grader's secret, each submission's hidden-test key, and what a
  hidden test's verdict may show;
- :mod:`.outcomes`: the grader's outcomes, a closed table: what each error it writes
  means, its points and its note;
- :mod:`.notes`: grading notes, in the words a student reads;
- :mod:`.runner`: a notebook run in a fresh kernel with a given environment, outside
  grading (scripts, benchmarks, tests).

Imports :mod:`helpers` only, never :mod:`instructor.workflow`.
"""
