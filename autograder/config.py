"""The course directory and its settings (nbgrader's ``nbgrader_config.py``).

The course directory is nbgrader's: ``source/<assignment>/``, ``release/<assignment>/``,
``submitted/<student>/<assignment>/``, ``feedback/...`` and the gradebook (``db_url``). The
autograder keeps its own state (journal, per-submission results, reports) in
``.autograder/<assignment>/`` there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from autograder.isolation import DEFAULT_UID_BASE

__all__ = ["Course", "find_course_dir", "load_course"]

DEFAULTS: dict[str, Any] = {
    "timeout": 120.0,
    "cell_timeout": 30.0,
    "memory_mb": 1024,
    "nproc": 32,
    "fsize_mb": 16,
    "nofile": 64,
    "tmp_mb": 64,
    "uid_base": DEFAULT_UID_BASE,
    "output_cap": 64 * 1024,
    "scheduler": "",  # a Dask scheduler (tcp://HOST:PORT) to grade on; empty: the local pool
    "due_dates": {},
    "extensions": {},
    "lms_assignment_ids": {},
}


@dataclass
class Course:
    """A course directory with its nbgrader configuration.

    Attributes
    ----------
    root : str
        Absolute path of the course directory.
    db_url : str
        The gradebook's SQLAlchemy URL.
    course_id : str
        nbgrader's course id.
    settings : dict
        The autograder's settings (:data:`DEFAULTS` updated from ``c.Autograder``).
    config : Any
        The loaded traitlets ``Config`` (for nbgrader's own API).
    """

    root: str
    db_url: str
    course_id: str
    settings: dict = field(default_factory=lambda: dict(DEFAULTS))
    config: Any = None

    def source_dir(self, assignment: str) -> str:
        """``source/<assignment>``."""
        return os.path.join(self.root, "source", assignment)

    def release_dir(self, assignment: str) -> str:
        """``release/<assignment>``."""
        return os.path.join(self.root, "release", assignment)

    @property
    def submitted_dir(self) -> str:
        """``submitted/`` (``<student>/<assignment>/`` below it)."""
        return os.path.join(self.root, "submitted")

    def feedback_dir(self, student: str, assignment: str) -> str:
        """``autograder-feedback/<student>/<assignment>``: beside nbgrader's ``feedback/``, which
        ``nbgrader generate_feedback`` owns (it removes a student's folder there with
        ``--force``, and skips a folder that already exists)."""
        return os.path.join(self.root, "autograder-feedback", student, assignment)

    def state_dir(self, assignment: str) -> str:
        """``.autograder/<assignment>``: journal, results, reports."""
        return os.path.join(self.root, ".autograder", assignment)

    def assignments(self) -> list[str]:
        """Assignments that have a source folder, sorted."""
        base = os.path.join(self.root, "source")
        if not os.path.isdir(base):
            return []
        return sorted(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d)))


def find_course_dir(start: str | None = None) -> str:
    """Locate the course directory.

    Parameters
    ----------
    start : str, optional
        An explicit course directory; else ``$AUTOGRADER_COURSE_DIR``, else the current folder if
        it holds ``nbgrader_config.py``, else its ``exercises/`` subfolder.

    Returns
    -------
    str
        The absolute path.
    """
    if start:
        return os.path.abspath(start)
    env = os.environ.get("AUTOGRADER_COURSE_DIR")
    if env:
        return os.path.abspath(env)
    cwd = os.getcwd()
    if os.path.isfile(os.path.join(cwd, "nbgrader_config.py")):
        return cwd
    return os.path.join(cwd, "exercises")


def load_course(course_dir: str | None = None) -> Course:
    """Load the course directory's ``nbgrader_config.py`` (if any).

    Parameters
    ----------
    course_dir : str, optional
        See :func:`find_course_dir`.

    Returns
    -------
    Course
        The course.
    """
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    root = find_course_dir(course_dir)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"course directory {root} does not exist")
    config = Config()
    if os.path.isfile(os.path.join(root, "nbgrader_config.py")):
        config = PyFileConfigLoader("nbgrader_config.py", path=root).load_config()
    config.CourseDirectory.root = root
    cd = config.CourseDirectory
    db_url = cd.db_url if "db_url" in cd else "sqlite:///" + os.path.join(root, "gradebook.db")
    course_id = cd.course_id if "course_id" in cd else "default_course"
    settings = dict(DEFAULTS)
    for key, value in config.Autograder.items() if "Autograder" in config else ():
        settings[key] = value
    return Course(root, db_url, course_id, settings, config)
