"""Late submissions, as nbgrader counts them.

The due date of an assignment is ``c.Autograder.due_dates = {"<assignment>": "2026-12-01 23:59:00
UTC"}`` (any time ``nbgrader.utils.parse_utc`` reads; stored as the gradebook assignment's
``duedate``); per-student extensions are ``c.Autograder.extensions = {"<assignment>":
{"<student>": {"hours": 24}}}`` (or a number of hours; stored with nbgrader's
``Gradebook.grant_extension``). A submission's time is nbgrader's ``timestamp.txt``, stored as
the submission's ``timestamp``; ``total_seconds_late`` is nbgrader's own.

Penalties follow nbgrader's late-submission plugin convention: the class in
``c.AssignLatePenalties.plugin_class`` (default nbgrader's ``LateSubmissionPlugin``, whose
``c.LateSubmissionPlugin.penalty_method`` is ``none`` or ``zero``) is asked
``late_submission_penalty(student_id, score, total_seconds_late)`` per notebook, the answer
clipped to ``[0, score]`` and stored as the notebook's ``late_submission_penalty``, as nbgrader's
``AssignLatePenalties`` preprocessor does. :class:`SubtractPenalty` is the per-hour plugin of
nbgrader's documentation, with the points per hour configurable.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

__all__ = ["SubtractPenalty", "due_date", "extension", "late_plugin", "penalty"]


class SubtractPenalty(LateSubmissionPlugin):
    """``points_per_hour`` points off per started hour late (nbgrader's documented example)."""

    points_per_hour = Float(1.0, help="points subtracted per started hour late").tag(config=True)

    def late_submission_penalty(
        self, student_id: str, score: float, total_seconds_late: float
    ) -> float:
        """Points off: ``points_per_hour`` times the started hours late."""
        return self.points_per_hour * math.ceil(total_seconds_late / 3600)


def due_date(course: Any, assignment: str) -> datetime.datetime | None:
    """The assignment's due date from ``c.Autograder.due_dates`` (naive UTC), or None."""
    from nbgrader.utils import parse_utc

    dates = course.settings.get("due_dates") or {}
    value = dates.get(assignment) if hasattr(dates, "get") else None
    return parse_utc(value) if value else None


def extension(course: Any, assignment: str, student: str) -> dict | None:
    """The student's extension (``timedelta`` keyword arguments) from the config, or None."""
    per = (course.settings.get("extensions") or {}).get(assignment) or {}
    value = per.get(student) if hasattr(per, "get") else None
    if value is None:
        return None
    if isinstance(value, int | float):
        return {"hours": float(value)}
    return {
        k: float(v) for k, v in dict(value).items() if k in ("minutes", "hours", "days", "weeks")
    }


def late_plugin(course: Any) -> LateSubmissionPlugin:
    """The configured late-submission plugin (nbgrader's ``AssignLatePenalties.plugin_class``)."""
    from traitlets.utils.importstring import import_item

    cls: Any = LateSubmissionPlugin
    cfg = course.config
    if (
        cfg is not None
        and "AssignLatePenalties" in cfg
        and "plugin_class" in cfg.AssignLatePenalties
    ):
        cls = cfg.AssignLatePenalties.plugin_class
        if isinstance(cls, str):
            cls = import_item(cls)
    return cls(config=cfg)


def penalty(plugin: LateSubmissionPlugin, student: str, score: float, seconds_late: float) -> float:
    """The penalty for one notebook, as nbgrader's ``AssignLatePenalties`` computes it."""
    if seconds_late <= 0:
        return 0.0
    value = plugin.late_submission_penalty(student, score, seconds_late)
    if value is None:
        return 0.0
    return float(min(max(value, 0.0), score))
