"""The grading engine: run one notebook safely and decide its verdicts (docs/grading.md,
which names each process and the module that runs it; each module's docstring says the
rest). Entry points: :mod:`.execute` (nbgrader's execute step) and :mod:`.judge` (the
checking process and the answer process, :mod:`.answer`); :mod:`.runner` runs a notebook
outside grading. Imports :mod:`helpers` only, never :mod:`instructor.workflow`.
"""
