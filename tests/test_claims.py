"""The claims machinery fails when a claim is not borne out (no kernels: runs made up here).

The claims themselves run on the suite's nbval run of each notebook
(tests/nbval_claims.py, tests/claims.py).
"""

from __future__ import annotations

import pytest

from tests.claims import CLAIMS, autoencoder_finds_pcas_plane
from tests.nbval_claims import Run, numbers

TEXT = ("## Comparing with PCA\n\nsome words\n\nThe angles are close to zero and the errors "
        "nearly equal: the autoencoder found PCA's plane.")
SOURCE = "pca = PCA(n_components=2).fit(X)\nprint(...)"


def _run(printed: str | None, markdown: str = TEXT) -> Run:
    return Run("01_linear_autoencoder_pca", ["import helpers", SOURCE], ["", printed],
               markdown)


def test_a_claim_passes_on_a_run_that_bears_it_out():
    autoencoder_finds_pcas_plane(_run(
        "principal angles (degrees): [0.37 0.  ]\n"
        "reconstruction MSE: autoencoder 0.00353, PCA 0.00341\n"))


@pytest.mark.parametrize("printed, why", [
    ("principal angles (degrees): [4.1 0.  ]\n"
     "reconstruction MSE: autoencoder 0.00353, PCA 0.00341\n", "an angle of 4 degrees"),
    ("principal angles (degrees): [0.37 0.  ]\n"
     "reconstruction MSE: autoencoder 0.00453, PCA 0.00341\n", "an error 33% above PCA's"),
    ("principal angles (degrees): [0.37 0.  ]\n"
     "reconstruction MSE: autoencoder 0.00330, PCA 0.00341\n", "below PCA's optimum"),
])
def test_a_claim_fails_on_a_run_that_contradicts_it(printed, why):
    with pytest.raises(AssertionError):
        autoencoder_finds_pcas_plane(_run(printed))


def test_a_claim_fails_when_the_text_no_longer_makes_it():
    printed = ("principal angles (degrees): [0.37 0.  ]\n"
               "reconstruction MSE: autoencoder 0.00353, PCA 0.00341\n")
    with pytest.raises(AssertionError, match="no longer says"):
        autoencoder_finds_pcas_plane(_run(printed, markdown="## Comparing with PCA"))


def test_a_claim_fails_when_its_cell_did_not_run():
    with pytest.raises(AssertionError, match="did not run"):
        autoencoder_finds_pcas_plane(_run(None))


def test_numbers_reads_the_labelled_line():
    assert numbers("code std:", "code mean: [-23.7 11. ]  code std: [5.99 4.51]") == \
        [5.99, 4.51]
    assert numbers("n:", "a: 1\nn: 1,000 of 10,000\n") == [1000, 10000]


def test_every_notebook_has_claims():
    from instructor.workflow.assignments import assignments

    assert set(CLAIMS) == set(assignments())
