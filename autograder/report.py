"""``autograder report``: score histogram, the tests failed most often, flagged submissions.

Written to ``.autograder/<assignment>/report/``: ``histogram.png`` (matplotlib, Agg) and
``report.md``, which lists the tests by failure count (with the mean points lost, the share of
students failing and the most common diagnosed mistake, :mod:`autograder.diagnose`) and every
submission that timed out, crashed, used a forbidden import or could not be read. Student ids, test ids and messages are
written with :func:`autograder.safe.markdown_text`, inert as Markdown and as HTML.
"""

from __future__ import annotations

import os
from collections import Counter

from autograder.config import Course
from autograder.errors import ResultError
from autograder.model import SubmissionResult, load_result
from autograder.safe import clean_text, show_id
from autograder.safe import markdown_text as md

__all__ = ["FLAGGED", "summarize", "write_report"]

#: Statuses that deserve the instructor's attention.
FLAGGED = ("timeout", "crashed", "forbidden-import", "invalid-notebook", "missing-notebook")


def _load(
    course: Course, assignment: str, problems: list[tuple[str, str]] | None = None
) -> list[SubmissionResult]:
    """The results, cleaned on read; unreadable ones go to ``problems``, never fatal."""
    folder = os.path.join(course.state_dir(assignment), "results")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"nothing graded yet for {assignment} (no {folder})")
    out = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            try:
                out.append(load_result(os.path.join(folder, name)))
            except ResultError as exc:
                if problems is not None:
                    problems.append((show_id(name), clean_text(exc, 300)))
    return out


def _score(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _mistake(test: dict) -> str | None:
    """What the diagnosis says went wrong in one failed test, in a form that groups students:
    the catalogued mistake, the root cause in another function, else the diagnosis sentence."""
    root = test.get("root_cause")
    if isinstance(root, dict) and isinstance(root.get("function"), str):
        return f"fails because `{root['function']}` fails"
    for key in ("mistake", "diagnosis"):
        if isinstance(test.get(key), str) and test[key].strip():
            return test[key].strip()
    return None


def summarize(results: list[dict]) -> dict:
    """Aggregate results.

    Parameters
    ----------
    results : list of dict
        Per-submission results.

    Returns
    -------
    dict
        ``scores`` (student -> score), ``max_score``, ``failures`` (grade id -> count, most
        frequent first), ``mean_lost`` (grade id -> mean points lost per submission),
        ``mistakes`` (grade id -> (most common diagnosed mistake, how many)), ``flagged``
        (status -> list of (student, first message)).
    """
    failures: Counter[str] = Counter()
    mistakes: dict[str, Counter[str]] = {}
    lost: Counter[str] = Counter()
    flagged: dict[str, list[tuple[str, str]]] = {s: [] for s in FLAGGED}
    for r in results:
        for nb in r.get("notebooks", []):
            for t in nb.get("tests", []):
                if t.get("kind") == "auto" and not t.get("passed"):
                    failures[str(t.get("grade_id"))] += 1
                    why = _mistake(t)
                    if why:
                        mistakes.setdefault(str(t.get("grade_id")), Counter())[why] += 1
                if t.get("kind") == "auto":
                    lost[str(t.get("grade_id"))] += _score(t.get("max_points")) - _score(
                        t.get("points")
                    )
        if r.get("status") in flagged:
            flagged[r["status"]].append((r["student"], str((r.get("messages") or [""])[0])))
    return {
        "scores": {r["student"]: _score(r.get("score")) for r in results},
        "max_score": max((_score(r.get("max_score")) for r in results), default=0),
        "failures": failures.most_common(),
        "mean_lost": {g: v / len(results) for g, v in lost.items()} if results else {},
        "mistakes": {g: c.most_common(1)[0] for g, c in mistakes.items()},
        "flagged": flagged,
    }


def _mistake_cell(found: tuple[str, int] | None) -> str:
    if not found:
        return "none named"
    text, n = found
    return f"{md(text, 300)} ({n})"


def write_report(course: Course, assignment: str) -> str:
    """Write the histogram and the markdown report; return the report's path.

    Parameters
    ----------
    course : Course
        The course.
    assignment : str
        The assignment.

    Returns
    -------
    str
        Path of ``report.md``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems: list[tuple[str, str]] = []
    results = _load(course, assignment, problems)
    s = summarize(results)
    out = os.path.join(course.state_dir(assignment), "report")
    os.makedirs(out, exist_ok=True)
    scores = list(s["scores"].values())
    fig, ax = plt.subplots(figsize=(6, 3.5))
    top = max(s["max_score"], 1)
    ax.hist(scores, bins=[x - 0.5 for x in range(int(top) + 2)], color="#4a7ab7", edgecolor="white")
    ax.set_xlabel(f"automatic score (of {top:g})")
    ax.set_ylabel("submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"{assignment}: {len(scores)} submissions")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "histogram.png"), dpi=100)
    plt.close(fig)
    mean = sum(scores) / len(scores) if scores else 0.0
    lines = [
        f"# Report: {assignment}",
        "",
        f"{len(scores)} submissions, mean automatic score {mean:.2f} / {top:g}.",
        "",
        "![score histogram](histogram.png)",
        "",
        "## Tests failed most often",
        "",
        "| test | failed | share of students | mean points lost | most common diagnosed mistake |",
        "|---|---|---|---|---|",
        *[
            f"| {md(gid, 200)} | {n} | {n / max(1, len(scores)):.0%} | "
            f"{s['mean_lost'].get(gid, 0):.2f} | {_mistake_cell(s['mistakes'].get(gid))} |"
            for gid, n in s["failures"]
        ],
        "",
        "## Flagged submissions",
        "",
    ]
    for status, items in s["flagged"].items():
        lines.append(f"### {status} ({len(items)})")
        lines.append("")
        lines.extend(f"- {md(student, 200)}: {md(msg, 500)}" for student, msg in items)
        lines.append("")
    from autograder.feedback import _class_list

    missing = sorted(_class_list(course) - set(s["scores"]))
    lines += [f"### missing ({len(missing)})", ""]
    lines.extend(f"- {md(student, 200)}: no submission" for student in missing)
    lines.append("")
    if problems:
        lines += [f"## Results that could not be read ({len(problems)})", ""]
        lines.extend(f"- {md(name, 200)}: {md(why, 500)}" for name, why in problems)
        lines.append("")
    path = os.path.join(out, "report.md")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    return path
