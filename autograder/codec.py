"""Strict data-only codec for values crossing between the trusted side and the sandbox.

Only plain data crosses the boundary: ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``,
tuples/lists/dicts of those, and NumPy arrays (and scalars) of a numeric or bool dtype. Arrays
travel as ``np.save(..., allow_pickle=False)`` bytes and are loaded with ``allow_pickle=False``.
Anything else is sent as an opaque handle (``{"$h": n}``) that the trusted side can only call
methods on.

Encoding is JSON with one-key "tag" objects (a real dict is always ``{"$d": [[key, value], ...]}``),
so a JSON object is never ambiguous. Decoding is strict: unknown tags, wrong shapes, deep nesting,
too many elements, non-numeric arrays or oversized frames raise :class:`ProtocolError`. There is no
pickle and no eval anywhere.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.frames import ProtocolError

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "NotData", "ProtocolError", "decode", "encode"]

#: Deepest nesting of containers accepted.
MAX_DEPTH = 32
#: Most container items and scalars in one decoded value.
MAX_ITEMS = 1_000_000
_NUMERIC_KINDS = frozenset("biufc")


class NotData(TypeError):
    """A value is not plain data and no handle table was given to send it by reference."""


# --------------------------------------------------------------------------------- arrays ----
def _array_to_b64(arr: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _array_from_b64(text: object) -> np.ndarray:
    if not isinstance(text, str):
        raise ProtocolError("array payload must be a base64 string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
        arr = np.load(io.BytesIO(raw), allow_pickle=False)
    except Exception as exc:  # numpy raises several types for corrupt headers
        raise ProtocolError(f"invalid array payload: {exc}") from None
    if type(arr) is not np.ndarray:
        raise ProtocolError("array payload did not load as a plain ndarray")
    if arr.dtype.kind not in _NUMERIC_KINDS or arr.dtype.fields is not None or arr.dtype.hasobject:
        raise ProtocolError(f"array dtype {arr.dtype} is not numeric or bool")
    return arr


def _plain_array(obj: np.ndarray) -> np.ndarray | None:
    """A plain ndarray copy of ``obj``'s data (subclasses lose their class), or None."""
    base = np.ndarray.view(obj, np.ndarray)
    if base.dtype.kind not in _NUMERIC_KINDS or base.dtype.fields is not None:
        return None
    return np.array(base, copy=True, subok=False)


# --------------------------------------------------------------------------------- encode ----
def encode(
    obj: Any,
    handles: Callable[[Any], int] | None = None,
    refs: Callable[[Any], dict | None] | None = None,
    _depth: int = 0,
) -> Any:
    """Encode ``obj`` into a JSON-compatible structure.

    Parameters
    ----------
    obj : Any
        The value to encode.
    handles : callable, optional
        Called with a non-data object; returns an integer handle that is sent as ``{"$h": n}``.
        Without it such objects raise :class:`NotData`.
    refs : callable, optional
        Called first with every object; may return a ready-made tag (the trusted side uses it to
        send proxies of the student's own objects back by name or handle).

    Returns
    -------
    Any
        Nested lists, dicts, strings and numbers, ready for :func:`json.dumps`.
    """
    if _depth > MAX_DEPTH:
        raise NotData("value is nested too deeply")
    if refs is not None:
        tag = refs(obj)
        if tag is not None:
            return tag
    t = type(obj)
    if obj is None or t is bool or t is str or t is int or t is float:
        return obj
    if t is complex:
        return {"$c": [obj.real, obj.imag]}
    if t is list or t is tuple:
        items = [encode(x, handles, refs, _depth + 1) for x in obj]
        return items if t is list else {"$t": items}
    if t is dict:
        pairs = [
            [encode(k, None, None, _depth + 1), encode(v, handles, refs, _depth + 1)]
            for k, v in obj.items()
        ]
        return {"$d": pairs}
    if isinstance(obj, np.ndarray):
        arr = _plain_array(obj)
        if arr is not None:
            return {"$a": _array_to_b64(arr)}
    elif isinstance(obj, np.generic) and np.dtype(type(obj)).kind in _NUMERIC_KINDS:
        return {"$s": _array_to_b64(np.asarray(obj))}
    if handles is None:
        raise NotData(f"a {t.__name__} object is not plain data")
    return {"$h": int(handles(obj))}


# --------------------------------------------------------------------------------- decode ----
class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise ProtocolError("value has too many elements")


def decode(
    data: Any,
    handle: Callable[[int], Any] | None = None,
    extra_tags: dict[str, Callable[[Any], Any]] | None = None,
    _depth: int = 0,
    _budget: _Budget | None = None,
) -> Any:
    """Decode a structure made by :func:`encode`, strictly.

    Parameters
    ----------
    data : Any
        The parsed JSON value.
    handle : callable, optional
        Turns ``{"$h": n}`` into an object (a remote proxy on the trusted side). Without it handles
        are a protocol error.
    extra_tags : dict, optional
        More accepted tags (the sandbox uses ``$n`` and ``$u`` for references to its own names and
        to NumPy ufuncs).

    Returns
    -------
    Any
        Plain Python data, plain ndarrays, NumPy scalars and whatever ``handle`` returns.
    """
    budget = _budget if _budget is not None else _Budget(MAX_ITEMS)
    budget.take()
    if _depth > MAX_DEPTH:
        raise ProtocolError("value is nested too deeply")
    t = type(data)
    if data is None or t is bool or t is str or t is int or t is float:
        return data
    if t is list:
        return [decode(x, handle, extra_tags, _depth + 1, budget) for x in data]
    if t is not dict or len(data) != 1:
        raise ProtocolError(f"unexpected JSON value of type {t.__name__}")
    ((tag, payload),) = data.items()
    if tag == "$t":
        if type(payload) is not list:
            raise ProtocolError("tuple payload must be a list")
        return tuple(decode(x, handle, extra_tags, _depth + 1, budget) for x in payload)
    if tag == "$d":
        if type(payload) is not list:
            raise ProtocolError("dict payload must be a list of pairs")
        out = {}
        for pair in payload:
            if type(pair) is not list or len(pair) != 2:
                raise ProtocolError("dict item must be a [key, value] pair")
            key = decode(pair[0], None, None, _depth + 1, budget)
            try:
                hash(key)
            except TypeError:
                raise ProtocolError("dict key is not hashable") from None
            out[key] = decode(pair[1], handle, extra_tags, _depth + 1, budget)
        return out
    if tag == "$c":
        if type(payload) is not list or len(payload) != 2:
            raise ProtocolError("complex payload must be [re, im]")
        re_, im_ = payload
        if type(re_) not in (int, float) or type(im_) not in (int, float):
            raise ProtocolError("complex parts must be numbers")
        return complex(re_, im_)
    if tag == "$a":
        return _array_from_b64(payload)
    if tag == "$s":
        arr = _array_from_b64(payload)
        if arr.ndim != 0:
            raise ProtocolError("scalar payload must be a 0-d array")
        return arr[()]
    if tag == "$h" and handle is not None:
        if type(payload) is not int:
            raise ProtocolError("handle must be an integer")
        return handle(payload)
    if extra_tags and tag in extra_tags:
        return extra_tags[tag](payload)
    raise ProtocolError(f"unknown tag {tag!r}")
