"""Benchmark: the instructor's round trip on a synthetic Canvas export (issue 14).

Builds a Canvas "Download Submissions" zip of ``--n`` students of exercise 1 (the mix of
``bench_autograder.py``: correct, partly wrong, blank and broken notebooks), with shared squashed
names (many Smiths), ``LATE`` flags and files uploaded twice (Canvas's ``-1``), and a gradebook
roster with three more students who did not submit. Then times, through the command line, each
step: ``roster`` + ``collect``, ``grade``, ``feedback --zip``, ``export`` (canvas, moodle, long).

Usage::

    .venv/bin/python benchmarks/bench_lms_round_trip.py [--n 300] [--workers N] [--keep DIR]
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_autograder import (  # noqa: E402
    A,
    _course,
    bench_setup,
    generate,
    make_submissions,
)

NAMES = ["smithjohn", "smithjohn", "doejane", "leeann", "nguyenbao", "garciamaria"]
CONFIG = f"""
c.Autograder.due_dates = {{"{A}": "2026-11-01 12:00:00 UTC"}}
c.AssignLatePenalties.plugin_class = "autograder.late.SubtractPenalty"
c.Autograder.lms_assignment_ids = {{"{A}": "777"}}
"""


def build_export(stage: Path, out: Path, roster: Path, n: int) -> None:
    """The Canvas zip and the gradebook roster from ``stage/<student>/<A>/<A>.ipynb``."""
    due = time.mktime((2026, 11, 1, 12, 0, 0, 0, 0, -1))
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf,
        roster.open("w", newline="") as fh,
    ):
        w = csv.writer(fh)
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{A} (777)"])
        w.writerow(["Points Possible", "", "", "", "", 20])
        for i, folder in enumerate(sorted(stage.iterdir())):
            uid, sub, name = 1000 + i, 5000 + i, NAMES[i % len(NAMES)]
            late = i % 10 == 3
            when = due + (3 * 3600 if late else -3600)
            data = (folder / A / f"{A}.ipynb").read_bytes()
            prefix = f"{name}{'_LATE' if late else ''}_{uid}_{sub}_"
            if i % 20 == 7:  # uploaded twice: the older one must not be graded
                info = zipfile.ZipInfo(f"{prefix}{A}.ipynb", time.localtime(when - 600)[:6])
                zf.writestr(info, b'{"older": true}')
                info = zipfile.ZipInfo(f"{prefix}{A}-1.ipynb", time.localtime(when)[:6])
            else:
                info = zipfile.ZipInfo(f"{prefix}{A}.ipynb", time.localtime(when)[:6])
            zf.writestr(info, data)
            w.writerow([name, uid, f"S{uid}", f"u{uid}", "A", ""])
        for j in range(3):  # on the roster, no submission
            w.writerow(["absent", 9000 + j, f"S{9000 + j}", f"u{9000 + j}", "B", ""])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the time of each step."""
    args, base, env = bench_setup(__doc__, 300, "bench-lms-", argv)
    course = _course(base, "course")
    with open(course / "nbgrader_config.py", "a") as fh:
        fh.write(CONFIG)
    generate(course, env)
    stage = base / "stage"
    make_submissions(stage, course / "release" / A / f"{A}.ipynb", args.n)
    export, roster = base / "submissions.zip", base / "gradebook.csv"
    build_export(stage, export, roster, args.n)
    cli = [sys.executable, "-m", "autograder.cli", "--course-dir", str(course)]
    workers = ["--workers", str(args.workers)] if args.workers else []
    steps = [
        ("roster + collect", [["roster", str(roster)], ["collect", A, str(export)]]),
        ("grade", [["grade", A, "--quiet", *workers]]),
        ("feedback --zip", [["feedback", A, "--zip", str(base / "feedback.zip")]]),
        (
            "export canvas + moodle + long",
            [
                ["export", str(base / "canvas.csv"), "--format", "canvas"],
                ["export", str(base / "moodle.csv"), "--format", "moodle"],
                ["export", str(base / "long.csv")],
            ],
        ),
    ]
    print(f"{args.n} submitting students (+3 on the roster only); cores: {os.cpu_count()}")
    for label, commands in steps:
        start = time.perf_counter()
        for c in commands:
            proc = subprocess.run(
                [*cli, *c], cwd=Path(__file__).resolve().parents[1], env=env, text=True,
                capture_output=True,
            )  # fmt: skip
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-2000:])
                return 1
            lines = proc.stdout.strip().splitlines() or [""]
            last = next((x for x in lines if x.startswith(("graded", "collected"))), lines[-1])
        print(f"{label:32s} {time.perf_counter() - start:7.1f} s   ({last})")
    rows = list(csv.reader((base / "canvas.csv").open()))
    print(f"canvas.csv: {len(rows) - 2} student rows; output in {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
