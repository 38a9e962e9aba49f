"""``autograder feedback``: one HTML page per student with each test's score and message.

Built from the per-submission result JSON (and manual scores from the gradebook when there are
any). It shows test ids, points, pass/fail, the assertion messages (expected vs actual values,
shapes, tolerances) and errors from the student's own cells, never any test source: hidden tests
stay hidden, unlike nbgrader's stock feedback, which renders the autograded notebook with them.
"""

from __future__ import annotations

import html
import json
import os

from autograder.config import Course

__all__ = ["render_feedback", "write_feedback"]

_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.4rem;text-align:left;
vertical-align:top}th{background:#f4f4f4}.ok{color:#176117}.bad{color:#a11}.manual{color:#666}
pre{white-space:pre-wrap;margin:0;font-size:.9em}
"""


def _manual_scores(course: Course, assignment: str) -> dict[str, dict[str, float]]:
    """Student -> grade id -> manual score, from the gradebook (empty if unavailable)."""
    try:
        from autograder.gradebook import open_gradebook

        out: dict[str, dict[str, float]] = {}
        with open_gradebook(course) as gb:
            for sub in gb.assignment_submissions(assignment):
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.manual_score is not None:
                            out.setdefault(sub.student.id, {})[grade.name] = grade.manual_score
        return out
    except Exception:
        return {}


def render_feedback(result: dict, manual: dict[str, float] | None = None) -> str:
    """The HTML feedback page for one result.

    Parameters
    ----------
    result : dict
        A result from :func:`autograder.runner.grade_submission`.
    manual : dict, optional
        Grade id -> manual score.

    Returns
    -------
    str
        A complete HTML document.
    """
    manual = manual or {}
    esc = html.escape
    rows, auto, manual_total, manual_max = [], 0.0, 0.0, 0.0
    for nb in result.get("notebooks", []):
        for t in nb.get("tests", []):
            gid = t["grade_id"]
            if t["kind"] == "manual":
                manual_max += t["max_points"]
                if gid in manual:
                    manual_total += manual[gid]
                    pts, cls, msg = f"{manual[gid]:g}", "ok", "graded by hand"
                else:
                    pts, cls, msg = "pending", "manual", "graded by hand (not graded yet)"
            else:
                auto += t["points"] or 0
                pts = f"{t['points'] or 0:g}"
                cls = "ok" if t["passed"] else "bad"
                msg = "passed" if t["passed"] else t["message"]
            rows.append(
                f"<tr><td>{esc(nb['notebook'])}</td><td>{esc(gid)}</td><td class='{cls}'>{pts} / "
                f"{t['max_points']:g}</td><td><pre>{esc(msg)}</pre></td></tr>"
            )
    cell_rows = []
    for nb in result.get("notebooks", []):
        for c in nb.get("cells", []):
            if c["status"] != "ok":
                cell_rows.append(
                    f"<tr><td>{esc(c['label'])}</td><td>{esc(c['status'])}</td>"
                    f"<td><pre>{esc(c['error'])}</pre></td></tr>"
                )
    total_max = result.get("max_score", 0) + manual_max
    notes = "".join(f"<li>{esc(m)}</li>" for m in result.get("messages", []))
    cells = (
        "<h2>Cells of your notebook that failed</h2><table><tr><th>cell</th><th>status</th>"
        f"<th>error</th></tr>{''.join(cell_rows)}</table>"
        if cell_rows
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback: {esc(result["assignment"])}</title>
<style>{_CSS}</style></head><body>
<h1>{esc(result["assignment"])}: feedback for {esc(result["student"])}</h1>
<p><strong>Score: {auto + manual_total:g} / {total_max:g}</strong>
({auto:g} / {result.get("max_score", 0):g} from automatic tests; written answers: {manual_total:g} / {manual_max:g}).
Status: {esc(result.get("status", "?"))}.</p>
{f"<ul>{notes}</ul>" if notes else ""}
<h2>Tests</h2>
<table><tr><th>notebook</th><th>test</th><th>points</th><th>message</th></tr>
{"".join(rows)}</table>
{cells}
<p class="manual">Hidden tests compare your functions with a reference on inputs you have not
seen; their code is not shown, only what went wrong.</p>
</body></html>
"""


def write_feedback(course: Course, assignment: str) -> list[str]:
    """Write ``feedback/<student>/<assignment>/feedback.html`` for every graded submission.

    Parameters
    ----------
    course : Course
        The course.
    assignment : str
        The assignment.

    Returns
    -------
    list of str
        The files written.
    """
    results_dir = os.path.join(course.state_dir(assignment), "results")
    if not os.path.isdir(results_dir):
        raise FileNotFoundError(f"nothing graded yet for {assignment} (no {results_dir})")
    manual = _manual_scores(course, assignment)
    written = []
    for name in sorted(os.listdir(results_dir)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(results_dir, name)) as fh:
            result = json.load(fh)
        out_dir = course.feedback_dir(result["student"], assignment)
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "feedback.html")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(render_feedback(result, manual.get(result["student"])))
        written.append(path)
    return written
