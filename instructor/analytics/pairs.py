"""Similar answers in a graded class: each graded task's answers compared
(:func:`instructor.analytics.similarity.compare`), the results beside the report.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from instructor.analytics.graded import GradedClass
from instructor.analytics.similarity import KEY_THRESHOLD, THRESHOLD, compare
from instructor.engine.cells import nbgrader_meta
from instructor.workflow.csv_safe import write_rows
from instructor.workflow.export import task_of

JSON_FILE = "similarity.json"


def write_csv(path: Path, header: list[str], rows) -> None:
    """A CSV table beside the report page, every cell safe for a spreadsheet."""
    with Path(path).open("w", newline="") as f:
        write_rows(f, [header, *rows])


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


def key_by_task(graded: GradedClass) -> dict[str, str]:
    """task -> the code of the task's answer cells in the answer key (``solutions/``)."""
    path = Path(graded.root) / "solutions" / graded.assignment / f"{graded.assignment}.ipynb"
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    for cell in nbformat.read(path, as_version=4).cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if cell.cell_type == "code" and grade_id in graded.stubs:
            task = task_of(grade_id)
            out[task] = (out.get(task, "") + "\n" + cell.source).strip("\n")
    return out


def run(graded: GradedClass, dest: Path, threshold: float = THRESHOLD) -> dict:
    """Compare each task's answers with each other and with the answer key, into ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    others = list(graded.given) + list(graded.stubs.values())
    keys = key_by_task(graded)
    result = {"assignment": graded.assignment, "threshold": threshold,
              "key_threshold": KEY_THRESHOLD, "key_found": bool(keys), "tasks": []}
    for task, answers in answers_by_task(graded).items():
        found = compare(task, answers, others, threshold=threshold, key=keys.get(task))
        cluster_of = {s: i + 1 for i, group in enumerate(found.clusters) for s in group}
        in_pairs = {s for p in found.pairs for s in (p.a, p.b)} | {m.student for m in found.key}
        result["tasks"].append({
            "task": task, "answers": len(answers), "too_short": found.too_short,
            "ignored_common": found.ignored_common,
            "pairs": [{"a": p.a, "b": p.b, "score": round(p.score, 3),
                       "jaccard": round(p.jaccard, 3), "shared": p.shared,
                       "cluster": cluster_of.get(p.a), "lines_a": sorted(p.lines_a),
                       "lines_b": sorted(p.lines_b)} for p in found.pairs],
            "clusters": found.clusters,
            "key": [{"student": m.student, "score": round(m.score, 3), "shared": m.shared,
                     "lines": sorted(m.lines), "key_lines": sorted(m.key_lines)}
                    for m in found.key],
            "key_source": keys.get(task, "") if found.key else "",
            "sources": {s: answers[s] for s in sorted(in_pairs)},
        })
    tasks = result["tasks"]
    write_csv(dest / "similarity_pairs.csv",
              ["task", "student_a", "student_b", "score", "jaccard", "shared", "cluster"],
              [[t["task"], p["a"], p["b"], p["score"], p["jaccard"], p["shared"], p["cluster"]]
               for t in tasks for p in t["pairs"]])
    write_csv(dest / "similarity_clusters.csv", ["task", "cluster", "size", "students"],
              [[t["task"], i + 1, len(group), " ".join(group)]
               for t in tasks for i, group in enumerate(t["clusters"])])
    write_csv(dest / "similarity_key.csv", ["task", "student", "score", "shared"],
              [[t["task"], m["student"], m["score"], m["shared"]]
               for t in tasks for m in t["key"]])
    (dest / JSON_FILE).write_text(json.dumps(result, indent=1))
    return result


def saved(dest: Path) -> dict | None:
    """The results :func:`run` last wrote into ``dest``, if any."""
    path = Path(dest) / JSON_FILE
    return json.loads(path.read_text()) if path.is_file() else None
