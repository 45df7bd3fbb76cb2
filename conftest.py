"""pytest plugins for the whole repository (tests/ and the notebooks nbval runs)."""

# The notebooks' claims, checked on the suite's nbval run (tests/nbval_claims.py).
pytest_plugins = ["tests.nbval_claims"]
