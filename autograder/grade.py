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
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from autograder.config import Course
from autograder.db import store_with_retry
from autograder.executors import Task, TaskNotRun, make_executor
from autograder.forbid import module_locations
from autograder.gradebook import open_gradebook
from autograder.isolation import DATA_DIR, NotIsolated, probe
from autograder.journal import Journal
from autograder.launch import module_command
from autograder.notebook import InvalidNotebook, NotebookSpec, load_assignment, load_notebook_json
from autograder.progress import Progress, format_seconds
from autograder.safe import (
    clean_text,
    clean_tree,
    load_json_clean,
    log_text,
    sanitize_markdown,
    show_id,
    student_id_problem,
)

__all__ = ["GradeOptions", "GradeSummary", "discover", "failed_result", "grade_assignment"]


@dataclass
class GradeOptions:
    """Options of a grading run (``None``: take the course's setting).

    Attributes
    ----------
    workers : int or None
        Parallel submissions (default: one per core).
    timeout : float or None
        Wall-clock seconds per submission.
    cell_timeout : float or None
        Wall-clock seconds per cell and per call into the student's code.
    memory_mb : int or None
        Address-space limit of the sandbox.
    regrade : bool
        Grade again every submission found in this run's folder (the others keep their grades).
    regrade_students : list of str
        Grade these students again (only them; the others keep their grades).
    progress : bool
        Draw the progress bar.
    runner_path : list of str
        Extra ``sys.path`` entries for the trusted runner only (e.g. a reference library that is
        not installed); never visible to the sandbox.
    tmp_dir : str or None
        Where the per-submission working folders go (default: ``.autograder/<assignment>/jobs``,
        emptied at the start of each run, so a run killed with SIGKILL leaves nothing behind).
    allow_unisolated : bool
        Grade even where bubblewrap cannot isolate the student's code (the results say so).
        Without it such a machine refuses to run student code.
    scheduler : str or None
        A Dask scheduler (``tcp://HOST:PORT``) to grade on (default: ``c.Autograder.scheduler``,
        else the local process pool); see :mod:`autograder.executors`.
    """

    workers: int | None = None
    timeout: float | None = None
    cell_timeout: float | None = None
    memory_mb: int | None = None
    regrade: bool = False
    regrade_students: list[str] = field(default_factory=list)
    progress: bool = True
    runner_path: list[str] = field(default_factory=list)
    tmp_dir: str | None = None
    allow_unisolated: bool = False
    scheduler: str | None = None


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
    results: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0
    isolation: dict = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    resubmitted: list[str] = field(default_factory=list)
    unfinished: list[tuple[str, str]] = field(default_factory=list)
    executor: str = "local"


def _version(folder: str) -> dict:
    """Which version of a submission is graded: its content hash and submission time."""
    from autograder.collect import submission_hash

    submitted_at = ""
    with contextlib.suppress(OSError):
        with open(os.path.join(folder, "timestamp.txt"), encoding="utf-8", errors="replace") as fh:
            submitted_at = clean_text(fh.read(100)).strip()
    return {"sha256": submission_hash(folder), "submitted_at": submitted_at}


def _answer_hashes(folder: str, specs: list[NotebookSpec]) -> dict[str, str]:
    """``<notebook>/<grade id>`` -> hash of the student's answer, for each answer graded by hand:
    a resubmission whose answer changed needs the human again."""
    import hashlib

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


def failed_result(
    specs: list[NotebookSpec], student: str, assignment: str, status: str, message: str
) -> dict:
    """A result with zero points for every test, used when a runner could not produce one.

    Parameters
    ----------
    specs : list of NotebookSpec
        The assignment's notebooks.
    student, assignment : str
        Who and what.
    status : str
        ``crashed``, ``timeout``...
    message : str
        Why.

    Returns
    -------
    dict
        A result in the runner's format.
    """
    notebooks = []
    for spec in specs:
        tests = []
        for cell in spec.graded:
            manual = cell.manual
            tests.append(
                {
                    "grade_id": cell.grade_id,
                    "kind": "manual" if manual else "auto",
                    "points": None if manual else 0.0,
                    "max_points": cell.points,
                    "passed": False,
                    "status": "manual" if manual else status,
                    "message": "needs manual grading" if manual else message,
                }
            )
        notebooks.append(
            {"notebook": spec.name, "status": status, "messages": [message], "tests": tests}
        )
    return {
        "student": student,
        "assignment": assignment,
        "status": status,
        "score": 0.0,
        "max_score": sum(s.auto_max_score for s in specs),
        "manual_max_score": sum(s.max_score - s.auto_max_score for s in specs),
        "notebooks": notebooks,
        "messages": [message],
    }


def _run_one(job: dict, specs: list[NotebookSpec], hard_timeout: float, base: str | None) -> dict:
    tmp = tempfile.mkdtemp(prefix="autograder-job-", dir=base)
    job = {**job, "tmp_dir": tmp}
    job_path, result_path = os.path.join(tmp, "job.json"), os.path.join(tmp, "result.json")
    with open(job_path, "w") as fh:
        json.dump(job, fh)
    cmd = module_command("autograder.runner", job_path, result_path)
    try:
        with open(os.path.join(tmp, "stderr.txt"), "wb") as err:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
                cwd=tmp,
            )
            try:
                code = proc.wait(timeout=hard_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                code = "killed after the time limit"
        if os.path.isfile(result_path):
            with open(result_path) as fh:
                return json.load(fh)
        with open(os.path.join(tmp, "stderr.txt"), "rb") as fh:
            tail = fh.read()[-1500:].decode("utf-8", "replace").strip()
        status = "timeout" if isinstance(code, str) else "crashed"
        msg = f"the grader's runner for this submission failed ({code})"
        return failed_result(
            specs,
            job["student"],
            job["assignment"],
            status,
            msg + (f": {tail.splitlines()[-1]}" if tail else ""),
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: Most characters of one markdown/raw cell, and of all of them, in formgrader's copy (the rest
#: is cut with a note): written answers are far shorter.
_PROSE_CELL, _PROSE_BUDGET = 20_000, 200_000


def formgrader_copy(path: str, source: str | None = None) -> dict:
    """The notebook at ``path`` as formgrader may show it to a human grader.

    Read like a submission (:func:`autograder.notebook.load_notebook_json`: no symlink, FIFO or
    device, size-capped), then rebuilt from the sources alone: no outputs (a forged "public
    tests passed" or live HTML/JavaScript output cannot appear), no execution counts, no
    attachments, no cell or notebook metadata of the student's. With ``source`` (the
    instructor's notebook), a cell whose ``grade_id`` is one of the source's gets the source's
    nbgrader metadata (formgrader matches grade cells by it; a student's forged metadata is
    not shown) and the notebook gets the source's kernel and language; without it, only
    nbgrader's metadata is kept, cleaned. Code sources are kept as they are (formgrader
    highlights them as text); markdown and raw cells are sanitised
    (:func:`autograder.safe.sanitize_markdown`: raw HTML escaped, ``javascript:`` links
    blocked), so a written answer still reads the same but renders inert. Markdown and raw
    text is capped (:data:`_PROSE_CELL` per cell, :data:`_PROSE_BUDGET` in all).
    """
    nb = load_notebook_json(path)
    trusted = load_notebook_json(source) if source else None
    by_id: dict[str, dict] = {}
    for cell in trusted["cells"] if trusted else []:
        meta = cell["metadata"].get("nbgrader")
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            by_id.setdefault(meta["grade_id"], meta)
    cells = []
    prose_left = _PROSE_BUDGET  # sanitising dense markup costs ~20 s per MB: bounded
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader")
        if trusted is not None:
            gid = meta.get("grade_id") if isinstance(meta, dict) else None
            meta = by_id.pop(gid, None) if isinstance(gid, str) else None  # each id once
        out: dict = {
            "cell_type": cell["cell_type"],
            "metadata": {"nbgrader": clean_tree(meta)} if isinstance(meta, dict) else {},
            "source": clean_text(cell["source"]),
        }
        if cell["cell_type"] == "code":
            out.update(execution_count=None, outputs=[])
        else:
            text = clean_text(cell["source"], max(0, min(_PROSE_CELL, prose_left)))
            prose_left -= len(text)
            out["source"] = sanitize_markdown(text)
        cells.append(out)
    meta = {
        k: clean_tree(v)
        for k, v in (trusted or nb)["metadata"].items()
        if k in ("kernelspec", "language_info") and isinstance(v, dict)
    }
    return {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 4}


def _copy_for_formgrader(course: Course, result: dict, folder: str) -> None:
    """Write the readable submitted notebooks to ``autograded/`` (formgrader shows the written
    answers from there): :func:`formgrader_copy` of the student's own file, with the source's
    metadata, no test code added, none of the student's outputs, markdown sanitised."""
    for nb in result.get("notebooks", []):
        if nb["status"] in ("invalid-notebook", "missing-notebook"):
            continue
        name = f"{nb['notebook']}.ipynb"
        try:
            copy = formgrader_copy(
                os.path.join(folder, name),
                os.path.join(course.source_dir(result["assignment"]), name),
            )
        except InvalidNotebook as exc:  # changed since it was graded
            raise OSError(str(exc)) from None
        dest = os.path.join(course.root, "autograded", result["student"], result["assignment"])
        os.makedirs(dest, exist_ok=True)
        target = os.path.join(dest, name)
        tmp = target + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(copy, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, target)


def _atomic_json(path: str, data: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _record(
    course: Course,
    gb,
    journal: Journal,
    results_dir: str,
    folder: str,
    result: dict,
    log,
    version: dict,
    stale: list[str],
) -> None:
    """Keep one result: its file, formgrader's copy, the journal, then the gradebook (retried
    while the database is unreachable, e.g. a PostgreSQL server restarting)."""

    student = result["student"]
    _atomic_json(os.path.join(results_dir, f"{student}.json"), result)
    try:
        _copy_for_formgrader(course, result, folder)
    except OSError as exc:
        log.write(f"{log_text(student)}: could not copy to autograded/ ({log_text(exc)})\n")
    journal.append("graded", student, status=result["status"], score=result["score"], **version)
    try:
        store_with_retry(gb, result, course, stale, log=log)
        journal.append("stored", student)
    except Exception as exc:  # still failing after the retries: the next run re-stores it
        log.write(
            f"{log_text(student)}: NOT stored in the gradebook ({log_text(exc)}); rerun to retry\n"
        )


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


def _secret(state: str) -> str:
    """The assignment's secret for hidden-test seeds (made once, readable by the grader only)."""
    path = os.path.join(state, "seed-secret")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path) as fh:
            return fh.read().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    with open(path) as fh:
        return fh.read().strip()


def check_isolation(allow_unisolated: bool) -> str:
    """Refuse to grade where student code cannot be isolated, unless explicitly allowed.

    Parameters
    ----------
    allow_unisolated : bool
        The instructor's explicit permission (``--allow-unisolated``).

    Returns
    -------
    str
        Empty when bubblewrap works; else the warning to record with the results.

    Raises
    ------
    NotIsolated
        When bubblewrap cannot isolate and nothing allows grading without it.
    """
    try:
        probe()
        return ""
    except NotIsolated as exc:
        if not allow_unisolated:
            raise NotIsolated(
                f"{exc}. Refusing to run student code without isolation; to grade anyway (only "
                "for trusted submissions), pass --allow-unisolated: every result will say so"
            ) from None
        return f"UNISOLATED grading allowed by the instructor: {exc}"


def _provided(spec: NotebookSpec) -> dict:
    """Paths to bind read-only into the sandbox, and environment variables, for ``spec``."""
    modules, paths = module_locations(spec.provide)
    missing = sorted(set(spec.provide) - set(modules))
    if missing:
        raise RuntimeError(
            f"{spec.path} asks to provide {missing} to the student's code, but the grader cannot "
            "import them: install them in the grader's environment"
        )
    env, data = {}, {}
    wanted = [d for d in spec.datasets if d.startswith("fashion-mnist")]
    if wanted:
        from nnlib.data import FILES, locate_fashion_mnist

        folder = locate_fashion_mnist()  # raises with the fix (make data) when missing
        inside = f"{DATA_DIR}/fashion-mnist"
        # only the training split when the test split decides the grade
        names = [n for n in FILES if "fashion-mnist" in wanted or n.startswith("train")]
        for name in names:
            data[f"{inside}/{name}"] = os.path.realpath(folder / name)
        env["NNLIB_DATA"] = inside
    return {"paths": paths, "env": env, "data": data}


def machine_paths(specs: list[NotebookSpec], hide: list[str]) -> dict:
    """This machine's part of a job: what the sandbox must not see and what it is given.

    Parameters
    ----------
    specs : list of NotebookSpec
        The assignment's notebooks.
    hide : list of str
        Folders to hide besides datasets and forbidden packages (the course, the submissions,
        the grader's state; on a Dask worker, the task's private folder).

    Returns
    -------
    dict
        ``hide``, ``forbid_modules`` and ``provide`` for the runner's job.
    """
    forbid_modules, hide, provide = {}, [*hide, *_dataset_folders()], {}
    for spec in specs:
        modules, paths = module_locations(spec.forbid)
        forbid_modules[spec.name] = modules
        hide.extend(p for p in paths if p not in hide)
        provide[spec.name] = _provided(spec)
    return {"hide": hide, "forbid_modules": forbid_modules, "provide": provide}


def _dataset_folders() -> list[str]:
    """Where the datasets live on this machine: hidden from every sandbox (an assignment that
    may use one gets the files it allows bound at ``/data``, nothing more)."""
    try:
        from nnlib.data import locate_fashion_mnist

        return [os.path.realpath(locate_fashion_mnist())]
    except Exception:  # no dataset here, or no nnlib: nothing to hide
        return []


def make_base_job(
    course: Course,
    assignment: str,
    specs: list[NotebookSpec],
    opts: GradeOptions,
    hide: list[str],
    unisolated: str,
) -> dict:
    """The runner's job for ``assignment`` without the student's part (``student``,
    ``submission_dir``): limits, time limits, this machine's paths, the seed secret.

    Parameters
    ----------
    course : Course
        The course.
    assignment : str
        The assignment.
    specs : list of NotebookSpec
        Its notebooks.
    opts : GradeOptions
        Limits given on the command line (``None``: the course's settings).
    hide : list of str
        Folders to hide from the sandbox besides the course and its state (submissions).
    unisolated : str
        The warning from :func:`check_isolation` (empty when isolated).

    Returns
    -------
    dict
        The job's common part.
    """
    s = course.settings
    state = course.state_dir(assignment)
    timeout = float(opts.timeout or s["timeout"])
    cell_timeout = min(float(opts.cell_timeout or s["cell_timeout"]), timeout)
    limits = {k: s[k] for k in ("nproc", "fsize_mb", "nofile", "tmp_mb")}
    limits["memory_mb"] = int(opts.memory_mb or s["memory_mb"])
    limits["cpu_s"] = int(timeout) + 5
    return {
        "assignment": assignment,
        "source_dir": course.source_dir(assignment),
        "limits": limits,
        "timeout": timeout,
        "cell_timeout": cell_timeout,
        **machine_paths(specs, [course.root, *hide, state]),
        "uid_base": int(s["uid_base"]),
        "output_cap": int(s["output_cap"]),
        "runner_path": list(opts.runner_path),
        "unisolated": bool(unisolated),
        "seed_secret": _secret(state),
    }


def grade_assignment(
    course: Course,
    assignment: str,
    submissions_root: str | None = None,
    options: GradeOptions | None = None,
) -> GradeSummary:
    """Grade every submission of an assignment that is not graded yet.

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
    opts = options or GradeOptions()
    start = time.monotonic()
    scheduler = opts.scheduler or course.settings.get("scheduler") or None
    # on a cluster each worker checks its own isolation (and refuses tasks it cannot isolate)
    unisolated = "" if scheduler else check_isolation(opts.allow_unisolated)
    root = os.path.abspath(submissions_root or course.submitted_dir)
    specs = load_assignment(course.source_dir(assignment))
    refused: list[tuple[str, str]] = []
    subs = discover(root, assignment, refused)
    state = course.state_dir(assignment)
    results_dir = os.path.join(state, "results")
    os.makedirs(results_dir, exist_ok=True)
    lock = open(os.path.join(state, "lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise RuntimeError(f"another grading run of {assignment} is in progress") from None
    jobs_dir = opts.tmp_dir
    if jobs_dir is None:  # we hold the lock: whatever is in there is left over from a killed run
        jobs_dir = os.path.join(state, "jobs")
        shutil.rmtree(jobs_dir, ignore_errors=True)
        os.makedirs(jobs_dir, mode=0o700)
    note = _ensure_in_gradebook(course, assignment, specs)
    journal = Journal(os.path.join(state, "journal.jsonl"))
    # --regrade forgets the students being graded now (all of submitted/, or the one folder
    # given), never anyone else; --regrade STUDENT... only those named
    for student in [st for st, _ in subs] if opts.regrade else opts.regrade_students:
        journal.append("reset", student)
    graded, stored = journal.read()
    base_job = make_base_job(course, assignment, specs, opts, [root], unisolated)
    timeout = base_job["timeout"]
    # every line that holds student text is cleaned (log_text): valid UTF-8, one line per event
    log = open(os.path.join(state, "grade.log"), "a", encoding="utf-8", errors="replace")
    log.write(
        f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} grading {assignment} from {log_text(root)}\n"
    )
    for line in (note, unisolated):
        if line:
            log.write(line + "\n")
    summary = GradeSummary(refused=refused)
    for shown, why in refused:
        log.write(f"REFUSED {log_text(shown)}: {log_text(why)}\n")
    with open_gradebook(course) as gb:
        for student in sorted(set(graded) - stored):  # graded by a killed run, not yet stored
            try:
                with open(os.path.join(results_dir, f"{student}.json")) as fh:
                    store_with_retry(gb, json.load(fh), course, log=log)
            except (OSError, ValueError):
                del graded[student]  # its result file is gone: grade it again
                continue
            journal.append("stored", student)
        versions = {st: _version(folder) for st, folder in subs}
        # a resubmission (other content than what was graded) is graded again
        changed = [
            st
            for st, _ in subs
            if st in graded
            and graded[st].get("sha256", versions[st]["sha256"]) != versions[st]["sha256"]
        ]
        todo = [(st, folder) for st, folder in subs if st not in graded or st in changed]
        folders = dict(todo)
        summary.skipped = [st for st, _ in subs if st in graded and st not in changed]
        summary.resubmitted = changed
        for st in changed:
            log.write(f"{log_text(st)}: changed since it was graded: graded again\n")
        workers = max(1, opts.workers or os.cpu_count() or 1)
        progress = Progress(len(todo), enabled=opts.progress)
        if summary.skipped:
            log.write(f"resuming: {len(summary.skipped)} already graded\n")
        executor = make_executor(
            scheduler,
            workers,
            jobs_dir,
            specs,
            course.source_dir(assignment),
            opts.allow_unisolated,
        )
        summary.executor = executor.name
        if scheduler:
            log.write(f"executor: Dask scheduler {log_text(scheduler)}\n")
        tasks = [
            Task(st, {**base_job, "student": st, "submission_dir": folder}, folder, timeout + 30)
            for st, folder in todo
        ]
        try:
            for task, outcome in executor.run(tasks):
                student = task.key
                if student in summary.graded:  # a result that came twice
                    log.write(f"{log_text(student)}: duplicate result ignored (stored once)\n")
                    continue
                if isinstance(outcome, TaskNotRun):  # not graded: nothing journaled, next run
                    summary.unfinished.append((show_id(student), clean_text(str(outcome), 2000)))
                    log.write(f"UNFINISHED {log_text(student)}: {log_text(outcome)}\n")
                    progress.update(f"{student}: not graded")
                    continue
                if isinstance(outcome, BaseException):  # e.g. no disk space for the job folder
                    outcome = failed_result(
                        specs, student, assignment, "crashed", f"grader error: {outcome}"
                    )
                result = outcome
                result["version"] = versions[student]
                result["answers"] = _answer_hashes(folders[student], specs)
                stale: list[str] = []
                if student in changed:  # hand grades of an answer that changed are not kept
                    try:
                        before = load_json_clean(os.path.join(results_dir, f"{student}.json"))
                        old = before.get("answers", {}) if isinstance(before, dict) else {}
                    except (OSError, ValueError):
                        old = {}
                    stale = [k for k, v in result["answers"].items() if old.get(k) != v]
                    if stale:
                        result.setdefault("messages", []).append(
                            "written answer(s) changed since graded by hand, to be graded "
                            "again: " + ", ".join(stale)
                        )
                _record(
                    course,
                    gb,
                    journal,
                    results_dir,
                    folders[student],
                    result,
                    log,
                    versions[student],
                    stale,
                )
                summary.graded.append(student)
                iso = next(
                    (nb["isolation"] for nb in result.get("notebooks", []) if nb.get("isolation")),
                    None,
                )
                if iso and not summary.isolation:
                    summary.isolation = iso
                    log.write(f"isolation: {log_text(json.dumps(iso))}\n")
                log.write(
                    f"{log_text(student)}: {log_text(result['status'])} "
                    f"{result['score']:g}/{result['max_score']:g}\n"
                )
                log.flush()
                progress.update(
                    f"{student}: {result['status']} {result['score']:g}/{result['max_score']:g}"
                )
        finally:
            executor.close()
    journal.close()
    for st, _ in subs:
        path = os.path.join(results_dir, f"{st}.json")
        if os.path.isfile(path):
            summary.results[st] = load_json_clean(path)  # student text cleaned on read
    summary.seconds = time.monotonic() - start
    log.write(
        f"done: {len(summary.graded)} graded, {len(summary.skipped)} skipped, "
        f"{len(summary.refused)} refused in {format_seconds(summary.seconds)}\n"
    )
    log.close()
    lock.close()
    return summary
