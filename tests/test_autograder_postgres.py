"""The gradebook on a real PostgreSQL server (Debian's ``postgresql``, started in a temporary
folder by the test): grading and hand grading by several teaching assistants at once, and the
server restarted mid-run: nothing is lost, the run retries.

Skipped, with the reason, only when the server binaries are absent (``make setup`` installs them
through ``scripts/install-postgresql.sh``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.services import Postgres, postgres_bindir, read_journal, submission_json

A = "01-forward-pass"
REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "exercises" / "source" / A / f"{A}.ipynb"
N = 6
TAS = 3

pytest.importorskip("psycopg", reason="psycopg not installed (requirements.lock)")


@pytest.fixture(scope="module")
def pg():
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip(
            "Debian's PostgreSQL server binaries are not in /usr/lib/postgresql/*/bin: run "
            "`make setup` (scripts/install-postgresql.sh installs the postgresql package)"
        )
    server = Postgres(bindir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


def pg_course(course, pg: Postgres, db: str):
    """``course`` with its gradebook in a new PostgreSQL database ``db`` (released into it)."""
    from autograder.config import load_course
    from autograder.release import release

    pg.createdb(db)
    with open(Path(course.root) / "nbgrader_config.py", "a") as fh:
        fh.write(f"\nc.CourseDirectory.db_url = {pg.url(db)!r}\n")
    course = load_course(course.root)
    assert course.db_url.startswith("postgresql+psycopg://")
    release(course, A)
    return course


#: One teaching assistant in formgrader: for each of their students, once the submission is in
#: the gradebook, score the written answer and comment on it (what formgrader's API does), with
#: the grader writing meanwhile and the server restarting.
TA = """
import sys, time
sys.path.insert(0, sys.argv[1])
from nbgrader.api import Gradebook, MissingEntry
from autograder.db import with_retry
db_url, course_id, assignment, me, tas, n = sys.argv[2:8]
me, tas, n = int(me), int(tas), int(n)
mine = [f"student{i:02d}" for i in range(n) if i % tas == me]
done = set()
deadline = time.monotonic() + 300
with Gradebook(db_url, course_id) as gb:
    while len(done) < len(mine) and time.monotonic() < deadline:
        for student in mine:
            if student in done:
                continue
            def grade():
                try:
                    sub = gb.find_submission(assignment, student)
                except MissingEntry:
                    gb.db.rollback()
                    return False
                for nb in sub.notebooks:
                    for g in nb.grades:
                        if g.name == "softmax_why":
                            g.manual_score = 1.5
                    for c in nb.comments:
                        if c.name == "softmax_why":
                            c.manual_comment = f"TA {me}: clear answer"
                gb.db.commit()
                return True
            if with_retry(gb, grade, attempts_s=120):
                done.add(student)
        time.sleep(0.2)
print(f"TA {me} graded {sorted(done)}")
sys.exit(0 if len(done) == len(mine) else 1)
"""


@pytest.mark.slow
def test_grading_and_hand_grading_on_postgres_with_restart(ag_course, ag_runner_path, tmp_path, pg):
    course = pg_course(ag_course, pg, "course_restart")
    subs = tmp_path / "subs"
    for i in range(N):
        folder = subs / f"student{i:02d}" / A
        folder.mkdir(parents=True)
        (folder / f"{A}.ipynb").write_text(submission_json(sleep=1.5))
    cmd = [sys.executable, "-m", "autograder.cli", "--course-dir", course.root, "grade", A]
    cmd += [str(subs), "--quiet", "--workers", "2", "--timeout", "60"]
    for p in ag_runner_path:
        cmd += ["--runner-path", p]
    t0 = time.monotonic()
    grader = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tas = [
        subprocess.Popen(
            [sys.executable, "-c", TA, str(REPO), course.db_url, course.course_id, A]
            + [str(k), str(TAS), str(N)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for k in range(TAS)
    ]
    try:
        deadline = time.monotonic() + 240
        while sum(r["event"] == "stored" for r in read_journal(course)) < 2:
            assert grader.poll() is None, grader.stdout.read().decode()
            assert time.monotonic() < deadline, "nothing stored in time"
            time.sleep(0.1)
        pg.restart(down_s=3.0, mode="immediate")  # like a crash: every connection dropped
        out, _ = grader.communicate(timeout=300)
        ta_out = [p.communicate(timeout=300)[0].decode() for p in tas]
    finally:
        for p in (grader, *tas):
            if p.poll() is None:
                p.kill()
    seconds = time.monotonic() - t0
    assert grader.returncode == 0, out.decode() + pg.log()
    assert all(p.returncode == 0 for p in tas), ta_out
    events = Counter((r["event"], r["student"]) for r in read_journal(course))
    students = [f"student{i:02d}" for i in range(N)]
    assert events == Counter({(e, s): 1 for e in ("graded", "stored") for s in students}), events
    log = (Path(course.state_dir(A)) / "grade.log").read_text()
    assert "retrying" in log, "the restart should have been noticed and retried"
    assert "NOT stored" not in log

    from autograder.gradebook import open_gradebook

    with open_gradebook(course) as gb:
        for student in students:
            sub = gb.find_submission(A, student)
            grades = {g.name: g for nb in sub.notebooks for g in nb.grades}
            comments = {c.name: c for nb in sub.notebooks for c in nb.comments}
            assert grades["softmax_why"].manual_score == 1.5, student
            assert comments["softmax_why"].manual_comment.startswith("TA "), student
            assert grades["sigmoid_public"].auto_score == 2.0, student
            assert sub.score == 18 + 1.5, (student, sub.score)
    print(f"{N} submissions + {TAS} TAs on PostgreSQL with a restart: {seconds:.1f} s")


def test_export_reads_postgres(ag_course, pg, tmp_path):
    """The rest of the tool works on the same URL: export reads the PostgreSQL gradebook."""
    from autograder.db import store_with_retry
    from autograder.grade import failed_result
    from autograder.gradebook import export_csv, open_gradebook
    from autograder.notebook import load_assignment

    course = pg_course(ag_course, pg, "course_export")
    specs = load_assignment(course.source_dir(A))
    with open_gradebook(course) as gb:
        for student in ("ada", "bob"):
            store_with_retry(gb, failed_result(specs, student, A, "crashed", "x"))
            store_with_retry(gb, failed_result(specs, student, A, "crashed", "x"))  # idempotent
    n = export_csv(course, str(tmp_path / "scores.csv"))
    assert n == 2
    text = (tmp_path / "scores.csv").read_text()
    assert "ada" in text and "bob" in text


@pytest.mark.slow
def test_watch_on_postgres_with_tas_and_restart(ag_course, ag_runner_path, tmp_path, pg):
    """Grade on submit into a PostgreSQL gradebook while TAs grade by hand and the server
    restarts: every submission stored once, every TA's score kept, feedback fetchable."""
    from tests.test_autograder_watch import Student, _release, _watch_cmd

    course = pg_course(ag_course, pg, "course_watch")
    exchange = tmp_path / "exchange"
    _release(course, exchange)
    n = 3
    students = [Student(tmp_path, f"student{i:02d}", exchange) for i in range(n)]
    for st in students:
        st.submit(submission_json(sleep=1.5))
    watcher = subprocess.Popen(
        _watch_cmd(course, exchange, ag_runner_path, "--once", "--workers", "1"),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    tas = [
        subprocess.Popen(
            [sys.executable, "-c", TA, str(REPO), course.db_url, course.course_id, A]
            + [str(k), "2", str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for k in range(2)
    ]
    journal = Path(course.state_dir(A)) / "watch" / "journal.jsonl"
    try:
        deadline = time.monotonic() + 240
        while '"stored"' not in (journal.read_text() if journal.exists() else ""):
            assert watcher.poll() is None, watcher.stdout.read().decode()
            assert time.monotonic() < deadline, "nothing stored in time"
            time.sleep(0.1)
        pg.restart(down_s=3.0, mode="immediate")
        out, _ = watcher.communicate(timeout=300)
        ta_out = [p.communicate(timeout=300)[0].decode() for p in tas]
    finally:
        for p in (watcher, *tas):
            if p.poll() is None:
                p.kill()
    assert watcher.returncode == 0, out.decode() + pg.log()
    assert all(p.returncode == 0 for p in tas), ta_out
    from autograder.watch import read_journal

    events = Counter((r["event"], r["sub"]) for r in read_journal(str(journal)))
    stored = [k for k in events if k[0] == "stored"]
    assert len(stored) == n and all(events[k] == 1 for k in stored), events

    from autograder.gradebook import open_gradebook

    with open_gradebook(course) as gb:
        for st in students:
            sub = gb.find_submission(A, st.name)
            assert sub.score == 18 + 1.5, (st.name, sub.score)
    assert len(students[0].fetch_feedback()) == 1
