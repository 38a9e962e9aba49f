"""Feedback that names the mistake: mutant matching, patterns, root causes and book links.

Runs in the trusted runner after a notebook's tests (:func:`diagnose`). While each test cell runs,
a :class:`Recorder` keeps the calls it makes to the student's top-level functions: the arguments
as they were before the call, the arguments after it (the sandbox writes in-place changes back),
the result or the exception, and the warnings. For a failed test of ``f`` the runner then:

1. **Root cause.** Finds, from the source solution cells (``ast``), the graded functions ``f``
   uses, directly or through others. When one of them fails its own tests, the reference ``f`` is
   run with the student's versions of those functions (called through the sandbox, as the test
   called ``f``): when it gives what the student's ``f`` gave, ``f`` is right and fails only
   because of the function it uses, and the feedback says so, pointing at the first failing
   function of the chain, instead of repeating the failure.
2. **Mutants.** Runs every catalogued wrong implementation of ``f`` (``mutants.py`` next to the
   source notebook: instructor code, executed here, never in the sandbox) and the reference on
   the recorded inputs. When the student's results match one mutant's within the test's tolerance
   (and not the reference), the feedback names that mistake with the mutant's student-facing
   sentence (``say``) and a hint where to look (``look``); several match: the closest; none: no
   sentence.
   A mistake that gives the right values with a warning matches a mutant that warns too; an
   object that is not data (a tensor) matches a mutant that returns one; an argument that an
   earlier call returned (a model) is made again by the same code before the call is rerun.
3. **Patterns**, when no mutant matches: inputs written in place, NaN or overflow, float32
   precision (or float64 where float32 is expected), a transposed result or shape, a reduction
   over the wrong axis, the sign flipped, off by a constant factor; and across the calls: a NumPy
   error explained (shapes that do not broadcast, a matrix product that does not fit, a missing
   axis, ``if`` on an array, a division by zero), a seed or another argument ignored, a state not
   carried over, the sign of the input flipped, a result that is not data.

A diagnosis of a hidden test names the mistake but never an input, an expected value or a number
derived from them. Every graded function's test also links to the book section that derives it
(``SECTIONS`` in the catalogue).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib.util
import io
import re
import signal
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BOOK_URL",
    "Call",
    "Recorder",
    "book_url",
    "call_graph",
    "compare",
    "diagnose",
    "load_catalogue",
    "pattern_sentences",
]

#: Where the built book is published (``ghp-import`` of ``_build/html``, see scripts/course_site.py).
BOOK_URL = "https://how-to-train-your-neurons.github.io/course/"
#: Largest argument data (bytes) recorded per call, and per test cell; past them calls are not
#: recorded (and not diagnosed).
MAX_RECORD_BYTES = 32 * 1024 * 1024
MAX_TEST_BYTES = 128 * 1024 * 1024
#: Calls recorded per test cell: the first half of them and the latest ones (a mistake that shows
#: only with the last arguments a test tries is still seen).
MAX_CALLS = 64
#: Seconds to check that a function fails only because of a function it uses.
VERIFY_S = 4.0
#: Tolerance at which a mistake is named when every call was within the test's tolerance.
SUBTLE_TOL = (1e-12, 1e-15)
#: Default tolerance when a test used no ``assert_close``.
DEFAULT_TOL = (1e-6, 1e-9)


# ---- the catalogue ---------------------------------------------------------------------------


def load_catalogue(source_dir: str) -> Any | None:
    """The mistake catalogue of an assignment: ``<source_dir>/mutants.py`` as a module.

    It defines ``ASSIGNMENT``, ``MUTANTS`` (dicts with ``cell``, ``old``, ``new``, ``fails``,
    ``why`` and, for students, ``say`` and ``look``) and ``SECTIONS`` (function name -> dict with
    ``page``, ``anchor`` and ``title`` of the book section that derives it). Optionally
    ``BY_MESSAGE``: functions too costly to run again (a training run), diagnosed by the
    ``message`` of their mistakes, a regular expression searched in the failed test's message.

    Parameters
    ----------
    source_dir : str
        ``source/<assignment>``.

    Returns
    -------
    module or None
        None when the assignment has no catalogue.
    """
    path = Path(source_dir) / "mutants.py"
    if not path.is_file():
        return None
    name = "_autograder_catalogue_" + re.sub(r"\W", "_", Path(source_dir).name)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def book_url(section: dict, base: str = BOOK_URL) -> str:
    """The URL of a book section: ``base + page + ".html#" + anchor``."""
    return f"{base.rstrip('/')}/{section['page']}.html#{section['anchor']}"


def student_sentence(mutant: dict) -> str:
    """The sentence a student reads for a mutant: ``say``, else ``why`` without its instructor
    notes (parentheses may hold values measured on hidden data)."""
    say = mutant.get("say")
    if say:
        return say
    why = re.sub(r"\s*\([^)]*\)", "", mutant.get("why", "")).strip()
    why = why.split(":")[0].strip() if ":" in why else why
    return f"Your result is what you get with this mistake: {why}." if why else ""


# ---- recording the test's calls ---------------------------------------------------------------


def _copy(value: Any) -> Any:
    """A deep copy of data (arrays, containers); anything else (proxies, ufuncs) as is."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, list | tuple):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    return 8


@dataclass
class Call:
    """One call a test made to a student's top-level function."""

    name: str
    args: tuple
    kwargs: dict
    after: tuple | None = None  # (args, kwargs) after the call (in-place changes written back)
    value: Any = None
    error: tuple[str, str] | None = None  # (exception type name, message) raised by the student
    warnings: list[str] = field(default_factory=list)
    done: bool = False
    seconds: float = 0.0
    nbytes: int = 0  # what the record holds (arguments before and after the call)
    # argument index -> the earlier call that returned it (an object that is not data, such as
    # a model): replayed when instructor code reruns this call
    sources: dict[int, Call] = field(default_factory=dict)
    stale: bool = False  # a source was changed in place since: the call cannot be replayed


#: Methods that change an object in place (PyTorch's trailing underscore, containers' methods):
#: called through a proxy, they make the calls that use the object impossible to replay.
_MUTATES = re.compile(
    r"^(?!_).*_$|^(append|extend|insert|pop|remove|clear|update|setdefault|sort|reverse|"
    r"load_state_dict|apply|train|eval|to|cuda|cpu|double|float|half|requires_grad_)$"
)


class Recorder:
    """Records the calls test cells make through the sandbox (installed on one sandbox).

    Parameters
    ----------
    sandbox : Sandbox
        Its ``call`` method is wrapped for the lifetime of the recorder.
    """

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.calls: dict[str, list[Call]] = {}
        self.tolerances: dict[str, list[tuple[float, float]]] = {}
        self.mismatches: dict[str, list[tuple[Any, Any, str]]] = {}
        self._current: str | None = None
        self._bytes: dict[str, int] = {}
        # objects in the sandbox (handles): which one each came from, and those a test changed
        # in place through their proxy (an earlier call that returned one cannot be replayed)
        self._parent: dict[int, int] = {}
        self._touched: set[int] = set()
        self._inner = sandbox.call
        sandbox.call = self._call

    def start(self, test_id: str) -> tuple[list, list]:
        """Record the next calls under ``test_id``; returns the lists where ``assert_close``
        puts its tolerances and its failed comparisons (the runner hands them to
        :mod:`autograder.checks`)."""
        self._current = test_id
        self.calls[test_id] = []
        self.tolerances[test_id] = []
        self.mismatches[test_id] = []
        return self.tolerances[test_id], self.mismatches[test_id]

    def stop(self) -> None:
        """Stop recording (calls go through unrecorded)."""
        self._current = None

    def close(self) -> None:
        """Unwrap the sandbox's ``call``."""
        self._current = None
        self.sandbox.call = self._inner

    def _call(self, target: dict, path: list, args: tuple, kwargs: dict, *a: Any, **kw: Any):
        calls = self.calls.get(self._current) if self._current else None
        record = None
        if (
            calls is not None
            and "name" in target
            and not path
            and (size := _nbytes([args, kwargs])) <= MAX_RECORD_BYTES
        ):
            if len(calls) >= MAX_CALLS:  # keep the first half and the latest calls
                dropped = calls.pop(MAX_CALLS // 2)
                self._bytes[self._current] -= dropped.nbytes
            if self._bytes.get(self._current, 0) + 2 * size <= MAX_TEST_BYTES:
                record = Call(target["name"], _copy(tuple(args)), _copy(dict(kwargs)))
                record.nbytes = 2 * size
                record.sources = {
                    i: e
                    for i, a in enumerate(args)
                    if _leaves(a) is None
                    for e in calls
                    if e.done and e.value is a
                }
                record.stale = any(
                    self._root(getattr(e.value, "_handle", None)) in self._touched
                    for e in record.sources.values()
                )
                self._bytes[self._current] = self._bytes.get(self._current, 0) + 2 * size
                calls.append(record)
        handle = target.get("handle")
        if handle is not None and path and _MUTATES.match(path[-1]):
            self._touched.add(self._root(handle))
        t0 = time.monotonic()
        try:
            value, warns = self._inner(target, path, args, kwargs, *a, **kw)
        except Exception as exc:
            if record is not None:
                record.seconds = time.monotonic() - t0
            if record is not None and type(exc).__name__ == "StudentError":
                record.error = (exc.type_name, exc.message)
                record.after = (_copy(tuple(args)), _copy(dict(kwargs)))
                record.done = True
            raise
        if handle is not None and getattr(value, "_handle", None) is not None:
            self._parent[value._handle] = self._root(handle)
        if record is not None:
            record.seconds = time.monotonic() - t0
            record.value = _copy(value)
            record.warnings = list(warns)
            record.after = (_copy(tuple(args)), _copy(dict(kwargs)))
            record.done = True
        return value, warns

    def _root(self, handle: int | None) -> int | None:
        """The object a handle was obtained from (a model for one of its parameters)."""
        seen = set()
        while handle in self._parent and handle not in seen:
            seen.add(handle)
            handle = self._parent[handle]
        return handle


# ---- comparing results ------------------------------------------------------------------------


def _leaves(value: Any, label: str = "") -> list[tuple[str, Any]] | None:
    """Flatten a result into (label, leaf); None when it holds something that is not data."""
    if isinstance(value, tuple | list):
        out = []
        for i, v in enumerate(value):
            sub = _leaves(v, f"{label}[{i}]")
            if sub is None:
                return None
            out.extend(sub)
        return out
    if isinstance(value, dict):
        out = []
        for k in sorted(value, key=str):
            sub = _leaves(value[k], f'{label}["{k}"]')
            if sub is None:
                return None
            out.extend(sub)
        return out
    if value is None or isinstance(value, str | bool | int | float | complex | np.ndarray):
        return [(label, value)]
    if isinstance(value, np.generic):
        return [(label, value)]
    return None


def _structure(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return (type(value).__name__, len(value), *(_structure(v) for v in value))
    if isinstance(value, dict):
        return ("dict", *sorted((str(k), _structure(v)) for k, v in value.items()))
    return "leaf"


def _numeric(x: Any) -> np.ndarray | None:
    if isinstance(x, str) or x is None:
        return None
    try:
        arr = np.asarray(x)
    except Exception:
        return None
    return arr if arr.dtype.kind in "biufc" else None


def _kind(arr: np.ndarray) -> str:
    """Booleans, integers, floats or complex: results of another kind are different results."""
    return {"b": "b", "i": "i", "u": "i", "f": "f", "c": "c"}.get(arr.dtype.kind, "?")


def compare(a: Any, b: Any, rtol: float, atol: float) -> float | None:
    """How far result ``a`` is from result ``b``: 0 when equal, <= 1 when within the tolerance
    (the largest ``|a - b| / (atol + rtol |b|)``), ``inf`` when shapes, structure or the kind of
    numbers (bool, integer, float, complex) differ, None
    when they cannot be compared (not data)."""
    la, lb = _leaves(a), _leaves(b)
    if la is None or lb is None:
        return None
    if _structure(a) != _structure(b):
        return float("inf")
    worst = 0.0
    for (_, x), (_, y) in zip(la, lb, strict=True):
        xa, ya = _numeric(x), _numeric(y)
        if xa is None or ya is None:
            if x != y:
                return float("inf")
            continue
        if xa.shape != ya.shape or _kind(xa) != _kind(ya):
            return float("inf")
        if xa.size == 0:
            continue
        with np.errstate(all="ignore"):
            xf, yf = xa.astype(complex), ya.astype(complex)
            nan_x, nan_y = np.isnan(xf), np.isnan(yf)
            if (nan_x != nan_y).any():
                return float("inf")
            ok = ~nan_x
            inf_x, inf_y = np.isinf(xf[ok]), np.isinf(yf[ok])
            if (inf_x != inf_y).any() or (xf[ok][inf_x] != yf[ok][inf_y]).any():
                return float("inf")
            fin = ~np.isinf(xf[ok])
            d = np.abs(xf[ok][fin] - yf[ok][fin]) / (atol + rtol * np.abs(yf[ok][fin]))
            d = np.where(np.isnan(d), 0.0, d)
            if d.size:
                worst = max(worst, float(np.max(d)))
    return worst


# ---- running instructor code ------------------------------------------------------------------


class _OutOfTime(BaseException):
    pass


@contextlib.contextmanager
def _time_box(seconds: float):
    """Raise :class:`_OutOfTime` in the block after ``seconds`` (main thread only; a no-op
    elsewhere). Nests: an enclosing box keeps its own deadline. Restores the runner's handler."""
    token = object()

    def alarm(signum: int, frame: Any) -> None:
        raise _OutOfTime(token)

    try:
        old = signal.signal(signal.SIGALRM, alarm)
    except ValueError:  # not the main thread
        yield token
        return
    outer = signal.getitimer(signal.ITIMER_REAL)[0]
    t0 = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(min(seconds, outer or seconds), 0.01))
    try:
        yield token
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - t0), 0.01))


def _within(seconds: float, fn: Any, *args: Any) -> tuple[bool, Any]:
    """``(True, fn(*args))``, or ``(False, None)`` when it takes longer than ``seconds``."""
    try:
        with _time_box(seconds) as token:
            return True, fn(*args)
    except _OutOfTime as exc:
        if exc.args and exc.args[0] is token:
            return False, None
        raise


def _quiet_exec(code: str, ns: dict, label: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        exec(compile(code, label, "exec"), ns)


def _function_names(code: str) -> list[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [s.name for s in tree.body if isinstance(s, ast.FunctionDef)]


def _return_names(code: str, name: str) -> list[str] | None:
    """Names in the reference's ``return a, b, c`` (to say which part of a tuple is wrong)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == name:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
                    elts = node.value.elts
                    if all(isinstance(e, ast.Name) for e in elts):
                        return [e.id for e in elts]
                    return [
                        e.id if isinstance(e, ast.Name) else f"item {i}" for i, e in enumerate(elts)
                    ]
    return None


def call_graph(spec: Any) -> dict[str, set[str]]:
    """Graded function -> the graded functions its source solution calls (from ``ast``)."""
    from autograder.names import free_names

    cells = {}
    for cell in spec.cells:
        if cell.kind == "solution":
            for name in _function_names(cell.source):
                cells[name] = cell.source
    return {f: (free_names(src) & cells.keys()) - {f} for f, src in cells.items()}


def _closure(graph: dict[str, set[str]], f: str) -> set[str]:
    seen, todo = set(), list(graph.get(f, ()))
    while todo:
        g = todo.pop()
        if g not in seen:
            seen.add(g)
            todo.extend(graph.get(g, ()))
    return seen


class _Reference:
    """The source's instructor and solution cells, executed lazily in a trusted namespace."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self._ns: dict | None = None
        self.error: str | None = None
        self.sandbox_ok = True
        self.cell_of: dict[str, Any] = {}
        for cell in spec.cells:
            if cell.kind == "solution":
                for name in _function_names(cell.source):
                    self.cell_of.setdefault(name, cell)

    def namespace(self) -> dict | None:
        if self._ns is None and self.error is None:
            ns: dict[str, Any] = {"__name__": "__reference__", "__builtins__": builtins}
            try:
                for cell in self.spec.cells:
                    if cell.kind in ("instructor", "solution"):
                        _quiet_exec(cell.source, ns, f"<reference {cell.grade_id or cell.index}>")
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                return None
            self._ns = ns
        return self._ns

    def variant(self, cell: Any, source: str, name: str, extra: dict | None = None) -> Any:
        """``name`` as defined by ``source`` (a cell's text) in a copy of the namespace."""
        base = self.namespace()
        if base is None:
            return None
        ns = {**base, **(extra or {})}
        try:
            _quiet_exec(source, ns, f"<variant {cell.grade_id}>")
        except Exception:
            return None
        return ns.get(name)

    def mutants(self, catalogue: Any, name: str) -> list[tuple[dict, Any]]:
        cell = self.cell_of.get(name)
        if cell is None or catalogue is None:
            return []
        out = []
        for m in getattr(catalogue, "MUTANTS", []):
            if m.get("cell") != cell.grade_id or cell.source.count(m["old"]) != 1:
                continue
            fn = self.variant(cell, cell.source.replace(m["old"], m["new"]), name)
            if fn is not None:
                out.append((m, fn))
        return out


@dataclass
class _Outcome:
    value: Any = None
    error: tuple[str, str] | None = None
    after: tuple | None = None
    warned: bool = False


def _run(fn: Any, call: Call, args: tuple | None = None, warn: bool = False) -> _Outcome:
    """``fn`` on the call's arguments (or on ``args``), on copies; ``warn``: note whether it
    emits a warning (NumPy's overflow, division and invalid-value ones included)."""
    replay = args is None and call.sources
    args, kwargs = _copy(call.args if args is None else args), _copy(call.kwargs)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always" if warn else "ignore")
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
                np.errstate(all="warn" if warn else "ignore"),
            ):
                if replay:  # an object an earlier call returned: made by the same code again
                    args = list(args)
                    for i, earlier in call.sources.items():
                        make = getattr(fn, "__globals__", {}).get(earlier.name)
                        if make is None:
                            raise LookupError(earlier.name)
                        args[i] = make(*_copy(earlier.args), **_copy(earlier.kwargs))
                value = fn(*args, **kwargs)
        except _OutOfTime:
            raise
        except Exception as exc:
            if type(exc).__name__ == "StudentError":  # the student's helper raised, via a proxy
                err = (exc.type_name, exc.message)
            else:
                err = (type(exc).__name__, str(exc))
            return _Outcome(error=err, after=(args, kwargs), warned=bool(seen))
    return _Outcome(value=value, after=(args, kwargs), warned=bool(seen))


def _writes_like(calls: list[Call], outs: list[_Outcome]) -> bool:
    """Whether a mutant changes in place the arguments the student's calls changed (and only
    those)."""
    for c, o in zip(calls, outs, strict=True):
        if c.after is None or o.after is None:
            return False
        if _changed((c.args, c.kwargs), c.after) != _changed((c.args, c.kwargs), o.after):
            return False
    return True


def _opaque(result: Call | _Outcome) -> bool:
    """Whether a call returned (not raised) something that is not data."""
    return result.error is None and _leaves(result.value) is None


def _distance(call: Call, out: _Outcome, rtol: float, atol: float) -> float | None:
    """How far the student's call is from an outcome (0 equal, <= 1 within tolerance)."""
    if call.error or out.error:
        return 0.0 if call.error == out.error else float("inf")
    return compare(call.value, out.value, rtol, atol)


# ---- patterns ---------------------------------------------------------------------------------


def _arg_names(fn: Any, call: Call, source: str | None = None) -> list[str]:
    """Parameter names for the call's arguments: from ``fn``'s signature, else from the ``def``
    in ``source``, else ordinals."""
    import inspect

    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    if not params and source:
        try:
            for stmt in ast.parse(source).body:
                if isinstance(stmt, ast.FunctionDef) and stmt.name == call.name:
                    params = [a.arg for a in stmt.args.posonlyargs + stmt.args.args]
        except SyntaxError:
            pass
    ordinal = ["first", "second", "third", "fourth", "fifth", "sixth"]
    names = [
        params[i] if i < len(params) else (ordinal[i] if i < 6 else f"{i + 1}th")
        for i in range(len(call.args))
    ]
    return names + list(call.kwargs)


def _changed(before: tuple, after: tuple) -> list[int]:
    """Indexes (positional, then keyword) of arguments whose data changed during the call."""
    b = [*before[0], *before[1].values()]
    a = [*after[0], *after[1].values()]
    out = []
    for i, (x, y) in enumerate(zip(b, a, strict=False)):
        d = compare(y, x, 0.0, 0.0)
        if d is not None and d > 0:
            out.append(i)
    return out


def pattern_sentences(
    name: str,
    call: Call,
    ref: _Outcome,
    hidden: bool,
    part_names: list[str] | None = None,
    tol: tuple[float, float] = (1e-9, 1e-12),
) -> list[str]:
    """Sentences for the mistakes a result shows as a pattern against the reference's result.

    Parameters
    ----------
    name : str
        The function.
    call : Call
        The student's call (its result).
    ref : _Outcome
        The reference's result on the same inputs.
    hidden : bool
        Whether the test is hidden (no numbers then).
    part_names : list of str, optional
        Names of the parts of a returned tuple (``dX``, ``dW``, ``db``).
    tol : (float, float)
        The test's ``(rtol, atol)``: parts within it are right.

    Returns
    -------
    list of str
        At most one sentence (the most specific pattern found).
    """
    if call.error or ref.error:
        return []
    ls, lr = _leaves(call.value), _leaves(ref.value)
    if ls is None or lr is None or len(ls) != len(lr):
        return []
    overflow = any("overflow" in w.lower() for w in call.warnings)
    for i, ((label, s), (_, r)) in enumerate(zip(ls, lr, strict=True)):
        sa, ra = _numeric(s), _numeric(r)
        if sa is None or ra is None:
            continue
        what = f"`{name}`"
        if part_names and len(part_names) == len(ls) and len(ls) > 1:
            what = f"the `{part_names[i]}` returned by `{name}`"
        elif label:
            what = f"`{name}(...){label}`"
        if sa.shape == ra.shape:
            d = compare(sa, ra, *tol)
            if d is not None and d <= 1:
                continue
        with np.errstate(all="ignore"):
            if sa.shape == ra.shape and sa.dtype.kind in "fc" and ra.dtype.kind in "fc":
                bad = ~np.isfinite(sa) & np.isfinite(ra)
                if bad.any():
                    why = (
                        "an overflow warning was raised"
                        if overflow
                        else "typically exp of a large number, 0/0 or log(0)"
                    )
                    return [
                        f"{what} gives NaN or infinity where the correct result is finite "
                        f"({why}): at extreme inputs (very large or very small values), compute "
                        "it in a numerically stable form, e.g. shift by the maximum before exp, "
                        "and avoid dividing by values that can be 0."
                    ]
            if sa.dtype == np.float32 and ra.dtype == np.float64:
                return [
                    f"{what} is computed in single precision (float32): it keeps only about 7 "
                    "significant digits. Convert the inputs with np.asarray(x, dtype=float) and "
                    "do not create float32 arrays."
                ]
            if sa.shape == ra.shape and sa.dtype == np.float64 and sa.size:
                rounded = sa.astype(np.float32).astype(np.float64)
                rel = np.abs(sa - ra) / np.maximum(np.abs(ra), 1e-30)
                finite = np.isfinite(rel)
                if (
                    np.array_equal(rounded, sa)
                    and not np.array_equal(ra.astype(np.float32).astype(np.float64), ra)
                    and finite.all()
                    and rel.max() < 1e-4
                ):
                    return [
                        f"{what} has the precision of float32 (about 7 significant digits): "
                        "somewhere in your computation values pass through single precision "
                        "(a float32 array, np.float32, or .astype(np.float32)); work in float64."
                    ]
            if sa.ndim == 2 and sa.shape == ra.shape[::-1] and sa.size > 1:
                if (
                    compare(sa, ra.T, *DEFAULT_TOL) is not None
                    and compare(sa, ra.T, *DEFAULT_TOL) <= 1
                ):
                    if sa.shape != ra.shape or compare(ra, ra.T, *DEFAULT_TOL) > 1:
                        return [
                            f"{what} is transposed: it holds the right values with rows and "
                            "columns swapped. Check the order of the factors of your matrix "
                            "products and where a .T belongs (each gradient has the shape of "
                            "what it is the gradient of)."
                        ]
            if sa.ndim == 2 and sa.shape == ra.shape[::-1] and sa.shape != ra.shape:
                return [
                    f"{what} has rows and columns swapped: its shape is the transpose of the "
                    "right one. Check the order of the sizes (size=(rows, columns), reshape) "
                    "or where a .T belongs."
                ]
            if sa.shape != ra.shape and sa.ndim == ra.ndim and _wrong_axis(call, sa, ra):
                return [
                    f"{what} has the shape of a reduction over the wrong axis: check the axis= "
                    "of your sum, mean or max (axis 0 runs over the samples of a batch, axis 1 "
                    "over the features or classes)."
                ]
            if (
                sa.shape == ra.shape
                and sa.size > 1
                and np.isfinite(sa).all()
                and np.isfinite(ra).all()
            ):
                sf, rf = sa.astype(float).ravel(), ra.astype(float).ravel()
                denom = float(rf @ rf)
                if denom > 0:
                    c = float(sf @ rf) / denom
                    if (
                        compare(sf, c * rf, 1e-6, 1e-12) is not None
                        and compare(sf, c * rf, 1e-6, 1e-12) <= 1
                    ):
                        if abs(c + 1) < 1e-6:
                            return [
                                f"{what} has the opposite sign of the correct result: check the "
                                "sign of each term (a - b versus b - a, a missing minus)."
                            ]
                        if abs(c - 1) > 1e-6 and c != 0:
                            about = (
                                ""
                                if hidden
                                else f" (your values are about {c:.4g} times the correct ones)"
                            )
                            return [
                                f"{what} is off by a constant factor{about}: look for a missing "
                                "or extra factor such as 1/N (mean versus sum over the batch), 2 "
                                "or 1/2."
                            ]
    return []


#: What NumPy's (and Python's) error messages say about the student's code, for students.
_ERRORS = [
    (
        "could not be broadcast",
        "arrays whose shapes do not fit together in an elementwise operation (broadcast): check "
        "keepdims=True in your sums and maxima, the shape of what you add (a bias has one value "
        "per unit), and whether you wrote * where a matrix product @ belongs.",
    ),
    (
        "mismatch in its core dimension|not aligned",
        "the shapes of a matrix product do not fit: check the order of the factors (X @ W, "
        "not W @ X) and where a .T belongs.",
    ),
    (
        "out of bounds for array of dimension",
        "it uses an axis the array does not have: for the last axis, whatever the number of "
        "dimensions, use axis=-1.",
    ),
    (
        "truth value of an array with more than one element is ambiguous",
        "Python's if/else, and/or, max or min compare whole arrays: for elementwise choices use "
        "np.where, np.maximum or np.minimum.",
    ),
    (
        "requires grad",
        "a tensor that tracks gradients cannot become a NumPy array: compute it under "
        "torch.no_grad(), or call .detach() before .numpy().",
    ),
    (
        "division by zero",
        "it divides by zero for some inputs: check the denominator of your formula (is a term "
        "such as 1 + missing?).",
    ),
]


def _call_patterns(
    name: str,
    calls: list[Call],
    refs: list[_Outcome],
    ref_fn: Any,
    tol: tuple[float, float],
    source: str | None = None,
) -> list[str]:
    """Sentences for what the calls show together: an exception NumPy explains, a seed or
    another argument that is ignored (or randomness without one), a state that is not carried
    over, the input's sign flipped. At most one sentence."""
    for c, o in zip(calls, refs, strict=True):
        if c.error and not o.error:
            for pattern, text in _ERRORS:
                if re.search(pattern, c.error[1] or ""):
                    return [f"Your `{name}` raises {c.error[0]}: {text}"]
    ok = [(c, o) for c, o in zip(calls, refs, strict=True) if not c.error and not o.error]
    small = [(c, o) for c, o in ok if _nbytes([c.args, c.kwargs, c.value]) <= 8 * 1024 * 1024]
    for i, (ci, ri) in enumerate(small):
        for cj, rj in small[i + 1 :]:
            if _structure((ci.args, ci.kwargs)) != _structure((cj.args, cj.kwargs)):
                continue
            args_d = compare((ci.args, ci.kwargs), (cj.args, cj.kwargs), 0.0, 0.0)
            mine, theirs = compare(ci.value, cj.value, *tol), compare(ri.value, rj.value, *tol)
            if args_d is None or mine is None or theirs is None:
                continue
            if args_d == 0 and mine > 1 and theirs <= 1:
                return [
                    f"Your `{name}` gives different results for the same arguments: it draws "
                    "random numbers without the seed it is given. Create the generator from "
                    "the argument, np.random.default_rng(rng), and draw only from it."
                ]
            if args_d > 0 and mine <= 1 and theirs > 1:
                names = _arg_names(ref_fn, ci, source)
                b = [*ci.args, *ci.kwargs.values()]
                a = [*cj.args, *cj.kwargs.values()]
                diff = [
                    names[k]
                    for k in range(min(len(a), len(b), len(names)))
                    if (d := compare(a[k], b[k], 0.0, 0.0)) is None or d > 0
                ]
                if any(re.search("rng|seed", n) for n in diff):
                    return [
                        f"Your `{name}` ignores the seed it is given: different seeds must give "
                        "different results (and the same seed the same ones). Create the "
                        "generator from the argument, np.random.default_rng(rng)."
                    ]
                if len(diff) == 1:
                    return [
                        f"Your `{name}` gives the same result whatever `{diff[0]}` is: it "
                        f"ignores this argument (a constant where `{diff[0]}` belongs?)."
                    ]
    if sum(c.seconds for c, _ in ok) > VERIFY_S / 2:
        return []  # the checks below run the reference again on every call
    for k in range(max((len(c.args) for c, _ in ok), default=0)):
        has_state = [isinstance(c.args[k], dict) and c.args[k] for c, _ in ok if len(c.args) > k]
        if not any(has_state) or not all(isinstance(c.args[k], dict) for c, _ in ok):
            continue
        outs = [_run(ref_fn, c, args=(*c.args[:k], {}, *c.args[k + 1 :])) for c, _ in ok]
        if all(
            (d := _distance(c, o, *tol)) is not None and d <= 1
            for (c, _), o in zip(ok, outs, strict=True)
        ):
            param = _arg_names(ref_fn, ok[0][0], source)[k]
            return [
                f"Your `{name}` does not use the state it is given (`{param}`): every step starts "
                "afresh. Read the previous values from it (state.get(...)) and return the "
                "updated ones, so that they carry over from one step to the next."
            ]
    first = [
        (c, o)
        for c, o in ok
        if c.args and isinstance(c.args[0], np.ndarray) and c.args[0].dtype.kind == "f"
    ]
    if first and len(first) == len(ok):
        outs = [_run(ref_fn, c, args=(-c.args[0], *c.args[1:])) for c, _ in first]
        if all(
            (d := _distance(c, o, *tol)) is not None and d <= 1
            for (c, _), o in zip(first, outs, strict=True)
        ):
            param = _arg_names(ref_fn, first[0][0], source)[0]
            return [
                f"Your `{name}` gives what the correct function gives at -{param}: a sign error "
                f"inside, such as exp({param}) where exp(-{param}) belongs."
            ]
    return []


def _wrong_axis(call: Call, sa: np.ndarray, ra: np.ndarray) -> bool:
    arrays = [a for a in (*call.args, *call.kwargs.values()) if isinstance(a, np.ndarray)]
    for a in arrays:
        if a.ndim < 2:
            continue
        for i in range(a.ndim):
            drop_i = a.shape[:i] + a.shape[i + 1 :]
            keep_i = a.shape[:i] + (1,) + a.shape[i + 1 :]
            if ra.shape not in (drop_i, keep_i):
                continue
            for j in range(a.ndim):
                if j == i or a.shape[i] == a.shape[j]:
                    continue
                if sa.shape in (
                    a.shape[:j] + a.shape[j + 1 :],
                    a.shape[:j] + (1,) + a.shape[j + 1 :],
                ):
                    return True
    return False


# ---- the diagnosis ------------------------------------------------------------------------------


def _tested(spec: Any, cell: Any, functions: set[str]) -> list[str]:
    from autograder.names import free_names

    return sorted(free_names(cell.source) & functions)


def _inplace_sentence(
    name: str, calls: list[Call], refs: list[_Outcome], ref_fn: Any, source: str | None = None
) -> str | None:
    for call, out in zip(calls, refs, strict=True):
        if not call.done or call.after is None:
            continue
        changed = _changed((call.args, call.kwargs), call.after)
        if not changed:
            continue
        if out.after is not None and _changed((call.args, call.kwargs), out.after):
            continue  # the reference changes it too: that is the specification
        names = _arg_names(ref_fn, call, source)
        args = ", ".join(f"`{names[i]}`" for i in changed if i < len(names))
        return (
            f"Your `{name}` changes its argument {args} in place (the caller's array is different "
            "after the call): work on a copy (x = x.copy(), or x = x - ... instead of x -= ...), "
            "never write into the arrays you are given."
        )
    return None


def diagnose(
    spec: Any,
    results: list[dict],
    recorder: Recorder,
    catalogue: Any,
    sandbox: Any = None,
    budget_s: float = 20.0,
    base_url: str = BOOK_URL,
    reference: bool = True,
) -> list[str]:
    """Add ``diagnosis``, ``look``, ``root_cause`` and ``sections`` to a notebook's test results.

    Parameters
    ----------
    spec : NotebookSpec
        The source notebook.
    results : list of dict
        The runner's test results (changed in place).
    recorder : Recorder
        The calls each test made.
    catalogue : module or None
        The assignment's mistake catalogue (:func:`load_catalogue`).
    sandbox : Sandbox, optional
        The student's sandbox (still running): needed to check root causes.
    budget_s : float
        Seconds the whole diagnosis may take; what is not done by then is left out.
    base_url : str
        The published book.
    reference : bool
        Whether the spec's solution cells are the reference (the grader). False in a local check
        of a student's own notebook: patterns then compare with the expected values of the
        public tests' ``assert_close``, and root causes come from the student's call graph.

    Returns
    -------
    list of str
        Notes for the instructor's log (what could not be diagnosed and why).
    """
    log: list[str] = []
    start = time.monotonic()
    ref = _Reference(spec)
    graph = call_graph(spec)
    functions = set(ref.cell_of)
    cells = {c.grade_id: c for c in spec.cells if c.kind == "test"}
    sections = getattr(catalogue, "SECTIONS", {}) if catalogue is not None else {}
    by_id = {r["grade_id"]: r for r in results}
    failing: dict[str, str] = {}  # function -> first failed test id
    for r in results:
        cell = cells.get(r["grade_id"])
        if cell is None:
            continue
        tested = _tested(spec, cell, functions)
        links = [
            {"function": f, "title": sections[f]["title"], "url": book_url(sections[f], base_url)}
            for f in tested
            if f in sections
        ]
        if links:
            r["sections"] = links
        if not r["passed"] and r["kind"] == "auto":
            for f in tested:
                failing.setdefault(f, r["grade_id"])
    order = [c.grade_id for c in spec.cells]

    def left() -> float:
        return budget_s - (time.monotonic() - start)

    for r in results:
        if r["passed"] or r["kind"] != "auto" or r["status"] != "failed":
            continue
        cell = cells.get(r["grade_id"])
        if cell is None or left() <= 0.5:
            continue
        hidden = cell.hidden
        calls = [c for c in recorder.calls.get(r["grade_id"], []) if c.done]
        seen = recorder.tolerances.get(r["grade_id"], [])
        rtol, atol = (max(t[0] for t in seen), max(t[1] for t in seen)) if seen else DEFAULT_TOL
        names = [n for n in dict.fromkeys(c.name for c in calls) if n in functions]
        if not reference:
            _diagnose_locally(names, calls, r, graph, failing, by_id, order, recorder, ref)
            continue
        try:
            with _time_box(left()):
                for name in names:
                    mine = [c for c in calls if c.name == name]
                    done = _diagnose_function(
                        name,
                        mine,
                        r,
                        ref,
                        catalogue,
                        graph,
                        failing,
                        by_id,
                        order,
                        sandbox,
                        hidden,
                        (rtol, atol),
                    )
                    if done:
                        break
        except _OutOfTime:
            log.append(f"diagnosis of {r['grade_id']} ran out of time")
        if ref.error:
            log.append(f"diagnosis: the reference did not run: {ref.error}")
            break
    return log


def _diagnose_function(
    name: str,
    calls: list[Call],
    r: dict,
    ref: _Reference,
    catalogue: Any,
    graph: dict[str, set[str]],
    failing: dict[str, str],
    by_id: dict[str, dict],
    order: list[str],
    sandbox: Any,
    hidden: bool,
    tol: tuple[float, float],
) -> bool:
    """Diagnose one function's calls in a failed test; True when something was said."""
    calls = [c for c in calls if not c.stale]
    ns = ref.namespace()
    if ns is None or not calls:
        return False
    ref_fn = ns.get(name)
    if ref_fn is None:
        return False
    cell = ref.cell_of[name]
    rtol, atol = max(tol[0], DEFAULT_TOL[0]), max(tol[1], DEFAULT_TOL[1])
    if any(c.error and c.error[0] == "NotImplementedError" for c in calls):
        return False  # not written yet: the message says so

    # 1. root cause: a graded function f uses fails its own tests
    broken = sorted(
        (g for g in _closure(graph, name) if g in failing and by_id[failing[g]] is not r),
        key=lambda g: order.index(failing[g]),
    )
    if broken:
        explained = False
        slow = sum(c.seconds for c in calls) > VERIFY_S / 2
        if sandbox is not None and ref.sandbox_ok and not slow:
            from autograder.proxy import RemoteFunction

            direct = {g: RemoteFunction(sandbox, g) for g in graph.get(name, ())}
            with_theirs = ref.variant(cell, cell.source, name, direct)

            def same_as_theirs() -> bool:
                if any(c.error and not c.error[1] for c in calls):
                    return False  # an exception without a message cannot tell where it came from
                for c in calls:
                    d = _distance(c, _run(with_theirs, c), rtol, atol)
                    if d is None or d > 1:
                        return False
                return True

            # the reference with the student's functions goes through the sandbox: time-boxed
            if with_theirs is not None:
                finished, explained = _within(VERIFY_S, same_as_theirs)
                if not finished:  # interrupted mid-request: the channel may hold a late reply
                    ref.sandbox_ok = False
                explained = bool(finished and explained)
        roots = [g for g in broken if not (_closure(graph, g) & failing.keys())] or broken
        root = roots[0]
        via = [g for g in broken if g != root and root in _closure(graph, g)]
        through = f" (through `{via[0]}`)" if via else ""
        if explained:
            r["root_cause"] = {"function": root, "test": failing[root]}
            r["original_message"] = r["message"]
            r["message"] = (
                f"`{name}` fails only because `{root}`, which it uses{through}, fails its own "
                f"test '{failing[root]}': with your `{root}`, your `{name}` computes what it "
                f"should. Fix `{root}` first; this test should then pass."
            )
            return True
        r["root_cause"] = {"function": root, "test": failing[root], "certain": False}
        r["diagnosis"] = (
            f"`{name}` uses `{root}`{through}, which fails its own test '{failing[root]}': fix "
            f"`{root}` first, then see whether `{name}` still fails."
        )
        return True

    if name in getattr(catalogue, "BY_MESSAGE", ()):
        return _by_message(name, r, ref, catalogue)
    refs = [_run(ref_fn, c) for c in calls]
    dists = [_distance(c, o, rtol, atol) for c, o in zip(calls, refs, strict=True)]
    # a result of another kind than the reference's: an object that is not data (a tensor, a
    # device) where data belongs, or data where an object (a model) belongs
    swapped = [
        not c.error and not o.error and _opaque(c) != _opaque(o)
        for c, o in zip(calls, refs, strict=True)
    ]
    opaque = [sw and _opaque(c) for c, sw in zip(calls, swapped, strict=True)]
    if any(d is None and not sw for d, sw in zip(dists, swapped, strict=True)):
        return False
    dists = [float("inf") if sw else d for d, sw in zip(dists, swapped, strict=True)]
    differs = any(d > 1 for d in dists)
    inplace = _inplace_sentence(name, calls, refs, ref_fn)

    # 2. catalogued mistakes (right values with a warning: a mistake that warns there too)
    warned = [bool(c.warnings) and not differs for c in calls]
    retyped = any(_wider(c.value, o.value) for c, o in zip(calls, refs, strict=True))
    # every call within the test's tolerance, yet the test failed (a trajectory that drifts
    # step by step): a mistake is named only when it gives the student's results to 1e-12
    mtol = (rtol, atol)
    if not (differs or any(warned) or retyped or inplace):
        mtol = SUBTLE_TOL
        subtle = any(
            (d := _distance(c, o, *mtol)) is not None and d > 1
            for c, o in zip(calls, refs, strict=True)
        )
    else:
        subtle = False
    if differs or any(warned) or retyped or subtle or inplace:
        best = None
        ref_ds = (
            [_distance(c, o, *mtol) for c, o in zip(calls, refs, strict=True)] if subtle else dists
        )
        for m, fn in ref.mutants(catalogue, name):
            outs = [_run(fn, c, warn=w) for c, w in zip(calls, warned, strict=True)]
            ds = [
                (0.0 if _opaque(o) else None) if op else _distance(c, o, *mtol)
                for c, o, op in zip(calls, outs, opaque, strict=True)
            ]
            if any(d is None or d > 1 for d in ds):
                continue
            if any(w and not o.warned for w, o in zip(warned, outs, strict=True)):
                continue
            if not differs and inplace and not _writes_like(calls, outs):
                continue
            if retyped and any(
                _float_dtypes(c.value) != _float_dtypes(o.value)
                for c, o in zip(calls, outs, strict=True)
            ):
                continue
            # a mutant identical to the reference on these calls cannot be told apart
            if (
                not any(warned)
                and not retyped
                and not (inplace and not differs)
                and all(d is not None and d <= 1 for d in ref_ds)
            ):
                continue
            score = max(ds)
            if best is None or score < best[0]:
                best = (score, m)
        if best is not None:
            m = best[1]
            text = student_sentence(m)
            if inplace:
                text += " " + inplace
            r["diagnosis"] = text
            if m.get("look"):
                r["look"] = m["look"]
            r["mistake"] = m.get("why", "")
            return True

    # 3. patterns
    sentences = [inplace] if inplace else []
    kind = _dtype_sentence(name, calls, refs)
    if kind and not inplace:
        sentences = [kind]
    elif not differs and not inplace:
        sentences = [w for w in (_warning_sentence(name, calls),) if w]
    if differs and not sentences:
        parts = _return_names(cell.source, name)
        for c, o, d in zip(calls, refs, dists, strict=True):
            if d > 1:
                sentences = pattern_sentences(name, c, o, hidden, parts, tol)
                if sentences:
                    break
    if any(opaque) and not sentences:
        sentences = [
            f"Your `{name}` returns an object that is not plain data (such as a torch tensor "
            "or a torch.device) where the result must be a NumPy array, a number or a string: "
            "convert it (tensor.detach().cpu().numpy(), float(...), or the name as a string)."
        ]
    if differs and not sentences:
        sentences = _call_patterns(name, calls, refs, ref_fn, (rtol, atol), cell.source)
    if sentences:
        r["diagnosis"] = " ".join(sentences)
        return True
    return False


def _by_message(name: str, r: dict, ref: _Reference, catalogue: Any) -> bool:
    """The diagnosis of a function the catalogue lists in ``BY_MESSAGE`` (one that trains for
    its whole budget, so that running the reference and the mistakes again would cost as much
    each): the first of its mistakes whose ``message`` (a regular expression) is found in the
    failed test's message. True when something was said."""
    cell = ref.cell_of.get(name)
    text = r.get("original_message") or r.get("message") or ""
    for m in getattr(catalogue, "MUTANTS", []):
        if cell is not None and m.get("cell") == cell.grade_id and m.get("message"):
            if re.search(m["message"], text):
                r["diagnosis"] = student_sentence(m)
                if m.get("look"):
                    r["look"] = m["look"]
                r["mistake"] = m.get("why", "")
                return True
    return False


def feedback_html(test: dict, esc: Any) -> str:
    """The diagnosis, the hint and the book links of one test result as HTML (for
    :mod:`autograder.feedback`). Every string goes through ``esc``; a link is made only of an
    ``https://`` URL (the catalogue's), escaped as an attribute."""
    parts = []
    if not test.get("passed"):
        if isinstance(test.get("diagnosis"), str) and test["diagnosis"]:
            parts.append(
                f"<p class='diag'><strong>Likely cause:</strong> {esc(test['diagnosis'])}</p>"
            )
        if isinstance(test.get("look"), str) and test["look"]:
            parts.append(f"<p class='diag'><strong>Where to look:</strong> {esc(test['look'])}</p>")
    links = []
    for s in test.get("sections") or []:
        url, title = (s.get("url"), s.get("title")) if isinstance(s, dict) else (None, None)
        if isinstance(url, str) and isinstance(title, str) and url.startswith("https://"):
            links.append(f'<a href="{esc(url)}" rel="noopener noreferrer">{esc(title)}</a>')
    if links:
        parts.append(f"<p class='read'>Read: {', '.join(dict.fromkeys(links))}</p>")
    return "".join(parts)


def _dtype_sentence(name: str, calls: list[Call], refs: list[_Outcome]) -> str | None:
    """A sentence for right values of the wrong kind (integers or booleans for floats)."""
    for call, out in zip(calls, refs, strict=True):
        ls, lr = _leaves(call.value), _leaves(out.value)
        if ls is None or lr is None or len(ls) != len(lr):
            continue
        for (_, s), (_, r) in zip(ls, lr, strict=True):
            sa, ra = _numeric(s), _numeric(r)
            if (
                sa is not None
                and ra is not None
                and sa.dtype.kind in "biu"
                and ra.dtype.kind == "f"
            ):
                kind = "a boolean" if sa.dtype.kind == "b" else "an integer"
                return (
                    f"Your `{name}` returns its values as {kind} array; the result "
                    "must be floats: convert it with .astype(float)."
                )
    if any(_wider(c.value, o.value) for c, o in zip(calls, refs, strict=True)):
        return (
            f"Your `{name}` returns float64 (double precision) where float32 is expected: "
            "keep the data in float32 (.astype(np.float32), dtype=torch.float32; dividing by "
            "a Python float makes float64)."
        )
    return None


def _float_dtypes(value: Any) -> tuple:
    leaves = _leaves(value) or []
    return tuple(a.dtype.str for _, v in leaves if (a := _numeric(v)) is not None)


def _wider(mine: Any, theirs: Any) -> bool:
    """Whether a result holds float64 arrays where the reference's are float32."""
    a, b = _float_dtypes(mine), _float_dtypes(theirs)
    return len(a) == len(b) and any(x == "<f8" and y == "<f4" for x, y in zip(a, b, strict=True))


def _warning_sentence(name: str, calls: list[Call]) -> str | None:
    """A sentence for a call that gave the right values but warned (a failed no-warnings test)."""
    text = " ".join(w.lower() for c in calls for w in c.warnings)
    if not text:
        return None
    kinds = [k for k in ("overflow", "divide by zero", "invalid value") if k in text]
    what = f" ({', '.join(kinds)})" if kinds else ""
    return (
        f"Your `{name}` gives the right values but emits a warning{what} at extreme inputs: "
        "compute it in a numerically stable form (shift by the maximum before exp, avoid log(0) "
        "and 0/0), so that no intermediate value overflows."
    )


def _root_sentence(name: str, graph: dict, failing: dict, by_id: dict, order: list, r: dict):
    broken = sorted(
        (g for g in _closure(graph, name) if g in failing and by_id[failing[g]] is not r),
        key=lambda g: order.index(failing[g]),
    )
    if not broken:
        return None, None
    roots = [g for g in broken if not (_closure(graph, g) & failing.keys())] or broken
    root = roots[0]
    via = [g for g in broken if g != root and root in _closure(graph, g)]
    through = f" (through `{via[0]}`)" if via else ""
    return root, (
        f"`{name}` uses `{root}`{through}, which fails its own test '{failing[root]}': fix "
        f"`{root}` first, then see whether `{name}` still fails."
    )


def _diagnose_locally(
    names: list[str],
    calls: list[Call],
    r: dict,
    graph: dict,
    failing: dict,
    by_id: dict,
    order: list,
    recorder: Recorder,
    ref: _Reference,
) -> None:
    """The diagnosis of a local check (no reference code): root causes from the student's own
    call graph, inputs changed in place, warnings, and patterns against the expected values the
    public test gave to ``assert_close``."""
    if any(c.error and c.error[0] == "NotImplementedError" for c in calls):
        return  # not written yet: the message says so
    for name in names:
        root, text = _root_sentence(name, graph, failing, by_id, order, r)
        if root:
            r["root_cause"] = {"function": root, "test": failing[root], "certain": False}
            r["diagnosis"] = text
            return
    for name in names:
        mine = [c for c in calls if c.name == name]
        for c in mine:
            if c.done and c.after is not None and _changed((c.args, c.kwargs), c.after):
                cell = ref.cell_of.get(name)
                source = cell.source if cell is not None else None
                r["diagnosis"] = _inplace_sentence(name, [c], [_Outcome()], None, source) or ""
                return
    for act, exp, label in recorder.mismatches.get(r["grade_id"], []):
        found = pattern_sentences(
            label, Call(label, (), {}, value=act, done=True), _Outcome(value=exp), False
        )
        if found:
            r["diagnosis"] = found[0].replace(f"`{label}`", f"`{label}`", 1)
            return
    for name in names:
        text = _warning_sentence(name, [c for c in calls if c.name == name])
        if text:
            r["diagnosis"] = text
            return
