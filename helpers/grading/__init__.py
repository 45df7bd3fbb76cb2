"""What graded test cells and the grader use inside the kernel (students never call it).

- :mod:`.model_checks`: behavioural checks of the builder tasks' Keras models;
- :mod:`.vae_checks`: the same for the variational autoencoder of task (d);
- :mod:`.evidence`: what a graded function returned, recorded for the check outside the
  kernel (:mod:`instructor.engine.verify`).
"""
