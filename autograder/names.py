"""What names a piece of Python code binds and reads (``ast``, nothing is run).

The general analysis behind the trusted runner (which student names a test may see, which
solution cell defines a name), the forbidden-API policy (:mod:`autograder.forbid`: taint spreads
from a statement to the names it binds) and the diagnosis (which function calls which).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable

__all__ = ["bound_names", "defined_in", "free_names", "loaded_names"]


def bound_names(stmt: ast.AST) -> set[str]:
    """Names a statement binds at module level (definitions, assignments, imports, loops...).

    Parameters
    ----------
    stmt : ast.AST
        A module-level statement (or a whole module).

    Returns
    -------
    set of str
        The names.
    """
    names: set[str] = set()
    todo = [stmt]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue  # their bodies bind locals only
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for a in node.names:
                names.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.Global):
            names.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        todo.extend(ast.iter_child_nodes(node))
    return names


def free_names(code: str) -> set[str]:
    """Names a piece of code reads (loads), minus Python's builtins.

    Parameters
    ----------
    code : str
        Python source.

    Returns
    -------
    set of str
        The names (empty when the code does not parse).
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    return loaded_names(tree) - set(dir(builtins))


def loaded_names(tree: ast.AST) -> set[str]:
    """Names a statement or module reads (loads), builtins included.

    Parameters
    ----------
    tree : ast.AST
        A parsed statement or module.

    Returns
    -------
    set of str
        The names.
    """
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def defined_in(cells: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Name -> the label of the first cell that binds it at module level.

    Parameters
    ----------
    cells : iterable of (label, code)
        Cells in notebook order; one that does not parse binds nothing.

    Returns
    -------
    dict
        Each bound name and the cell that binds it first.
    """
    out: dict[str, str] = {}
    for label, code in cells:
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        for stmt in tree.body:
            for name in bound_names(stmt):
                out.setdefault(name, label)
    return out
