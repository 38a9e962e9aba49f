"""How long does grading one submission take? Each assignment's solution, graded alone, one run.

    .venv/bin/python benchmarks/bench_grading_time.py [--assignments 01-forward-pass ...]

Grades the source notebook (solutions in place: every test runs, the slowest case) of each
assignment with ``autograder grade`` (one worker, full isolation) in a temporary copy of the course
and prints the wall time next to the target: under 60 s on a 2-core CPU, and for an assignment
with a compute budget (``BUDGET_SECONDS = ...`` in its notebook) under the budget plus 60 s.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.config import load_course  # noqa: E402
from autograder.grade import GradeOptions, grade_assignment  # noqa: E402
from autograder.release import release  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    source = REPO / "exercises" / "source"
    everything = sorted(p.name for p in source.iterdir() if (p / f"{p.name}.ipynb").exists())
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignments", nargs="*", default=everything)
    args = ap.parse_args(argv)
    print(f"{'assignment':22} {'score':>11} {'seconds':>8} {'target':>7}  ok")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "course"
        root.mkdir()
        shutil.copy(REPO / "exercises" / "nbgrader_config.py", root)
        shutil.copytree(source, root / "source")
        course = load_course(str(root))
        for a in args.assignments:
            nb = source / a / f"{a}.ipynb"
            budget = re.search(r"BUDGET_SECONDS = (\d+)", nb.read_text())
            target = 60 + (int(budget.group(1)) if budget else 0)
            release(course, a)
            subs = Path(tmp) / "subs" / a / "solution" / a
            subs.mkdir(parents=True)
            shutil.copy(nb, subs / nb.name)
            start = time.perf_counter()
            summary = grade_assignment(
                course, a, str(subs.parent.parent), GradeOptions(workers=1, progress=False)
            )
            seconds = time.perf_counter() - start
            (result,) = summary.results.values()
            score = f"{result['score']:g}/{result['max_score']:g}"
            ok = seconds < target
            failed += not ok
            print(f"{a:22} {score:>11} {seconds:8.1f} {target:7d}  {'yes' if ok else 'NO'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
