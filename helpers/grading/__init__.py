"""What graded test cells import (students never call it).

- :mod:`.model_checks`: behavioural checks of the builder tasks' Keras models;
- :mod:`.probes`: NumPy models of what the graded models (the builders' and the
  variational autoencoder's) should compute, and the probes that compare them;
- :mod:`.hidden`: the per-submission inputs of hidden tests (``helpers.hidden_rng``).
"""
