"""Benchmark: similar answers among 1,000 students' answers to one task.

    .venv/bin/python benchmarks/similarity_class.py            # 1,000 answers, task vanilla
    .venv/bin/python benchmarks/similarity_class.py -n 200

The class is generated from the correct answers to task (a) of notebook 02 written in
three styles (the answer key, and the Sequential and tf.keras answers of
benchmarks/sample_answers.py): each student takes one of them, adds a few statements of
their own (a small computation with random constants) and disguises it in a random mix
of ways (renamed, reordered, commented, padded with dead code), and ``--copies``
students hand in a disguised copy of another student's answer. The script prints the
time (wall and CPU: on a shared machine the second is the one to compare) to prepare
(normalize, fingerprint) and compare all answers with
``instructor.analytics.similarity.compare``, the number of pairs and clusters listed,
and how many planted copies were among them. Nothing is graded; one process.
"""

from __future__ import annotations

import argparse
import random
import time

import nbformat
from sample_answers import DISGUISES, SEQUENTIAL, TF_KERAS, disguise  # benchmarks/

from instructor import ROOT
from instructor.analytics.similarity import K, W, compare
from instructor.workflow.sample_class import reference

A = "02_stacked_autoencoders"


def _grade_id(cell):
    return (cell.metadata.get("nbgrader") or {}).get("grade_id")


def _own_lines(rng: random.Random) -> str:
    """A few statements of a student's own (a computation with their constants, each step
    using the last): every real answer has some, and they are what a copy shares with its
    original and no one else."""
    forms = ["{v} = {p} * {a} + {b}", "{v} = max({p}, min({a}, {b}))",
             "{v} = round({p} / ({a} + 1), {i})", "{v} = [{p}, {a}, {b}][{i}]",
             "{v} = abs({p} - {a}) % {b}"]
    lines, prev = [], str(rng.randint(2, 999))
    for k in range(rng.randint(3, 6)):
        v = f"n{k}"
        lines.append("    " + rng.choice(forms).format(
            v=v, p=prev, a=rng.randint(2, 999), b=rng.randint(2, 999), i=rng.randint(0, 2)))
        prev = v
    lines.append(f"    print('check', {prev})")
    return "\n".join(lines)


def _personal(source: str, rng: random.Random) -> str:
    lines = source.strip("\n").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("def ")) + 1
    return "\n".join(lines[:at] + [_own_lines(rng)] + lines[at:]) + "\n"


def build(n: int, copies: int, seed: int = 0) -> tuple[dict[str, str], set[frozenset]]:
    """``n`` answers (student -> code) and the planted copy pairs."""
    rng = random.Random(seed)
    source = nbformat.read(ROOT / "notebooks" / A / f"{A}.ipynb", as_version=4)
    styles = [reference(next(c.source for c in source.cells
                             if _grade_id(c) == "vanilla-solution")), SEQUENTIAL, TF_KERAS]
    answers, planted = {}, set()
    for i in range(n - copies):
        how = tuple(d for d in DISGUISES if rng.random() < 0.6)
        answers[f"s{i:04d}"] = disguise(_personal(rng.choice(styles), rng), how, seed=i)
    originals = list(answers)
    for j in range(copies):
        victim = rng.choice(originals)
        name = f"c{j:04d}"
        answers[name] = disguise(answers[victim], tuple(DISGUISES), seed=10_000 + j)
        planted.add(frozenset((victim, name)))
    return answers, planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="students (default 1000)")
    parser.add_argument("--copies", type=int, default=10, help="planted copies")
    args = parser.parse_args()
    answers, planted = build(args.n, args.copies)
    release = nbformat.read(ROOT / "release" / A / f"{A}.ipynb", as_version=4)
    given = [c.source for c in release.cells if c.cell_type == "code"]
    t0, c0 = time.perf_counter(), time.process_time()
    result = compare("vanilla", answers, given)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    found = {frozenset((p.a, p.b)) for p in result.pairs}
    print(f"{len(answers)} answers to task vanilla compared in {seconds:.1f} s wall, "
          f"{cpu:.1f} s CPU (one process; winnowing K={K}, W={W}, indexed)")
    print(f"pairs listed: {len(result.pairs)}, clusters: {len(result.clusters)}, "
          f"fingerprints dropped as idioms: {result.ignored_common}")
    print(f"planted copies found: {len(planted & found)}/{len(planted)}")


if __name__ == "__main__":
    main()
