"""Grading on a Dask cluster: real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

The same submissions graded by the local pool and by the cluster get identical grades; a worker
killed mid-task has its task graded elsewhere, once; a worker that cannot isolate refuses its
tasks (nothing is journaled, a later run grades them); a result that arrives twice is stored
once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.services import DaskCluster, read_journal, submission_json

A = "01-forward-pass"
REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "exercises" / "source" / A / f"{A}.ipynb"

pytest.importorskip("distributed", reason="dask/distributed not installed (requirements.lock)")


_notebook = submission_json


def _submissions(root: Path, sleepy: int = 0) -> Path:
    subs = root / "subs"
    folders = {
        "ada": _notebook(),
        "bob": _notebook(broken=True),
        **{f"slow{i}": _notebook(sleep=5.0) for i in range(sleepy)},
    }
    for student, text in folders.items():
        folder = subs / student / A
        folder.mkdir(parents=True)
        (folder / f"{A}.ipynb").write_text(text)
    link = subs / "eve" / A  # a symlink to the source is refused by the runner, remotely too
    link.mkdir(parents=True)
    (link / f"{A}.ipynb").symlink_to(SOURCE)
    return subs


def _cmd(course, subs: Path, runner_path: list[str], *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "autograder.cli", "--course-dir", course.root, "grade", A]
    cmd += [str(subs), "--quiet", "--timeout", "60", *extra]
    for p in runner_path:
        cmd += ["--runner-path", p]
    return cmd


def _grades(course) -> dict:
    """Student -> (score, per-test points and status) from the results and the gradebook."""
    from autograder.gradebook import open_gradebook

    out = {}
    for path in sorted((Path(course.state_dir(A)) / "results").glob("*.json")):
        r = json.loads(path.read_text())
        tests = [
            (t["grade_id"], t["points"], t["status"]) for nb in r["notebooks"] for t in nb["tests"]
        ]
        out[r["student"]] = (r["status"], r["score"], tests)
    with open_gradebook(course) as gb:
        book = {s.id: gb.find_submission(A, s.id).score for s in gb.students}
    assert book == {k: v[1] for k, v in out.items()}
    return out


@pytest.fixture
def cluster(tmp_path):
    c = DaskCluster(tmp_path / "dask")
    try:
        c.start_scheduler()
        yield c
    finally:
        c.stop()


@pytest.mark.slow
def test_dask_same_grades_and_worker_killed_midway(ag_course, ag_runner_path, tmp_path, cluster):
    local_root = tmp_path / "local-course"
    shutil.copytree(ag_course.root, local_root)
    from autograder.config import load_course

    local = load_course(str(local_root))
    subs = _submissions(tmp_path, sleepy=2)

    t0 = time.monotonic()
    out = subprocess.run(
        _cmd(local, subs, ag_runner_path, "--workers", "2"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    local_s = time.monotonic() - t0
    assert out.returncode == 0, out.stdout + out.stderr
    expected = _grades(local)
    assert expected["ada"][1] == expected["slow0"][1] == 18
    assert expected["bob"][1] < 18 and expected["eve"][0] == "invalid-notebook"

    cluster.start_worker("w1")
    cluster.start_worker("w2")
    cluster.wait_for_workers(2)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        _cmd(ag_course, subs, ag_runner_path, "--scheduler", cluster.address),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline:  # kill a worker busy with a slow one
        assert proc.poll() is None, proc.stdout.read()
        busy = [w for w, keys in cluster.processing().items() if any("slow" in k for k in keys)]
        if busy:
            name = cluster.worker_names()[busy[0]]
            time.sleep(1.0)  # the runner and its sandbox are working on it now
            os.kill(cluster.workers[name].pid, signal.SIGKILL)
            killed = name
        else:
            time.sleep(0.2)
    assert killed, "no worker was seen running a slow submission"
    # a fresh worker joins, as a batch system would replace a lost node
    cluster.start_worker("w3")
    text, _ = proc.communicate(timeout=300)
    dask_s = time.monotonic() - t0
    assert proc.returncode == 0, text + cluster.log("scheduler")
    assert _grades(ag_course) == expected
    graded = Counter(r["student"] for r in read_journal(ag_course) if r["event"] == "graded")
    assert graded == Counter({s: 1 for s in expected}), graded
    log = (Path(ag_course.state_dir(A)) / "grade.log").read_text()
    assert "executor: Dask scheduler" in log
    results = Path(ag_course.state_dir(A)) / "results"
    workers = {json.loads(p.read_text()).get("worker") for p in results.glob("*.json")}
    assert workers - {None}, "results should say which worker graded them"
    print(f"local pool {local_s:.1f} s, Dask (one worker killed) {dask_s:.1f} s")


NO_ISOLATION = '''
"""Preloaded into a dask worker: this worker cannot isolate (as without bubblewrap)."""
import autograder.jobs
from autograder.isolation import NotIsolated


def _probe():
    raise NotIsolated("bubblewrap cannot create namespaces here (simulated by the test)")


autograder.jobs.probe = _probe
'''


@pytest.mark.slow
def test_worker_that_cannot_isolate_refuses(ag_course, ag_runner_path, tmp_path, cluster):
    preload = tmp_path / "no_isolation.py"
    preload.write_text(NO_ISOLATION)
    cluster.start_worker("bare", preload=str(preload))
    cluster.wait_for_workers(1)
    subs = _submissions(tmp_path)
    cmd = _cmd(ag_course, subs, ag_runner_path, "--scheduler", cluster.address)
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "refuses to grade" in out.stderr and "simulated by the test" in out.stderr, out.stderr
    assert "NOT GRADED ada" in out.stderr
    assert not [r for r in read_journal(ag_course) if r["event"] == "graded"]
    assert not (Path(ag_course.state_dir(A)) / "results" / "ada.json").exists()

    # an isolating worker joins the refusing one: what the bare worker refuses goes to it, and
    # the next run grades everyone
    cluster.start_worker("good")
    cluster.wait_for_workers(2)
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr + cluster.log("good")
    grades = _grades(ag_course)
    assert grades["ada"][1] == 18 and set(grades) == {"ada", "bob", "eve"}
    results = Path(ag_course.state_dir(A)) / "results"
    assert all(
        json.loads(p.read_text())["notebooks"][0].get("isolation") is not None
        for p in results.glob("*.json")
        if "eve" not in p.name
    )


def test_result_arriving_twice_is_stored_once(ag_course, ag_runner_path, tmp_path, monkeypatch):
    """An executor that delivers every result twice (a retried task whose first run finished
    after all): the coordinator journals and stores each submission once."""
    import autograder.grade as grade
    from autograder.executors import LocalExecutor

    class Twice(LocalExecutor):
        def run(self, tasks):
            for task, result in super().run(tasks):
                yield task, result
                yield task, result

    monkeypatch.setattr(grade, "make_executor", lambda _s, w, j, specs, *_a: Twice(w, j, specs))
    subs = tmp_path / "subs"
    for student in ("ada", "ben"):
        (subs / student / A).mkdir(parents=True)
        (subs / student / A / f"{A}.ipynb").write_text(_notebook())
    opts = grade.GradeOptions(workers=2, progress=False, runner_path=ag_runner_path, timeout=60)
    summary = grade.grade_assignment(ag_course, A, str(subs), opts)
    assert sorted(summary.graded) == ["ada", "ben"]
    events = Counter((r["event"], r["student"]) for r in read_journal(ag_course))
    assert set(events.values()) == {1}, events
    log = (Path(ag_course.state_dir(A)) / "grade.log").read_text()
    assert log.count("duplicate result ignored") == 2
