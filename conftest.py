"""pytest plugins for the whole repository (tests/ and the notebooks nbval runs)."""

# The notebooks' claims, checked on the suite's nbval run (tests/nbval_claims.py).
pytest_plugins = ["tests.nbval_claims"]

import atexit  # noqa: E402
import inspect  # noqa: E402
import os  # noqa: E402
import stat  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from _pytest.pathlib import LOCK_TIMEOUT, make_numbered_dir_with_cleanup  # noqa: E402

#: The suite's longest files, longest first (each file's seconds in an idle `.ci/run` at
#: f6424e5: the matrix 302 s, the VAE matrix 233 s, the image-to-image training 203 s, ...;
#: files under 15 s keep pytest's order, after these). Two workers (--dist loadfile
#: --no-loadscope-reorder: without it pytest-xdist orders files by their number of tests)
#: take files in this order, each the next when it is almost done, so the long files never
#: end the run on one worker while the other idles. The notebooks come in the order that
#: balances the Colab-like run's two workers (07's three long exercises first); after that
#: run, pytest executes only those whose claims quote the pinned versions' figures (02 and
#: 10 about 60 s each, 12 and 01 under 20 s) and checks the others on its record.
LONGEST_FIRST = (
    "tests/test_nbgrader_matrix.py",
    "tests/test_grading_vae.py",
    "tests/test_image_to_image.py",
    "tests/test_slurm.py",
    "tests/test_hub.py",
    "tests/test_exchange.py",
    "tests/test_grading_vanilla.py",
    "tests/test_browser.py",
    "tests/test_after_grading.py",
    "tests/test_grading_conv.py",
    "tests/test_train_weights.py",
    "tests/test_grading_sparse.py",
    "tests/test_nbgrader_release.py",
    "tests/test_site.py",
    "tests/test_lms_round_trip.py",
    "notebooks/07_colorization/07_colorization.ipynb",
    "notebooks/03_convolutional_autoencoders/03_convolutional_autoencoders.ipynb",
    "notebooks/08_variational_autoencoder/08_variational_autoencoder.ipynb",
    "notebooks/09_vae_tfp_layers/09_vae_tfp_layers.ipynb",
    "notebooks/04_recurrent_autoencoder/04_recurrent_autoencoder.ipynb",
    "notebooks/02_stacked_autoencoders/02_stacked_autoencoders.ipynb",
    "notebooks/06_super_resolution/06_super_resolution.ipynb",
    "notebooks/05_denoising_autoencoders/05_denoising_autoencoders.ipynb",
    "notebooks/10_vector_quantization_and_masking/10_vector_quantization_and_masking.ipynb",
    "notebooks/11_latent_diffusion/11_latent_diffusion.ipynb",
    "tests/test_check_server.py",
    "tests/test_remote.py",
    "tests/test_canary.py",
    "tests/test_lazy.py",
    "tests/test_rendering.py",
    "tests/test_probes_vae.py",
    "tests/test_nbgrader_server.py",
    "tests/test_benchmarks.py",
    "tests/test_readme_commands.py",
    "tests/test_proof_check.py",
    "notebooks/12_sparse_autoencoders/12_sparse_autoencoders.ipynb",
    "tests/test_grading_topk.py",
    "tests/test_hidden_tests.py",
    "notebooks/01_linear_autoencoder_pca/01_linear_autoencoder_pca.ipynb",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items) -> None:
    """The longest files first, each file's items in their own order (a stable sort)."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config) -> None:
    """The session's temporary folders (``tmp_path``) in ``course-tests-<uid>/s<n>/t`` in
    the temporary folder, numbered and kept as pytest keeps its own (the last three
    sessions'; paths no longer than its own, for the sockets in them), not under
    pytest's ``pytest-of-<user>``: each pytest session of the user on the machine makes
    that one private again (``chmod go-rwx``) as it starts, which shuts the grading user
    out of the sandboxed folders below it between their hand-over and bwrap's start
    (docs/grading.md, "What the grader touches")."""
    if config.option.basetemp is not None or hasattr(config, "workerinput"):
        return  # given, or an xdist worker's (under its controller's)
    temp = os.environ.get("PYTEST_DEBUG_TEMPROOT") or tempfile.gettempdir()
    root = Path(temp, f"course-tests-{os.getuid()}")
    root.mkdir(mode=0o700, exist_ok=True)
    found = os.lstat(root)
    if stat.S_ISLNK(found.st_mode) or found.st_uid != os.getuid():
        return  # not this user's own (as pytest refuses its own): pytest's default
    # pytest 9 asks how to register the lock's removal; 8.4 (the Colab-like run) registers
    # it itself and takes no such argument
    register = {"register": atexit.register} if "register" in inspect.signature(
        make_numbered_dir_with_cleanup).parameters else {}
    session = make_numbered_dir_with_cleanup(root=root, prefix="s", mode=0o700, keep=3,
                                             lock_timeout=LOCK_TIMEOUT, **register)
    config.option.basetemp = str(session / "t")  # pytest empties it; the lock stays beside
