"""String identifiers (``'relu'``, ``'he_normal'``, ``'rmsprop'``...) are resolved here, in one place."""

from __future__ import annotations

from typing import Any


def lookup(kind: str, identifier: Any, table: dict[str, Any]) -> Any:
    """Return ``table[identifier]`` or raise a ``ValueError`` that lists the known identifiers."""
    if not isinstance(identifier, str):
        raise TypeError(
            f"Expected a {kind} name (one of {sorted(table)}) or a {kind} object, "
            f"got {type(identifier).__name__}: {identifier!r}."
        )
    key = identifier.lower()
    if key not in table:
        raise ValueError(
            f"Unknown {kind} {identifier!r}. Known {kind}s: {', '.join(sorted(table))}."
        )
    return table[key]
