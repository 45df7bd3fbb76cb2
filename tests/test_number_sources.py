"""Every number a student reads has a source (tests/number_sources.py says which count)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests import number_sources
from tests.number_sources import read, unsourced

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*/*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_number_in_the_text_has_a_source(path):
    found = unsourced(read(path), path.stem)
    assert not found, (
        f"{len(found)} numbers in {path.stem}'s text come from no cell, claim or fact: print "
        "them in a cell and quote them in a claim (tests/claims.py), or list a fact of the "
        "world in tests/number_sources.py's FACTS with its source:\n"
        + "\n".join(map(str, found)))


def notebook(markdown: str, code: str = "x = 1", answer: str | None = None):
    cells = [nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell(code)]
    if answer is not None:
        cells.append(nbformat.v4.new_code_cell(answer, metadata={"tags": ["exercise-answer"]}))
    return nbformat.v4.new_notebook(cells=cells)


def numbers(nb, name="fake") -> list[str]:
    return [u.number for u in unsourced(nb, name)]


def test_a_result_nothing_prints_is_found():
    assert numbers(notebook("The loss fell to 0.0846 after 55,000 images.")) == \
        ["0.0846", "55,000"]


def test_a_literal_of_the_code_is_a_parameter():
    assert numbers(notebook("It trains on 55,000 images at 3e-3.",
                            "fit(x[:55_000], learning_rate=3e-3)")) == []


def test_a_worked_answer_is_read_too():
    answer = "### BEGIN SOLUTION\nz = 2\n# Answer: about 18.5 dB.\n### END SOLUTION"
    assert numbers(notebook("Exercise.", answer=answer)) == ["18.5"]


def test_small_counts_references_names_and_code_are_not_quantities():
    text = ("## 11 · Section\n\n1. In section 12 (see notebook 02, exercise 3), a 2-D "
            "`Dense(512)` code of CIFAR-10 in float32 (Vincent et al., 2008; TensorFlow "
            "2.16) [link](https://example.org/314159).")
    assert numbers(notebook(text)) == []


def test_a_number_a_claim_quotes_is_covered(monkeypatch):
    monkeypatch.setattr(number_sources, "claim_patterns", lambda: [
        ("says", None, r"the loss fell to 0\.0846"),
        ("answer", "z = 2", r"about 18\.5 dB")])
    answer = "### BEGIN SOLUTION\nz = 2\n# Answer: about 18.5 dB,\n# not 19.5.\n### END SOLUTION"
    nb = notebook("After training, the loss fell to 0.0846; the baseline is 0.263.",
                  answer=answer)
    assert numbers(nb) == ["0.263", "19.5"]


def test_the_claims_quotes_are_read_from_their_source():
    found = number_sources.claim_patterns()
    assert ("says", None, r"the decoder's directions are not orthogonal") in found
    assert any(kind == "answer" for kind, _m, _p in found)


def test_a_fact_is_covered(monkeypatch):
    monkeypatch.setitem(number_sources.FACTS, "fake", {"99.5": "N(0, I) mass in [-3, 3]²"})
    assert numbers(notebook("The grid holds 99.5 % of the prior's mass.")) == []
