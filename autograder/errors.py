"""The exceptions the autograder raises to the instructor (and to its own callers).

One place for all of them, so that a caller can catch :class:`AutograderError` and every
module can raise any of them without importing another module of the package: this module
imports nothing. Each keeps the built-in base it always had (``RuntimeError``, ``ValueError``),
so code that caught those still does. Every message says what went wrong and what to do.
"""

from __future__ import annotations

__all__ = [
    "AutograderError",
    "CollectError",
    "GradingBusy",
    "InvalidNotebook",
    "NotIsolated",
    "ReleaseError",
    "ResultError",
    "RosterError",
    "SandboxCrashed",
    "SandboxError",
    "SandboxTimeout",
    "StudentError",
    "TaskNotRun",
    "WorkerRefused",
]


class AutograderError(Exception):
    """Base of the autograder's own errors."""


# --- the course's files --------------------------------------------------------------------


class InvalidNotebook(AutograderError, ValueError):
    """A file is not a notebook this grader can read; the message says why, for the student."""


class ReleaseError(AutograderError, RuntimeError):
    """nbgrader failed, or the release contains solution code or hidden tests."""


class CollectError(AutograderError, RuntimeError):
    """The export is unsafe (zip bomb, too many files) or unreadable."""


class RosterError(AutograderError, ValueError):
    """A roster file that cannot be used (unknown columns, duplicate ids), naming the file."""


class ResultError(AutograderError, ValueError):
    """A stored result (a file, or what a runner or worker sent back) is not a result."""


# --- grading -------------------------------------------------------------------------------


class GradingBusy(AutograderError, RuntimeError):
    """Another grading run (or watcher) of the same assignment holds its lock."""


class NotIsolated(AutograderError, RuntimeError):
    """The sandbox cannot be isolated on this machine; the message says why and what to do."""


class TaskNotRun(AutograderError, RuntimeError):
    """The executor could not grade a task (a worker refused it, died too often, the cluster went
    away): the submission is not graded in this run, and a later run grades it."""


class WorkerRefused(TaskNotRun):
    """A worker refused a task because it cannot isolate student code there.

    Parameters
    ----------
    message : str
        Why, and what to do.
    worker : str
        The refusing worker's address (empty outside a Dask worker).
    """

    def __init__(self, message: str, worker: str = "") -> None:
        super().__init__(message, worker)
        self.worker = worker

    def __str__(self) -> str:
        return str(self.args[0])


# --- the sandbox (raised inside the trusted runner, turned into test results) ---------------


class SandboxError(AutograderError):
    """The sandbox could not answer (base class)."""


class SandboxTimeout(SandboxError):
    """The student's code did not finish before its deadline (the sandbox was killed)."""


class SandboxCrashed(SandboxError):
    """The sandbox process died or broke the protocol."""


class StudentError(AutograderError):
    """The student's code raised an exception; ``type_name``/``message``/``student_traceback``.

    Parameters
    ----------
    type_name : str
        The exception's type name, as the sandbox reported it.
    message : str
        Its message.
    student_traceback : str
        The traceback in the student's code.
    """

    def __init__(self, type_name: str, message: str, student_traceback: str = "") -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
        self.student_traceback = student_traceback
