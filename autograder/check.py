"""``autograder check NOTEBOOK``: what the grader will say about the public tests, before submitting.

The check grades the notebook the way ``autograder grade`` does, through the same trusted runner
(:mod:`autograder.runner`): the student's code runs in the same bubblewrap sandbox where it is
available (else, on the student's own machine, in a plain subprocess, and the report says so),
the forbidden-API check is the grader's (static and at run time), arguments written in place come
back to the tests' arrays, and warnings fail ``assert_no_warnings`` exactly as when grading. Only
the public tests run: the notebook's own test cells, in a student's copy (hidden tests are not in
a student's notebook). The report lists each public test with the points it would give, the
diagnosis (inputs changed in place, warnings, patterns against the public tests' expected values,
and root causes in chains of functions), and the forbidden functions found.

An instructor can pass ``--source source/<assignment>``: the source notebook's public tests then
run, and the mistake catalogue beside it names the mistakes (the grader's diagnosis).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from autograder.config import DEFAULTS
from autograder.forbid import module_locations
from autograder.jobs import check_isolation, provided, run_job, sandbox_limits
from autograder.model import Job, SubmissionResult
from autograder.notebook import load_notebook_json, load_source
from autograder.safe import clean_text

__all__ = ["check_notebook", "format_report"]


def _public_only(nb: dict) -> dict:
    """The notebook without hidden-test cells (source: the marker; release: a test cell with no
    code, only the comment nbgrader leaves)."""
    import ast

    cells = []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution"):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if "BEGIN HIDDEN TESTS" in src:
                continue
            try:
                if not ast.parse(src).body:
                    continue
            except SyntaxError:
                pass
        cells.append(cell)
    return {**nb, "cells": cells}


def check_notebook(
    path: str,
    source_dir: str | None = None,
    timeout: float = 300.0,
    cell_timeout: float = 30.0,
) -> SubmissionResult:
    """Run the public tests of a notebook as the grader would, with the diagnosis.

    Parameters
    ----------
    path : str
        The student's notebook (``NN-name.ipynb``).
    source_dir : str, optional
        The assignment's source folder (instructors): its public tests and mistake catalogue.
    timeout, cell_timeout : float
        Seconds for the whole check and per cell or call.

    Returns
    -------
    SubmissionResult
        The runner's result (``notebooks[0].tests`` are the public tests), with
        ``isolation_note`` (how the code was isolated) and ``hidden_tests`` (how many were not
        run).
    """
    path = os.path.abspath(path)
    name = os.path.splitext(os.path.basename(path))[0]
    unisolated = check_isolation(True)
    work = tempfile.mkdtemp(prefix="autograder-check-")
    try:
        src = os.path.join(work, "source", name)
        sub = os.path.join(work, "submission")
        os.makedirs(src)
        os.makedirs(sub)
        shutil.copy(path, os.path.join(sub, f"{name}.ipynb"))
        if source_dir:
            original = load_notebook_json(os.path.join(source_dir, f"{name}.ipynb"))
            for extra in os.listdir(source_dir):
                if not extra.endswith(".ipynb"):
                    full = os.path.join(source_dir, extra)
                    if os.path.isfile(full):
                        shutil.copy(full, src)
        else:
            original = load_notebook_json(path)
        hidden = len(original["cells"]) - len(_public_only(original)["cells"])
        with open(os.path.join(src, f"{name}.ipynb"), "w") as fh:
            json.dump(_public_only(original), fh)
        spec = load_source(os.path.join(src, f"{name}.ipynb"))
        modules, paths = module_locations(spec.forbid)
        job = Job(
            student="local-check",
            assignment=name,
            source_dir=src,
            submission_dir=sub,
            limits=sandbox_limits(DEFAULTS, timeout),
            timeout=timeout,
            cell_timeout=cell_timeout,
            hide=[work, *paths],
            forbid_modules={name: modules},
            provide={name: provided(spec)},
            unisolated=bool(unisolated),
            reference=bool(source_dir),
        )
        result = run_job(job, [spec], timeout + 30, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.isolation_note = unisolated or "bubblewrap sandbox (as when grading)"
    result.hidden_tests = hidden
    return result


def format_report(result: SubmissionResult) -> str:
    """The short text report of :func:`check_notebook`."""
    auto = [t for t in result.tests if t.kind == "auto"]
    points = sum(t.points or 0.0 for t in auto)
    total = sum(t.max_points for t in auto)
    lines = [f"{result.assignment}: public tests {points:g} / {total:g} points"]
    for t in auto:
        mark = "ok  " if t.passed else "FAIL"
        lines.append(f"  {mark} {t.grade_id} ({t.points or 0:g}/{t.max_points:g})")
        if not t.passed:
            lines.append(f"       {clean_text(t.message, 400)}")
            if t.diagnosis:
                lines.append(f"       likely cause: {t.diagnosis}")
            if t.look:
                lines.append(f"       where to look: {t.look}")
            for s in t.sections[:1]:
                lines.append(f"       read: {s.get('title')} <{s.get('url')}>")
    for nb in result.notebooks:
        for c in nb.cells:
            if c.get("status") != "ok":
                lines.append(f"  cell {c.get('label')}: {c.get('status')}: {c.get('error', '')}")
    for m in result.messages:
        lines.append(f"  note: {m}")
    if result.hidden_tests:
        lines.append(
            f"  {result.hidden_tests} hidden test(s) not run here: they run when grading, on "
            "new inputs"
        )
    lines.append(f"  isolation: {result.isolation_note}")
    return "\n".join(lines)
