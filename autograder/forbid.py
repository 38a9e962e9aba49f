"""Static check (``ast``) of the student's code for forbidden implementations.

An assignment declares forbidden modules or names in its source notebook's metadata, e.g.
``"autograder": {"forbid": ["nnlib", "scipy.special.softmax", "torch"]}`` (notebook or cell level;
the union applies to all of the student's code). An entry forbids itself and everything below it:
``"nnlib"`` forbids ``nnlib.layers.dense_forward``; ``"scipy.special.softmax"`` leaves the rest of
SciPy alone.

Found: ``import``/``from ... import`` statements, dotted names through import aliases
(``import torch.nn.functional as F; F.softmax``), ``getattr(mod, "name")``, ``__import__`` and
``importlib.import_module`` with a constant, and string constants naming a forbidden module.
A top-level statement that contains a violation taints the names it binds; taint spreads to every
top-level statement that uses a tainted name, so a helper cannot launder it. Tests that use a
tainted name earn no points. Runtime blocking in the sandbox backs this up for what a static check
cannot see (``__import__("nn" + "lib")``).
"""

from __future__ import annotations

import ast
import time
from dataclasses import dataclass

from autograder.names import bound_names, loaded_names

__all__ = ["Violation", "module_locations", "tainted_names"]


@dataclass
class Violation:
    """One forbidden reference.

    Attributes
    ----------
    label : str
        The cell it is in (grade id or ``cell <n>``).
    line : int
        Line number within the cell.
    what : str
        The dotted name that matched.
    rule : str
        The forbid entry it matched.
    """

    label: str
    line: int
    what: str
    rule: str

    def __str__(self) -> str:
        return f"`{self.what}` (forbidden: {self.rule}) in {self.label}, line {self.line}"


def _match(path: str, forbid: list[str]) -> str | None:
    for rule in forbid:
        if path == rule or path.startswith(rule + "."):
            return rule
    return None


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            parts.append(node.args[1].value)
            node = node.args[0]
        elif isinstance(node, ast.Name):
            parts.append(aliases.get(node.id, node.id))
            return ".".join(reversed(parts))
        else:
            return None


def _aliases(trees: list[ast.AST]) -> dict[str, str]:
    out: dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        out[a.asname] = a.name
                    else:
                        top = a.name.split(".")[0]
                        out[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


class _OutOfTime(Exception):
    """The static check used up its time budget."""


def _violations(
    stmt: ast.AST, aliases: dict[str, str], forbid: list[str], deadline: float
) -> list[tuple[int, str, str]]:
    found = []

    def hit(node: ast.AST, path: str | None) -> None:
        rule = _match(path, forbid) if path else None
        if rule:
            found.append((getattr(node, "lineno", 0), path, rule))

    # A dotted name is resolved once, from the outermost node of its chain: resolving every
    # inner node again would make a long chain (a.b.c. ... .z) cost its length squared.
    inner: set[int] = set()
    for count, node in enumerate(ast.walk(stmt)):
        if count % 4096 == 0 and time.monotonic() > deadline:
            raise _OutOfTime
        if isinstance(node, ast.Attribute):
            inner.add(id(node.value))
        elif isinstance(node, ast.Call) and node.args and _dotted(node.func, {}) == "getattr":
            inner.add(id(node.args[0]))
        if isinstance(node, ast.Import):
            for a in node.names:
                hit(node, a.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            hit(node, node.module)
            for a in node.names:
                hit(node, f"{node.module}.{a.name}")
        elif isinstance(node, ast.Attribute | ast.Name):
            if id(node) not in inner:
                hit(node, _dotted(node, aliases))
        elif isinstance(node, ast.Call):
            if id(node) not in inner:
                hit(node, _dotted(node, aliases))
            func = (
                _dotted(node.func, aliases)
                if isinstance(node.func, ast.Name | ast.Attribute)
                else None
            )
            if func in ("__import__", "importlib.import_module", "importlib.__import__"):
                if node.args and isinstance(node.args[0], ast.Constant):
                    hit(node, str(node.args[0].value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            hit(node, node.value.strip())
    return found


def tainted_names(
    cells: list[tuple[str, str]], forbid: list[str], budget_s: float = 10.0
) -> tuple[dict[str, str], list[Violation], bool]:
    """Find forbidden references in the student's code and the names they taint.

    Linear in the size of the code, and time-boxed: a notebook built to exhaust the analysis
    gets what was found until then, ``complete=False``, and the run-time block (forbidden
    modules and functions are absent in the sandbox) still applies.

    Parameters
    ----------
    cells : list of (label, code)
        The student's code cells (as run in the sandbox).
    forbid : list of str
        Forbidden dotted names.
    budget_s : float
        Seconds the analysis may take.

    Returns
    -------
    tainted : dict
        Name -> the reason (a violation, or the tainted name it uses).
    violations : list of Violation
        Every forbidden reference found.
    complete : bool
        False when the budget ran out before the whole code was checked.
    """
    if not forbid:
        return {}, [], True
    deadline = time.monotonic() + budget_s
    tainted: dict[str, str] = {}
    violations: list[Violation] = []
    try:
        stmts: list[tuple[str, ast.stmt]] = []
        for label, code in cells:
            try:
                stmts.extend((label, s) for s in ast.parse(code).body)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            if time.monotonic() > deadline:
                raise _OutOfTime
        aliases = _aliases([s for _, s in stmts])
        users: dict[str, list[int]] = {}  # name -> statements that read it
        binds: list[set[str]] = []
        for i, (label, stmt) in enumerate(stmts):
            names = bound_names(stmt)
            binds.append(names)
            for name in loaded_names(stmt):
                users.setdefault(name, []).append(i)
            seen: set[tuple[int, str]] = set()
            found = []
            for line, what, rule in _violations(stmt, aliases, forbid, deadline):
                if (line, rule) not in seen:
                    seen.add((line, rule))
                    found.append(Violation(label, line, what, rule))
            violations.extend(found)
            for name in names if found else ():
                tainted.setdefault(name, f"uses {found[0]}")
        todo = list(tainted)
        origin = dict(tainted)  # name -> the violation its taint comes from (bounded messages)
        while todo:  # each name is tainted once, each statement visited once per name it reads
            bad = todo.pop()
            for i in users.get(bad, ()):
                for name in [n for n in binds[i] if n not in tainted]:
                    origin[name] = origin[bad]
                    tainted[name] = f"uses `{bad}`, which (through its chain) {origin[bad]}"
                    todo.append(name)
    except (_OutOfTime, RecursionError, MemoryError):
        return tainted, violations, False
    return tainted, violations, True


def module_locations(forbid: list[str]) -> tuple[list[str], list[str]]:
    """Which forbidden entries are importable modules, and where they live.

    Run once in the grader (it may import parent packages, e.g. SciPy); the runner gets the answer.

    Parameters
    ----------
    forbid : list of str
        Forbidden dotted names.

    Returns
    -------
    modules : list of str
        Entries that name a module (their import is blocked in the sandbox).
    paths : list of str
        Their package directories or files (hidden from the sandbox).
    """
    import importlib.machinery
    import importlib.util
    import os

    modules, paths = [], []
    for name in forbid:
        parts = name.split(".")
        try:  # walk down without importing anything (find_spec would import parents)
            spec = importlib.util.find_spec(parts[0])
            for i in range(1, len(parts)):
                locations = spec.submodule_search_locations if spec else None
                if not locations:
                    spec = None
                    break
                spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]), locations)
        except (ImportError, ValueError, AttributeError):
            continue
        if spec is None:
            continue
        modules.append(name)
        if spec.submodule_search_locations:
            paths.extend(p for p in spec.submodule_search_locations if os.path.isdir(p))
        elif spec.origin and os.path.isfile(spec.origin):
            paths.append(spec.origin)
    return modules, paths
