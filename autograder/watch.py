"""``autograder watch``: grade on submit, through nbgrader's exchange.

Students submit with nbgrader's own client (``nbgrader submit``, or JupyterLab's Assignments
tab), which drops ``<student>+<assignment>+<timestamp>+<random>/`` into
``<exchange>/<course>/inbound/`` with the notebooks, ``timestamp.txt`` and
``submission_secret.txt``. The watcher, for each new submission:

1. **collects** it: the notebooks read without following links (as ``collect`` does), copied
   into ``.autograder/<assignment>/watch/subs/<id>/`` (the copy that is graded) and into
   ``submitted/<student>/<assignment>/`` with its ``timestamp.txt`` (the latest one, for
   formgrader and nbgrader), then journaled ``seen`` (fsync);
2. **grades** it on the executor (the local pool or ``--scheduler``'s Dask cluster, like
   ``grade``), at most one graded submission of a student per ``min_interval`` seconds (a newer
   submission that arrives meanwhile waits, and supersedes an older one that still waits: the
   feedback cannot be used as a fast oracle); a submission whose timestamp is past the deadline
   is graded and marked late;
3. **stores** the latest graded submission of each student in the gradebook (retried while the
   database is unreachable);
4. **releases** the feedback into ``<exchange>/<course>/feedback/<hash>.html``, the name
   ``nbgrader fetch_feedback`` computes from that submission's secret, so only its author's
   client finds it. Before the deadline only the tests chosen by ``show_before_deadline``
   (grade-id patterns; default: the tests that are not hidden) are shown, with their points.

Everything is journaled in ``.autograder/<assignment>/watch/journal.jsonl`` (append + fsync), so
a watcher killed at any point (SIGKILL included) resumes: nothing seen is lost, nothing graded is
graded again (a submission whose grading was cut is graded once, later), stores and releases
are redone idempotently. ``autograder status`` reads the same journal.
"""

from __future__ import annotations

import dataclasses
import fcntl
import fnmatch
import json
import os
import signal
import stat
import statistics
import time
from dataclasses import dataclass, field

from autograder.config import Course
from autograder.errors import GradingBusy, ResultError
from autograder.executors import Task, TaskNotRun, _read_submission, make_executor
from autograder.feedback import render_feedback
from autograder.formgrader import copy_for_formgrader
from autograder.jobs import GradeOptions, check_isolation, failed_result, make_base_job
from autograder.model import SubmissionResult, load_result
from autograder.safe import (
    clean_text,
    log_text,
    open_nofollow,
    show_id,
    student_id_problem,
    write_json_atomic,
)

__all__ = ["WatchOptions", "queue_status", "watch", "watch_once"]

_FAILED = ("crashed", "error")


@dataclass
class WatchOptions:
    """Settings of a watcher (``None``: the course's ``c.Autograder`` setting).

    Attributes
    ----------
    exchange : str or None
        nbgrader's exchange root (default ``c.Exchange.root``).
    interval : float
        Seconds between two looks at the exchange.
    min_interval : float or None
        Least seconds between the starts of two graded submissions of one student.
    deadline : str or None
        Submissions stamped after it are marked late (nbgrader timestamp or ISO format, UTC
        unless it says otherwise).
    show_before_deadline : list of str or None
        Grade-id patterns (``fnmatch``) of the tests whose results feedback shows before the
        deadline; default: the tests that are not hidden.
    grade : GradeOptions or None
        Executor, workers, limits, as for ``grade``.
    """

    exchange: str | None = None
    interval: float = 2.0
    min_interval: float | None = None
    deadline: str | None = None
    show_before_deadline: list[str] | None = None
    grade: object = None
    log: object = field(default=None, repr=False)


class _Journal:
    """The watcher's journal: one JSON record per line, fsync-ed."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size:
            with open(path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":  # a torn line from a crash
                    os.write(self._fd, b"\n")

    def append(self, event: str, sub: str, **fields: object) -> None:
        rec = {"event": event, "sub": sub, "time": round(time.time(), 3), **fields}
        os.write(self._fd, (json.dumps(rec) + "\n").encode())
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def read_journal(path: str) -> list[dict]:
    """The records of a watcher's journal (torn lines skipped)."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("sub"), str):
            out.append(rec)
    return out


def _state(course: Course, assignment: str) -> dict:
    """Per submission: its records merged (``seen`` fields, then what happened to it)."""
    path = os.path.join(course.state_dir(assignment), "watch", "journal.jsonl")
    subs: dict[str, dict] = {}
    for rec in read_journal(path):
        s = subs.setdefault(rec["sub"], {"sub": rec["sub"], "events": set()})
        s["events"].add(rec["event"])
        if rec["event"] == "seen":
            s.update({k: v for k, v in rec.items() if k not in ("event", "time")}, seen=rec["time"])
        elif rec["event"] == "graded":
            s.update(status=rec.get("status"), score=rec.get("score"), graded=rec["time"])
        elif rec["event"] == "released":
            s["released"] = rec["time"]
        elif rec["event"] == "dispatched":
            s["dispatched"] = rec["time"]
    return subs


def _utc_epoch(stamp: str) -> float | None:
    """An nbgrader timestamp (or ISO date) as seconds since the epoch, UTC unless it says."""
    from nbgrader.utils import parse_utc

    try:
        dt = parse_utc(stamp)
    except Exception:
        return None
    import calendar

    return calendar.timegm(dt.timetuple()) + dt.microsecond / 1e6


def queue_status(course: Course, assignment: str) -> dict:
    """The watcher's queue of ``assignment``: counts and submit-to-feedback times.

    Returns
    -------
    dict
        ``waiting``, ``running``, ``done``, ``failed``, ``superseded``, ``late`` (counts),
        ``median_s`` and ``p95_s`` (submission timestamp to feedback released, seconds;
        ``None`` before any feedback).
    """
    counts = dict.fromkeys(("waiting", "running", "done", "failed", "superseded", "late"), 0)
    delays = []
    for s in _state(course, assignment).values():
        ev = s["events"]
        if "superseded" in ev:
            counts["superseded"] += 1
        elif "graded" in ev:
            counts["failed" if s.get("status") in _FAILED else "done"] += 1
            if s.get("late"):
                counts["late"] += 1
            if "released" in s and s.get("stamp_epoch") is not None:
                delays.append(s["released"] - s["stamp_epoch"])
        elif "dispatched" in ev:
            counts["running"] += 1
        else:
            counts["waiting"] += 1
    delays.sort()
    counts["median_s"] = round(statistics.median(delays), 2) if delays else None
    counts["p95_s"] = (
        round(delays[min(len(delays) - 1, int(0.95 * len(delays)))], 2) if delays else None
    )
    return counts


def _exchange_root(course: Course, opts: WatchOptions) -> str:
    if opts.exchange:
        return os.path.abspath(opts.exchange)
    ex = course.config.Exchange if course.config is not None and "Exchange" in course.config else {}
    return str(ex.get("root", "/srv/nbgrader/exchange"))


def _ensure_exchange(path: str) -> tuple[str, str]:
    """``inbound`` (students write, cannot list: 0733) and ``feedback`` (0711: a file is
    found only by its hash) folders of the course in the exchange, as nbgrader makes them."""
    inbound, feedback = os.path.join(path, "inbound"), os.path.join(path, "feedback")
    for folder, mode in ((path, 0o755), (inbound, 0o733), (feedback, 0o711)):
        if not os.path.isdir(folder):
            os.makedirs(folder, exist_ok=True)
            os.chmod(folder, mode)
    return inbound, feedback


def _deadline_epoch(course: Course, assignment: str, opts: WatchOptions) -> float | None:
    value = opts.deadline or course.settings.get("deadline")
    if isinstance(value, dict):
        value = value.get(assignment)
    if not value:
        return None
    epoch = _utc_epoch(str(value))
    if epoch is None:
        raise ValueError(f"cannot read the deadline {value!r} (use e.g. '2027-01-31 23:59:00 UTC')")
    return epoch


def _visible(result: SubmissionResult, specs: list, patterns: list[str] | None) -> SubmissionResult:
    """The result as feedback may show it before the deadline: only the chosen tests (default:
    those that are not hidden), the score of those alone."""
    hidden = {c.grade_id for s in specs for c in s.graded if getattr(c, "hidden", False)}
    out = SubmissionResult.from_json(result.to_json())  # a copy
    shown_score = shown_max = 0.0
    withheld = 0
    for nb in out.notebooks:
        keep = []
        for t in nb.tests:
            ok = (
                any(fnmatch.fnmatchcase(t.grade_id, p) for p in patterns)
                if patterns is not None
                else t.grade_id not in hidden
            )
            if ok:
                keep.append(t)
                if t.kind == "auto":
                    shown_score += t.points or 0.0
                    shown_max += t.max_points
        withheld += len(nb.tests) - len(keep)
        nb.tests = keep
    if withheld:
        out.messages.append(
            f"{withheld} more test(s) are graded too; their results are shown after the deadline"
        )
    out.score, out.max_score = shown_score, shown_max
    return out


def _release(
    result: SubmissionResult, secret: str, sub: dict, course: Course, feedback_dir: str
) -> None:
    """Write each notebook's feedback page where ``nbgrader fetch_feedback`` looks for it."""
    from nbgrader.utils import make_unique_key, notebook_hash

    for nb in result.notebooks:
        page = render_feedback(dataclasses.replace(result, notebooks=[nb]))
        if secret:
            name = notebook_hash(secret=secret, notebook_id=nb.notebook)
        else:  # a client without submission secrets: nbgrader's legacy key
            path = os.path.join(sub["copy"], f"{nb.notebook}.ipynb")
            if not os.path.isfile(path):
                continue
            key = make_unique_key(
                course.course_id, sub["assignment"], nb.notebook, sub["student"], sub["stamp"]
            )
            name = notebook_hash(path, key)
        target = os.path.join(feedback_dir, f"{name}.html")
        tmp = os.path.join(feedback_dir, f".{name}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)


def _parse_inbound(name: str, assignments: set[str]) -> tuple[str, str, str] | None:
    parts = name.split("+")
    if len(parts) not in (3, 4) or parts[1] not in assignments:
        return None
    return parts[0], parts[1], parts[2]


def _read_small(path: str, limit: int = 4096) -> str:
    try:
        fd, st = open_nofollow(path)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(st.st_mode):
            return ""
        return fh.read(limit).decode("utf-8", "replace").strip()


def _owner(path: str) -> str:
    """The user name owning ``path`` (nbgrader's exchange trusts file ownership, not the id in
    the folder's name)."""
    import pwd

    try:
        uid = os.lstat(path).st_uid
        return pwd.getpwuid(uid).pw_name
    except (OSError, KeyError):
        return "unknown id"


class Watcher:
    """One watcher process for some assignments of a course (see the module's doc)."""

    def __init__(self, course: Course, assignments: list[str], opts: WatchOptions) -> None:
        from autograder.grade import _ensure_in_gradebook
        from autograder.notebook import load_assignment

        self.course, self.opts = course, opts
        self.gopts = opts.grade or GradeOptions(progress=False)
        s = course.settings
        self.min_interval = float(
            opts.min_interval if opts.min_interval is not None else s.get("min_interval", 0)
        )
        self.patterns = opts.show_before_deadline
        if self.patterns is None and s.get("show_before_deadline") is not None:
            self.patterns = list(s["show_before_deadline"])
        root = os.path.join(_exchange_root(course, opts), course.course_id)
        self.inbound, self.feedback = _ensure_exchange(root)
        self.scheduler = self.gopts.scheduler or s.get("scheduler") or None
        unisolated = "" if self.scheduler else check_isolation(self.gopts.allow_unisolated)
        self.a: dict[str, dict] = {}
        for assignment in assignments:
            specs = load_assignment(course.source_dir(assignment))
            state = os.path.join(course.state_dir(assignment), "watch")
            os.makedirs(os.path.join(state, "subs"), exist_ok=True)
            os.makedirs(os.path.join(state, "results"), exist_ok=True)
            lock = open(os.path.join(state, "lock"), "w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise GradingBusy(f"another watcher of {assignment} is running") from None
            _ensure_in_gradebook(course, assignment, specs)
            job = make_base_job(course, assignment, specs, self.gopts, [self.inbound], unisolated)
            self.a[assignment] = {
                "specs": specs,
                "state": state,
                "lock": lock,
                "journal": _Journal(os.path.join(state, "journal.jsonl")),
                "job": job,
                "deadline": _deadline_epoch(course, assignment, opts),
                "jobs_dir": os.path.join(state, "jobs"),
            }
        self.log = open(
            os.path.join(course.root, ".autograder", "watch.log"), "a", encoding="utf-8"
        )
        self.gb = None  # the gradebook, opened at the first store and kept

    def _note(self, line: str) -> None:
        self.log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
        self.log.flush()

    # -- 1. collect -----------------------------------------------------------------------------
    def collect(self) -> int:
        """Journal every new submission in the inbound folder; returns how many."""
        try:
            names = sorted(os.listdir(self.inbound))
        except OSError:
            return 0
        new = 0
        states = {a: _state(self.course, a) for a in self.a}
        for name in names:
            parsed = _parse_inbound(name, set(self.a))
            if parsed is None:
                continue
            student, assignment, stamp = parsed
            a = self.a[assignment]
            import hashlib

            sub_id = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:20]
            if sub_id in states[assignment]:
                continue
            folder = os.path.join(self.inbound, name)
            if os.path.islink(folder) or not os.path.isdir(folder):
                continue
            why = student_id_problem(student)
            if why is not None:
                a["journal"].append("seen", sub_id, student=show_id(student), refused=why)
                a["journal"].append("graded", sub_id, status="error", score=0)
                self._note(f"REFUSED {log_text(show_id(student))}: {log_text(why)}")
                continue
            owner = _owner(folder)
            if owner not in (student, "root"):  # as nbgrader collect's check_owner
                self._note(
                    f"WARNING {log_text(name)} claims to be submitted by {log_text(student)} but "
                    f"is owned by {log_text(owner)}: submitted under another student's id?"
                )
            wanted = {f"{s.name}.ipynb" for s in a["specs"]}
            entries = _read_submission(folder, wanted)
            copy = os.path.join(a["state"], "subs", sub_id)
            import shutil

            from autograder.executors import _write_submission

            shutil.rmtree(copy, ignore_errors=True)  # a copy cut short by a crash
            target = os.path.join(a["state"], "link-target")
            open(target, "wb").close()
            _write_submission(copy, entries, target)
            stamp = clean_text(_read_small(os.path.join(folder, "timestamp.txt")) or stamp, 100)
            with open(os.path.join(copy, "timestamp.txt"), "w") as fh:
                fh.write(stamp)
            secret = _read_small(os.path.join(folder, "submission_secret.txt"), 1024)
            epoch = _utc_epoch(stamp)
            late = bool(a["deadline"] is not None and epoch is not None and epoch > a["deadline"])
            a["journal"].append(
                "seen",
                sub_id,
                student=student,
                assignment=assignment,
                stamp=stamp,
                stamp_epoch=epoch,
                secret=secret,
                copy=copy,
                inbound=name,
                late=late,
            )
            new += 1
            self._note(f"seen {log_text(student)} {assignment} {log_text(stamp)}")
        return new

    # -- 2. choose what to grade ----------------------------------------------------------------
    def ready(self, assignment: str) -> list[dict]:
        """Submissions to grade now (rate limit applied; superseded ones journaled)."""
        a = self.a[assignment]
        subs = _state(self.course, assignment)
        last_start: dict[str, float] = {}
        waiting: dict[str, list[dict]] = {}
        for s in subs.values():
            if "refused" in s or "superseded" in s["events"]:
                continue
            if "dispatched" in s["events"] or "graded" in s["events"]:
                t = s.get("dispatched", s.get("graded", 0.0))
                last_start[s["student"]] = max(last_start.get(s["student"], 0.0), t)
            if "graded" not in s["events"]:
                waiting.setdefault(s["student"], []).append(s)
        now = time.time()
        out = []
        for student, items in waiting.items():
            items.sort(key=lambda s: (s.get("stamp_epoch") or 0, s["seen"]))
            # a graded-but-cut (dispatched) one is graded again first; newer ones supersede older
            latest = items[-1]
            for old in items[:-1]:
                a["journal"].append("superseded", old["sub"], by=latest["sub"])
            undispatched = "dispatched" not in latest["events"]
            if undispatched and now < last_start.get(student, 0.0) + self.min_interval:
                continue  # rate limit: wait
            out.append(latest)
        return out

    # -- 3./4. grade, store, release -------------------------------------------------------------
    def grade(self, assignment: str, subs: list[dict]) -> None:
        """Grade ``subs`` on the executor, then store and release each as it finishes."""
        import shutil

        a = self.a[assignment]
        if not subs:
            return
        shutil.rmtree(a["jobs_dir"], ignore_errors=True)
        os.makedirs(a["jobs_dir"], mode=0o700)
        tasks = []
        for s in subs:
            a["journal"].append("dispatched", s["sub"])
            job = a["job"].replace(student=s["student"], submission_dir=s["copy"])
            tasks.append(Task(s["sub"], job, s["copy"], job.timeout + 30))
        by_id = {s["sub"]: s for s in subs}
        executor = make_executor(
            self.scheduler,
            max(1, self.gopts.workers or os.cpu_count() or 1),
            a["jobs_dir"],
            a["specs"],
            self.course.source_dir(assignment),
            self.gopts.allow_unisolated,
        )
        try:
            for task, outcome in executor.run(tasks):
                s = by_id[task.key]
                if isinstance(outcome, TaskNotRun):
                    self._note(f"not graded {log_text(s['student'])}: {log_text(outcome)}")
                    continue  # stays dispatched-not-graded: retried next round
                if isinstance(outcome, BaseException):
                    outcome = failed_result(
                        a["specs"], s["student"], assignment, "crashed", f"grader error: {outcome}"
                    )
                self.finish(assignment, s, outcome)
        finally:
            executor.close()

    def finish(self, assignment: str, s: dict, result: SubmissionResult) -> None:
        """Keep one result: file, journal, gradebook (if it is the student's latest), feedback."""
        from autograder.grade import _version

        a = self.a[assignment]
        result.submission = {"timestamp": s["stamp"], "late": bool(s.get("late"))}
        result.version = _version(s["copy"])  # content hash and submission time
        if s.get("late"):
            result.messages.append(
                f"submitted after the deadline ({s['stamp']}): graded, marked late"
            )
        path = os.path.join(a["state"], "results", f"{s['sub']}.json")
        write_json_atomic(path, result.to_json())
        a["journal"].append("graded", s["sub"], status=result.status, score=result.score)
        self._note(
            f"graded {log_text(s['student'])} {assignment}: {result.status} "
            f"{result.score:g}/{result.max_score:g}"
        )
        self.store_and_release(assignment, s, result)

    def store_and_release(self, assignment: str, s: dict, result: SubmissionResult) -> None:
        """Gradebook and exchange (both idempotent: redone after a crash)."""
        from autograder.db import open_with_retry, store_with_retry

        a = self.a[assignment]
        subs = _state(self.course, assignment)
        newer = [
            o
            for o in subs.values()
            if o.get("student") == s["student"]
            and "graded" in o["events"]
            and "refused" not in o
            and (o.get("stamp_epoch") or 0) > (s.get("stamp_epoch") or 0)
        ]
        if not newer:  # the gradebook holds each student's latest graded submission
            self._publish(assignment, s, result)
            if self.gb is None:
                self.gb = open_with_retry(self.course, log=self.log)
            store_with_retry(self.gb, result, self.course, log=self.log)
            a["journal"].append("stored", s["sub"])
        after = a["deadline"] is not None and time.time() > a["deadline"]
        shown = result if after else _visible(result, a["specs"], self.patterns)
        _release(shown, s.get("secret", ""), s, self.course, self.feedback)
        a["journal"].append("released", s["sub"], full=bool(after))

    def _publish(self, assignment: str, s: dict, result: SubmissionResult) -> None:
        """The student's latest graded submission into ``submitted/`` (with ``timestamp.txt``)
        and formgrader's ``autograded/`` copy, as ``collect`` and ``grade`` leave them."""
        import shutil

        dest = os.path.join(self.course.submitted_dir, s["student"], assignment)
        tmp = dest + ".watch-tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(s["copy"], tmp, symlinks=True)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
        try:
            copy_for_formgrader(self.course, result, s["copy"])
        except OSError as exc:
            self._note(f"{log_text(s['student'])}: could not copy to autograded/ ({log_text(exc)})")

    def recover(self) -> None:
        """After a crash: store and release what was graded but not yet released."""
        for assignment, a in self.a.items():
            for s in _state(self.course, assignment).values():
                if "graded" in s["events"] and "released" not in s["events"] and "refused" not in s:
                    path = os.path.join(a["state"], "results", f"{s['sub']}.json")
                    try:
                        result = load_result(path)
                    except ResultError:
                        continue
                    self.store_and_release(assignment, s, result)

    def step(self) -> int:
        """One round: collect, grade what is ready, release; returns how many were graded."""
        self.collect()
        n = 0
        for assignment in self.a:
            subs = self.ready(assignment)
            self.grade(assignment, subs)
            n += len(subs)
        return n

    def close(self) -> None:
        if self.gb is not None:
            self.gb.close()
        for a in self.a.values():
            a["journal"].close()
            a["lock"].close()
        self.log.close()


def watch_once(course: Course, assignments: list[str], opts: WatchOptions) -> int:
    """Collect, grade and release until nothing is waiting or held back; returns how many were
    graded (for cron jobs and tests)."""
    w = Watcher(course, assignments, opts)
    try:
        w.recover()
        total = 0
        while True:
            n = w.step()
            total += n
            pending = sum(queue_status(course, a)["waiting"] for a in assignments)
            if not pending:
                return total
            if not n:
                time.sleep(min(opts.interval, 1.0))
    finally:
        w.close()


def watch(course: Course, assignments: list[str], opts: WatchOptions) -> None:
    """Follow the exchange until SIGTERM/SIGINT (finishing the round in progress)."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    w = Watcher(course, assignments, opts)
    try:
        w.recover()
        while not stop:
            try:
                if not w.step():
                    time.sleep(opts.interval)
            except KeyboardInterrupt:
                break
    finally:
        w.close()
