"""Assertions for notebook tests, with messages that help a student fix their code.

They run in two places: in the student's own kernel (self-checks while working) and in the
trusted test runner while grading, where the student's results arrive as plain data. Either way
they accept only real numeric data: the value is converted with :func:`numpy.asarray` to a
numeric or bool dtype, and anything that would become an ``object`` array (an object with a
fake ``__eq__``, a proxy of a student object) is refused. Messages show shapes, dtypes, the first
mismatching element with its index and both values, and the tolerance; never any reference code.
"""

from __future__ import annotations

import resource
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_SEED",
    "assert_close",
    "assert_dtype",
    "assert_no_warnings",
    "assert_shape",
    "call_with_warnings",
    "cpu_seconds",
    "grading_seed",
    "self_check",
]

#: The seed :func:`grading_seed` returns outside the grader (in a kernel, under nbgrader).
DEFAULT_SEED = 20260
#: Set by the trusted runner while it grades one submission (never by the student's process):
#: ``seed`` (int, drawn per grading from the submission) and ``cpu_clock`` (callable returning
#: the CPU seconds used so far by every process of the student's sandbox); ``tolerances`` (a list
#: that :func:`assert_close` appends its ``(rtol, atol)`` to, for the diagnosis) and ``mismatches``
#: (where it appends ``(actual, expected, name)`` when it fails).
_runtime: dict[str, Any] = {}


def grading_seed() -> int:
    """The seed for a hidden test's inputs: fresh for every graded submission.

    While grading, the runner derives it from the submission's bytes and a per-run secret, so the
    inputs of hidden tests differ between submissions and between gradings: an answer memorised
    from earlier feedback is worthless. In a kernel or under ``nbgrader`` it is
    :data:`DEFAULT_SEED`.

    Returns
    -------
    int
        A non-negative seed for :func:`numpy.random.default_rng`.
    """
    return int(_runtime.get("seed", DEFAULT_SEED))


def cpu_seconds() -> float:
    """CPU seconds used so far by the code under test (user + system, all its processes).

    While grading this is measured from outside the student's sandbox (every process in it,
    threads and children included), so a busy machine does not cost a student time the way wall
    time would. In a kernel it is this process's CPU time plus its finished children's.

    Returns
    -------
    float
        Seconds; subtract two readings to time a call.
    """
    clock = _runtime.get("cpu_clock")
    if clock is not None:
        return float(clock())
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


_NUMERIC_KINDS = "biufc"


def _as_numeric(value: Any, name: str, role: str = "") -> np.ndarray:
    if isinstance(value, np.ndarray) and type(value) is not np.ndarray:
        value = np.ndarray.view(value, np.ndarray)  # drop subclass behaviour, keep the data
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.asarray(value)
    except Exception as exc:
        raise AssertionError(
            f"{name}{role} is not numeric data ({type(value).__name__}: {exc})"
        ) from None
    if type(arr) is not np.ndarray:
        arr = np.ndarray.view(arr, np.ndarray)
    if arr.dtype.kind not in _NUMERIC_KINDS or arr.dtype.fields is not None:
        raise AssertionError(
            f"{name}{role} should be numbers (a NumPy array or float), "
            f"got {type(value).__name__} (dtype {arr.dtype})"
        )
    return arr


def _fmt(x: Any) -> str:
    x = x.item() if isinstance(x, np.generic) else x
    if isinstance(x, float) and np.isfinite(x):
        return np.format_float_positional(x, precision=10, trim="-")
    return str(x)


def assert_shape(actual: Any, expected_shape: tuple[int, ...], name: str = "result") -> None:
    """Check the shape of a numeric result.

    Parameters
    ----------
    actual : array_like
        The value to check.
    expected_shape : tuple of int
        The expected shape; ``None`` entries match any size.
    name : str
        What to call the value in messages.

    Raises
    ------
    AssertionError
        If the shape differs (the message shows both shapes).
    """
    arr = _as_numeric(actual, name)
    expected = tuple(expected_shape)
    ok = arr.ndim == len(expected) and all(
        e is None or e == a for e, a in zip(expected, arr.shape, strict=True)
    )
    if not ok:
        raise AssertionError(f"{name} has shape {arr.shape}, expected {expected}")


def assert_dtype(
    actual: Any, expected_kind: str | type | np.dtype = "f", name: str = "result"
) -> None:
    """Check the dtype of a numeric result.

    Parameters
    ----------
    actual : array_like
        The value to check.
    expected_kind : str, type or dtype
        A dtype (``np.float64``: exact match) or a kind letter (``"f"``: any float, ``"i"``: any
        signed integer, ``"b"``: bool).
    name : str
        What to call the value in messages.

    Raises
    ------
    AssertionError
        If the dtype differs.
    """
    arr = _as_numeric(actual, name)
    if isinstance(expected_kind, str) and len(expected_kind) == 1:
        if arr.dtype.kind != expected_kind:
            kinds = {
                "f": "floating point",
                "i": "integer",
                "u": "unsigned",
                "b": "bool",
                "c": "complex",
            }
            want = kinds.get(expected_kind, expected_kind)
            raise AssertionError(f"{name} has dtype {arr.dtype}, expected a {want} dtype")
        return
    want = np.dtype(expected_kind)
    if arr.dtype != want:
        raise AssertionError(f"{name} has dtype {arr.dtype}, expected {want}")


def assert_close(
    actual: Any,
    expected: Any,
    *,
    rtol: float = 1e-7,
    atol: float = 0.0,
    name: str = "result",
) -> None:
    """Check that a numeric result matches the expected values within a tolerance.

    Elements match when ``|actual - expected| <= atol + rtol * |expected|`` (as
    :func:`numpy.isclose`); NaNs match only NaNs, infinities only the same infinity. Shapes must
    be equal (no broadcasting).

    Parameters
    ----------
    actual : array_like
        The student's result.
    expected : array_like
        The correct values.
    rtol, atol : float
        Relative and absolute tolerance.
    name : str
        What to call the value in messages.

    Raises
    ------
    AssertionError
        With the shapes, or the number of mismatches, the first mismatching element's index and
        both values, and the tolerance.
    """
    record = _runtime.get("tolerances")
    if record is not None:  # the grader's diagnosis compares results with the test's tolerance
        record.append((float(rtol), float(atol)))
    act = _as_numeric(actual, name)
    exp = _as_numeric(expected, name, " (expected)")
    if act.shape != exp.shape:
        raise AssertionError(f"{name} has shape {act.shape}, expected {exp.shape}")
    with np.errstate(all="ignore"):
        close = np.isclose(act, exp, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return
    mismatches = _runtime.get("mismatches")
    if mismatches is not None and len(mismatches) < 8:  # for the diagnosis's pattern checks
        mismatches.append((act.copy(), exp.copy(), str(name)))
    bad = np.argwhere(~close) if act.ndim else np.zeros((1, 0), dtype=int)
    idx = tuple(int(i) for i in bad[0])
    a, e = act[idx], exp[idx]
    where = f" at index {idx}" if idx else ""
    raise AssertionError(
        f"{name}: {len(bad)} of {max(act.size, 1)} values differ; first{where}: got {_fmt(a)}, "
        f"expected {_fmt(e)} (tolerance: |got - expected| <= {atol:g} + {rtol:g} * |expected|)"
    )


def call_with_warnings(func: Callable, *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Call ``func`` and return its result and the warnings it emitted.

    NumPy's floating point errors (overflow, divide by zero, invalid) are turned into warnings for
    the call. Works on the student's own functions while grading (the call happens in their
    sandbox) and on ordinary functions in a notebook.

    Parameters
    ----------
    func : callable
        The function.
    *args, **kwargs
        Its arguments.

    Returns
    -------
    result : Any
        What the function returned.
    warnings : list of str
        ``"Category: message"`` for each warning.
    """
    remote = getattr(type(func), "_autograder_call_with_warnings", None)
    if remote is not None:
        return func._autograder_call_with_warnings(args, kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(over="warn", divide="warn", invalid="warn"):
            result = func(*args, **kwargs)
    return result, [f"{w.category.__name__}: {w.message}" for w in caught]


def assert_no_warnings(func: Callable, *args: Any, name: str | None = None, **kwargs: Any) -> Any:
    """Call ``func`` and fail if it emits a warning (e.g. an overflow in ``np.exp``).

    Parameters
    ----------
    func : callable
        The function.
    *args, **kwargs
        Its arguments.
    name : str, optional
        What to call the function in messages.

    Returns
    -------
    Any
        The function's result.

    Raises
    ------
    AssertionError
        Naming the first warning.
    """
    result, caught = call_with_warnings(func, *args, **kwargs)
    if caught:
        label = name or getattr(func, "__name__", "the function")
        raise AssertionError(
            f"{label} emitted {len(caught)} warning(s), first: {caught[0]} "
            "(a numerically stable version should not overflow)"
        )
    return result


def _this_notebook() -> str | None:
    """The path of the notebook this kernel runs, where the front end says so."""
    import glob
    import os

    for candidate in (os.environ.get("JPY_SESSION_NAME"),):  # Jupyter Server >= 2
        if candidate and candidate.endswith(".ipynb") and os.path.isfile(candidate):
            return candidate
    try:
        from IPython import get_ipython

        shell = get_ipython()
        vsc = shell.user_ns.get("__vsc_ipynb_file__") if shell is not None else None
        if vsc and os.path.isfile(vsc):
            return vsc
    except ImportError:
        pass
    try:  # Colab keeps the notebook in the browser: fetch it, named as Colab names it
        import json
        import tempfile

        from google.colab import _message  # type: ignore[import-not-found]

        nb = _message.blocking_request("get_ipynb", timeout_sec=30)["ipynb"]
        name = nb.get("metadata", {}).get("colab", {}).get("name", "notebook.ipynb")
        path = os.path.join(tempfile.mkdtemp(), os.path.basename(name))
        with open(path, "w") as fh:
            json.dump(nb, fh)
        return path
    except Exception:
        pass
    found = sorted(glob.glob("[0-9][0-9]-*.ipynb"))
    return found[0] if len(found) == 1 else None


def self_check(path: str | None = None, source_dir: str | None = None) -> dict:
    """Check this notebook as the grader will: public tests, forbidden functions, inputs changed
    in place, warnings, and what the mistake most likely is. Save the notebook first.

    ``from autograder.checks import self_check; self_check()`` in a cell of the notebook; or
    ``autograder check NOTEBOOK`` in a terminal (the same check).

    Parameters
    ----------
    path : str, optional
        The notebook (default: the one this kernel runs, where the front end tells).
    source_dir : str, optional
        An instructor's source folder of the assignment.

    Returns
    -------
    dict
        The result (also printed as a short report).
    """
    from autograder.check import check_notebook, format_report

    path = path or _this_notebook()
    if not path:
        raise FileNotFoundError(
            "cannot tell which notebook this is: call self_check('NN-name.ipynb') with its file"
        )
    result = check_notebook(path, source_dir=source_dir)
    print(format_report(result))
    return result
