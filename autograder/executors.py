"""Where submissions are graded: the local process pool (default) or a Dask distributed cluster.

The coordinator (``autograder grade``, ``autograder watch``) hands each submission to an
executor as a :class:`Task` and gets back ``(task, result)`` pairs, in any order; it alone writes
results, journal and gradebook. An executor never touches the course directory.

* :class:`LocalExecutor`: a thread per concurrent submission, each starting its own trusted runner
  process (:func:`autograder.jobs.run_job`), as ``autograder grade`` always did.
* :class:`DaskExecutor`: one Dask task per submission (``distributed.Client.submit``). The task
  carries everything as data (:func:`make_payload`: the job's settings, the bytes of the
  assignment's source folder and of the submission), so the workers share no file system with
  the coordinator; the worker unpacks it into a private temporary folder, checks that it can
  isolate student code (:func:`autograder.jobs.check_isolation`), grades with the same runner
  and sandbox as the local pool, and returns the result as data (:func:`grade_payload`). Dask
  reschedules a task whose worker dies (up to ``distributed.scheduler.allowed-failures`` times);
  a worker that cannot isolate refuses the task (:class:`WorkerRefused`), which is then sent to
  the workers that have not refused it; when none is left the submission stays ungraded
  (nothing journaled) so that a later run grades it.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from autograder.errors import NotIsolated, ResultError, TaskNotRun, WorkerRefused
from autograder.jobs import check_isolation, machine_paths, run_job
from autograder.model import Job, SubmissionResult
from autograder.notebook import MAX_NOTEBOOK_BYTES, load_assignment
from autograder.safe import open_nofollow

__all__ = [
    "DaskExecutor",
    "LocalExecutor",
    "Task",
    "TaskNotRun",
    "WorkerRefused",
    "grade_payload",
    "make_executor",
    "make_payload",
]


@dataclass
class Task:
    """One submission to grade.

    Attributes
    ----------
    key : str
        Unique per submission in a run (the student id for ``grade``, the submission id for
        ``watch``).
    job : Job
        The runner's job (:mod:`autograder.runner`), with this machine's paths.
    folder : str
        The submission folder (``<student>/<assignment>/``) on the coordinator.
    hard_timeout : float
        Seconds after which the runner is killed.
    """

    key: str
    job: Job
    folder: str
    hard_timeout: float


class LocalExecutor:
    """The local pool: ``workers`` submissions at once, each in its own runner process.

    Parameters
    ----------
    workers : int
        Concurrent submissions.
    jobs_dir : str or None
        Parent of the per-submission working folders.
    specs : list
        The assignment's :class:`~autograder.notebook.NotebookSpec` (for failed results).
    """

    name = "local"

    def __init__(self, workers: int, jobs_dir: str | None, specs: list) -> None:
        self.workers = max(1, workers)
        self.jobs_dir = jobs_dir
        self.specs = specs

    def run(self, tasks: list[Task]) -> Iterator[tuple[Task, SubmissionResult | BaseException]]:
        """Grade ``tasks``; yield ``(task, result or exception)`` as each finishes."""
        if not tasks:
            return
        with cf.ThreadPoolExecutor(self.workers) as pool:
            futures = {
                pool.submit(run_job, t.job, self.specs, t.hard_timeout, self.jobs_dir): t
                for t in tasks
            }
            for fut in cf.as_completed(futures):
                try:
                    yield futures[fut], fut.result()
                except Exception as exc:  # e.g. no disk space for the job folder
                    yield futures[fut], exc

    def close(self) -> None:
        """Nothing to release."""


# --- moving a task as data ----------------------------------------------------------------------

#: Folders of the source tree that are never sent.
_SKIP_DIRS = {".ipynb_checkpoints", "__pycache__"}


def _read_tree(root: str) -> dict[str, bytes]:
    """Regular files below ``root`` (the instructor's source: trusted), by relative path."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as fh:
                    out[os.path.relpath(path, root)] = fh.read()
    return out


def _read_submission(folder: str, wanted: set[str]) -> dict[str, tuple[str, object]]:
    """The top-level entries of a submission folder (untrusted), as the runner will see them.

    The notebooks the assignment asks for (``wanted``) are read without following links and
    without blocking (``O_NOFOLLOW | O_NONBLOCK``, then ``fstat``); anything else is sent by
    name only (the runner only lists extra files). A notebook that is not a regular file is sent
    as its kind, and one over the size limit as its size, so that the worker recreates what the
    runner must refuse, with the same message.
    """
    out: dict[str, tuple[str, object]] = {}
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return out
    for name in names:
        path = os.path.join(folder, name)
        if name not in wanted:
            out[name] = ("extra", None)
            continue
        try:
            fd, st = open_nofollow(path)
        except OSError:
            out[name] = ("symlink" if os.path.islink(path) else "unreadable", None)
            continue
        with os.fdopen(fd, "rb") as fh:
            if stat.S_ISDIR(st.st_mode):
                out[name] = ("dir", None)
            elif not stat.S_ISREG(st.st_mode):
                out[name] = ("special", None)
            elif st.st_size > MAX_NOTEBOOK_BYTES:
                out[name] = ("large", st.st_size)
            else:
                out[name] = ("file", fh.read(MAX_NOTEBOOK_BYTES + 1))
    return out


def make_payload(task: Task, source_dir: str, allow_unisolated: bool) -> dict:
    """Everything a worker needs to grade ``task``, as plain data (no shared file system).

    Parameters
    ----------
    task : Task
        The submission.
    source_dir : str
        The assignment's source folder (sent whole: notebooks, data files).
    allow_unisolated : bool
        Whether a worker may grade without isolation (the results then say so).

    Returns
    -------
    dict
        ``job`` (machine-independent settings), ``source`` (path -> bytes), ``submission``
        (name -> (kind, content)), ``hard_timeout``, ``allow_unisolated``.
    """
    machine = {"source_dir", "submission_dir", "hide", "forbid_modules", "provide", "tmp_dir"}
    specs = load_assignment(source_dir)
    return {
        "key": task.key,
        "job": {k: v for k, v in task.job.to_json().items() if k not in machine},
        "source": _read_tree(source_dir),
        "submission": _read_submission(task.folder, {f"{s.name}.ipynb" for s in specs}),
        "hard_timeout": task.hard_timeout,
        "allow_unisolated": bool(allow_unisolated),
    }


def _write_submission(folder: str, entries: dict[str, tuple[str, object]], target: str) -> None:
    """Recreate a submission folder; a symbolic link points to ``target`` (an empty regular
    file), so that the runner sees a link to a file, as on the coordinator, and refuses it."""
    os.makedirs(folder)
    for name, (kind, content) in entries.items():
        if not name or "/" in name or name in (".", ".."):
            continue  # names came from os.listdir: cannot happen
        path = os.path.join(folder, name)
        if kind == "file":
            with open(path, "wb") as fh:
                fh.write(content)  # type: ignore[arg-type]
        elif kind == "large":
            with open(path, "wb") as fh:
                fh.truncate(int(content))  # type: ignore[arg-type]  # sparse: same size, refused
        elif kind == "symlink":
            os.symlink(target, path)
        elif kind == "special":
            os.mkfifo(path, 0o600)
        elif kind == "dir":
            os.mkdir(path)
        elif kind == "unreadable":
            open(path, "wb").close()
            os.chmod(path, 0)
        else:
            open(path, "wb").close()


def grade_payload(payload: dict) -> dict:
    """Grade one task on a worker (the function Dask runs); returns the result as data.

    The worker first checks that it can isolate student code, exactly like ``autograder grade``
    on one machine; if it cannot (and the instructor did not allow unisolated grading), it
    refuses the task with :class:`WorkerRefused`. Then it unpacks the payload into a private
    temporary folder (hidden from the sandbox, like the course directory locally), computes
    this machine's paths (forbidden and provided packages, datasets to hide) and grades with the
    same trusted runner and sandbox as the local pool.

    Parameters
    ----------
    payload : dict
        From :func:`make_payload`.

    Returns
    -------
    dict
        The runner's result (:class:`~autograder.model.SubmissionResult`'s JSON form).
    """
    host = socket.gethostname()
    try:
        warning = check_isolation(payload["allow_unisolated"])
    except NotIsolated as exc:
        try:
            from distributed import get_worker

            address = get_worker().address
        except (ImportError, ValueError):
            address = ""
        raise WorkerRefused(
            f"worker {host} {address} (pid {os.getpid()}) refuses to grade: {exc}. Fix or "
            "remove this worker; its tasks go to the other workers, and a submission no worker "
            "could grade stays ungraded for the next run",
            address,
        ) from None
    job = Job.from_json(payload["job"])
    assignment = job.assignment
    base = tempfile.mkdtemp(prefix="autograder-task-")
    try:
        os.chmod(base, 0o711)
        source = os.path.join(base, "source", assignment)
        for rel, data in payload["source"].items():
            path = os.path.normpath(os.path.join(source, rel))
            if not path.startswith(source + os.sep):
                continue  # the instructor's own tree: cannot happen
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
        submission = os.path.join(base, "submitted", "student", assignment)
        target = os.path.join(base, "link-target")
        open(target, "wb").close()
        _write_submission(submission, payload["submission"], target)
        jobs = os.path.join(base, "jobs")
        os.makedirs(jobs, mode=0o700)
        specs = load_assignment(source)
        paths = machine_paths(specs, hide=[base])
        job = job.replace(
            **paths, source_dir=source, submission_dir=submission, unisolated=bool(warning)
        )
        result = run_job(job, specs, float(payload["hard_timeout"]), jobs)
        result.worker = host
        return result.to_json()
    finally:
        shutil.rmtree(base, ignore_errors=True)


class DaskExecutor:
    """A Dask distributed cluster: one task per submission.

    Parameters
    ----------
    scheduler : str
        The scheduler's address (``tcp://HOST:PORT``).
    source_dir : str
        The assignment's source folder (sent with each task).
    allow_unisolated : bool
        Whether workers may grade without isolation.
    timeout : float
        Seconds to wait for the scheduler.
    """

    name = "dask"

    def __init__(
        self, scheduler: str, source_dir: str, allow_unisolated: bool, timeout: float = 30.0
    ) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - pinned in requirements.lock
            raise RuntimeError(
                "grading on a Dask cluster needs dask and distributed (pip install -r "
                "requirements.lock)"
            ) from None
        self.scheduler = scheduler
        self.source_dir = source_dir
        self.allow_unisolated = allow_unisolated
        try:
            self.client = Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise RuntimeError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None

    def run(self, tasks: list[Task]) -> Iterator[tuple[Task, SubmissionResult | BaseException]]:
        """Submit every task; yield ``(task, result or exception)`` as each finishes.

        An exception is a :class:`TaskNotRun` (the worker refused, or workers running it died
        more often than the scheduler allows, or the cluster went away), or a
        :class:`~autograder.errors.ResultError` when a worker's answer is not a result.
        """
        from distributed import as_completed

        futures = {}
        for t in tasks:
            futures[self._submit(t, set())] = (t, set())
        pending = as_completed(list(futures), loop=self.client.loop)
        for fut in pending:
            t, refused = futures.pop(fut)
            try:
                outcome = SubmissionResult.from_json(fut.result())
            except ResultError as exc:
                outcome = exc
            except WorkerRefused as exc:  # another worker may isolate: send it there
                refused.add(exc.worker)
                retry = self._submit(t, refused) if exc.worker else None
                if retry is not None:
                    futures[retry] = (t, refused)
                    pending.add(retry)
                    continue
                outcome = exc
            except TaskNotRun as exc:
                outcome = exc
            except Exception as exc:  # KilledWorker, lost connection, ...
                outcome = TaskNotRun(
                    f"the Dask cluster did not grade it ({type(exc).__name__}: {exc})"
                )
            finally:
                fut.release()
            yield t, outcome

    def _submit(self, t: Task, refused: set[str]):
        """Submit ``t`` to the workers that have not refused it (``None`` when none is left)."""
        payload = make_payload(t, self.source_dir, self.allow_unisolated)
        digest = hashlib.sha256(repr(sorted(payload["submission"].items())).encode())
        key = f"autograde-{t.job.assignment}-{t.key}-{digest.hexdigest()[:16]}"
        if not refused:
            return self.client.submit(grade_payload, payload, key=key, pure=False, retries=0)
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        others = [w for w in workers if w not in refused]
        if not others:
            return None
        return self.client.submit(
            grade_payload,
            payload,
            key=f"{key}-after-{len(refused)}-refusals",
            pure=False,
            retries=0,
            workers=others,
            allow_other_workers=False,
        )

    def close(self) -> None:
        """Disconnect from the scheduler (the cluster keeps running)."""
        self.client.close()


def make_executor(
    scheduler: str | None,
    workers: int,
    jobs_dir: str | None,
    specs: list,
    source_dir: str,
    allow_unisolated: bool,
):
    """The executor a run asked for: Dask when ``scheduler`` is set, else the local pool."""
    if scheduler:
        return DaskExecutor(scheduler, source_dir, allow_unisolated)
    return LocalExecutor(workers, jobs_dir, specs)
