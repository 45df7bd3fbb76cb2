"""Similar answers (``instructor.analytics.similarity``) on generated classes, no grading.

Copies disguised by renaming, reordering, added comments and dead code
(``benchmarks/sample_answers.py``) must be found; the correct answers the grading
tests hold, written independently in different styles, must not be flagged.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import nbformat
import pytest

from benchmarks.sample_answers import DISGUISES, SEQUENTIAL, TF_KERAS, disguise
from instructor.analytics.similarity import (
    THRESHOLD,
    K,
    W,
    compare,
    kgram_hashes,
    normalize,
    winnow,
)
from instructor.workflow.sample_class import reference
from tests.test_grading_sparse import L1L2_STYLE, LAYER_STYLE

ROOT = Path(__file__).resolve().parents[1]
A = "02_stacked_autoencoders"


def _grade_id(cell):
    return (cell.metadata.get("nbgrader") or {}).get("grade_id")


@pytest.fixture(scope="module")
def given() -> list[str]:
    """The code students of notebook 02 were given: every code cell of the release."""
    nb = nbformat.read(ROOT / "release" / A / f"{A}.ipynb", as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _reference(task: str) -> str:
    nb = nbformat.read(ROOT / "notebooks" / A / f"{A}.ipynb", as_version=4)
    return reference(next(c.source for c in nb.cells if _grade_id(c) == f"{task}-solution"))


#: task -> the independently written correct answers (tests/test_grading_<task>.py)
STYLES = {"vanilla": {"reference": None, "sequential": SEQUENTIAL, "tf_keras": TF_KERAS},
          "sparse": {"reference": None, "layer_style": LAYER_STYLE, "l1l2_style": L1L2_STYLE}}


def _styles(task: str) -> dict[str, str]:
    return {name: src or _reference(task) for name, src in STYLES[task].items()}


def _pairs(result) -> set[frozenset]:
    return {frozenset((p.a, p.b)) for p in result.pairs}


def test_normalizing_removes_comments_names_and_formatting():
    a = "def f(x, n):\n    total = 0  # running sum\n    for i in range(n):\n" \
        "        total += x[i] * 2\n    return total\n"
    b = ('def f(values, count):\n    """Sum, doubled."""\n    acc = 0\n\n'
         "    for k in range(count):\n        acc += values[k]*2\n    return acc\n")
    assert [t.text for t in normalize(a)] == [t.text for t in normalize(b)]
    # what the code uses (a library's names, keyword arguments, literals) is kept
    c = a.replace("range(n)", "reversed(n)")
    assert [t.text for t in normalize(a)] != [t.text for t in normalize(c)]


def test_code_that_does_not_parse_is_still_compared():
    broken = "def f(x):\n    y = x +\n    return y * 3  # oops\n"
    assert [t.text for t in normalize(broken)][:3] == ["def", "V", "("]
    assert "# oops" not in " ".join(t.text for t in normalize(broken))


def test_winnowing_guarantee():
    """Any shared run of K + W - 1 tokens gives both sides a common fingerprint."""
    shared = " ".join(f"v{i} = f{i}(v{i - 1})" for i in range(1, 12))  # 66 tokens
    tokens_a = normalize("a0 = 1\nprint(a0, 'left')\n" + shared.replace(" v", "\nv"))
    tokens_b = normalize(shared.replace(" v", "\nv") + "\nz = [q for q in 'right']\n")
    fa = winnow(kgram_hashes(tokens_a))
    fb = winnow(kgram_hashes(tokens_b))
    assert len(shared.split()) >= K + W - 1
    assert fa.keys() & fb.keys()


@pytest.mark.parametrize("how", [*[(d,) for d in DISGUISES], tuple(DISGUISES)],
                         ids=lambda h: "+".join(h))
@pytest.mark.parametrize("task", list(STYLES))
def test_disguised_copies_are_found(task, how, given):
    styles = _styles(task)
    answers = dict(styles)
    for i, (name, source) in enumerate(styles.items()):
        answers[f"copy_of_{name}"] = disguise(source, how, seed=i)
        assert answers[f"copy_of_{name}"] != source
    result = compare(task, answers, given)
    expected = {frozenset((name, f"copy_of_{name}")) for name in styles}
    assert _pairs(result) == expected, [(p.a, p.b, round(p.score, 2)) for p in result.pairs]
    assert all(p.score >= THRESHOLD for p in result.pairs)


@pytest.mark.parametrize("task", list(STYLES))
def test_independent_correct_answers_are_not_flagged(task, given):
    styles = _styles(task)
    result = compare(task, styles, given)
    assert not result.pairs, [(p.a, p.b, round(p.score, 2)) for p in result.pairs]
    assert not result.too_short  # compared, not skipped
    # and none of them comes near the threshold
    low = compare(task, styles, given, threshold=0.0)
    assert max((p.score for p in low.pairs), default=0) < THRESHOLD - 0.1, \
        [(p.a, p.b, round(p.score, 2)) for p in low.pairs]


def test_the_given_code_is_not_evidence(given):
    """Two answers made of the stub and of a cell the notebook gives (a test cell pasted
    into the answer) are never paired."""
    nb = nbformat.read(ROOT / "release" / A / f"{A}.ipynb", as_version=4)
    stub = next(c.source for c in nb.cells if _grade_id(c) == "vanilla-solution")
    test = next(c.source for c in nb.cells if _grade_id(c) == "vanilla-tests-layers")
    answers = {"a": stub + "\n" + test, "b": "# mine\n" + test + "\n" + stub}
    result = compare("vanilla", answers, given)
    assert not result.pairs
    assert set(result.too_short) == {"a", "b"}


def test_clusters_group_copies_of_one_answer(given):
    source = _reference("vanilla")
    answers = {"orig": source, "c1": disguise(source, seed=1), "c2": disguise(source, seed=2),
               "other": SEQUENTIAL}
    result = compare("vanilla", answers, given)
    assert result.clusters == [["c1", "c2", "orig"]]
    assert {frozenset(p) for p in combinations(["orig", "c1", "c2"], 2)} == _pairs(result)
    for p in result.pairs:  # the shared lines are known on both sides, for the side-by-side
        assert p.lines_a and p.lines_b


def test_idioms_of_a_large_class_are_not_evidence(given):
    """Fingerprints most of a class shares are dropped: 30 students who all wrote the
    reference (renamed) are not 435 pairs, and a real copy pair still stands out."""
    source = _reference("vanilla")
    answers = {f"s{i:02d}": disguise(source, ("rename",), seed=i) for i in range(30)}
    answers["x"] = TF_KERAS
    answers["x_copy"] = disguise(TF_KERAS, seed=7)
    result = compare("vanilla", answers, given)
    assert _pairs(result) == {frozenset(("x", "x_copy"))}
    assert result.ignored_common > 0


# ------------------------------------------------------------------ the public answer key
def _cells(nb, stubs) -> dict[str, str]:
    """task -> the code of its answer cells (those the release has a stub for)."""
    from instructor.workflow.export import task_of

    out: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and _grade_id(cell) in stubs:
            task = task_of(_grade_id(cell))
            out[task] = (out.get(task, "") + "\n" + cell.source).strip("\n")
    return out


def key_measurement() -> list[tuple[str, str, str, float | None]]:
    """(assignment, task, answer, score against the key) for every graded task: answers
    built on the key (the synthetic class's correct, partial and broken answers of
    ``make sample-class``; the key disguised every way :mod:`sample_answers` knows) and
    answers rewritten without it (the correct alternatives of the grading tests, each
    in a style of its own). Graded tasks only. None: too short to compare."""
    from instructor.analytics.similarity import api_names, given_hashes, key_scores, prepare
    from instructor.workflow.assignments import graded_assignments
    from instructor.workflow.sample_class import make_notebook
    from tests.test_grading_image_to_image import CHROMA_CORRECT, NEAREST_CORRECT, PSNR_CORRECT

    rewritten = {"vanilla": STYLES["vanilla"], "sparse": STYLES["sparse"],
                 "psnr": PSNR_CORRECT, "nearest": NEAREST_CORRECT, "chroma": CHROMA_CORRECT}
    rows = []
    for a in graded_assignments(ROOT):
        release = nbformat.read(ROOT / "release" / a / f"{a}.ipynb", as_version=4)
        stubs = {_grade_id(c): c.source for c in release.cells
                 if c.cell_type == "code" and (c.metadata.get("nbgrader") or {}).get(
                     "solution")}
        given = [c.source for c in release.cells if c.cell_type == "code"]
        keep = api_names(given)
        given_set = given_hashes(given, keep)
        graded = {_grade_id(c).split("-", 1)[0] for c in release.cells
                  if (c.metadata.get("nbgrader") or {}).get("grade")}
        keys = {t: k for t, k in _cells(nbformat.read(ROOT / "solutions" / a / f"{a}.ipynb",
                                                      as_version=4), stubs).items()
                if t in graded}
        answers: dict[str, dict[str, str]] = {t: {} for t in keys}
        for kind in ("correct", "partial", "broken"):
            for task, code in _cells(make_notebook(a, kind, ROOT), stubs).items():
                if task in keys:
                    answers[task][f"key-based: sample-class {kind}"] = code
        for task, key in keys.items():
            for i, how in enumerate([*[(d,) for d in DISGUISES], tuple(DISGUISES)]):
                answers[task][f"key-based: key, {'+'.join(how)}"] = disguise(key, how, seed=i)
            for name, code in rewritten.get(task, {}).items():
                if code:  # None: the key itself
                    answers[task][f"rewritten: {name}"] = code
            prepared = {n: prepare(n, c, given_set, keep) for n, c in answers[task].items()}
            scores = key_scores(prepared, prepare("key", key, given_set, keep))
            for name in answers[task]:
                rows.append((a, task, name, scores[name].score if name in scores else None))
    return rows


def test_near_copies_of_the_key_stand_apart_from_independent_answers():
    """The key threshold separates every answer built on the key from every correct
    answer rewritten without it (docs/instructors.md, "The public answer key", has the table:
    ``python -c 'from tests.test_similarity import print_key_measurement as p; p()'``)."""
    from instructor.analytics.similarity import KEY_THRESHOLD

    rows = key_measurement()
    # a copy with a syntax error in every answer cell (sample-class "broken") is read by
    # the fallback tokenizer and may score lower (0.27 on the short upsample_nearest):
    # it scores 0 points anyway
    based = [s for _, _, n, s in rows if n.startswith("key-based") and s is not None
             and not n.endswith("broken")]
    rewritten = [s for _, _, n, s in rows if n.startswith("rewritten") and s is not None]
    assert len(based) >= 45 and len(rewritten) >= 10
    assert len(rewritten) == len([n for _, _, n, _ in rows if n.startswith("rewritten")])
    assert min(based) >= KEY_THRESHOLD > max(rewritten), (min(based), max(rewritten))


def print_key_measurement() -> None:
    rows = key_measurement()
    for a, task, name, score in rows:
        print(f"{a:32} {task:10} {name:48} {'too short' if score is None else f'{score:.2f}'}")
