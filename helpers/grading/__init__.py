"""What graded test cells import (students never call it).

- :mod:`.model_checks`: behavioural checks of the builder tasks' Keras models;
- :mod:`.vae_checks`: the same for the variational autoencoder of task (d);
- :mod:`.probes`: NumPy models of what the builder tasks' Keras models should compute;
- :mod:`.hidden`: the per-submission inputs of hidden tests (``helpers.hidden_rng``).
"""
