"""The grading engine: run one notebook safely and decide its verdicts.

- :mod:`.execute`: nbgrader's execute step, sandboxed and crash- and timeout-proof, with
  every test checked again outside the kernel (:mod:`.verify`) and the student's code
  read for tampering (:mod:`.review`);
- :mod:`.sandboxed_run`: nbgrader's execute step in a sandboxed kernel, bounded and
  recovering from crashes;
- :mod:`.kernel`, :mod:`.sandbox`, :mod:`.limits`: the kernel's start under bubblewrap
  (its own namespaces, a built read-only view, no network, uid 65534 without
  capabilities) with the caps bwrap does not set, and the limits;
- :mod:`.preprocessors`: stderr that does not zero test cells, restored deleted cells,
  feedback without hidden tests;
- :mod:`.stripped`: the copy of ``helpers`` an answer runs against, without the course's
  own implementations of the tasks (every route to them raises ``UsesCourseImplementation``);
- :mod:`.cells`, :mod:`.scope`: reading nbgrader's cells; the cells the ``tasks`` scope
  skips;
- :mod:`.notes`: grading notes, in the words a student reads;
- :mod:`.runner`: run a notebook in a fresh kernel with a given environment (scripts,
  benchmarks and tests that run notebooks outside grading).

Imports :mod:`helpers` only, never :mod:`instructor.workflow`.
"""
