"""``python -m instructor <command>``: the instructor's commands (docs/instructors.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from instructor import ROOT
from instructor.workflow.assignments import assignments, graded_assignments


def _assignments(value: str | None) -> list[str]:
    if value and value != "all":
        names = [v.strip().rstrip("/").split("/")[-1] for v in value.split(",") if v.strip()]
        unknown = set(names) - set(assignments())
        if unknown:
            raise SystemExit(f"unknown assignment(s): {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(assignments())}")
        return names
    return []


def cmd_generate(args) -> None:
    """``release`` or ``solutions``, as the command says."""
    from instructor.workflow.generate import generate

    generate(args.command, _assignments(args.assignment) or None)
    listed = f" ({', '.join(assignments())})" if args.command == "release" else ""
    print(f"{args.command}/ regenerated from notebooks/{listed}")


def cmd_collect(args) -> None:
    from instructor.workflow.collect import collect

    name = _one(args.assignment, "collect")
    report = collect(Path(args.source), name)
    for student, notes in report.items():
        print(f"{student:<24} " + ("; ".join(notes) if notes else "ok"))
    print(f"collected {len(report)} student(s) into submitted/*/{name}/")


def cmd_autograde(args) -> None:
    from instructor.workflow.autograde import autograde
    from instructor.workflow.shards import Shard

    names = _assignments(args.assignment) or [
        a for a in graded_assignments()
        if args.canary_only or any((ROOT / "submitted").glob(f"*/{a}"))]
    if args.skip_canary and (args.canary_only or args.rerun_canary):
        raise SystemExit("--skip-canary contradicts --canary-only and --rerun-canary")
    if not names:
        raise SystemExit("nothing to grade: no submissions in submitted/")
    students = [s for s in (args.student or "").split(",") if s] or None
    try:
        shard = Shard.parse(args.shard) if args.shard else None
    except ValueError as err:
        raise SystemExit(str(err)) from None
    results = autograde(names, students, jobs=args.jobs, shard=shard,
                        canary=not args.skip_canary, canary_only=args.canary_only,
                        rerun_canary=args.rerun_canary)
    failed = [r for r in results if r.failed]
    for r in results:
        for note in r.notes:
            print(f"  {r.student}/{r.assignment}: {note}")
    review = [r for r in results if r.review]
    if review:
        print(f"{len(review)} submission(s) need your review (tests marked 'needs manual "
              "grade' in the gradebook): " + ", ".join(f"{r.student}/{r.assignment}"
                                                       for r in review))
    if failed:
        print(f"{len(failed)} submission(s) could not be graded; see grading_logs/",
              file=sys.stderr)
        raise SystemExit(1)


def cmd_merge_shards(args) -> None:
    from instructor.workflow.shards import merge

    merged = merge(ROOT, [Path(f) for f in args.folders] or None, args.drop_older)
    print(f"merged {len(merged)} submission(s) into gradebook.db, autograded/, grading_logs/")


def cmd_feedback(args) -> None:
    from instructor.workflow.feedback import feedback

    students = [s for s in (args.student or "").split(",") if s] or None
    feedback(_assignments(args.assignment) or None, students)
    print("feedback written to feedback/<student>/<assignment>/")


def cmd_grades(args) -> None:
    from instructor.workflow.feedback import export_grades

    print(f"grades written to {export_grades(Path(args.to))}")


def _one(value: str | None, command: str) -> str:
    names = _assignments(value)
    if len(names) != 1:
        raise SystemExit(f"{command} needs exactly one --assignment")
    return names[0]


def cmd_report(args) -> None:
    from instructor.analytics.report import write_report

    print(f"report written to {write_report(_one(args.assignment, 'report'))}")


def cmd_similarity(args) -> None:
    from instructor.analytics import pairs
    from instructor.analytics.graded import load
    from instructor.analytics.report import report_dir, write_report
    from instructor.workflow.lms_download import read_handins

    name = _one(args.assignment, "similarity")
    graded = load(name)
    result = pairs.run(graded, report_dir(name), threshold=args.threshold)
    names = {k: r.get("name", "") for k, r in read_handins(name, ROOT).items()}

    def who(student: str) -> str:  # the LMS's name beside its id
        return f"{student} ({names[student]})" if names.get(student) else student

    for task in result["tasks"]:
        for m in task["key"]:
            print(f"task {task['task']}: {who(m['student'])} is a near-copy of the public "
                  f"answer key ({m['score']:.0%})")
    for task in result["tasks"]:
        print(f"task {task['task']}: {len(task['pairs'])} pair(s) at or above "
              f"{args.threshold:.0%} among {task['answers']} answers")
        for p in task["pairs"][:10]:
            print(f"  {p['score']:5.0%}  {who(p['a'])}  {who(p['b'])}")
    page = write_report(name, graded=graded)
    print(f"side by side in {page}#similarity (a prompt to read both answers; no grade "
          "was changed)")


def cmd_lms_export(args) -> None:
    from instructor.analytics.graded import load
    from instructor.analytics.lms import fill, read_mapping

    name = _one(args.assignment, "lms-export")
    source = Path(args.source)
    if not source.is_file():
        raise SystemExit(f"{source} is not a file: FROM must be the gradebook CSV downloaded "
                         "from the LMS (Canvas: Grades > Export; Moodle: Export > Plain text, "
                         "or the assignment's grading worksheet)")
    dest = Path(args.to) if args.to else ROOT / "lms" / f"{name}_{args.lms}.csv"
    graded = load(name)
    stale = [s for s in graded.submitted if any(f == "STALE" for f, _ in s.flags)]
    for sub in stale:
        print(f"{sub.student}: {sub.notes[0]}", file=sys.stderr)
    if stale and not args.allow_stale:
        raise SystemExit(f"lms-export: {len(stale)} grade(s) are STALE (above): grade them "
                         "again, or write them as they are with ALLOW_STALE=1 "
                         "(--allow-stale). Nothing was written.")
    done = fill(graded, args.lms, source, dest, read_mapping(args.mapping),
                column=args.column, overwrite=args.overwrite, tasks=args.tasks,
                points=args.points)
    for line in done.summary():
        print(line)
    if done.not_in_lms or done.ambiguous:
        print("unmatched students: see above; their grades are not in the file",
              file=sys.stderr)


def cmd_lms_feedback(args) -> None:
    from instructor.workflow.lms_feedback import write_feedback_zip

    name = _one(args.assignment, "lms-feedback")
    dest, zipped, left = write_feedback_zip(name, args.lms)
    for note in left:
        print(f"left out: {note}")
    print(f"{dest}: the feedback of {len(zipped)} student(s), named for "
          + ("Canvas' Upload Submissions" if dest.stem.endswith("canvas") else
             "Moodle's Upload multiple feedback files in a zip"))
    if not zipped:
        raise SystemExit("lms-feedback: no student's feedback was zipped")


def cmd_gradescope(args) -> None:
    from instructor.workflow.gradescope import build

    for name in _assignments(args.assignment) or graded_assignments():
        out = build(name, hidden_visibility=args.hidden_visibility)
        print(f"{out} ({out.stat().st_size / 2 ** 20:.1f} MiB): upload it to Gradescope "
              "(docs/instructors.md, 'Gradescope')")


def cmd_gradescope_run(args) -> None:
    from instructor.workflow.gradescope import grade_zip

    out = grade_zip(Path(args.zip), Path(args.notebook), Path(args.results))
    for t in out["tests"]:
        print(f"{t['score']:5g}/{t['max_score']:<5g} {t['name']}  [{t['visibility']}]")
    print(f"{out['output']}\nresults.json written to {args.results}")


def cmd_sample_class(args) -> None:
    from instructor.workflow.sample_class import write_class

    names = _assignments(args.assignment) or ["02_stacked_autoencoders"]
    for name in names:
        dest = Path(args.dest) / name
        students = write_class(name, dest, n=args.n)
        print(f"{dest}: " + ", ".join(s for s, _ in students))


COMMANDS = [
    ("release", cmd_generate, "notebooks/ -> release/ (nbgrader generate_assignment)"),
    ("solutions", cmd_generate, "notebooks/ -> solutions/ (nbgrader generate_solution)"),
    ("collect", cmd_collect, "an LMS download or a folder -> submitted/<student>/<assignment>/"),
    ("autograde", cmd_autograde, "grade everyone (or --student) in parallel"),
    ("merge-shards", cmd_merge_shards, "bring autograde --shard I/N runs into the course"),
    ("feedback", cmd_feedback, "feedback/<student>/<assignment>/*.html"),
    ("grades", cmd_grades, "grades.csv"),
    ("report", cmd_report, "reports/<assignment>/index.html: scores, test cells, flags"),
    ("similarity", cmd_similarity, "pairs of similar answers, per task, into the report"),
    ("lms-export", cmd_lms_export, "the LMS's gradebook CSV with grades filled in"),
    ("lms-feedback", cmd_lms_feedback, "the feedback pages as one zip for the LMS"),
    ("gradescope", cmd_gradescope, "build/gradescope/<assignment>/autograder.zip"),
    ("gradescope-run", cmd_gradescope_run, "grade one notebook with an autograder.zip, "
     "as Gradescope would"),
    ("sample-class", cmd_sample_class, "synthetic submissions to try all of this on"),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m instructor", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, what in COMMANDS:
        p = sub.add_parser(name, help=what)
        p.set_defaults(func=func)
        if name not in ("merge-shards", "gradescope-run"):
            p.add_argument("--assignment", "-a", default=None,
                           help="assignment name(s), comma-separated (default: all)")
        if name == "collect":
            p.add_argument("source", help="Canvas' or Moodle's bulk download of the "
                           "assignment as it comes (a zip, or the folder it unpacks to: "
                           "the LMS's ids become the student ids), or a folder with "
                           "<student id>/ or <student id>.zip entries, or a zip of one; "
                           "a download in no known layout is refused, nothing written")
        if name in ("autograde", "feedback"):
            p.add_argument("--student", "-s", default=None, help="student id(s), comma-separated")
        if name == "autograde":
            p.add_argument("--jobs", "-j", type=int, default=2, help="parallel graders")
            p.add_argument("--shard", default=None, metavar="I/N",
                           help="grade only shard I of N of the students, into "
                                "shards/<assignment>/I-of-N/ "
                                "(then merge-shards)")
            p.add_argument("--skip-canary", action="store_true",
                           help="grade without first checking that the answer key gets full "
                                "marks and the stub 0 here (docs/grading.md, 'The canary')")
            p.add_argument("--rerun-canary", action="store_true",
                           help="grade the canary again even if it passed before with the "
                                "same release, grader and packages (its cache: .canary/)")
            p.add_argument("--canary-only", action="store_true",
                           help="only the canary, no student (before plain nbgrader "
                                "autograde)")
        if name == "merge-shards":
            p.add_argument("folders", nargs="*",
                           help="shard folders (default: every shards/<assignment>/I-of-N/ "
                                "of the run begun last)")
        if name == "merge-shards":
            p.add_argument("--drop-older", action="store_true",
                           help="leave out shards that graded an older or unknown release "
                                "(their students keep the grades they had, marked STALE)")
        if name == "grades":
            p.add_argument("--to", default="grades.csv")
        if name == "similarity":
            from instructor.analytics.similarity import THRESHOLD

            p.add_argument("--threshold", type=float, default=THRESHOLD,
                           help="share of the smaller answer's fingerprints shared "
                           f"(default {THRESHOLD})")
        if name == "lms-export":
            p.add_argument("--lms", choices=["canvas", "moodle"], required=True)
            p.add_argument("source", help="the gradebook CSV downloaded from the LMS")
            p.add_argument("--to", default=None, help="default: lms/<assignment>_<lms>.csv")
            p.add_argument("--mapping", default=None,
                           help="CSV of nbgrader_id,lms_id for ids that differ")
            p.add_argument("--column", default=None,
                           help="the LMS column to fill (default: the assignment's name)")
            p.add_argument("--overwrite", action="store_true",
                           help="replace grades the LMS export already holds")
            p.add_argument("--tasks", action="store_true", help="a column per task too")
            p.add_argument("--allow-stale", action="store_true",
                           help="write grades marked STALE too (graded from an earlier "
                                "hand-in or release)")
            p.add_argument("--points", type=float, default=None,
                           help="the LMS column's maximum, when the export carries none "
                           "(Moodle's gradebook export) or to override it")
        if name == "lms-feedback":
            p.add_argument("--lms", choices=["canvas", "moodle"], default=None,
                           help="default: the LMS the hand-ins were collected from")
        if name == "gradescope" and name in (sys.argv[1:] if argv is None else argv):
            from instructor.workflow.gradescope import VISIBILITIES  # the grader: 1 CPU-s

            p.add_argument("--hidden-visibility", choices=VISIBILITIES,
                           default="after_published", help="when students see the "
                           "results of test cells with hidden tests")
        if name == "gradescope-run":
            p.add_argument("zip", help="build/gradescope/<assignment>/autograder.zip")
            p.add_argument("notebook", help="a student's notebook")
            p.add_argument("--results", default="results.json")
        if name == "sample-class":
            p.add_argument("--dest", default="sample_class")
            p.add_argument("-n", type=int, default=6, help="students per assignment")
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
