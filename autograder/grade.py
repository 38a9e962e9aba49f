"""``autograder grade``: grade a folder of submissions in parallel, resumably.

Layout: ``<submissions>/<student>/<assignment>/*.ipynb`` (default: the course's ``submitted/``).
Each submission is graded by its own trusted runner process (:mod:`autograder.runner`, killed if it
overruns), which runs the student's code in a sandbox. This process only schedules, shows
progress, keeps the journal and writes the gradebook, so one bad submission can never stop the
batch: whatever happens to a runner becomes a ``crashed`` result with score 0 and a message.

Per submission the result JSON is kept in ``.autograder/<assignment>/results/<student>.json``; the
journal (``journal.jsonl``) makes a killed run resumable without grading anything twice, and
``grade.log`` records each run, with the isolation that was applied.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import IO, Any

from autograder.collect import submission_hash
from autograder.config import Course
from autograder.db import store_with_retry
from autograder.errors import GradingBusy, InvalidNotebook, ResultError, TaskNotRun
from autograder.executors import Task, make_executor
from autograder.formgrader import copy_for_formgrader, formgrader_copy
from autograder.gradebook import open_gradebook
from autograder.jobs import GradeOptions, check_isolation, failed_result, make_base_job
from autograder.journal import Journal
from autograder.model import Job, SubmissionResult, load_result
from autograder.notebook import NotebookSpec, load_assignment, load_notebook_json
from autograder.progress import Progress, format_seconds
from autograder.safe import clean_text, log_text, show_id, student_id_problem, write_json_atomic

__all__ = [
    "GradeOptions",
    "GradeSummary",
    "discover",
    "failed_result",
    "formgrader_copy",
    "grade_assignment",
]


@dataclass
class GradeSummary:
    """What a grading run did.

    Attributes
    ----------
    graded : list of str
        Students graded in this run.
    skipped : list of str
        Students already graded by an earlier (possibly killed) run.
    results : dict
        Student -> result (all of them, from this and earlier runs).
    seconds : float
        Wall-clock time of this run.
    isolation : dict
        The isolation report of a sandbox of this run (empty if none ran).
    refused : list of (str, str)
        Submissions that were not graded because their id or folder is unusable, with a
        message saying what is wrong and what to do (the id made printable).
    resubmitted : list of str
        Students graded again because their submission changed since it was graded.
    unfinished : list of (str, str)
        Submissions the executor could not grade in this run (a Dask worker that cannot
        isolate refused them, the cluster went away...), with why; nothing is journaled for
        them, so the next run grades them.
    executor : str
        ``local`` or ``dask``.
    """

    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    results: dict[str, SubmissionResult] = field(default_factory=dict)
    seconds: float = 0.0
    isolation: dict = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    resubmitted: list[str] = field(default_factory=list)
    unfinished: list[tuple[str, str]] = field(default_factory=list)
    executor: str = "local"


def _version(folder: str) -> dict:
    """Which version of a submission is graded: its content hash and submission time."""
    submitted_at = ""
    with contextlib.suppress(OSError):
        with open(os.path.join(folder, "timestamp.txt"), encoding="utf-8", errors="replace") as fh:
            submitted_at = clean_text(fh.read(100)).strip()
    return {"sha256": submission_hash(folder), "submitted_at": submitted_at}


def _answer_hashes(folder: str, specs: list[NotebookSpec]) -> dict[str, str]:
    """``<notebook>/<grade id>`` -> hash of the student's answer, for each answer graded by hand:
    a resubmission whose answer changed needs the human again."""
    out: dict[str, str] = {}
    for spec in specs:
        manual = {c.grade_id for c in spec.graded if c.manual}
        if not manual:
            continue
        try:
            nb = load_notebook_json(os.path.join(folder, f"{spec.name}.ipynb"))
        except (InvalidNotebook, OSError):
            continue
        for cell in nb["cells"]:
            meta = cell["metadata"].get("nbgrader")
            gid = meta.get("grade_id") if isinstance(meta, dict) else None
            if gid in manual and f"{spec.name}/{gid}" not in out:
                text = clean_text(cell.get("source", ""))
                out[f"{spec.name}/{gid}"] = hashlib.sha256(text.encode()).hexdigest()
    return out


def discover(
    submissions_root: str, assignment: str, refused: list[tuple[str, str]] | None = None
) -> list[tuple[str, str]]:
    """Find ``<root>/<student>/<assignment>/`` folders.

    A folder name is the student's id, and it is untrusted: a submission whose id is unusable
    (:func:`autograder.safe.student_id_problem`: too long for a file name once suffixes are
    added, not UTF-8, control characters, starting with ``.``...) or whose folders are symbolic
    links is not graded; it is added to ``refused`` with what is wrong and what to do, and the
    other students are graded as usual. Entries without an ``<assignment>`` folder (other
    files, ``.ipynb_checkpoints``) are not submissions and are ignored.

    Parameters
    ----------
    submissions_root : str
        The folder with one subfolder per student.
    assignment : str
        The assignment.
    refused : list, optional
        Receives ``(printable id, message)`` for each submission that cannot be graded.

    Returns
    -------
    list of (student, folder)
        Sorted by student id.
    """
    if not os.path.isdir(submissions_root):
        raise FileNotFoundError(f"no submissions folder {submissions_root}")
    refused = refused if refused is not None else []
    out = []
    names = sorted(os.listdir(submissions_root))
    single = _single_student(submissions_root, assignment)
    if single is not None:  # one student's folder: <root>/<student>[/<assignment>]
        submissions_root, names = os.path.dirname(single), [os.path.basename(single)]
    for student in names:
        home = os.path.join(submissions_root, student)
        folder = os.path.join(home, assignment)
        try:
            if not os.path.isdir(folder):  # follows links: a linked submission is refused below
                continue
            linked = os.path.islink(home) or os.path.islink(folder)
        except (OSError, ValueError):  # e.g. a name too long for the file system
            linked = False
        shown = show_id(student)
        why = student_id_problem(student)
        if why is None and linked:
            why = (
                "the submission folder is a symbolic link; copy the files into a real folder "
                "under the submissions folder (or collect them again)"
            )
        if why is not None:
            refused.append((shown, f"not graded: {why}"))
            continue
        out.append((student, folder))
    return out


def _single_student(path: str, assignment: str) -> str | None:
    """The student folder when ``path`` is one student's ``<student>/<assignment>`` or
    ``<student>`` folder (it holds notebooks, or an ``<assignment>`` folder with notebooks),
    else None."""
    path = os.path.abspath(path)

    def has_notebooks(folder: str) -> bool:
        try:
            return any(n.endswith(".ipynb") for n in os.listdir(folder))
        except OSError:
            return False

    if os.path.basename(path) == assignment and has_notebooks(path):
        return os.path.dirname(path)
    if has_notebooks(os.path.join(path, assignment)):
        return path
    return None


def _ensure_in_gradebook(course: Course, assignment: str, specs: list[NotebookSpec]) -> str:
    """Make the gradebook know the assignment's current cells (re-releasing if it does not)."""
    from nbgrader.api import MissingEntry

    want = {(s.name, c.grade_id, c.points) for s in specs for c in s.graded}
    with open_gradebook(course) as gb:
        try:
            known = gb.find_assignment(assignment)
            have = {
                (nb.name, c.name, c.max_score) for nb in known.notebooks for c in nb.grade_cells
            }
        except MissingEntry:
            have = set()
    if have == want:
        return ""
    from autograder.release import release

    release(course, assignment)  # nbgrader records the assignment's cells in the gradebook
    return "the gradebook did not match the source notebooks: released again to update it"


@dataclass
class _Run:
    """One grading run of one assignment, as its steps share it (see :func:`grade_assignment`).

    It holds the assignment's lock, ``grade.log`` and the journal from :func:`_open_run` until
    :func:`_close_run`.
    """

    course: Course
    assignment: str
    opts: GradeOptions
    root: str
    specs: list[NotebookSpec]
    state: str
    lock: IO[str]
    log: IO[str]
    journal: Journal
    base_job: Job
    scheduler: str | None
    jobs_dir: str
    subs: list[tuple[str, str]]
    summary: GradeSummary
    start: float = field(default_factory=time.monotonic)

    @property
    def results_dir(self) -> str:
        """``.autograder/<assignment>/results``."""
        return os.path.join(self.state, "results")

    def result_path(self, student: str) -> str:
        """Where ``student``'s result is kept."""
        return os.path.join(self.results_dir, f"{student}.json")


@dataclass
class _Plan:
    """What a run grades: each submission to grade (student -> folder), the version of each
    submission found, and the students whose submission changed since it was graded."""

    todo: dict[str, str]
    versions: dict[str, dict]
    changed: list[str]


def grade_assignment(
    course: Course,
    assignment: str,
    submissions_root: str | None = None,
    options: GradeOptions | None = None,
) -> GradeSummary:
    """Grade every submission of an assignment that is not graded yet.

    The steps: find the submissions and take the assignment's lock (:func:`_open_run`), store
    what a killed run graded but did not store (:func:`_store_leftovers`), decide what to grade
    (:func:`_plan`), grade it on the executor and keep each result as it arrives
    (:func:`_grade_on_executor`, :func:`_keep`), then read every result back for the summary
    (:func:`_summarise`).

    Parameters
    ----------
    course : Course
        The course.
    assignment : str
        The assignment (a folder in ``source/``).
    submissions_root : str, optional
        ``<root>/<student>/<assignment>/``; default: the course's ``submitted/``.
    options : GradeOptions, optional
        Workers, limits, regrade.

    Returns
    -------
    GradeSummary
        What was graded, and all results.
    """
    run = _open_run(course, assignment, submissions_root, options or GradeOptions())
    try:
        with open_gradebook(course) as gb:
            graded = _store_leftovers(run, gb)
            plan = _plan(run, graded)
            _grade_on_executor(run, plan, gb)
        return _summarise(run)
    finally:
        _close_run(run)


def _open_run(
    course: Course, assignment: str, submissions_root: str | None, opts: GradeOptions
) -> _Run:
    """Check isolation, find the submissions (:func:`discover`), take the assignment's lock,
    empty the jobs folder, open ``grade.log`` and the journal, and build the job.

    Raises
    ------
    NotIsolated
        This machine cannot isolate student code and nothing allows grading without it.
    GradingBusy
        Another run of the assignment holds the lock.
    """
    scheduler = opts.scheduler or course.settings.get("scheduler") or None
    # on a cluster each worker checks its own isolation (and refuses tasks it cannot isolate)
    unisolated = "" if scheduler else check_isolation(opts.allow_unisolated)
    root = os.path.abspath(submissions_root or course.submitted_dir)
    specs = load_assignment(course.source_dir(assignment))
    refused: list[tuple[str, str]] = []
    subs = discover(root, assignment, refused)
    state = course.state_dir(assignment)
    os.makedirs(os.path.join(state, "results"), exist_ok=True)
    lock = open(os.path.join(state, "lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise GradingBusy(f"another grading run of {assignment} is in progress") from None
    jobs_dir = opts.tmp_dir
    if jobs_dir is None:  # we hold the lock: whatever is in there is left over from a killed run
        jobs_dir = os.path.join(state, "jobs")
        shutil.rmtree(jobs_dir, ignore_errors=True)
        os.makedirs(jobs_dir, mode=0o700)
    note = _ensure_in_gradebook(course, assignment, specs)
    journal = Journal(os.path.join(state, "journal.jsonl"))
    log = _open_log(state, f"grading {assignment} from {root}", [note, unisolated], refused)
    base_job = make_base_job(course, assignment, specs, opts, [root], unisolated)
    return _Run(
        course,
        assignment,
        opts,
        root,
        specs,
        state,
        lock,
        log,
        journal,
        base_job,
        scheduler,
        jobs_dir,
        subs,
        GradeSummary(refused=refused),
    )


def _open_log(state: str, header: str, notes: list[str], refused: list[tuple[str, str]]) -> IO[str]:
    """Open ``grade.log`` for this run and write its header, notes and refused submissions.
    Every line that holds student text is cleaned (:func:`autograder.safe.log_text`): valid
    UTF-8, one line per event."""
    log = open(os.path.join(state, "grade.log"), "a", encoding="utf-8", errors="replace")
    log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {log_text(header)}\n")
    for line in notes:
        if line:
            log.write(line + "\n")
    for shown, why in refused:
        log.write(f"REFUSED {log_text(shown)}: {log_text(why)}\n")
    return log


def _store_leftovers(run: _Run, gb: Any) -> dict[str, dict]:
    """Apply ``--regrade`` to the journal, then store in the gradebook what a killed run graded
    but did not store; returns the journal's graded students (student -> version), less those
    whose unstored result file is gone (graded again)."""
    # --regrade forgets the students being graded now (all of submitted/, or the one folder
    # given), never anyone else; --regrade STUDENT... only those named
    opts = run.opts
    for student in [st for st, _ in run.subs] if opts.regrade else opts.regrade_students:
        run.journal.append("reset", student)
    graded, stored = run.journal.read()
    for student in sorted(set(graded) - stored):
        try:
            result = load_result(run.result_path(student))
        except ResultError:
            del graded[student]  # its result file is gone: grade it again
            continue
        store_with_retry(gb, result, run.course, log=run.log)
        run.journal.append("stored", student)
    return graded


def _plan(run: _Run, graded: dict[str, dict]) -> _Plan:
    """Which submissions to grade: those not ``graded`` yet and those whose content changed
    since they were graded (resubmissions); the rest are skipped."""
    versions = {st: _version(folder) for st, folder in run.subs}
    changed = [
        st
        for st, _ in run.subs
        if st in graded
        and graded[st].get("sha256", versions[st]["sha256"]) != versions[st]["sha256"]
    ]
    todo = {st: folder for st, folder in run.subs if st not in graded or st in changed}
    run.summary.skipped = [st for st, _ in run.subs if st not in todo]
    run.summary.resubmitted = changed
    for st in changed:
        run.log.write(f"{log_text(st)}: changed since it was graded: graded again\n")
    if run.summary.skipped:
        run.log.write(f"resuming: {len(run.summary.skipped)} already graded\n")
    return _Plan(todo, versions, changed)


def _grade_on_executor(run: _Run, plan: _Plan, gb: Any) -> None:
    """Grade the planned submissions on the executor (the local pool or a Dask cluster) and keep
    each result as it arrives; one that cannot be graded now is left for the next run."""
    opts, summary = run.opts, run.summary
    workers = max(1, opts.workers or os.cpu_count() or 1)
    progress = Progress(len(plan.todo), enabled=opts.progress)
    executor = make_executor(
        run.scheduler,
        workers,
        run.jobs_dir,
        run.specs,
        run.course.source_dir(run.assignment),
        opts.allow_unisolated,
    )
    summary.executor = executor.name
    if run.scheduler:
        run.log.write(f"executor: Dask scheduler {log_text(run.scheduler)}\n")
    hard_timeout = run.base_job.timeout + 30
    tasks = [
        Task(st, run.base_job.replace(student=st, submission_dir=folder), folder, hard_timeout)
        for st, folder in plan.todo.items()
    ]
    try:
        for task, outcome in executor.run(tasks):
            student = task.key
            if student in summary.graded:  # a result that came twice
                run.log.write(f"{log_text(student)}: duplicate result ignored (stored once)\n")
                continue
            if isinstance(outcome, TaskNotRun):  # not graded: nothing journaled, next run
                summary.unfinished.append((show_id(student), clean_text(str(outcome), 2000)))
                run.log.write(f"UNFINISHED {log_text(student)}: {log_text(outcome)}\n")
                progress.update(f"{student}: not graded")
                continue
            if isinstance(outcome, BaseException):  # e.g. no disk space for the job folder
                outcome = failed_result(
                    run.specs, student, run.assignment, "crashed", f"grader error: {outcome}"
                )
            result = _keep(run, gb, plan, outcome)
            score = f"{result.status} {result.score:g}/{result.max_score:g}"
            run.log.write(f"{log_text(student)}: {log_text(score)}\n")
            run.log.flush()
            progress.update(f"{student}: {score}")
    finally:
        executor.close()


def _keep(run: _Run, gb: Any, plan: _Plan, result: SubmissionResult) -> SubmissionResult:
    """Keep one result: its version and answers, its file, formgrader's copy, the journal, then
    the gradebook (retried while the database is unreachable, e.g. a PostgreSQL server
    restarting; still failing, the next run stores it)."""
    student = result.student
    folder = plan.todo[student]
    result.version = plan.versions[student]
    result.answers = _answer_hashes(folder, run.specs)
    stale: list[str] = []
    if student in plan.changed:  # hand grades of an answer that changed are not kept
        try:
            old = load_result(run.result_path(student)).answers
        except ResultError:
            old = {}
        stale = [k for k, v in result.answers.items() if old.get(k) != v]
        if stale:
            result.messages.append(
                "written answer(s) changed since graded by hand, to be graded again: "
                + ", ".join(stale)
            )
    write_json_atomic(run.result_path(student), result.to_json())
    try:
        copy_for_formgrader(run.course, result, folder)
    except OSError as exc:
        run.log.write(f"{log_text(student)}: could not copy to autograded/ ({log_text(exc)})\n")
    run.journal.append(
        "graded", student, status=result.status, score=result.score, **result.version
    )
    try:
        store_with_retry(gb, result, run.course, stale, log=run.log)
        run.journal.append("stored", student)
    except Exception as exc:  # still failing after the retries: the next run re-stores it
        run.log.write(
            f"{log_text(student)}: NOT stored in the gradebook ({log_text(exc)}); rerun to retry\n"
        )
    run.summary.graded.append(student)
    iso = next((nb.isolation for nb in result.notebooks if nb.isolation), None)
    if iso and not run.summary.isolation:
        run.summary.isolation = iso
        run.log.write(f"isolation: {log_text(json.dumps(iso))}\n")
    return result


def _summarise(run: _Run) -> GradeSummary:
    """Every result of the submissions found (this run's and earlier ones), read back through
    the one loader, and the run's time, in the summary and ``grade.log``."""
    summary = run.summary
    for st, _ in run.subs:
        problems: list[str] = []
        try:
            summary.results[st] = load_result(run.result_path(st), problems)
        except ResultError as exc:
            if os.path.exists(run.result_path(st)):
                run.log.write(f"{log_text(st)}: {log_text(exc)}\n")
            continue
        for problem in problems[:5]:
            run.log.write(f"{log_text(st)}: result cleaned on read: {log_text(problem)}\n")
    summary.seconds = time.monotonic() - run.start
    run.log.write(
        f"done: {len(summary.graded)} graded, {len(summary.skipped)} skipped, "
        f"{len(summary.refused)} refused in {format_seconds(summary.seconds)}\n"
    )
    return summary


def _close_run(run: _Run) -> None:
    """Close the journal and the log and release the assignment's lock."""
    run.journal.close()
    run.log.close()
    run.lock.close()
