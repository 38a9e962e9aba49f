"""Writing scores into nbgrader's gradebook, and exporting them as CSV.

Scores of test cells go in as ``auto_score`` of the notebook's grade cells (nbgrader's own
``Gradebook`` API, so formgrader and ``nbgrader export`` see them); written answers are left for
manual grading (``needs_manual_grade``). Writing is idempotent: storing the same result again gives
the same rows, which is what makes a resumed run safe.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
import warnings
from typing import Any

from autograder.config import Course
from autograder.safe import csv_cell

__all__ = ["ensure_alembic_on_path", "export_csv", "open_gradebook", "store_result"]


def ensure_alembic_on_path() -> None:
    """Put the interpreter's ``bin`` folder on ``PATH`` if ``alembic`` is not found.

    nbgrader runs the ``alembic`` command when it creates a new gradebook; a virtual environment's
    scripts are not on ``PATH`` when its python is called directly.
    """
    if shutil.which("alembic") is None:
        bindir = os.path.dirname(sys.executable)
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def open_gradebook(course: Course) -> Any:
    """Open the course's gradebook (created if needed).

    Parameters
    ----------
    course : Course
        The course.

    Returns
    -------
    nbgrader.api.Gradebook
        Use it as a context manager.
    """
    from nbgrader.api import Gradebook

    ensure_alembic_on_path()
    return Gradebook(course.db_url, course.course_id)


def store_result(gb: Any, result: dict) -> None:
    """Write one graded submission into the gradebook (idempotent).

    Parameters
    ----------
    gb : nbgrader.api.Gradebook
        An open gradebook that knows the assignment (``autograder release`` adds it).
    result : dict
        A result from :func:`autograder.runner.grade_submission`.
    """
    from sqlalchemy.exc import SAWarning

    student, assignment = result["student"], result["assignment"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # emitted inside nbgrader's add_submission
        gb.update_or_create_student(student)
        gb.update_or_create_submission(assignment, student)
    for nb in result.get("notebooks", []):
        for test in nb.get("tests", []):
            try:
                grade = gb.find_grade(test["grade_id"], nb["notebook"], assignment, student)
            except Exception:
                continue  # a cell the gradebook does not know (release is out of date)
            if test["kind"] == "manual":
                grade.auto_score = None
                grade.needs_manual_grade = True
            else:
                grade.auto_score = float(test["points"] or 0.0)
                grade.needs_manual_grade = grade.manual_score is not None
    gb.db.commit()


def export_csv(course: Course, path: str, assignments: list[str] | None = None) -> int:
    """Write scores as CSV: ``student_id, assignment, score, max_score``, then one column per cell.

    Every text cell (student ids included) goes through :func:`autograder.safe.csv_cell`: a cell
    starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so
    that no spreadsheet evaluates it, and invalid UTF-8 is replaced.

    Parameters
    ----------
    course : Course
        The course.
    path : str
        The CSV file to write.
    assignments : list of str, optional
        Only these assignments (default: all in the gradebook).

    Returns
    -------
    int
        Number of rows written.
    """
    from nbgrader.api import MissingEntry

    rows: list[dict] = []
    columns: list[str] = []
    with open_gradebook(course) as gb:
        chosen = [a for a in gb.assignments if assignments is None or a.name in assignments]
        for assignment in sorted(chosen, key=lambda a: a.name):
            cells = [(nb.name, c.name) for nb in assignment.notebooks for c in nb.grade_cells]
            columns.extend(c for _, c in cells if c not in columns)
            for student in sorted(gb.students, key=lambda s: s.id):
                row: dict = {"student_id": student.id, "assignment": assignment.name}
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                except MissingEntry:
                    row.update(score=0.0, max_score=assignment.max_score)
                    rows.append(row)
                    continue
                row.update(score=sub.score, max_score=sub.max_score)
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        row[grade.name] = grade.score
                rows.append(row)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    header = ["student_id", "assignment", "score", "max_score", *columns]
    with open(path, "w", newline="", encoding="utf-8", errors="replace") as fh:
        writer = csv.writer(fh)
        writer.writerow([csv_cell(c) for c in header])
        for row in rows:
            writer.writerow([csv_cell(row.get(c, "")) for c in header])
    return len(rows)
