"""A grading job: what the trusted runner needs, built once per assignment and machine, run
in its own process, and the result that stands in when a runner fails.

:func:`make_base_job` builds the assignment's :class:`~autograder.model.Job` (limits, this
machine's hidden and provided paths, the seed secret); each submission adds its student and
folder; :func:`run_job` runs :mod:`autograder.runner` on it in a fresh process and reads back
its :class:`~autograder.model.SubmissionResult` (or :func:`failed_result` when none came).
Used by ``grade``, ``watch``, ``check`` and the executors (:mod:`autograder.executors`), on
this machine or on a Dask worker.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field

from autograder.config import Course
from autograder.errors import NotIsolated
from autograder.forbid import module_locations
from autograder.isolation import DATA_DIR, probe
from autograder.launch import module_command
from autograder.model import Job, NotebookResult, SubmissionResult, TestResult
from autograder.notebook import NotebookSpec
from autograder.safe import load_json_clean, write_json_atomic

__all__ = [
    "GradeOptions",
    "check_isolation",
    "failed_result",
    "machine_paths",
    "make_base_job",
    "provided",
    "run_job",
    "sandbox_limits",
]


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


def failed_result(
    specs: list[NotebookSpec], student: str, assignment: str, status: str, message: str
) -> SubmissionResult:
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
    SubmissionResult
        Every test failed with ``status`` and ``message`` (manual cells pending).
    """
    result = SubmissionResult(student, assignment, messages=[message])
    for spec in specs:
        tests = [TestResult.graded(cell, False, status, message) for cell in spec.graded]
        result.notebooks.append(NotebookResult(spec.name, status, [message], tests))
    result.add_up()
    return result


def run_job(
    job: Job, specs: list[NotebookSpec], hard_timeout: float, base: str | None
) -> SubmissionResult:
    """Grade one submission in a fresh runner process (:mod:`autograder.runner`), killed with
    everything it started after ``hard_timeout`` seconds.

    Parameters
    ----------
    job : Job
        The submission's job.
    specs : list of NotebookSpec
        The assignment's notebooks (for the result that stands in when the runner fails).
    hard_timeout : float
        Seconds before the runner's process group is killed.
    base : str or None
        Where the job's private folder goes (removed afterwards).

    Returns
    -------
    SubmissionResult
        The runner's result, or :func:`failed_result` (``timeout``/``crashed``) saying why
        there is none.
    """
    tmp = tempfile.mkdtemp(prefix="autograder-job-", dir=base)
    job_path, result_path = os.path.join(tmp, "job.json"), os.path.join(tmp, "result.json")
    write_json_atomic(job_path, job.replace(tmp_dir=tmp).to_json())
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
                code: int | str = proc.wait(timeout=hard_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                code = "killed after the time limit"
        problems: list[str] = []
        if os.path.isfile(result_path):
            try:
                result = SubmissionResult.from_json(load_json_clean(result_path), problems)
                if problems:  # a grader bug, said where the instructor and student see it
                    result.messages.append(f"parts of this result were unreadable: {problems[0]}")
                return result
            except (OSError, ValueError) as exc:  # ResultError included
                problems.append(str(exc))
        with open(os.path.join(tmp, "stderr.txt"), "rb") as fh:
            tail = fh.read()[-1500:].decode("utf-8", "replace").strip()
        status = "timeout" if isinstance(code, str) else "crashed"
        msg = f"the grader's runner for this submission failed ({code})"
        why = problems[0] if problems else tail.splitlines()[-1] if tail else ""
        return failed_result(
            specs, job.student, job.assignment, status, msg + (f": {why}" if why else "")
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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


def provided(spec: NotebookSpec) -> dict:
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
        provide[spec.name] = provided(spec)
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
) -> Job:
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
    Job
        The job's common part.
    """
    s = course.settings
    state = course.state_dir(assignment)
    timeout = float(opts.timeout or s["timeout"])
    return Job(
        assignment=assignment,
        source_dir=course.source_dir(assignment),
        limits=sandbox_limits(s, timeout, opts.memory_mb),
        timeout=timeout,
        cell_timeout=min(float(opts.cell_timeout or s["cell_timeout"]), timeout),
        **machine_paths(specs, [course.root, *hide, state]),
        uid_base=int(s["uid_base"]),
        output_cap=int(s["output_cap"]),
        runner_path=list(opts.runner_path),
        unisolated=bool(unisolated),
        seed_secret=_secret(state),
    )


def sandbox_limits(settings: dict, timeout: float, memory_mb: int | None = None) -> dict[str, int]:
    """The sandbox's :class:`~autograder.isolation.Limits` for a job, from the course's settings
    (or :data:`autograder.config.DEFAULTS`).

    Parameters
    ----------
    settings : dict
        ``nproc``, ``fsize_mb``, ``nofile``, ``tmp_mb`` and ``memory_mb``.
    timeout : float
        The submission's seconds (the CPU limit is a little more).
    memory_mb : int, optional
        Overrides the settings' memory limit.

    Returns
    -------
    dict
        Keyword arguments of ``Limits``.
    """
    limits = {k: int(settings[k]) for k in ("nproc", "fsize_mb", "nofile", "tmp_mb")}
    limits["memory_mb"] = int(memory_mb or settings["memory_mb"])
    limits["cpu_s"] = int(timeout) + 5
    return limits
