"""Grade on submit: real ``nbgrader submit`` and ``nbgrader fetch_feedback`` commands against a
temporary exchange, ``autograder watch`` in between (killed with SIGKILL and restarted), and
``autograder status``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.services import EX1, submission_json

A = EX1
REPO = Path(__file__).resolve().parents[1]
COURSE_ID = "how-to-train-your-neurons"


def _nbgrader(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("JUPYTERHUB_USER", None)
    out = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out


class Student:
    def __init__(self, root: Path, name: str, exchange: Path) -> None:
        self.name, self.exchange = name, exchange
        self.home = root / "home" / name
        (self.home / A).mkdir(parents=True)

    def _common(self) -> list[str]:
        return [
            f"--course={COURSE_ID}",
            f"--Exchange.root={self.exchange}",
            f"--Exchange.cache={self.home / 'cache'}",
            f"--CourseDirectory.student_id={self.name}",
        ]

    def submit(self, text: str) -> None:
        (self.home / A / f"{A}.ipynb").write_text(text)
        _nbgrader(["submit", A, *self._common()], self.home, self.home)
        time.sleep(0.01)  # distinct timestamps

    def fetch_feedback(self) -> dict[str, str]:
        _nbgrader(["fetch_feedback", A, *self._common()], self.home, self.home)
        out = {}
        for path in (self.home / A / "feedback").glob("*/*.html"):
            out[path.parent.name] = path.read_text()
        return out


def _release(course, exchange: Path) -> None:
    _nbgrader(
        ["release_assignment", A, f"--Exchange.root={exchange}", f"--course={COURSE_ID}"],
        Path(course.root),
        Path(course.root),
    )


def _watch_cmd(course, exchange: Path, runner_path: list[str], *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "autograder.cli", "--course-dir", course.root, "watch", A]
    cmd += ["--exchange", str(exchange), "--timeout", "60", "--interval", "0.5", *extra]
    for p in runner_path:
        cmd += ["--runner-path", p]
    return cmd


def _status(course) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "--course-dir", course.root, "status", A],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _journal(course) -> list[dict]:
    from autograder.watch import read_journal

    return read_journal(os.path.join(course.state_dir(A), "watch", "journal.jsonl"))


@pytest.mark.slow
def test_submit_watch_fetch_feedback(ag_course, ag_runner_path, tmp_path):
    exchange = tmp_path / "exchange"
    _release(ag_course, exchange)
    ada, bob = (Student(tmp_path, n, exchange) for n in ("ada", "bob"))
    ada.submit(submission_json())
    bob.submit(submission_json(broken=True))
    out = subprocess.run(
        _watch_cmd(ag_course, exchange, ag_runner_path, "--once"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "graded 2 submission(s)" in out.stdout
    status = _status(ag_course)
    assert "waiting 0, running 0, done 2, failed 0" in status, status
    assert "median" in status and "median -" not in status

    fa, fb = ada.fetch_feedback(), bob.fetch_feedback()
    assert len(fa) == len(fb) == 1, (fa, fb)
    page_a, page_b = next(iter(fa.values())), next(iter(fb.values()))
    assert "ada" in page_a and "bob" not in page_a
    assert "bob" in page_b and "ada" not in page_b
    # before the deadline only the tests that are not hidden are shown
    assert "sigmoid_public" in page_a and "sigmoid_hidden" not in page_a
    assert "shown after the deadline" in page_a

    from autograder.gradebook import open_gradebook

    with open_gradebook(ag_course) as gb:
        assert gb.find_submission(A, "ada").score == 18
        assert gb.find_submission(A, "bob").score < 18
    stamped = Path(ag_course.submitted_dir) / "ada" / A / "timestamp.txt"
    assert stamped.read_text().strip()

    # the same submissions graded by the batch path (from the submitted/ the watcher filled)
    # get the same grades, test by test
    from autograder.grade import GradeOptions, grade_assignment

    opts = GradeOptions(workers=2, progress=False, runner_path=ag_runner_path, timeout=60)
    batch = grade_assignment(ag_course, A, None, opts).results
    watched = {}
    for path in (Path(ag_course.state_dir(A)) / "watch" / "results").glob("*.json"):
        r = json.loads(path.read_text())
        watched[r["student"]] = r
    assert set(batch) == set(watched) == {"ada", "bob"}

    def tests(r):
        return [
            (t["grade_id"], t["points"], t["status"]) for n in r["notebooks"] for t in n["tests"]
        ]

    for student in batch:
        assert tests(batch[student]) == tests(watched[student]), student


@pytest.mark.slow
def test_rate_limit_deadline_and_sigkill(ag_course, ag_runner_path, tmp_path):
    exchange = tmp_path / "exchange"
    _release(ag_course, exchange)
    students = [Student(tmp_path, f"s{i}", exchange) for i in range(4)]
    for st in students:
        st.submit(submission_json(sleep=2.0))
    cmd = _watch_cmd(
        ag_course,
        exchange,
        ag_runner_path,
        "--workers",
        "2",
        "--min-interval",
        "3600",
        "--deadline",
        "2000-01-01 00:00:00 UTC",
        "--show",
        "*_public",
    )
    watcher = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while not any(r["event"] == "graded" for r in _journal(ag_course)):
        assert watcher.poll() is None, watcher.stdout.read().decode()
        assert time.monotonic() < deadline, "nothing graded in time"
        time.sleep(0.1)
    watcher.send_signal(signal.SIGKILL)
    watcher.wait()
    first = Counter(r["sub"] for r in _journal(ag_course) if r["event"] == "graded")
    assert 1 <= len(first) < 4, first

    # a student already graded submits again at once: rate-limited (waits); the others are
    # graded after the restart
    who = {r["sub"]: r["student"] for r in _journal(ag_course) if r["event"] == "seen"}
    again = next(st for st in students if st.name == who[next(iter(first))])
    again.submit(submission_json())
    watcher = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while "done 4" not in _status(ag_course):
            assert watcher.poll() is None, watcher.stdout.read().decode()
            assert time.monotonic() < deadline, _status(ag_course)
            time.sleep(0.5)
        time.sleep(1.5)  # a round later: the resubmission is still held back
        status = _status(ag_course)
    finally:
        watcher.send_signal(signal.SIGTERM)
        try:
            watcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            watcher.kill()
    assert "waiting 1, running 0, done 4, failed 0" in status, status
    assert "late 4" in status, status
    graded = Counter(r["sub"] for r in _journal(ag_course) if r["event"] == "graded")
    assert len(graded) == 4 and set(graded.values()) == {1}, graded
    for st in students:
        pages = st.fetch_feedback()
        assert len(pages) == 1, (st.name, pages)
        page = next(iter(pages.values()))
        assert st.name in page and "late" in page
        # after the deadline every test's result is shown
        assert "sigmoid_hidden" in page
