"""The autograder's data: a grading :class:`Job`, and the :class:`SubmissionResult` of one
submission with its :class:`NotebookResult` s and :class:`TestResult` s.

Each has ONE JSON form (``to_json``/``from_json``). The JSON form is what crosses a process or
machine boundary (the runner's result file, a Dask worker's answer) and what is kept on disk
(``results/<student>.json``), so ``from_json`` treats it as hostile: text is cleaned
(:func:`autograder.safe.clean_text`), a field of the wrong type gets its default, an unknown
field is dropped, and each of these is described in ``problems`` when the caller passes a list;
only something that is not a result at all (not an object, no student) raises
:class:`~autograder.errors.ResultError`. Nothing in here crashes a run.

The results also answer ``result["score"]``, ``test.get("diagnosis")`` and ``test["look"] = ...``
as their JSON form would: the diagnosis (:mod:`autograder.diagnose`), the report and older
callers read and annotate them by key. A key that is not a field raises ``KeyError`` naming the
fields, so a new annotation is added here, as a field with its default, or not at all.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from autograder.config import DEFAULTS
from autograder.errors import ResultError
from autograder.safe import clean_text, clean_tree, load_json_clean

__all__ = [
    "Job",
    "NotebookResult",
    "SubmissionResult",
    "TestResult",
    "load_result",
]

#: Result statuses, from least to most serious (a submission has its notebooks' worst).
STATUS_ORDER = (
    "ok",
    "forbidden-import",
    "timeout",
    "crashed",
    "missing-notebook",
    "invalid-notebook",
    "error",
)


class _Record:
    """JSON round trip and key access for the dataclasses below."""

    #: Fields left out of the JSON form while they hold their default (annotations).
    _optional: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> dict:
        """The JSON form (plain dicts, lists, strings, numbers)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self._optional and value == _default(f):
                continue
            out[f.name] = _plain(value)
        return out

    @classmethod
    def from_json(cls, data: Any, problems: list[str] | None = None, where: str = "") -> Any:
        """Read the JSON form, cleaning what is hostile or broken (see the module's doc).

        Parameters
        ----------
        data : Any
            Parsed JSON.
        problems : list of str, optional
            Receives one line per field cleaned or dropped.
        where : str
            Where ``data`` is in the enclosing result (for ``problems``).

        Returns
        -------
        The record.

        Raises
        ------
        ResultError
            ``data`` is not a JSON object.
        """
        name = where or cls.__name__
        if not isinstance(data, dict):
            raise ResultError(f"{name} is {type(data).__name__}, not a JSON object")
        problems = problems if problems is not None else []
        hints = _hints(cls)
        values = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = _convert(data[f.name], hints[f.name], f"{name}.{f.name}", problems)
            if value is not _BAD:
                values[f.name] = value
        unknown = [clean_text(k, 40) for k in data if k not in values and k not in hints]
        if unknown:
            problems.append(f"{name}: unknown field(s) dropped: {', '.join(unknown[:10])}")
        return cls(**values)

    @classmethod
    def coerce(cls, value: Any, problems: list[str] | None = None) -> Any:
        """``value`` itself when it is already a ``cls``, else :meth:`from_json` of it."""
        return value if isinstance(value, cls) else cls.from_json(value, problems)

    # -- key access, as the JSON form -------------------------------------------------------
    def _check(self, key: str) -> None:
        if key not in {f.name for f in dataclasses.fields(self)}:
            names = ", ".join(f.name for f in dataclasses.fields(self))
            raise KeyError(f"{type(self).__name__} has no field {key!r} (fields: {names})")

    def __getitem__(self, key: str) -> Any:
        self._check(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        self._check(key)
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is in the JSON form (an annotation only once it is set)."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        if not isinstance(key, str) or key not in fields:
            return False
        return key not in self._optional or getattr(self, key) != _default(fields[key])

    def get(self, key: str, default: Any = None) -> Any:
        """The field's value when it is in the JSON form, else ``default`` (as ``dict.get``)."""
        return getattr(self, key) if key in self else default


_BAD = object()


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return _BAD


def _plain(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_json()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _convert(value: Any, hint: Any, where: str, problems: list[str]) -> Any:
    """``value`` as the type ``hint`` says, cleaned; :data:`_BAD` (and a problem) if it is not."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return clean_tree(value)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        return _convert(value, hint, where, problems)
    ok: Any = _BAD
    if hint is str and isinstance(value, str):
        ok = clean_text(value)
    elif hint is bool and isinstance(value, bool):
        ok = value
    elif hint is int and _number(value) and float(value).is_integer():
        ok = int(value)
    elif hint is float and _number(value):
        ok = float(value)
    elif origin is list and isinstance(value, list):
        ok = []
        for i, item in enumerate(value):
            item = _convert(item, args[0], f"{where}[{i}]", problems)
            if item is not _BAD:
                ok.append(item)
    elif origin is dict and isinstance(value, dict):
        ok = {}
        for k, v in value.items():
            v = _convert(v, args[1], f"{where}[{clean_text(k, 40)!r}]", problems)
            if isinstance(k, str) and v is not _BAD:
                ok[clean_text(k)] = v
    elif isinstance(hint, type) and issubclass(hint, _Record):
        try:
            ok = hint.from_json(value, problems, where)
        except ResultError as exc:
            problems.append(str(exc))
            return _BAD
    if ok is _BAD:
        shown = clean_text(repr(value), 40)
        problems.append(f"{where}: {shown} is not a {getattr(hint, '__name__', hint)}: dropped")
    return ok


# --- the job -------------------------------------------------------------------------------


@dataclass
class Job(_Record):
    """What the trusted runner (:mod:`autograder.runner`) grades, and how.

    Built by :func:`autograder.jobs.make_base_job` (the assignment's part) and completed with
    the student's part; written as JSON for the runner's process.

    Attributes
    ----------
    assignment, source_dir : str
        The assignment and its source folder (tests, hidden tests, points).
    student, submission_dir : str
        Who, and the folder with their notebooks.
    limits : dict
        The sandbox's :class:`~autograder.isolation.Limits` (``memory_mb``, ``cpu_s``...).
    timeout, cell_timeout : float
        Seconds for the whole submission, and per cell or call into the student's code.
    hide : list of str
        Folders the sandbox must not see.
    forbid_modules : dict
        Notebook -> modules whose import is blocked in the sandbox.
    provide : dict
        Notebook -> ``paths`` bound read-only, ``data`` files, ``env`` variables.
    uid_base : int
        First uid of the sandbox's range (root only).
    output_cap : int
        Bytes of the student's output kept.
    runner_path : list of str
        Extra ``sys.path`` entries of the runner (never the sandbox's).
    unisolated : bool
        Grading without bubblewrap was allowed (results say so).
    seed_secret : str
        The course's secret for hidden-test seeds (never enters the sandbox).
    tmp_dir : str or None
        Where the runner's working folders go.
    static_budget_s, diagnose_s : float
        Seconds for the static forbidden-API check, and for the diagnosis, per notebook.
    reference : bool
        The source's solutions are the reference (False in a student's local check).
    """

    assignment: str = ""
    source_dir: str = ""
    student: str = ""
    submission_dir: str = ""
    limits: dict[str, int] = field(default_factory=dict)
    timeout: float = float(DEFAULTS["timeout"])
    cell_timeout: float = float(DEFAULTS["cell_timeout"])
    hide: list[str] = field(default_factory=list)
    forbid_modules: dict[str, list[str]] = field(default_factory=dict)
    provide: dict[str, Any] = field(default_factory=dict)
    uid_base: int = int(DEFAULTS["uid_base"])
    output_cap: int = int(DEFAULTS["output_cap"])
    runner_path: list[str] = field(default_factory=list)
    unisolated: bool = False
    seed_secret: str = ""
    tmp_dir: str | None = None
    static_budget_s: float = 10.0
    diagnose_s: float = 20.0
    reference: bool = True

    def replace(self, **changes: Any) -> Job:
        """A copy with ``changes`` (e.g. the student's part)."""
        return dataclasses.replace(self, **changes)


# --- results -------------------------------------------------------------------------------


@dataclass
class TestResult(_Record):
    """One graded cell of one submission.

    Attributes
    ----------
    grade_id : str
        The cell's nbgrader id.
    kind : str
        ``auto`` (a test) or ``manual`` (graded by a person).
    points : float or None
        Points earned (None: a manual cell not graded yet).
    max_points : float
        The cell's points.
    passed : bool
        Whether the test passed.
    status : str
        ``ok``, ``failed``, ``timeout``, ``crashed``, ``forbidden-import``, ``manual``...
    message : str
        What the student reads (never test source or hidden inputs).
    diagnosis, look, mistake : str
        The likely cause, where to look and the catalogued mistake (:mod:`autograder.diagnose`).
    root_cause : dict
        ``function``, ``test`` (and ``certain``) when another function's failure explains it.
    original_message : str
        The test's own message when the diagnosis replaced it.
    sections : list of dict
        Book sections (``title``, ``url``) to read.
    """

    __test__ = False  # not a pytest test class, whatever its name

    grade_id: str = "?"
    kind: str = "auto"
    points: float | None = 0.0
    max_points: float = 0.0
    passed: bool = False
    status: str = "error"
    message: str = ""
    diagnosis: str = ""
    look: str = ""
    mistake: str = ""
    root_cause: dict[str, Any] = field(default_factory=dict)
    original_message: str = ""
    sections: list[dict[str, str]] = field(default_factory=list)

    _optional = ("diagnosis", "look", "mistake", "root_cause", "original_message", "sections")

    @classmethod
    def graded(cls, cell: Any, passed: bool, status: str, message: str = "") -> TestResult:
        """The result of the source cell ``cell`` (a :class:`~autograder.notebook.SourceCell`):
        full points when passed, 0 when not; a manual cell is pending (``points`` None)."""
        if cell.manual:
            return cls(cell.grade_id, "manual", None, cell.points, False, "manual", _MANUAL)
        points = cell.points if passed else 0.0
        return cls(cell.grade_id, "auto", points, cell.points, passed, status, message)


_MANUAL = "needs manual grading"


@dataclass
class NotebookResult(_Record):
    """The results of one notebook of a submission.

    Attributes
    ----------
    notebook : str
        Its name (without ``.ipynb``).
    status : str
        Its worst status (:data:`STATUS_ORDER`).
    messages : list of str
        Notes for the student (missing file, forbidden calls, cut output...).
    tests : list of TestResult
        Every graded cell, in notebook order.
    cells : list of dict
        The student's cells that failed, and the graded ones (``label``, ``status``, ``error``).
    isolation : dict
        How the sandbox was isolated.
    output_head : str
        The end of what the student's code printed.
    output_bytes : int
        How much it printed in all.
    static_check : str
        ``incomplete`` when the static forbidden-API check ran out of time.
    """

    notebook: str = "?"
    status: str = "error"
    messages: list[str] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    cells: list[dict[str, str]] = field(default_factory=list)
    isolation: dict[str, Any] = field(default_factory=dict)
    output_head: str = ""
    output_bytes: int = 0
    static_check: str = ""

    _optional = ("cells", "isolation", "output_head", "output_bytes", "static_check")


@dataclass
class SubmissionResult(_Record):
    """The result of one submission: what ``results/<student>.json`` holds.

    Attributes
    ----------
    student, assignment : str
        Who and what.
    status : str
        The worst of its notebooks' statuses.
    score, max_score : float
        Points of the automatic tests, earned and possible.
    manual_max_score : float
        Points graded by hand.
    notebooks : list of NotebookResult
        Per notebook.
    messages : list of str
        Notes for the student.
    duration_s : float
        Seconds the runner took.
    truncated : bool
        Text was cut to fit :data:`autograder.runner.MAX_RESULT_BYTES`.
    version : dict
        ``sha256`` and ``submitted_at`` of the graded version.
    answers : dict
        ``<notebook>/<grade id>`` -> hash of each hand-graded answer.
    worker : str
        The Dask worker that graded it (empty: this machine).
    submission : dict
        The watcher's ``timestamp`` and ``late``.
    hidden_tests : int
        Hidden tests not run (a student's local check).
    isolation_note : str
        How a local check isolated the code.
    """

    student: str
    assignment: str = "?"
    status: str = "error"
    score: float = 0.0
    max_score: float = 0.0
    manual_max_score: float = 0.0
    notebooks: list[NotebookResult] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    truncated: bool = False
    version: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    worker: str = ""
    submission: dict[str, Any] = field(default_factory=dict)
    hidden_tests: int = 0
    isolation_note: str = ""

    _optional = (
        "duration_s",
        "truncated",
        "version",
        "answers",
        "worker",
        "submission",
        "hidden_tests",
        "isolation_note",
    )

    @classmethod
    def from_json(
        cls, data: Any, problems: list[str] | None = None, where: str = ""
    ) -> SubmissionResult:
        """Read the JSON form (see :meth:`_Record.from_json`); a result needs its student.

        Raises
        ------
        ResultError
            ``data`` is not an object, or has no student id (a string).
        """
        if not isinstance(data, dict) or not isinstance(data.get("student"), str):
            what = type(data).__name__ if not isinstance(data, dict) else "an object"
            raise ResultError(f"not a result: {what} without a student id")
        return super().from_json(data, problems, where)

    @property
    def tests(self) -> list[TestResult]:
        """Every test of every notebook, in order."""
        return [t for nb in self.notebooks for t in nb.tests]

    def add_up(self) -> None:
        """Set ``status``, ``score``, ``max_score`` and ``manual_max_score`` from the notebooks."""
        statuses = [nb.status for nb in self.notebooks]
        self.status = max(statuses, key=_severity) if statuses else "ok"
        auto = [t for t in self.tests if t.kind == "auto"]
        self.score = sum(t.points or 0.0 for t in auto)
        self.max_score = sum(t.max_points for t in auto)
        self.manual_max_score = sum(t.max_points for t in self.tests if t.kind == "manual")


def _severity(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)


def load_result(path: str, problems: list[str] | None = None) -> SubmissionResult:
    """Read a stored result (the one loader of ``results/*.json``).

    Parameters
    ----------
    path : str
        The file.
    problems : list of str, optional
        Receives what was cleaned or dropped.

    Returns
    -------
    SubmissionResult
        The result.

    Raises
    ------
    ResultError
        The file cannot be read, is not JSON or is not a result (the message says which).
    """
    try:
        data = load_json_clean(path)
    except (OSError, ValueError) as exc:
        raise ResultError(f"cannot read the result {path}: {exc}") from None
    return SubmissionResult.from_json(data, problems)
