"""Benchmark: grading at scale, on this machine, in one run.

1. Submissions per minute of exercise 1 through the local pool and through a local Dask cluster
   of 2 workers (real ``dask scheduler``/``dask worker`` processes), with the same grades.
2. A burst of ``--burst`` real ``nbgrader submit`` commands into a temporary exchange, graded by
   ``autograder watch`` on that Dask cluster; one Dask worker and the watcher are killed with
   SIGKILL during the burst (both restarted); median and 95th percentile time from the
   submission's timestamp to fetchable feedback, and a check that every submission was graded
   exactly once.
   Then a queued burst: ``--queued`` more students submit while the watcher is stopped (as when
   a deadline's submissions arrive faster than one machine grades), the watcher starts, and the
   median and 95th percentile time from its start to each student's feedback, and the time to
   drain the queue, are printed.
3. The projection to N machines from the measured time per submission.

Usage::

    .venv/bin/python benchmarks/bench_scale.py [--n 40] [--burst 200] [--queued 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.services import EX1, DaskCluster, submission_json  # noqa: E402

A = EX1
COURSE_ID = "how-to-train-your-neurons"


def _course(root: Path):
    from autograder.config import load_course
    from autograder.release import release

    root.mkdir(parents=True)
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", root)
    shutil.copytree(REPO / "exercises" / "source" / A, root / "source" / A)
    course = load_course(str(root))
    release(course, A)
    return course


def _grade(course, subs: Path, *extra: str) -> float:
    cmd = [sys.executable, "-m", "autograder.cli", "--course-dir", course.root, "grade", A]
    t0 = time.monotonic()
    out = subprocess.run([*cmd, str(subs), "--quiet", *extra], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stdout + out.stderr)
    return time.monotonic() - t0


def _scores(course) -> dict:
    out = {}
    for p in (Path(course.state_dir(A)) / "results").glob("*.json"):
        r = json.loads(p.read_text())
        out[r["student"]] = [t["points"] for nb in r["notebooks"] for t in nb["tests"]]
    return out


def _submit(home: Path, student: str, exchange: Path, text: str) -> subprocess.Popen:
    (home / A).mkdir(parents=True, exist_ok=True)
    (home / A / f"{A}.ipynb").write_text(text)
    args = [sys.executable, "-m", "nbgrader", "submit", A, f"--course={COURSE_ID}"]
    args += [f"--Exchange.root={exchange}", f"--Exchange.cache={home / 'cache'}"]
    args += [f"--CourseDirectory.student_id={student}"]
    env = {**os.environ, "HOME": str(home)}
    return subprocess.Popen(
        args, cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _graded_counts(course: Any) -> Counter:
    """How many times the watcher's journal says each submission was graded."""
    from autograder.watch import read_journal

    journal = Path(course.state_dir(A)) / "watch" / "journal.jsonl"
    return Counter(r["sub"] for r in read_journal(str(journal)) if r["event"] == "graded")


def _fewer_than(running: list[subprocess.Popen], k: int) -> list[subprocess.Popen]:
    """Wait until fewer than ``k`` of the clients still run; return those that do."""
    while len(running) >= k:
        running = [r for r in running if r.poll() is None]
        time.sleep(0.02)
    return running


def _queued_burst(
    n: int, tmp: Path, exchange: Path, watch_cmd: list[str], log: Any, course: Any
) -> dict:
    """``n`` students submit while no watcher runs; then one starts. Times from its start."""
    from autograder.watch import _state, queue_status

    running: list[subprocess.Popen] = []
    for i in range(n):
        home = tmp / "home" / f"q{i:04d}"
        running.append(_submit(home, f"q{i:04d}", exchange, submission_json(broken=i % 4 == 3)))
        running = _fewer_than(running, 4)
    for r in running:
        r.wait()
    before = queue_status(course, A)
    total = before["done"] + before["failed"] + n
    start, t0 = time.time(), time.monotonic()
    watcher = subprocess.Popen(watch_cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        while True:
            q = queue_status(course, A)
            if q["done"] + q["failed"] >= total:
                break
            if watcher.poll() is not None:
                raise SystemExit((tmp / "watch.log").read_text()[-3000:])
            time.sleep(0.5)
        drain = time.monotonic() - t0
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(timeout=120)
    mine = {k: v for k, v in _state(course, A).items() if str(v.get("student")).startswith("q")}
    delays = sorted(v["released"] - start for v in mine.values() if "released" in v)
    counts = _graded_counts(course)
    qcounts = [counts[sub] for sub in mine]
    return {
        "drain_s": drain,
        "median_s": statistics.median(delays) if delays else float("nan"),
        "p95_s": delays[min(len(delays) - 1, int(0.95 * len(delays)))] if delays else float("nan"),
        "once": len(qcounts) == n and set(qcounts) == {1} and len(delays) == n,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=40, help="submissions for the throughput runs")
    p.add_argument("--burst", type=int, default=200, help="nbgrader submits in the burst")
    p.add_argument(
        "--queued", type=int, default=200, help="submits made while the watcher is stopped"
    )
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    cluster = DaskCluster(tmp / "dask")
    try:
        subs = tmp / "subs"
        for i in range(args.n):
            folder = subs / f"s{i:04d}" / A
            folder.mkdir(parents=True)
            (folder / f"{A}.ipynb").write_text(submission_json(broken=i % 4 == 3))
        local, dask = _course(tmp / "local"), _course(tmp / "dask-course")
        t_local = _grade(local, subs, "--workers", "2")
        cluster.start_scheduler()
        for w in ("w1", "w2"):
            cluster.start_worker(w)
        cluster.wait_for_workers(2)
        t_dask = _grade(dask, subs, "--scheduler", cluster.address)
        same = _scores(local) == _scores(dask)
        rate_l, rate_d = 60 * args.n / t_local, 60 * args.n / t_dask
        print(f"exercise 1, {args.n} submissions, 2 cores:")
        print(f"  local pool (2 workers)      {t_local:6.1f} s  {rate_l:6.1f} submissions/min")
        print(f"  Dask (2 workers, 1 thread)  {t_dask:6.1f} s  {rate_d:6.1f} submissions/min")
        print(f"  Dask / local = {rate_d / rate_l:.2f}x; same grades: {same}")

        # --- the burst through nbgrader submit and autograder watch ---
        course = _course(tmp / "watch-course")
        exchange = tmp / "exchange"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "nbgrader",
                "release_assignment",
                A,
                f"--Exchange.root={exchange}",
                f"--course={COURSE_ID}",
            ],
            cwd=course.root,
            check=True,
            capture_output=True,
        )
        watch_cmd = [
            sys.executable,
            "-m",
            "autograder.cli",
            "--course-dir",
            course.root,
            "watch",
            A,
            "--exchange",
            str(exchange),
            "--interval",
            "0.5",
            "--scheduler",
            cluster.address,
        ]
        log = open(tmp / "watch.log", "ab")
        watcher = subprocess.Popen(watch_cmd, stdout=log, stderr=subprocess.STDOUT)

        t0 = time.monotonic()
        running: list[subprocess.Popen] = []
        killed_worker = killed_watcher = False
        for i in range(args.burst):
            running.append(
                _submit(
                    tmp / "home" / f"u{i:04d}",
                    f"u{i:04d}",
                    exchange,
                    submission_json(broken=i % 4 == 3),
                )
            )
            running = _fewer_than(running, 4)  # 4 students' clients at a time
            n_graded = len(_graded_counts(course))
            if not killed_worker and n_graded >= max(1, args.burst // 4):
                os.kill(cluster.workers["w1"].pid, signal.SIGKILL)
                cluster.start_worker("w3")
                killed_worker = True
            if killed_worker and not killed_watcher and n_graded >= max(2, args.burst // 2):
                watcher.send_signal(signal.SIGKILL)
                watcher.wait()
                watcher = subprocess.Popen(watch_cmd, stdout=log, stderr=subprocess.STDOUT)
                killed_watcher = True
        for r in running:
            r.wait()
        from autograder.watch import queue_status

        while queue_status(course, A)["done"] + queue_status(course, A)["failed"] < args.burst:
            if watcher.poll() is not None:
                raise SystemExit((tmp / "watch.log").read_text()[-3000:])
            time.sleep(0.5)
        t_burst = time.monotonic() - t0
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(timeout=120)
        q = queue_status(course, A)
        counts = _graded_counts(course)
        once = len(counts) == args.burst and set(counts.values()) == {1}
        queued = (
            _queued_burst(args.queued, tmp, exchange, watch_cmd, log, course)
            if args.queued
            else None
        )
        print(
            f"burst of {args.burst} nbgrader submits (4 clients at a time), watch on Dask (2 "
            f"workers); killed: a worker {killed_worker}, the watcher {killed_watcher}:"
        )
        print(
            f"  all graded in {t_burst:.1f} s; submit-to-feedback median {q['median_s']} s, "
            f"95th percentile {q['p95_s']} s; every submission graded exactly once: {once}"
        )

        if queued:
            print(
                f"queued burst of {args.queued} (submitted while the watcher was stopped, then "
                f"started): queue drained in {queued['drain_s']:.1f} s; watcher start to feedback "
                f"median {queued['median_s']:.1f} s, 95th percentile {queued['p95_s']:.1f} s; "
                f"every submission graded exactly once: {queued['once']}"
            )

        per_task = 2 * t_dask / args.n  # seconds of one worker slot per submission
        print(
            f"projection (measured {per_task:.2f} s per submission per worker slot; one slot "
            "per core; linear in machines, the scheduler's overhead is ~ms per task):"
        )
        for machines, cores in ((1, 2), (10, 16), (50, 16)):
            rate = 60 * machines * cores / per_task
            print(
                f"  {machines:3d} machine(s) x {cores:2d} cores: {rate:8.0f} submissions/min "
                f"(1,000 submissions in {1000 / rate:.1f} min)"
            )
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
