"""The claims machinery fails when a claim is not borne out (no kernels: runs made up here).

The claims themselves run on the suite's nbval run of each notebook
(tests/nbval_claims.py, tests/claims.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.claims import CLAIMS, autoencoder_finds_pcas_plane
from tests.nbval_claims import Run, numbers
from tests.number_sources import claim_quotes

TEXT = ("## Comparing with PCA\n\nsubspace_angles returns two, largest first, and in 3-D the "
        "second is always 0°: any two planes through the origin share a line.\n\nThe larger "
        "angle is close to zero (the other is 0° for any two planes in 3-D) and the errors "
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


def test_the_text_every_claim_quotes_is_in_its_notebook():
    """The claims' words checked against the source notebooks without running them (the
    nbval run checks them again, with the figures): an edit of the text that leaves a
    claim behind fails here, in make test-quick, not an hour later."""
    import nbformat

    runs = {}
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        runs[path.stem] = Run(path.stem, code, [""] * len(code),
                              "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))
    checks = [q for q in claim_quotes() if q[2] in ("says", "answer")]
    assert len(checks) > 200 and {n for n, *_ in checks} == set(runs), len(checks)
    failed = []
    for notebook, name, kind, marker, pattern in checks:
        try:
            if kind == "says":
                runs[notebook].says(pattern)
            else:
                runs[notebook].answer(marker, *pattern)
        except AssertionError as err:
            failed.append(f"{name}: {str(err)[:200]}")
    assert not failed, "\n".join(failed)
