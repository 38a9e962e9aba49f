"""``autograder feedback``: one HTML page per student with each test's score and message.

Built from the per-submission result JSON (and manual scores from the gradebook when there are
any). It shows test ids, points, pass/fail, the assertion messages (expected vs actual values,
shapes, tolerances) and errors from the student's own cells, never any test source: hidden tests
stay hidden, unlike nbgrader's stock feedback, which renders the autograded notebook with them.
"""

from __future__ import annotations

import os

from autograder.config import Course
from autograder.diagnose import feedback_html
from autograder.errors import ResultError
from autograder.model import SubmissionResult, load_result
from autograder.safe import clean_text, clean_tree, html_text, show_id, student_id_problem

__all__ = ["feedback_zip", "render_feedback", "write_feedback"]

_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.4rem;text-align:left;
vertical-align:top}th{background:#f4f4f4}.ok{color:#176117}.bad{color:#a11}.manual{color:#666}
pre{white-space:pre-wrap;margin:0;font-size:.9em}.diag,.read{margin:.3rem 0 0}
"""
# no script, no frames, no forms, no external loads: only the inline style above
_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _gradebook_extras(course: Course, assignment: str) -> dict[str, dict]:
    """Student -> ``manual`` (grade id -> hand-entered score), ``comments`` (cell -> the
    grader's comment) and ``late`` (submitted_at, late_by, penalty) from the gradebook (empty if
    unavailable). Comments are whatever a grader typed in formgrader: student-visible text,
    escaped like everything else when written."""
    try:
        from autograder.gradebook import _late_by, open_gradebook

        out: dict[str, dict] = {}
        with open_gradebook(course) as gb:
            for sub in gb.assignment_submissions(assignment):
                extra = out.setdefault(sub.student.id, {"manual": {}, "comments": {}, "late": {}})
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.manual_score is not None:
                            extra["manual"][grade.name] = grade.manual_score
                    for comment in nb.comments:
                        if comment.manual_comment:
                            extra["comments"][f"{nb.name}: {comment.name}"] = comment.manual_comment
                seconds = sub.total_seconds_late if sub.timestamp is not None else 0.0
                extra["late"] = {
                    "submitted_at": (
                        sub.timestamp.strftime("%Y-%m-%d %H:%M:%S UTC") if sub.timestamp else ""
                    ),
                    "late_by": _late_by(seconds),
                    "penalty": float(sub.late_submission_penalty or 0.0),
                }
        return out
    except Exception:
        return {}


def _num(value: object) -> str:
    """A number for the page (``?`` when a result holds something else)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "?"
    return f"{value:g}"


def render_feedback(
    result: SubmissionResult | dict,
    manual: dict[str, float] | None = None,
    comments: dict[str, str] | None = None,
    late: dict | None = None,
) -> str:
    """The HTML feedback page for one result.

    Every string that comes from the result (ids, names, messages, errors: student-derived text)
    is cleaned and HTML-escaped (:func:`autograder.safe.html_text`); the only links are the
    book sections of the mistake catalogue (``https://``, escaped), and a Content-Security-Policy
    allows no script, so nothing a student wrote is live markup.

    Parameters
    ----------
    result : SubmissionResult or dict
        A result, or its JSON form (read with :meth:`SubmissionResult.from_json`: odd values
        are cleaned away).
    manual : dict, optional
        Grade id -> manual score.
    comments : dict, optional
        Cell -> the grader's comment (shown under "Comments from your grader").
    late : dict, optional
        ``submitted_at``, ``late_by``, ``penalty`` (shown when late).

    Returns
    -------
    str
        A complete HTML document.
    """
    result = SubmissionResult.coerce(result)
    manual = manual or {}
    esc = html_text
    comments = clean_tree(comments or {})
    late = clean_tree(late or {})
    rows, auto, manual_total, manual_max, pending = [], 0.0, 0.0, 0.0, 0.0
    for nb in result.notebooks:
        for t in nb.tests:
            gid, max_points = t.grade_id, t.max_points
            if t.kind == "manual":
                manual_max += max_points
                score = manual.get(gid)
                if isinstance(score, int | float):
                    manual_total += score
                    pts, cls, msg = _num(score), "ok", "graded by hand"
                else:
                    pending += max_points
                    pts, cls, msg = "pending", "manual", "graded by hand (not graded yet)"
            else:
                points = t.points or 0.0
                auto += points
                pts = _num(points)
                cls = "ok" if t.passed else "bad"
                msg = "passed" if t.passed else t.message
            extra = feedback_html(t, esc)  # diagnosis, hint, book section (autograder.diagnose)
            rows.append(
                f"<tr><td>{esc(nb.notebook)}</td><td>{esc(gid)}</td><td class='{cls}'>"
                f"{pts} / {_num(max_points)}</td><td><pre>{esc(msg)}</pre>{extra}</td></tr>"
            )
    cell_rows = []
    for nb in result.notebooks:
        for c in nb.cells:
            if c.get("status") != "ok":
                cell_rows.append(
                    f"<tr><td>{esc(c.get('label', '?'))}</td><td>{esc(c.get('status', '?'))}</td>"
                    f"<td><pre>{esc(c.get('error', ''))}</pre></td></tr>"
                )
    max_score = result.max_score
    total_max = max_score + manual_max
    notes = "".join(f"<li>{esc(m)}</li>" for m in result.messages)
    score = auto + manual_total
    if pending:  # points awaiting a human are pending, never 0
        headline = (
            f"Score so far: {_num(score)} / {_num(total_max)}, {_num(pending)} point(s) pending "
            "(written answers not graded yet)"
        )
    else:
        headline = f"Score: {_num(score)} / {_num(total_max)}"
    penalty = late.get("penalty") if isinstance(late.get("penalty"), int | float) else 0
    timing = ""
    if late.get("submitted_at"):
        timing = f"<p>Submitted {esc(late['submitted_at'])}"
        if late.get("late_by"):
            timing += f", {esc(late['late_by'])} late; late penalty: {_num(penalty)} point(s)"
            if not pending:
                timing += f", final score {_num(max(0.0, score - penalty))} / {_num(total_max)}"
        timing += ".</p>"
    comment_rows = "".join(
        f"<tr><td>{esc(cell)}</td><td><pre>{esc(text)}</pre></td></tr>"
        for cell, text in sorted(comments.items())
    )
    comment_html = (
        "<h2>Comments from your grader</h2><table><tr><th>cell</th><th>comment</th></tr>"
        f"{comment_rows}</table>"
        if comment_rows
        else ""
    )
    cells = (
        "<h2>Cells of your notebook that failed</h2><table><tr><th>cell</th><th>status</th>"
        f"<th>error</th></tr>{''.join(cell_rows)}</table>"
        if cell_rows
        else ""
    )
    assignment = esc(result.assignment)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>Feedback: {assignment}</title>
<style>{_CSS}</style></head><body>
<h1>{assignment}: feedback for {esc(result.student)}</h1>
<p><strong>{headline}</strong>
({_num(auto)} / {_num(max_score)} from automatic tests; written answers: {_num(manual_total)} / {_num(manual_max)}{", pending" if pending else ""}).
Status: {esc(result.status)}.</p>
{timing}
{f"<ul>{notes}</ul>" if notes else ""}
<h2>Tests</h2>
<table><tr><th>notebook</th><th>test</th><th>points</th><th>message</th></tr>
{"".join(rows)}</table>
{comment_html}
{cells}
<p class="manual">Hidden tests compare your functions with a reference on inputs you have not
seen; their code is not shown, only what went wrong.</p>
</body></html>
"""


def write_feedback(
    course: Course,
    assignment: str,
    problems: list[tuple[str, str]] | None = None,
    missing: list[str] | None = None,
) -> list[str]:
    """Write ``autograder-feedback/<student>/<assignment>/feedback.html`` for every graded
    submission (beside nbgrader's ``feedback/``, which ``nbgrader generate_feedback`` owns: the
    two never remove each other's files).

    A result that cannot be read, or whose student id is unusable as a folder name, is skipped
    (added to ``problems``); it never stops the others. Text in results is cleaned on read
    (lone surrogates and invalid bytes become U+FFFD).

    Parameters
    ----------
    course : Course
        The course.
    assignment : str
        The assignment.
    problems : list, optional
        Receives ``(result file, what went wrong)`` for each result skipped.
    missing : list, optional
        Receives the students of the roster and gradebook who did not submit.

    Returns
    -------
    list of str
        The files written.
    """
    results_dir = os.path.join(course.state_dir(assignment), "results")
    if not os.path.isdir(results_dir):
        raise FileNotFoundError(f"nothing graded yet for {assignment} (no {results_dir})")
    problems = problems if problems is not None else []
    extras = _gradebook_extras(course, assignment)
    written = []
    seen = set()
    for name in sorted(os.listdir(results_dir)):
        if not name.endswith(".json"):
            continue
        try:
            result = load_result(os.path.join(results_dir, name))
        except ResultError as exc:
            problems.append((show_id(name), f"unreadable result ({clean_text(exc, 300)})"))
            continue
        student = result.student
        why = student_id_problem(student)
        if why is not None:
            problems.append((show_id(name), f"no feedback written: {why}"))
            continue
        try:
            seen.add(student)
            extra = extras.get(student, {})
            page = render_feedback(
                result, extra.get("manual"), extra.get("comments"), extra.get("late")
            )
            out_dir = course.feedback_dir(student, assignment)
            os.makedirs(out_dir, exist_ok=True)
            path = os.path.join(out_dir, "feedback.html")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(page)
        except Exception as exc:  # one odd result never stops the class's feedback
            problems.append((show_id(name), f"no feedback written ({clean_text(exc, 300)})"))
            continue
        written.append(path)
    if missing is not None:
        missing.extend(sorted(_class_list(course) - seen - set(extras)))
    return written


def _class_list(course: Course) -> set[str]:
    """Every student the course knows: the roster's and the gradebook's."""
    from autograder.lms import load_roster

    _, roster = load_roster(os.path.join(course.root, ".autograder"))
    ids = {e.id for e in roster}
    try:
        from autograder.gradebook import open_gradebook

        with open_gradebook(course) as gb:
            ids |= {s.id for s in gb.students}
    except Exception:
        pass
    return ids


def feedback_zip(course: Course, assignment: str, path: str, layout: str | None = None) -> int:
    """Pack every student's ``feedback.html`` into one zip for the LMS's bulk feedback upload.

    Canvas ("Re-Upload Submissions" in the gradebook's assignment menu): each file named with the
    prefix of the student's download, ``<name>_<user id>_<submission id>_feedback.html``, so
    Canvas attaches it to that submission as a comment. Moodle ("Upload multiple feedback files
    in a zip"): ``<Full Name>_<participant id>_assignsubmission_file_/feedback.html``. Plain:
    ``<student>/feedback.html``. The layout is the one ``collect`` recorded per student, unless
    ``layout`` says otherwise. Names in the zip are cleaned (no path separators, no control
    characters).

    Returns
    -------
    int
        Files packed.
    """
    import zipfile

    from autograder.lms import feedback_zip_name, load_identities

    who = load_identities(course.state_dir(assignment))
    base = os.path.join(course.root, "autograder-feedback")
    n = 0
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED) as zf:
        for student in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            page = os.path.join(course.feedback_dir(student, assignment), "feedback.html")
            if student_id_problem(student) is not None or not os.path.isfile(page):
                continue
            identity = who.get(student, {})
            kind = layout or identity.get("layout", "plain")
            zf.write(page, feedback_zip_name(kind, student, identity, "feedback.html"))
            n += 1
    os.replace(path + ".tmp", path)
    return n
