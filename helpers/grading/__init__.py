"""What graded test cells and the grader use inside the kernel (students never call it).

- :mod:`.model_checks`: behavioural checks of the builder tasks' Keras models;
- :mod:`.probes`: what the graded models compute, against the probes' NumPy model;
- :mod:`.evidence`: what a graded function returned, recorded for the check outside the
  kernel (:mod:`instructor.engine.verify`).
"""
