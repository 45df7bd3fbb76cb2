"""Similar answers in a graded class: every graded task compared, results kept on disk.

For each task of the assignment, the answer cells of every submission are compared by
:func:`instructor.analytics.similarity.compare`, with the released stubs and the
notebook's other code as what students were given. The results go beside the report:
``similarity_pairs.csv`` (task, student_a, student_b, score, jaccard, shared
fingerprints, cluster), ``similarity_clusters.csv`` and ``similarity.json`` (what the
report page shows, the two answers of each pair included). Nothing leaves the machine
and no grade is touched.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from instructor.analytics.graded import GradedClass
from instructor.analytics.similarity import THRESHOLD, compare
from instructor.workflow.export import task_of

JSON_FILE = "similarity.json"


def answers_by_task(graded: GradedClass) -> dict[str, dict[str, str]]:
    """task -> student -> the code of the task's answer cells (stub left out: not compared)."""
    out: dict[str, dict[str, str]] = {}
    for sub in graded.submitted:
        for grade_id, stub in graded.stubs.items():
            code = sub.answers.get(grade_id)
            if code is None or code.strip() == stub.strip():
                continue
            task = out.setdefault(task_of(grade_id), {})
            task[sub.student] = (task.get(sub.student, "") + "\n" + code).strip("\n")
    return {t: out[t] for t in graded.tasks if t in out}


def run(graded: GradedClass, dest: Path, threshold: float = THRESHOLD) -> dict:
    """Compare every task's answers; write the CSV files and the JSON into ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    given_by_task = {}
    for grade_id, stub in graded.stubs.items():
        given_by_task.setdefault(task_of(grade_id), []).append(stub)
    others = list(graded.given) + list(graded.stubs.values())
    result = {"assignment": graded.assignment, "threshold": threshold, "tasks": []}
    for task, answers in answers_by_task(graded).items():
        found = compare(task, answers, others, threshold=threshold)
        cluster_of = {s: i + 1 for i, group in enumerate(found.clusters) for s in group}
        in_pairs = {s for p in found.pairs for s in (p.a, p.b)}
        result["tasks"].append({
            "task": task, "answers": len(answers), "too_short": found.too_short,
            "ignored_common": found.ignored_common,
            "pairs": [{"a": p.a, "b": p.b, "score": round(p.score, 3),
                       "jaccard": round(p.jaccard, 3), "shared": p.shared,
                       "cluster": cluster_of.get(p.a), "lines_a": sorted(p.lines_a),
                       "lines_b": sorted(p.lines_b)} for p in found.pairs],
            "clusters": found.clusters,
            "sources": {s: answers[s] for s in sorted(in_pairs)},
        })
    with (dest / "similarity_pairs.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["task", "student_a", "student_b", "score", "jaccard", "shared", "cluster"])
        for t in result["tasks"]:
            for p in t["pairs"]:
                w.writerow([t["task"], p["a"], p["b"], p["score"], p["jaccard"], p["shared"],
                            p["cluster"]])
    with (dest / "similarity_clusters.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["task", "cluster", "size", "students"])
        for t in result["tasks"]:
            for i, group in enumerate(t["clusters"]):
                w.writerow([t["task"], i + 1, len(group), " ".join(group)])
    (dest / JSON_FILE).write_text(json.dumps(result, indent=1))
    return result


def saved(dest: Path) -> dict | None:
    """The results :func:`run` last wrote into ``dest``, if any."""
    path = Path(dest) / JSON_FILE
    return json.loads(path.read_text()) if path.is_file() else None
