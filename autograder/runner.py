"""The trusted test runner: grades one submission, in its own process.

Run as ``python -I -m autograder.runner JOB.json RESULT.json`` by :mod:`autograder.grade`. It reads
the SOURCE notebooks (tests, hidden tests, points), starts a :class:`~autograder.sandbox.Sandbox`
with the student's code, and executes the source's code cells in order in a namespace where the
names the student defined are proxies: instructor cells give the tests their imports and helpers,
test cells are graded (pass = no exception; the message is the exception's message, never a
traceback of test code). Warnings and stderr never cost points. The result is written as JSON.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import ctypes
import hashlib
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

from autograder import checks
from autograder import diagnose as diagnose_mod
from autograder._child import FORBIDDEN
from autograder.errors import InvalidNotebook, SandboxCrashed, SandboxTimeout, StudentError
from autograder.forbid import tainted_names
from autograder.isolation import Limits, acquire_uid
from autograder.model import Job, NotebookResult, SubmissionResult, TestResult
from autograder.names import bound_names, defined_in, free_names
from autograder.notebook import NotebookSpec, load_assignment, load_notebook_json, student_cells
from autograder.proxy import RemoteFunction
from autograder.safe import clean_text, load_json_clean, write_json_atomic
from autograder.sandbox import WALL_FACTOR, Sandbox

__all__ = ["grade_submission", "main"]


#: Cells listed in a result (those that failed, and graded ones); the rest are counted.
MAX_CELLS_SHOWN = 50
#: Largest result JSON of one submission, in bytes; longer messages are cut to fit.
MAX_RESULT_BYTES = 1024 * 1024


class _CellTimeout(BaseException):
    """Raised by the alarm inside a test cell that runs too long (not catchable as Exception)."""


def _alarm(signum: int, frame: Any) -> None:
    raise _CellTimeout()


def _not_run(spec: NotebookSpec, status: str, message: str) -> list[TestResult]:
    return [TestResult.graded(cell, False, status, message) for cell in spec.graded]


def _solution_names(spec: NotebookSpec) -> dict[str, str]:
    """Name -> grade id of the source solution cell that defines it (for helpful messages)."""
    solutions = [(c.grade_id, c.source) for c in spec.cells if c.kind in ("solution", "answer")]
    return defined_in(solutions)


def _explain(
    exc: BaseException, solution_names: dict[str, str], runs: dict[str, Any]
) -> tuple[str, str]:
    """Status and student-facing message for an exception raised while running a test cell."""
    if isinstance(exc, _CellTimeout | SandboxTimeout):
        return "timeout", str(exc) or "the test did not finish in time"
    if isinstance(exc, SandboxCrashed):
        return "crashed", str(exc)
    if isinstance(exc, StudentError):
        if exc.type_name == "ImportError" and FORBIDDEN in exc.message:
            return "forbidden-import", f"your code used {exc.message}"
        hint = " (not implemented yet?)" if exc.type_name == "NotImplementedError" else ""
        return "failed", f"your code raised {exc}{hint}"
    if isinstance(exc, NameError) and getattr(exc, "name", None):
        name = exc.name
        owner = solution_names.get(name)
        if owner:
            run = runs.get(owner)
            why = f": that cell failed with {run.error}" if run and run.error else ""
            return "failed", f"`{name}` is not defined; it should come from cell '{owner}'{why}"
        return "failed", f"`{name}` is not defined"
    text = str(exc)
    return "failed", f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _hidden_message(exc: BaseException, status: str, message: str, tested: list[str]) -> str:
    """What a failed HIDDEN test may tell: what failed and the kind of failure, never its inputs,
    expected values or anything the student's code printed or raised about them."""
    what = f" of {', '.join(f'`{n}`' for n in tested[:4])}" if tested else ""
    if status in ("timeout", "crashed", "forbidden-import"):
        return f"a hidden test{what} did not pass: {message}"
    if isinstance(exc, StudentError):
        kind = f"your code raised {exc.type_name}"
    elif isinstance(exc, AssertionError):
        kind = "your result did not match the reference"
    else:
        kind = f"the test could not use your result ({type(exc).__name__})"
    return (
        f"a hidden test{what} failed: {kind} on inputs drawn fresh for this grading (hidden tests "
        "show neither their inputs nor the expected values; test your function on more cases: "
        "other shapes, edge values, large and small numbers)"
    )


def _run_tests(
    spec: NotebookSpec,
    sandbox: Sandbox,
    tainted: dict[str, str],
    cell_timeout: float,
    deadline: float,
    catalogue: Any = None,
    diagnose_s: float = 20.0,
    reference: bool = True,
) -> tuple[list[TestResult], list[str]]:
    """Execute the source's instructor and test cells in order; grade the tests; then name the
    mistakes behind failed tests (:func:`autograder.diagnose.diagnose`)."""
    trusted = [c for c in spec.cells if c.kind in ("instructor", "test")]
    bound: set[str] = set(dir(builtins))
    free: set[str] = set()
    for cell in trusted:
        free |= free_names(cell.source)
        try:
            bound |= bound_names(ast.parse(cell.source))
        except SyntaxError:
            pass
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    log: list[str] = []
    try:
        names = sandbox.names()
    except (SandboxCrashed, SandboxTimeout) as exc:
        names = {}
        log.append(f"could not list the student's names: {exc}")
    for name, kind in names.items():
        if name not in free or name in bound or name.startswith("_"):
            continue  # the student cannot shadow the tests' own names or builtins
        if kind == "callable":
            ns[name] = RemoteFunction(sandbox, name)
        else:
            try:
                ns[name] = sandbox.get({"name": name})
            except (StudentError, SandboxCrashed, SandboxTimeout) as exc:
                log.append(f"could not fetch {name}: {exc}")
    runs = {run.label: run for run in sandbox.runs}
    solution_names = _solution_names(spec)  # which solution cell defines each name
    results: list[TestResult] = []
    recorder = diagnose_mod.Recorder(sandbox)
    for cell in spec.cells:
        if cell.manual:  # graded by a person, whatever the cell contains (`pass` included)
            results.append(TestResult.graded(cell, False, "manual"))
            continue
        if cell.kind not in ("instructor", "test"):
            continue
        used = sorted(free_names(cell.source) & tainted.keys())
        if cell.kind == "test" and used:
            why = f"`{used[0]}` {tainted[used[0]]}"
            results.append(TestResult.graded(cell, False, "forbidden-import", why))
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0.2:
            if cell.kind == "test":
                msg = "not run: the submission's total time ran out"
                results.append(TestResult.graded(cell, False, "timeout", msg))
            continue
        limit = min(cell_timeout, remaining)
        # the sandbox counts the student's CPU time against cell_timeout; wall time only as a
        # safety net, so a test cell waiting on a busy machine is not cut short
        wall = min(limit * WALL_FACTOR, remaining)
        sandbox.call_deadline = time.monotonic() + wall
        signal.setitimer(signal.ITIMER_REAL, wall + 1.0)
        error: BaseException | None = None
        if cell.kind == "test":
            tolerances, mismatches = recorder.start(cell.grade_id)
            checks._runtime.update(tolerances=tolerances, mismatches=mismatches)
        try:
            code = compile(cell.source, f"<{cell.grade_id or f'cell {cell.index}'}>", "exec")
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                exec(code, ns)
        except (Exception, _CellTimeout) as exc:
            error = exc
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sandbox.call_deadline = None
            recorder.stop()
            checks._runtime.pop("tolerances", None)
            checks._runtime.pop("mismatches", None)
        if cell.kind == "instructor":
            if error is not None:
                log.append(f"instructor cell {cell.index}: {type(error).__name__}: {error}")
            continue
        if error is None:
            results.append(TestResult.graded(cell, True, "ok"))
        else:
            status, message = _explain(error, solution_names, runs)
            if cell.hidden:
                tested = sorted(free_names(cell.source) & solution_names.keys())
                message = _hidden_message(error, status, message, tested)
            results.append(TestResult.graded(cell, False, status, clean_text(message, 3000)))
    budget = min(diagnose_s, deadline - time.monotonic() - 2.0)
    try:
        if budget > 1.0 and any(not r.passed and r.kind == "auto" for r in results):
            log.extend(
                diagnose_mod.diagnose(
                    spec, results, recorder, catalogue, sandbox, budget, reference=reference
                )
            )
        else:  # links only
            log.extend(diagnose_mod.diagnose(spec, results, recorder, catalogue, None, 0.0))
    except Exception as exc:  # a diagnosis never costs a grade
        log.append(f"diagnosis failed: {type(exc).__name__}: {exc}")
    finally:
        recorder.close()
    return results, log


def _grade_notebook(
    spec: NotebookSpec, job: Job, lease: Any, deadline: float, tmp: str
) -> NotebookResult:
    """Grade one notebook of the submission: check it statically, run it in a sandbox, run the
    source's tests against it (:func:`_run_tests`)."""
    path = os.path.join(job.submission_dir, f"{spec.name}.ipynb")
    out = NotebookResult(spec.name, "ok")
    if not os.path.isfile(path):
        others = sorted(n for n in _listdir(job.submission_dir) if n.endswith(".ipynb"))
        hint = f"; found {', '.join(others)} (renamed?)" if others else ""
        msg = f"{spec.name}.ipynb is missing from the submission{hint}"
        return NotebookResult(
            spec.name, "missing-notebook", [msg], _not_run(spec, "missing-notebook", msg)
        )
    try:
        nb = load_notebook_json(path)
    except InvalidNotebook as exc:
        msg = str(exc)
        return NotebookResult(
            spec.name, "invalid-notebook", [msg], _not_run(spec, "invalid-notebook", msg)
        )
    cells = student_cells(spec, nb)
    tainted, violations, complete = tainted_names(cells, spec.forbid, budget_s=job.static_budget_s)
    if not complete:
        out.static_check = "incomplete"
        out.messages.append(
            "the static check of forbidden functions ran out of time on this notebook: graded "
            "with the run-time block only (forbidden modules and functions are absent in the "
            "sandbox)"
        )
    if violations:
        out.messages.extend(clean_text(f"forbidden: {v}", 300) for v in violations[:10])
    files = {f"{spec.name}.ipynb": path}
    for rel in spec.data_files:
        src = os.path.join(os.path.dirname(spec.path), rel)
        if os.path.isfile(src):
            files[os.path.basename(rel)] = src
    forbid_modules = job.forbid_modules.get(spec.name, [])
    provide = job.provide.get(spec.name, {})
    sandbox = Sandbox(
        cells,
        limits=Limits(**{k: v for k, v in job.limits.items() if k in Limits.__dataclass_fields__}),
        cell_timeout=job.cell_timeout,
        deadline=deadline,
        files=files,
        hide=job.hide,
        forbid_modules=forbid_modules,
        forbid_names=[f for f in spec.forbid if f not in forbid_modules],
        provide=provide.get("paths", []),
        data=provide.get("data", {}),
        env=provide.get("env", {}),
        lease=lease,
        unisolated=job.unisolated,
        tmp_base=tmp,
        output_cap=job.output_cap,
    )
    checks._runtime.update(seed=_seed(job, path), cpu_clock=sandbox.cpu_seconds)
    try:
        sandbox.start()
        if sandbox.start_error:
            msg = (
                "the grader could not start the sandbox for your code (not your fault: ask for a "
                f"regrade): {sandbox.start_error}"
            )
            out.status, out.tests = "error", _not_run(spec, "error", msg)
            out.messages.append(msg)
            return out
        tests, log = _run_tests(
            spec,
            sandbox,
            tainted,
            job.cell_timeout,
            deadline,
            catalogue=_catalogue(spec, log_to=out.messages),
            diagnose_s=job.diagnose_s,
            reference=job.reference,
        )
    finally:
        sandbox.close()
        checks._runtime.clear()
    text, total = sandbox.output
    out.isolation = sandbox.isolation
    shown = [r for r in sandbox.runs if r.status != "ok" or not r.label.startswith("cell ")]
    out.cells = [
        {"label": clean_text(r.label, 100), "status": r.status, "error": clean_text(r.error, 500)}
        for r in shown[:MAX_CELLS_SHOWN]
    ]
    if len(shown) > MAX_CELLS_SHOWN:
        out.messages.append(f"{len(shown) - MAX_CELLS_SHOWN} more cells not listed")
    out.output_head = clean_text(text[-4000:] if len(text) > 4000 else text)
    out.output_bytes = total
    out.tests = tests
    out.messages.extend(log)
    statuses = {t.status for t in tests} | {r.status for r in sandbox.runs}
    for status in ("timeout", "crashed", "forbidden-import"):
        if status in statuses:
            out.status = status
    return out


def _catalogue(spec: NotebookSpec, log_to: list[str]) -> Any:
    """The assignment's mistake catalogue (``mutants.py`` beside the source), or None."""
    try:
        return diagnose_mod.load_catalogue(os.path.dirname(spec.path))
    except Exception as exc:
        log_to.append(f"mistake catalogue not loaded: {type(exc).__name__}: {exc}")
        return None


def _seed(job: Job, path: str) -> int:
    """The hidden tests' seed for this submission: its bytes and the course's secret, hashed.

    The same notebook gets the same inputs when regraded; any change to it draws new ones, and
    without the secret (which never enters the sandbox) nobody can compute them in advance.
    """
    digest = hashlib.sha256(job.seed_secret.encode())
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return int.from_bytes(digest.digest()[:8], "big") >> 1


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def grade_submission(job: Job) -> SubmissionResult:
    """Grade one submission as described by ``job``.

    Parameters
    ----------
    job : Job
        The submission's job (:mod:`autograder.jobs`).

    Returns
    -------
    SubmissionResult
        Its status, score and per-notebook tests and cells.
    """
    start = time.monotonic()
    deadline = start + job.timeout
    specs = load_assignment(job.source_dir)
    extra = sorted(
        set(_listdir(job.submission_dir)) - {f"{s.name}.ipynb" for s in specs} - {"timestamp.txt"}
    )
    lease = acquire_uid(job.uid_base) if os.geteuid() == 0 else None
    tmp = tempfile.mkdtemp(prefix="run-", dir=job.tmp_dir)
    os.chmod(tmp, 0o711)
    result = SubmissionResult(job.student, job.assignment)
    try:
        for spec in specs:
            result.notebooks.append(_grade_notebook(spec, job, lease, deadline, tmp))
    finally:
        if lease is not None:
            lease.release()
        shutil.rmtree(tmp, ignore_errors=True)
    result.add_up()
    result.messages = [m for nb in result.notebooks for m in nb.messages]
    if extra:
        names = clean_text(", ".join(extra[:20]), 1000)
        result.messages.append(f"extra files ignored: {names}")
    result.duration_s = round(time.monotonic() - start, 3)
    return result


def _fit(result: SubmissionResult) -> SubmissionResult:
    """Cut what the student's code controls (output, messages, cell errors) until the result is
    at most :data:`MAX_RESULT_BYTES` of JSON, and say so in the result."""
    if len(json.dumps(result.to_json())) <= MAX_RESULT_BYTES:
        return result
    for nb in result.notebooks:
        nb.output_head = clean_text(nb.output_head, 2000)
        nb.cells = [c for c in nb.cells if c.get("status") != "ok"][:10]
        nb.messages = [clean_text(m, 300) for m in nb.messages[:10]]
        for test in nb.tests:
            test.message = clean_text(test.message, 500)
    result.messages = [clean_text(m, 300) for m in result.messages[:10]]
    result.messages.append(
        f"this result was cut to fit {MAX_RESULT_BYTES // 1024} KiB (very long output or messages)"
    )
    result.truncated = True
    return result


def _set_parent_death_signal() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of the sandbox come to us
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m autograder.runner JOB.json RESULT.json``.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments.

    Returns
    -------
    int
        Exit status (0 when a result was written).
    """
    argv = sys.argv if argv is None else argv
    _set_parent_death_signal()
    signal.signal(signal.SIGALRM, _alarm)
    problems: list[str] = []
    job = Job.from_json(load_json_clean(argv[1]), problems)
    for problem in problems:  # a grader bug: shown when the runner fails
        print(f"job: {problem}", file=sys.stderr)
    for path in reversed(job.runner_path):
        sys.path.insert(0, path)
    result = _fit(grade_submission(job))
    write_json_atomic(argv[2], result.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
