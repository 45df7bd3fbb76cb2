"""The class at a glance: ``reports/<assignment>/``, one self-contained HTML page and its
tables as CSV (docs/instructors.md, "After grading"); its Content-Security-Policy allows
no script and nothing from the network.
"""

from __future__ import annotations

import base64
import html
import io
import os
import statistics
from pathlib import Path

from instructor import ROOT
from instructor.analytics import pairs as pairs_io
from instructor.analytics.graded import GradedClass, load
from instructor.analytics.items import LOW_DISCRIMINATION, ItemAnalysis, analyse
from instructor.engine.inert import policy_tag
from instructor.workflow.lms_download import read_handins

REPORTS = "reports"

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:72em;
 padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;
 text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}
.low{background:#fff3cd}.note{color:#555;font-size:.95em}.flag{font-weight:600;color:#a40000}
details{margin:.3em 0}summary{cursor:pointer}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:.6em;margin:.5em 0 1.5em}
pre.code{margin:0;padding:.4em;background:#fafafa;border:1px solid #ddd;overflow-x:auto;
 font-size:.85em}pre.code span{display:block;white-space:pre}pre.code span.hit{background:#ffe08a}
.banner{background:#eef5ff;border:1px solid #9cc3ff;padding:.6em 1em;margin:1em 0}
.warning{background:#fff4e5;border-color:#e0a040}
img{max-width:100%}
"""


def _e(x) -> str:
    return html.escape(str(x))


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}".rstrip("0").rstrip(".")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def figures(analysis: ItemAnalysis) -> dict[str, str]:
    """The page's figures as data URIs: total scores, scores per task, pass rates."""
    from matplotlib.figure import Figure

    out = {}
    totals = list(analysis.totals.values())
    fig = Figure(figsize=(6, 2.8))
    ax = fig.subplots()
    top = max(analysis.max_score, 1.0)
    ax.hist(totals, bins=min(20, max(4, int(top) + 1)), range=(0, top), color="#4c78a8",
            edgecolor="white")
    ax.set(xlabel=f"total score (out of {_num(analysis.max_score)})", ylabel="submissions",
           title=f"Total scores, {len(totals)} submissions")
    out["total"] = _png(fig)

    n = len(analysis.tasks)
    if n:
        fig = Figure(figsize=(min(3 * n, 12), 2.6))
        axes = fig.subplots(1, n, squeeze=False)[0]
        for ax, task in zip(axes, analysis.tasks, strict=True):
            ax.hist(task.scores, bins=min(12, max(3, int(task.max_points) + 1)),
                    range=(0, max(task.max_points, 1.0)), color="#72b7b2", edgecolor="white")
            ax.set_title(f"{task.task} (out of {_num(task.max_points)})", fontsize=9)
            ax.set_xlabel("score", fontsize=8)
        axes[0].set_ylabel("submissions")
        fig.tight_layout()
        out["tasks"] = _png(fig)

    if analysis.tests:
        fig = Figure(figsize=(6, 0.35 * len(analysis.tests) + 0.8))
        ax = fig.subplots()
        tests = analysis.tests[::-1]
        low = [t.discrimination is not None and t.discrimination < LOW_DISCRIMINATION
               for t in tests]
        ax.barh([t.grade_id for t in tests], [100 * t.pass_rate for t in tests],
                color=["#e45756" if x else "#4c78a8" for x in low])
        ax.set(xlim=(0, 100), xlabel="submissions passing (%); red: low discrimination")
        ax.tick_params(axis="y", labelsize=8)
        out["tests"] = _png(fig)
    return out


def _name(graded: GradedClass, student: str) -> str:
    """`` (<name>)``, escaped, if the LMS's download named the student, else ``""``."""
    names = graded.__dict__.get("_names")
    if names is None:
        names = graded.__dict__["_names"] = {
            k: r.get("name", "") for k, r in read_handins(graded.assignment, graded.root).items()}
    return f" <span class=name>({_e(names[student])})</span>" if names.get(student) else ""


def _who(graded: GradedClass, student: str) -> str:
    """The student's id and, beside it, their name, escaped."""
    return _e(student) + _name(graded, student)


def _link(graded: GradedClass, student: str, here: Path) -> str:
    """A link to the student's feedback page (or graded notebook) from ``here``, and name."""
    a = graded.assignment
    for target in (graded.root / "feedback" / student / a / f"{a}.html",
                   graded.root / "autograded" / student / a / f"{a}.ipynb"):
        if target.exists():
            return (f'<a href="{_e(os.path.relpath(target, here))}">{_e(student)}</a>'
                    + _name(graded, student))
    return _who(graded, student)


def write_csvs(analysis: ItemAnalysis, graded: GradedClass, dest: Path) -> None:
    write = pairs_io.write_csv
    write(dest / "tasks.csv", ["task", "max_points", "submissions", "mean", "median",
                               "full_marks_share", "not_attempted_share"],
          [[t.task, t.max_points, t.n, round(t.mean, 3), t.median, round(t.full_share, 3),
            round(t.not_attempted_share, 3)] for t in analysis.tasks])
    write(dest / "tests.csv", ["grade_id", "task", "points", "submissions", "pass_rate",
                               "mean_points", "awaiting_review", "discrimination"],
          [[t.grade_id, t.task, t.points, t.n, round(t.pass_rate, 3), round(t.mean_points, 3),
            t.review, "" if t.discrimination is None else round(t.discrimination, 3)]
           for t in analysis.tests])
    write(dest / "failures.csv", ["grade_id", "message", "count", "students"],
          [[t.grade_id, f.message, f.count, " ".join(f.students)]
           for t in analysis.tests for f in t.failures])
    write(dest / "flagged.csv", ["student", "flag", "reason"], analysis.flagged)
    write(dest / "submissions.csv", ["student", "submitted", "score", "max_score",
                                     "grading_seconds", "flags", "notes"],
          [[s.student, s.submitted, s.score, s.max_score,
            "" if s.seconds is None else round(s.seconds, 1),
            " ".join(sorted({f for f, _ in s.flags})), " | ".join(s.notes)]
           for s in graded.submissions])


def _table(head: str, rows: list[str]) -> str:
    """A table: a header row of the ``|``-separated ``head``, then ``rows`` (``<tr>``s)."""
    cells = "".join(f"<th>{h}</th>" for h in head.split("|"))
    return "\n".join([f"<table><tr>{cells}</tr>", *rows, "</table>"])


def _code(source: str, hits: set[int]) -> str:
    lines = source.splitlines() or [""]
    return '<pre class="code">' + "".join(
        f'<span class="{"hit" if i + 1 in hits else ""}">{_e(line) or " "}</span>'
        for i, line in enumerate(lines)) + "</pre>"


def _pair(*sides: tuple[str, str, list[int]]) -> str:
    """Answers side by side, each ``(whose, code, lines shared)``, the shared lines marked."""
    return "<div class=pair>" + "".join(f"<div><strong>{_e(who)}</strong>{_code(code, set(lines))}"
                                        "</div>" for who, code, lines in sides) + "</div>"


def _key_section(result: dict, graded: GradedClass, here: Path) -> str:
    """The answers that are near-copies of the public answer key, first of all."""
    parts = ['<h3 id="answer-key">Near-copies of the public answer key</h3>']
    if not result.get("key_found"):
        return parts[0] + "<p>No answer key in solutions/ to compare with.</p>"
    found = [(t, m) for t in result["tasks"] for m in t.get("key", [])]
    parts.append(f"<p class=note>The answer key is public (solutions/ in the course's "
                 f"repository). Listed: answers with {_pct(result['key_threshold'])} or more "
                 "of the smaller side's fingerprints in the key's answer, the given code "
                 f"subtracted. {len(found)} found.</p>")
    if not found:
        return "\n".join(parts)
    parts.append(_table("task|student|score|shared fingerprints", [
        f"<tr><td>{_e(task['task'])}</td><td>{_link(graded, m['student'], here)}</td>"
        f"<td class=n>{_pct(m['score'])}</td><td class=n>{m['shared']}</td></tr>"
        for task, m in found]))
    for task, m in found:
        parts.append(f"<details><summary>{_who(graded, m['student'])} and the key, task "
                     f"{_e(task['task'])}, {_pct(m['score'])}</summary>"
                     + _pair((m["student"], task["sources"][m["student"]], m["lines"]),
                             ("answer key", task["key_source"], m["key_lines"])) + "</details>")
    return "\n".join(parts)


def similarity_section(result: dict | None, graded: GradedClass, here: Path) -> str:
    parts = ['<h2 id="similarity">Similar answers</h2>',
             '<div class="banner"><strong>A prompt for human judgement, not a verdict.</strong> '
             "Pairs of answers that share long stretches of code once comments, names and "
             "formatting are set aside and the code students were given is subtracted. "
             "Similar code has innocent causes (a shared tutorial, a study group, one obvious "
             "way to write it). Read both answers before concluding anything; this section "
             "never changes a grade.</div>"]
    if result is None:
        parts.append("<p>Not computed yet: run <code>make similarity ASSIGNMENT="
                     f"{_e(graded.assignment)}</code>.</p>")
        return "\n".join(parts)
    parts.append(f"<p class=note>Threshold: {_pct(result['threshold'])} of the smaller "
                 "answer's fingerprints found in the other (winnowing, as MOSS does; see "
                 "docs/instructors.md). Files: similarity_pairs.csv, "
                 "similarity_clusters.csv, similarity_key.csv.</p>")
    parts.append(_key_section(result, graded, here))
    for task in result["tasks"]:
        pairs = task["pairs"]
        parts.append(f"<h3>Task {_e(task['task'])}: {len(pairs)} pair(s) among "
                     f"{task['answers']} answers</h3>")
        if task["too_short"]:
            parts.append(f"<p class=note>{len(task['too_short'])} answer(s) too short after "
                         "subtracting the given code to compare.</p>")
        if not pairs:
            continue
        if task["clusters"]:
            parts.append("<p>Clusters: " + "; ".join(
                f"{i + 1}: " + ", ".join(_who(graded, s) for s in g)
                for i, g in enumerate(task["clusters"])) + "</p>")
        anchor = f"pair-{_e(task['task'])}-"
        parts.append(_table("#|student A|student B|score|Jaccard|shared fingerprints|cluster", [
            f'<tr><td><a href="#{anchor}{i + 1}">{i + 1}</a></td>'
            f"<td>{_link(graded, p['a'], here)}</td><td>{_link(graded, p['b'], here)}</td>"
            f"<td class=n>{_pct(p['score'])}</td><td class=n>{_pct(p['jaccard'])}</td>"
            f"<td class=n>{p['shared']}</td><td class=n>{p['cluster'] or ''}</td></tr>"
            for i, p in enumerate(pairs)]))
        for i, p in enumerate(pairs):
            parts.append(f'<details id="{anchor}{i + 1}"{" open" if i < 3 else ""}><summary>Pair '
                         f"{i + 1}: {_who(graded, p['a'])} and {_who(graded, p['b'])}, "
                         f"{_pct(p['score'])} "
                         "(shared lines highlighted)</summary>"
                         + _pair((p["a"], task["sources"][p["a"]], p["lines_a"]),
                                 (p["b"], task["sources"][p["b"]], p["lines_b"])) + "</details>")
    return "\n".join(parts)


def render(graded: GradedClass, analysis: ItemAnalysis, similarity: dict | None,
           here: Path) -> str:
    figs = figures(analysis)
    subs = graded.submitted
    weaker = [s for s in subs if s.isolation == "limits-only"]  # graded without bubblewrap
    per_process = [s for s in subs if s.caps == "per process"]  # no cgroup of its own
    totals = list(analysis.totals.values())
    a = _e(graded.assignment)
    out = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>{policy_tag()}"
           f"<title>{a}: the class at a "
           f"glance</title><meta name=viewport content='width=device-width'>"
           f"<style>{CSS}</style></head><body>",
           f"<h1>{a}: the class at a glance</h1>",
           f"<p>{len(subs)} graded submission(s)"
           + (f", {len(analysis.missing)} student(s) of the gradebook without one"
              if analysis.missing else "")
           + (f"; total score mean {_num(statistics.fmean(totals))}, median "
              f"{_num(statistics.median(totals))} out of {_num(analysis.max_score)}"
              if totals else "")
           + ". Read from the gradebook and the graded notebooks; nothing was graded again."
           " Tables as CSV beside this page.</p>",
           *([f'<div class="banner warning"><strong>Graded with a weaker sandbox</strong> '
              f'(COURSE_GRADING_ISOLATION=limits-only) for {len(weaker)} submission(s): '
              'their code ran with caps only, without bubblewrap, so it could read and reach '
              'what the grading user can. Read their flags and answers with that in '
              'mind.</div>'] if weaker else []),
           *([f'<div class="banner warning"><strong>Caps per process</strong> for '
              f'{len(per_process)} submission(s): no cgroup could be made for them, so their '
              'memory and process caps held for each process, not for the submission as a '
              'whole (docs/grading.md).</div>'] if per_process else []),
           '<p><a href="#tasks">Tasks</a> · <a href="#tests">Test cells</a> · '
           '<a href="#flagged">Flagged submissions</a> · <a href="#times">Grading times</a>'
           ' · <a href="#similarity">Similar answers</a></p>',
           f'<img alt="histogram of total scores" src="{figs["total"]}">',
           '<h2 id="tasks">Tasks</h2>']
    if "tasks" in figs:
        out.append(f'<img alt="histograms of scores per task" src="{figs["tasks"]}">')
    out.append(_table("task|points|mean|median|full marks|not attempted (stub)", [
        f"<tr><td>{_e(t.task)}</td><td class=n>{_num(t.max_points)}</td>"
        f"<td class=n>{_num(t.mean)}</td><td class=n>{_num(t.median)}</td>"
        f"<td class=n>{_pct(t.full_share)}</td><td class=n>{_pct(t.not_attempted_share)}</td>"
        "</tr>" for t in analysis.tasks]))

    out += ['<h2 id="tests">Test cells</h2>',
            "<p class=note>Discrimination: the correlation between passing the cell and the "
            "rest of the score (the total without this cell). Near 0 or negative (below "
            f"{LOW_DISCRIMINATION}, highlighted): strong students fail it as often as weak ones; "
            "its instructions or its check may be unclear. Empty when everyone passed or "
            "everyone failed. Failure messages are grouped with numbers and shapes set aside."
            "</p>"]
    if "tests" in figs:
        out.append(f'<img alt="pass rate per test cell" src="{figs["tests"]}">')
    rows = []
    for t in analysis.tests:
        low = t.discrimination is not None and t.discrimination < LOW_DISCRIMINATION
        fails = "".join(
            f"<details><summary>{f.count} × {_e(f.message)}</summary><p class=note>e.g. "
            f"<code>{_e(f.example)}</code><br>"
            + ", ".join(_link(graded, s, here) for s in f.students[:8])
            + (f" and {len(f.students) - 8} more" if len(f.students) > 8 else "")
            + "</p></details>" for f in t.failures) or "–"
        rows.append(f"<tr><td>{_e(t.grade_id)}</td><td class=n>{_num(t.points)}</td>"
                    f"<td class=n>{_pct(t.pass_rate)}</td><td class=n>{_num(t.mean_points)}</td>"
                    f"<td class='n{' low' if low else ''}'>{_num(t.discrimination)}</td>"
                    f"<td class=n>{t.review}</td><td>{fails}</td></tr>")
    out.append(_table("test cell|points|pass rate|mean points|discrimination|awaiting review|"
                      "most frequent failures", rows))

    out.append('<h2 id="flagged">Flagged submissions</h2>')
    if analysis.flagged:
        out.append(_table("student|flag|reason", [
            f"<tr><td>{_link(graded, student, here)}</td><td class=flag>{_e(flag)}</td>"
            f"<td>{_e(reason)}</td></tr>" for student, flag, reason in analysis.flagged]))
    else:
        out.append("<p>None: no grader failure, review, repaired notebook or timeout.</p>")
    if analysis.missing:
        out.append("<p>In the gradebook without a submission (0 points in grades.csv): "
                   + ", ".join(_who(graded, s) for s in analysis.missing) + "</p>")

    out.append('<h2 id="times">Grading times</h2>')
    times = sorted(analysis.seconds.items(), key=lambda kv: -kv[1])
    if times:
        values = [v for _, v in times]
        out.append(f"<p>Per submission, from the graded notebook's first cell to its last "
                   f"(kernel start-up not included): median {_num(statistics.median(values), 1)} "
                   f"s, longest {_num(values[0], 1)} s.</p><details><summary>Every "
                   "submission</summary><table><tr><th>student</th><th>seconds</th></tr>"
                   + "".join(f"<tr><td>{_link(graded, s, here)}</td><td class=n>{v:.1f}</td>"
                             "</tr>" for s, v in times) + "</table></details>")
    else:
        out.append("<p>No timing recorded in the graded notebooks.</p>")
    out += [similarity_section(similarity, graded, here), "</body></html>"]
    return "\n".join(out)


def report_dir(assignment: str, root: Path = ROOT) -> Path:
    return Path(root) / REPORTS / assignment


def write_report(assignment: str, root: Path = ROOT, dest: Path | None = None,
                 graded: GradedClass | None = None) -> Path:
    """Write the page (its path returned) and its CSV files into ``dest``."""
    graded = graded or load(assignment, root)
    dest = Path(dest) if dest else report_dir(assignment, root)
    dest.mkdir(parents=True, exist_ok=True)
    analysis = analyse(graded)
    write_csvs(analysis, graded, dest)
    page = dest / "index.html"
    page.write_text(render(graded, analysis, pairs_io.saved(dest), dest), encoding="utf-8")
    return page
