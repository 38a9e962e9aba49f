"""Resumability: SIGKILL a grading run midway, run again: every submission graded exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

A = "01-forward-pass"
REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "exercises" / "source" / A / f"{A}.ipynb"
N = 8


def _slow_submission(delay: float) -> str:
    nb = json.loads(SOURCE.read_text())
    nb["cells"].append(
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": f"import time\ntime.sleep({delay})\n",
        }
    )
    return json.dumps(nb)


def _journal(course) -> list[dict]:
    path = Path(course.state_dir(A)) / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _grade_cmd(course, subs: Path, runner_path: list[str]) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "autograder.cli",
        "--course-dir",
        course.root,
        "grade",
        A,
        str(subs),
        "--workers",
        "1",
        "--quiet",
        "--timeout",
        "30",
    ]
    for p in runner_path:
        cmd += ["--runner-path", p]
    return cmd


@pytest.mark.slow
def test_sigkill_midway_then_resume(ag_course, ag_runner_path, tmp_path):
    subs = tmp_path / "subs"
    for i in range(N):
        folder = subs / f"student{i:02d}" / A
        folder.mkdir(parents=True)
        (folder / f"{A}.ipynb").write_text(_slow_submission(0.4))
    cmd = _grade_cmd(ag_course, subs, ag_runner_path)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while sum(r["event"] == "graded" for r in _journal(ag_course)) < 2:
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, "the first run graded nothing in time"
        time.sleep(0.05)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = Counter(r["student"] for r in _journal(ag_course) if r["event"] == "graded")
    assert 2 <= len(first) < N, f"the kill should land midway, graded: {sorted(first)}"
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"processes of the killed run survived: {alive}"

    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"({len(first)} already graded)" in out.stdout, out.stdout
    graded = Counter(r["student"] for r in _journal(ag_course) if r["event"] == "graded")
    assert set(graded) == {f"student{i:02d}" for i in range(N)}
    assert all(n == 1 for n in graded.values()), f"graded twice: {graded}"

    from autograder.gradebook import open_gradebook

    with open_gradebook(ag_course) as gb:
        scores = {s.id: gb.find_submission(A, s.id).score for s in gb.students}
    assert scores == {f"student{i:02d}": 18.0 for i in range(N)}
    for i in range(N):
        result = Path(ag_course.state_dir(A)) / "results" / f"student{i:02d}.json"
        assert json.loads(result.read_text())["score"] == 18
    assert not os.path.exists(Path(ag_course.state_dir(A)) / "journal.jsonl.old")
    jobs = Path(ag_course.state_dir(A)) / "jobs"
    assert list(jobs.iterdir()) == [], "the killed run's job folders should be cleaned up"
