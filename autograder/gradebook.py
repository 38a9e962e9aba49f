"""Writing scores into nbgrader's gradebook, and exporting them as CSV.

Scores of test cells go in as ``auto_score`` of the notebook's grade cells (nbgrader's own
``Gradebook`` API, so formgrader and ``nbgrader export`` see them); written answers are left for
manual grading (``needs_manual_grade``). Writing is idempotent: storing the same result again gives
the same rows, which is what makes a resumed run safe. The submission's time (``timestamp.txt``)
becomes nbgrader's submission ``timestamp``, the configured due date and extension nbgrader's
``duedate`` and ``extension``, and late penalties are nbgrader's (:mod:`autograder.late`).

Exports (:func:`export_csv`) have one row per student and assignment, the roster's students and
the gradebook's together: ``missing`` for a student who did not submit (never a 0), ``pending``
for points that await a human. Formats: ``long`` (ours), ``canvas`` (Canvas's gradebook import),
``moodle`` (Moodle's CSV grade import).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import os
import shutil
import sys
import warnings
from typing import Any

from autograder.config import Course
from autograder.model import SubmissionResult
from autograder.safe import csv_cell

__all__ = [
    "ensure_alembic_on_path",
    "export_csv",
    "grade_rows",
    "hand_grade",
    "open_gradebook",
    "store_result",
]


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


def _student_names(gb: Any, student: str, name: str) -> None:
    """Record the display name in nbgrader's student row (first/last name), if known.

    Canvas's ``Last, First`` is split at the comma; no comma is stored (``nbgrader export``
    writes its CSV unquoted) and a leading formula character is neutralised (``csv_cell``)."""
    if not name:
        return
    if "," in name:
        last, _, first = name.partition(",")
    else:
        first, _, last = name.strip().partition(" ")
    first, last = (str(csv_cell(x.replace(",", " ").strip())) for x in (first, last))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gb.update_or_create_student(student, first_name=first, last_name=last or None)


def _apply_time(gb: Any, course: Course, result: SubmissionResult, sub: Any) -> None:
    """Submission time, due date, extension and late penalties (nbgrader's conventions)."""
    from nbgrader.utils import parse_utc

    from autograder import late

    assignment, student = result.assignment, result.student
    stamp = result.version.get("submitted_at")
    try:
        sub.timestamp = parse_utc(stamp) if stamp else sub.timestamp
    except (ValueError, OverflowError, TypeError):
        pass
    due = late.due_date(course, assignment)
    if due is not None and sub.assignment.duedate != due:
        sub.assignment.duedate = due
    ext = late.extension(course, assignment, student)
    sub.extension = datetime.timedelta(**ext) if ext else None
    gb.db.commit()
    seconds = sub.total_seconds_late if sub.timestamp is not None else 0.0
    plugin = late.late_plugin(course) if seconds > 0 else None
    for nb in sub.notebooks:
        nb.late_submission_penalty = (
            late.penalty(plugin, student, nb.score, seconds) if plugin is not None else 0.0
        )


def store_result(
    gb: Any,
    result: SubmissionResult | dict,
    course: Course | None = None,
    stale: list[str] | None = None,
) -> None:
    """Write one graded submission into the gradebook (idempotent).

    Parameters
    ----------
    gb : nbgrader.api.Gradebook
        An open gradebook that knows the assignment (``autograder release`` adds it).
    result : SubmissionResult or dict
        A result from :func:`autograder.runner.grade_submission` (with its ``version``: hash and
        submission time), or its JSON form.
    course : Course, optional
        For the due date, extensions and the late-penalty plugin, and the display names.
    stale : list of str, optional
        ``<notebook>/<grade id>`` of written answers that changed since a human graded them
        (a resubmission): their hand score and comment are cleared, the points pending again.
    """
    from sqlalchemy.exc import SAWarning

    result = SubmissionResult.coerce(result)
    student, assignment = result.student, result.assignment
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # emitted inside nbgrader's add_submission
        gb.update_or_create_student(student)
        sub = gb.update_or_create_submission(assignment, student)
    for nb in result.notebooks:
        for test in nb.tests:
            try:
                grade = gb.find_grade(test.grade_id, nb.notebook, assignment, student)
            except Exception:
                continue  # a cell the gradebook does not know (release is out of date)
            if test.kind == "manual":
                if f"{nb.notebook}/{test.grade_id}" in (stale or []):
                    grade.manual_score = None
                    with contextlib.suppress(Exception):
                        gb.find_comment(
                            test.grade_id, nb.notebook, assignment, student
                        ).manual_comment = None
                grade.auto_score = None
                grade.needs_manual_grade = grade.manual_score is None
            else:
                grade.auto_score = float(test.points or 0.0)
                grade.needs_manual_grade = grade.manual_score is not None
    gb.db.commit()
    if course is not None:
        from autograder.lms import load_identities, load_roster

        who = load_identities(os.path.join(course.root, ".autograder")).get(student, {})
        person = {e.id: e for e in load_roster(os.path.join(course.root, ".autograder"))[1]}
        name = person[student].name if student in person else ""
        _student_names(gb, student, name or who.get("name", ""))
        if student in person and person[student].email:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gb.update_or_create_student(student, email=person[student].email)
        _apply_time(gb, course, result, sub)
    gb.db.commit()


def _late_by(seconds: float) -> str:
    """``1d 02:03:04`` (empty when on time)."""
    if not seconds or seconds <= 0:
        return ""
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{h:02d}:{m:02d}:{s:02d}"


def grade_rows(course: Course, assignments: list[str] | None = None) -> tuple[list[dict], list]:
    """Every (student, assignment) of the class, from the gradebook and the roster.

    Returns
    -------
    (rows, cells)
        Each row: ``student_id``, ``name``, ``email``, ``sis_id``, ``login``, ``section``,
        ``assignment``, ``status`` (``graded``, ``pending``: points await a human, ``missing``:
        no submission), ``score`` (automatic plus hand-entered points; ``missing`` when nothing
        was submitted), ``max_score``, ``pending`` (points not graded yet), ``submitted_at``,
        ``late_by``, ``penalty``, ``final_score`` (score minus penalty), ``version`` (hash of
        the graded submission), and per grade cell its score or ``pending``. ``cells``: the
        grade cells' names, in order.
    """
    from autograder.lms import load_identities, load_roster

    state_root = os.path.join(course.root, ".autograder")
    _, roster = load_roster(state_root)
    people = {e.id: e for e in roster}
    rows: list[dict] = []
    columns: list[str] = []
    with open_gradebook(course) as gb:
        chosen = [a for a in gb.assignments if assignments is None or a.name in assignments]
        students = {s.id: s for s in gb.students}
        ids = sorted(set(students) | set(people))
        for assignment in sorted(chosen, key=lambda a: a.name):
            cells = [(nb.name, c.name) for nb in assignment.notebooks for c in nb.grade_cells]
            columns.extend(c for _, c in cells if c not in columns)
            versions = _versions(course, assignment.name)
            submitted = {x.student_id: x for x in gb.assignment_submissions(assignment.name)}
            flagged = {
                k
                for k, v in load_identities(course.state_dir(assignment.name)).items()
                if v.get("late")
            }
            for sid in ids:
                person = people.get(sid)
                st = students.get(sid)
                gb_name = " ".join(x for x in (st.first_name, st.last_name) if x) if st else ""
                row: dict = {
                    "student_id": sid,
                    "name": (person.name if person else "") or gb_name,
                    "email": (person.email if person else "") or (st.email if st else "") or "",
                    "sis_id": person.sis_id if person else "",
                    "login": person.login if person else "",
                    "section": person.section if person else "",
                    "assignment": assignment.name,
                    "max_score": assignment.max_score,
                }
                sub = submitted.get(sid)
                if sub is None:
                    row.update(status="missing", score="missing", final_score="missing")
                    rows.append(row)
                    continue
                pending = 0.0
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.manual_score is None and grade.auto_score is None:
                            pending += grade.max_score
                            row[grade.name] = "pending"
                        else:
                            row[grade.name] = grade.score
                seconds = sub.total_seconds_late if sub.timestamp is not None else 0.0
                penalty = float(sub.late_submission_penalty or 0.0)
                row.update(
                    status="pending" if pending else "graded",
                    score=sub.score,
                    pending=pending,
                    submitted_at=(
                        sub.timestamp.strftime("%Y-%m-%d %H:%M:%S UTC") if sub.timestamp else ""
                    ),
                    late_by=_late_by(seconds),
                    penalty=penalty,
                    final_score=max(0.0, sub.score - penalty),
                    version=versions.get(sid, ""),
                    lms_late="LATE" if sid in flagged else "",
                )
                rows.append(row)
    return rows, columns


def _versions(course: Course, assignment: str) -> dict[str, str]:
    """Student -> hash of the graded submission (from the journal)."""
    from autograder.journal import Journal

    graded, _ = Journal(os.path.join(course.state_dir(assignment), "journal.jsonl")).read()
    return {s: str(r.get("sha256", ""))[:12] for s, r in graded.items()}


LONG = ["student_id", "name", "assignment", "status", "score", "max_score", "pending"]
LONG_TIME = ["submitted_at", "late_by", "penalty", "final_score", "lms_late", "version"]


def export_csv(
    course: Course, path: str, assignments: list[str] | None = None, fmt: str = "long"
) -> int:
    """Write scores as CSV.

    ``long``: ``student_id, assignment, score, max_score``, then ``name, status, pending,
    submitted_at, late_by, penalty, final_score, lms_late`` (Canvas's ``LATE`` flag), ``version`` and one column per grade cell (a
    cell awaiting a human says ``pending``; a student who did not submit has status and score
    ``missing``). ``canvas``: Canvas's gradebook import (``Student, ID, SIS User ID, SIS Login
    ID, Section, <assignment> (<Canvas assignment id>)``, a ``Points Possible`` row, one row per
    student; the final score, or an empty cell, which Canvas leaves unchanged, while points are
    pending or nothing was submitted). ``moodle``: Moodle's CSV grade import (``Full name,
    Email address, ID number, <assignment>``; map ``Email address`` or ``ID number`` to the user
    when importing; empty cells are skipped the same way).

    Every text cell (student ids and names included) goes through
    :func:`autograder.safe.csv_cell`: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or
    a carriage return gets a leading ``'`` so that no spreadsheet evaluates it, and invalid
    UTF-8 is replaced.

    Parameters
    ----------
    course : Course
        The course.
    path : str
        The CSV file to write.
    assignments : list of str, optional
        Only these assignments (default: all in the gradebook).
    fmt : str
        ``long``, ``canvas`` or ``moodle``.

    Returns
    -------
    int
        Number of student rows written.
    """
    rows, columns = grade_rows(course, assignments)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    names = sorted({r["assignment"] for r in rows})
    if fmt == "long":
        header = ["student_id", "assignment", "score", "max_score", "name", "status", "pending"]
        header += [*LONG_TIME, *columns]
        table = [[r.get(c, "") for c in header] for r in rows]
    elif fmt in ("canvas", "moodle"):
        ids = course.settings.get("lms_assignment_ids") or {}
        by_student: dict[str, dict] = {}
        maxes: dict[str, float] = {}
        for r in rows:
            by_student.setdefault(r["student_id"], r)
            maxes[r["assignment"]] = r["max_score"]
            ok = r["status"] == "graded"
            by_student[r["student_id"]]["@" + r["assignment"]] = r["final_score"] if ok else ""
        if fmt == "canvas":
            heads = [f"{a} ({ids[a]})" if ids.get(a) else a for a in names]
            header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *heads]
            table = [["Points Possible", "", "", "", "", *[maxes[a] for a in names]]]
            for sid, r in sorted(by_student.items(), key=lambda kv: (kv[1]["name"], kv[0])):
                name = r["name"]
                if " " in name and "," not in name:  # Canvas shows "Last, First"
                    first, _, last = name.rpartition(" ")
                    name = f"{last}, {first}"
                table.append(
                    [name, sid, r["sis_id"], r["login"], r["section"], *[r["@" + a] for a in names]]
                )
        else:
            header = ["Full name", "Email address", "ID number", *names]
            table = [
                [r["name"], r["email"], r["sis_id"], *[r["@" + a] for a in names]]
                for _, r in sorted(by_student.items())
            ]
        rows = list(by_student.values())
    else:
        raise ValueError(f"unknown export format {fmt!r} (long, canvas or moodle)")
    with open(path, "w", newline="", encoding="utf-8", errors="replace") as fh:
        writer = csv.writer(fh)
        writer.writerow([csv_cell(c) for c in header])
        for line in table:
            writer.writerow([csv_cell(c) for c in line])
    return len(rows)


def hand_grade(
    course: Course,
    assignment: str,
    student: str,
    grade_id: str,
    points: float | None,
    comment: str | None = None,
) -> None:
    """Enter a hand grade (and comment) as formgrader does, for a cell of any notebook.

    Raises
    ------
    ValueError
        Unknown submission or cell, or points outside ``[0, max]``.
    """
    from nbgrader.api import MissingEntry

    with open_gradebook(course) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            raise ValueError(f"{student} has no graded submission of {assignment}") from None
        for nb in sub.notebooks:
            grade = next((g for g in nb.grades if g.name == grade_id), None)
            comm = next((c for c in nb.comments if c.name == grade_id), None)
            if grade is None and comm is None:
                continue
            if points is not None:
                if grade is None:
                    raise ValueError(f"{grade_id} is not graded (comment only)")
                if not 0 <= points <= grade.max_score:
                    raise ValueError(f"{grade_id}: points must be in [0, {grade.max_score:g}]")
                grade.manual_score = float(points)
                grade.needs_manual_grade = False
            if comment is not None and comm is not None:
                comm.manual_comment = comment
            gb.db.commit()
            return
        raise ValueError(f"{assignment} has no cell {grade_id!r}")
