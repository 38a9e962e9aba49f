"""The gradebook's database: SQLite (default) or PostgreSQL, through nbgrader's ``db_url``.

nbgrader's :class:`~nbgrader.api.Gradebook` works with any SQLAlchemy URL; a course on
PostgreSQL sets, in ``nbgrader_config.py``::

    c.CourseDirectory.db_url = "postgresql+psycopg://grader@db.example.org/course"

(the ``psycopg`` driver is pinned in ``requirements.lock``). Several writers at once (the grader,
the watcher, teaching assistants grading by hand in formgrader) are what a database server is
for; what remains is to survive its hiccups: :func:`store_with_retry` rolls back and tries again
when the server is restarting, a connection was dropped, or another writer raced on the same
row, so a grading run waits for the database instead of losing results.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["is_transient", "open_with_retry", "store_with_retry", "with_retry"]


def is_transient(exc: BaseException) -> bool:
    """Whether a database error is worth retrying (connection lost, server starting or shutting
    down, a concurrent writer's conflicting insert or a serialization failure, SQLite busy)."""
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa.OperationalError | sa.IntegrityError | sa.InterfaceError):
        return True
    if isinstance(exc, sa.PendingRollbackError):
        return True
    text = str(exc).lower()
    return any(
        w in text
        for w in (
            "database is locked",
            "connection",
            "server closed",
            "shutting down",
            "starting up",
        )
    )


def with_retry(gb: Any, action, *, attempts_s: float = 180.0, log: Any = None):
    """Run ``action()`` (which writes through ``gb`` and commits), retrying transient failures.

    Parameters
    ----------
    gb : nbgrader.api.Gradebook
        The open gradebook (its session is rolled back before each retry; SQLAlchemy's pool
        replaces a dropped connection).
    action : callable
        What to do.
    attempts_s : float
        How long to keep trying, in seconds.
    log : file-like, optional
        Gets one line per retry.

    Returns
    -------
    Any
        What ``action`` returned.
    """
    deadline = time.monotonic() + attempts_s
    delay = 0.2
    while True:
        try:
            return action()
        except Exception as exc:
            try:
                gb.db.rollback()
            except Exception:  # the connection is gone: the pool gives a new one next time
                pass
            if not is_transient(exc) or time.monotonic() + delay > deadline:
                raise
            if log is not None:
                first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                log.write(
                    f"gradebook busy or unreachable ({type(exc).__name__}: {first}); retrying\n"
                )
                log.flush()
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def store_with_retry(
    gb: Any, result: Any, *args: Any, attempts_s: float = 180.0, log: Any = None
) -> None:
    """:func:`autograder.gradebook.store_result` (idempotent; ``args`` passed on), retried by
    :func:`with_retry`."""
    from autograder.gradebook import store_result

    with_retry(gb, lambda: store_result(gb, result, *args), attempts_s=attempts_s, log=log)


def open_with_retry(course: Any, *, attempts_s: float = 180.0, log: Any = None) -> Any:
    """:func:`autograder.gradebook.open_gradebook`, retried while the database is unreachable
    (nbgrader's ``Gradebook`` connects when it is made)."""
    from autograder.gradebook import open_gradebook

    deadline = time.monotonic() + attempts_s
    delay = 0.2
    while True:
        try:
            return open_gradebook(course)
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + delay > deadline:
                raise
            if log is not None:
                log.write(f"gradebook unreachable ({type(exc).__name__}); retrying\n")
                log.flush()
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
