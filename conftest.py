"""pytest plugins for the whole repository (tests/ and the notebooks nbval runs)."""

# The notebooks' claims, checked on the suite's nbval run (tests/nbval_claims.py).
pytest_plugins = ["tests.nbval_claims"]

import pytest  # noqa: E402

#: The suite's longest files, longest first (`make test`'s per-file times in a .ci/run
#: at a30e680: the matrix's class about 2,000 s, the VAE matrix 1,000 s, the exchange
#: 900 s, ...). Two workers (--dist loadfile) take files in collection order, each the
#: next when it is done: started first, the long files no longer end the run on one
#: worker while the other idles.
LONGEST_FIRST = (
    "tests/test_nbgrader_matrix.py",
    "tests/test_grading_vae.py",
    "tests/test_exchange.py",
    "tests/test_image_to_image.py",
    "tests/test_train_weights.py",
    "tests/test_after_grading.py",
    "notebooks/07_colorization/07_colorization.ipynb",
    "tests/test_nbgrader_benchmark.py",
    "notebooks/03_convolutional_autoencoders/03_convolutional_autoencoders.ipynb",
    "notebooks/05_denoising_autoencoders/05_denoising_autoencoders.ipynb",
    "tests/test_readme_commands.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items) -> None:
    """The longest files first, each file's items in their own order (a stable sort)."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
