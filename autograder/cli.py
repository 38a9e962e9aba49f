"""The ``autograder`` command.

::

    autograder release  <assignment>
    autograder roster   <class-list.csv>
    autograder grade    <assignment> [<submissions>] [--workers N] [--timeout S] [--memory M]
                        [--regrade [STUDENT ...]] [--scheduler tcp://HOST:PORT]
    autograder export   <file.csv> [--assignment A]... [--format long|canvas|moodle]
    autograder collect  <assignment> <zip-or-folder> [--pattern REGEX]
    autograder hand-grade <assignment> <student> <grade id> [points] [--comment TEXT]
    autograder feedback <assignment> [--zip FILE] [--lms canvas|moodle|plain]
    autograder report   <assignment>
    autograder check    <notebook.ipynb> [--source source/<assignment>]
    autograder watch    <assignment>... [--exchange DIR] [--min-interval S] [--deadline D] [--once]
    autograder status   [<assignment>...]

The course directory is ``--course-dir``, else ``$AUTOGRADER_COURSE_DIR``, else the current folder
when it holds ``nbgrader_config.py``, else ``./exercises``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections import Counter

from autograder.config import load_course
from autograder.errors import AutograderError
from autograder.safe import log_text

__all__ = ["main"]


def _cmd_release(args: argparse.Namespace) -> int:
    from autograder.release import ReleaseError, release

    course = load_course(args.course_dir)
    try:
        files = release(course, args.assignment)
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for f in files:
        print(f"released {f}")
    print("checked: no solution code and no hidden tests in the release")
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from autograder.grade import GradeOptions, grade_assignment

    course = load_course(args.course_dir)
    opts = GradeOptions(
        workers=args.workers,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        memory_mb=args.memory,
        regrade=args.regrade == [],
        regrade_students=list(args.regrade or []),
        progress=not args.quiet,
        runner_path=[os.path.abspath(p) for p in args.runner_path],
        allow_unisolated=args.allow_unisolated,
        scheduler=args.scheduler,
    )
    summary = grade_assignment(course, args.assignment, args.submissions, opts)
    statuses = Counter(r.status for r in summary.results.values())
    print(
        f"graded {len(summary.graded)} submission(s) in {summary.seconds:.1f} s "
        f"({len(summary.skipped)} already graded); "
        + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    )
    if summary.resubmitted:
        print(f"graded again (changed since graded): {', '.join(summary.resubmitted)}")
    if summary.isolation:
        print("isolation: " + json.dumps(summary.isolation, indent=1))
    for shown, why in summary.refused:
        print(f"REFUSED {shown}: {why}", file=sys.stderr)
    if summary.refused:
        print(f"{len(summary.refused)} submission(s) refused, not graded (see above)")
    for shown, why in summary.unfinished:
        print(f"NOT GRADED {shown}: {why}", file=sys.stderr)
    if summary.unfinished:
        print(
            f"{len(summary.unfinished)} submission(s) not graded in this run; rerun to grade them"
        )
        return 3
    return 0


def _watch_options(args: argparse.Namespace):
    from autograder.grade import GradeOptions
    from autograder.watch import WatchOptions

    return WatchOptions(
        exchange=args.exchange,
        interval=args.interval,
        min_interval=args.min_interval,
        deadline=args.deadline,
        show_before_deadline=args.show,
        grade=GradeOptions(
            workers=args.workers,
            timeout=args.timeout,
            progress=False,
            runner_path=[os.path.abspath(p) for p in args.runner_path],
            allow_unisolated=args.allow_unisolated,
            scheduler=args.scheduler,
        ),
    )


def _cmd_watch(args: argparse.Namespace) -> int:
    from autograder.watch import watch, watch_once

    course = load_course(args.course_dir)
    opts = _watch_options(args)
    if args.once:
        n = watch_once(course, args.assignments, opts)
        print(f"graded {n} submission(s)")
        return 0
    print(f"watching {', '.join(args.assignments)} (stop with Ctrl-C or SIGTERM)", flush=True)
    watch(course, args.assignments, opts)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from autograder.watch import queue_status

    course = load_course(args.course_dir)
    for assignment in args.assignments or course.assignments():
        q = queue_status(course, assignment)
        med = "-" if q["median_s"] is None else f"{q['median_s']:.1f} s"
        p95 = "-" if q["p95_s"] is None else f"{q['p95_s']:.1f} s"
        print(
            f"{assignment}: waiting {q['waiting']}, running {q['running']}, done {q['done']}, "
            f"failed {q['failed']} (superseded {q['superseded']}, late {q['late']}); "
            f"submit-to-feedback median {med}, 95th percentile {p95}"
        )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from autograder.gradebook import export_csv

    course = load_course(args.course_dir)
    n = export_csv(course, args.file, args.assignment or None, args.format)
    print(f"wrote {n} row(s) to {args.file} ({args.format})")
    return 0


def _cmd_hand(args: argparse.Namespace) -> int:
    from autograder.gradebook import hand_grade

    course = load_course(args.course_dir)
    hand_grade(course, args.assignment, args.student, args.cell, args.points, args.comment)
    print(f"{log_text(args.student)} {log_text(args.cell)}: saved")
    return 0


def _cmd_roster(args: argparse.Namespace) -> int:
    from autograder.lms import RosterError, read_roster, save_roster

    course = load_course(args.course_dir)
    try:
        layout, entries = read_roster(args.file)
    except RosterError as exc:
        print(f"error: {log_text(exc)}", file=sys.stderr)
        return 1
    save_roster(
        os.path.join(course.root, ".autograder"), layout, entries, os.path.abspath(args.file)
    )
    print(f"roster: {len(entries)} student(s) from {args.file} ({layout} layout)")
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    from autograder.collect import CollectError, collect

    course = load_course(args.course_dir)
    try:
        report = collect(course, args.assignment, args.source, args.pattern)
    except CollectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    layouts = ", ".join(f"{n} {k}" for k, n in sorted(report.layouts.items())) or "none"
    print(f"layout: {layouts} entr(y/ies)")
    for student, files in sorted(report.imported.items()):
        print(f"{log_text(student)}: {log_text(', '.join(files))}")
    for student, base, kept, older in report.conflicts:
        print(
            f"TWO FILES {log_text(student)} {log_text(base)}: kept {log_text(kept, 300)} "
            f"(newer), archived {log_text(older, 300)}",
            file=sys.stderr,
        )
    for student, where in report.older.items():
        print(
            f"OLDER {log_text(student)}: this export's version is older than the one already "
            f"collected, which stays; archived in {log_text(where)}",
            file=sys.stderr,
        )
    for student in report.resubmitted:
        print(f"RESUBMITTED {log_text(student)}: previous version archived, will be regraded")
    roster = os.path.join(course.root, ".autograder", "roster.json")
    with contextlib.suppress(OSError, ValueError):
        with open(roster, encoding="utf-8") as fh:
            roster = json.load(fh).get("source") or roster
    for student in report.not_on_roster:
        print(
            f"NOT ON ROSTER {log_text(student)}: not in {log_text(roster)}; imported all the "
            "same: add them to the roster (autograder roster FILE) or check the export",
            file=sys.stderr,
        )
    for name, why in report.unmatched:
        print(f"UNMATCHED {log_text(name, 300)}: {log_text(why)}", file=sys.stderr)
    if report.late and args.assignment not in (course.settings.get("due_dates") or {}):
        print(
            f"NOTE: the export marks {len(report.late)} submission(s) LATE, but no due date is "
            f"set: add c.Autograder.due_dates = {{{args.assignment!r}: 'YYYY-MM-DD HH:MM:SS UTC'}} "
            "to nbgrader_config.py so that late penalties apply",
            file=sys.stderr,
        )
    print(
        f"collected {len(report.imported)} student(s); {len(report.resubmitted)} resubmitted; "
        f"{len(report.conflicts)} with two files; {len(report.unmatched)} unmatched"
    )
    return 0


def _cmd_feedback(args: argparse.Namespace) -> int:
    from autograder.feedback import write_feedback

    course = load_course(args.course_dir)
    problems: list[tuple[str, str]] = []
    missing: list[str] = []
    paths = write_feedback(course, args.assignment, problems, missing)
    for name, why in problems:
        print(f"SKIPPED {name}: {why}", file=sys.stderr)
    for student in missing:
        print(f"MISSING {log_text(student)}: no submission, no feedback")
    where = os.path.join(course.root, "autograder-feedback")
    print(f"wrote {len(paths)} feedback file(s) under {where}; {len(missing)} missing")
    if args.zip:
        from autograder.feedback import feedback_zip

        n = feedback_zip(course, args.assignment, args.zip, args.lms)
        print(f"packed {n} feedback file(s) into {args.zip} for the LMS's bulk upload")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from autograder.check import check_notebook, format_report

    result = check_notebook(args.notebook, source_dir=args.source)
    print(format_report(result))
    return 0 if all(t.passed for t in result.tests if t.kind == "auto") else 2


def _cmd_report(args: argparse.Namespace) -> int:
    from autograder.report import write_report

    course = load_course(args.course_dir)
    out = write_report(course, args.assignment)
    print(f"report: {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the tests and ``--help``).

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    p = argparse.ArgumentParser(prog="autograder", description=__doc__.split("\n\n")[0])
    p.add_argument("--course-dir", help="nbgrader course directory (default: see below)")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("release", help="generate the student version and check it for leaks")
    r.add_argument("assignment")
    r.set_defaults(func=_cmd_release)

    g = sub.add_parser("grade", help="grade submissions in parallel into the gradebook")
    g.add_argument("assignment")
    g.add_argument(
        "submissions", nargs="?", help="<dir>/<student>/<assignment>/ (default: submitted/)"
    )
    g.add_argument("--workers", type=int, help="parallel submissions (default: one per core)")
    g.add_argument("--timeout", type=float, help="seconds per submission (default 120)")
    g.add_argument("--cell-timeout", type=float, help="seconds per cell or call (default 30)")
    g.add_argument("--memory", type=int, help="sandbox memory limit in MiB (default 1024)")
    g.add_argument(
        "--regrade",
        nargs="*",
        metavar="STUDENT",
        help="grade again: the named students only, or everyone when none is named",
    )
    g.add_argument(
        "--allow-unisolated",
        action="store_true",
        help="grade even where bubblewrap cannot isolate student code (results say so; "
        "only for trusted submissions)",
    )
    g.add_argument(
        "--scheduler",
        help="grade on this Dask cluster (tcp://HOST:PORT; default: c.Autograder.scheduler, "
        "else the local process pool)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument(
        "--runner-path",
        action="append",
        default=[],
        help="extra import path for the trusted test runner only",
    )
    g.set_defaults(func=_cmd_grade)

    w = sub.add_parser("watch", help="grade on submit: follow nbgrader's exchange")
    w.add_argument("assignments", nargs="+")
    w.add_argument("--exchange", help="nbgrader's exchange root (default: c.Exchange.root)")
    w.add_argument("--interval", type=float, default=2.0, help="seconds between looks")
    w.add_argument(
        "--min-interval",
        type=float,
        help="least seconds between two graded submissions of a student (c.Autograder.min_interval)",
    )
    w.add_argument("--deadline", help="later submissions are marked late (c.Autograder.deadline)")
    w.add_argument(
        "--show",
        action="append",
        help="grade-id pattern of a test shown before the deadline (repeatable; default: the "
        "tests that are not hidden; c.Autograder.show_before_deadline)",
    )
    w.add_argument("--once", action="store_true", help="grade what is there, then exit")
    w.add_argument("--scheduler", help="grade on this Dask cluster (tcp://HOST:PORT)")
    w.add_argument("--workers", type=int, help="parallel submissions on the local pool")
    w.add_argument("--timeout", type=float, help="seconds per submission")
    w.add_argument("--allow-unisolated", action="store_true", help="as for grade")
    w.add_argument("--runner-path", action="append", default=[], help="as for grade")
    w.set_defaults(func=_cmd_watch)

    st = sub.add_parser("status", help="the watcher's queue and submit-to-feedback times")
    st.add_argument("assignments", nargs="*")
    st.set_defaults(func=_cmd_status)

    e = sub.add_parser("export", help="write scores from the gradebook as CSV")
    e.add_argument("file")
    e.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    e.add_argument(
        "--format",
        choices=("long", "canvas", "moodle"),
        default="long",
        help="long (default), canvas (gradebook import) or moodle (grade import)",
    )
    e.set_defaults(func=_cmd_export)

    c = sub.add_parser("collect", help="import an LMS zip export or a folder into submitted/")
    c.add_argument("assignment")
    c.add_argument("source", help="a .zip file or a folder")
    c.add_argument("--pattern", help="regex with a group named 'student' applied to each path")
    c.set_defaults(func=_cmd_collect)

    f = sub.add_parser("feedback", help="per-student HTML feedback (no hidden test code)")
    f.add_argument("assignment")
    f.add_argument("--zip", help="also pack every feedback file into this zip for the LMS")
    f.add_argument(
        "--lms",
        choices=("canvas", "moodle", "plain"),
        help="file names in the zip (default: the layout each student was collected from)",
    )
    f.set_defaults(func=_cmd_feedback)

    h = sub.add_parser("hand-grade", help="enter a hand grade and/or comment (like formgrader)")
    h.add_argument("assignment")
    h.add_argument("student")
    h.add_argument("cell", help="the cell's grade id")
    h.add_argument("points", type=float, nargs="?", help="points (omit for a comment only)")
    h.add_argument("--comment", help="the grader's comment shown in the student's feedback")
    h.set_defaults(func=_cmd_hand)

    ro = sub.add_parser(
        "roster", help="the class list: Canvas/Moodle export or id,name,email,sis_id"
    )
    ro.add_argument("file")
    ro.set_defaults(func=_cmd_roster)

    ck = sub.add_parser(
        "check", help="run a notebook's public tests as the grader would, with the diagnosis"
    )
    ck.add_argument("notebook")
    ck.add_argument("--source", help="the assignment's source folder (instructors)")
    ck.set_defaults(func=_cmd_check)

    rp = sub.add_parser("report", help="score histogram, most failed tests, flagged submissions")
    rp.add_argument("assignment")
    rp.set_defaults(func=_cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (AutograderError, FileNotFoundError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
