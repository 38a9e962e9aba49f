"""Proxies that stand for the student's objects inside the trusted test runner.

A test cell sees ``sigmoid`` as a :class:`RemoteFunction`: calling it sends the arguments (as data)
to the sandbox and decodes the result (as data). Results that are not data come back as
:class:`RemoteObject` handles: they can be called and their attributes reached, nothing else.
They refuse to act as data: no truth value, no comparison except identity, no array conversion, so
an object whose ``__eq__`` always says True never gets a chance to say it.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from autograder import codec
from autograder.errors import SandboxCrashed

__all__ = ["RemoteFunction", "RemoteObject", "encode_argument"]


class Sandbox(Protocol):
    """What a proxy needs of :class:`autograder.sandbox.Sandbox` (which imports this module,
    never the other way round)."""

    generation: int

    def call(
        self,
        target: dict,
        path: list[str],
        args: tuple,
        kwargs: dict,
        warnings: bool = False,
        what: str = "a call",
    ) -> tuple[Any, list[str]]: ...

    def get(self, target: dict, path: list[str] | None = None) -> Any: ...


class _Remote:
    """Common behaviour: calls and attribute paths go to the sandbox; no data semantics."""

    _sandbox: Sandbox
    _label: str

    def _target(self) -> dict:
        raise NotImplementedError

    def _path(self) -> list[str]:
        return []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        value, _ = self._sandbox.call(self._target(), self._path(), args, kwargs, what=self._label)
        return value

    def _autograder_call_with_warnings(self, args: tuple, kwargs: dict) -> tuple[Any, list[str]]:
        return self._sandbox.call(
            self._target(), self._path(), args, kwargs, warnings=True, what=self._label
        )

    def __getattr__(self, name: str) -> _RemoteAttribute:
        if name.startswith("_"):
            raise AttributeError(name)  # keeps NumPy's __array__ probing and dunders local
        return _RemoteAttribute(self, name)

    def fetch(self) -> Any:
        """Fetch the value behind this proxy (data, or another handle)."""
        return self._sandbox.get(self._target(), self._path())

    def __bool__(self) -> bool:
        raise TypeError(f"{self._label} is a student object, not data: it has no truth value")

    def __len__(self) -> int:
        raise TypeError(f"{self._label} is a student object, not data: it has no length")

    def __iter__(self) -> Any:
        raise TypeError(f"{self._label} is a student object, not data: it cannot be iterated")

    def __repr__(self) -> str:
        return f"<{self._label}>"


class RemoteFunction(_Remote):
    """A top-level callable the student defined, called by name.

    Parameters
    ----------
    sandbox : Sandbox
        Where the student's namespace lives.
    name : str
        The name.
    """

    def __init__(self, sandbox: Sandbox, name: str) -> None:
        self._sandbox = sandbox
        self._name = name
        self._label = f"your {name}"

    def _target(self) -> dict:
        return {"name": self._name}


class RemoteObject(_Remote):
    """An opaque handle to an object in the sandbox (valid while that sandbox process lives).

    Parameters
    ----------
    sandbox : Sandbox
        Where the object lives.
    handle : int
        Its handle number.
    generation : int
        The sandbox process it belongs to (a restarted sandbox invalidates old handles).
    """

    def __init__(self, sandbox: Sandbox, handle: int, generation: int) -> None:
        self._sandbox = sandbox
        self._handle = handle
        self._generation = generation
        self._label = "an object returned by your code"

    def _target(self) -> dict:
        if self._generation != self._sandbox.generation:
            raise SandboxCrashed("this object belonged to a sandbox process that was restarted")
        return {"handle": self._handle}


class _RemoteAttribute(_Remote):
    def __init__(self, parent: _Remote, name: str) -> None:
        self._parent = parent
        self._attr = name
        self._sandbox = parent._sandbox
        self._label = f"{parent._label}.{name}"

    def _target(self) -> dict:
        return self._parent._target()

    def _path(self) -> list[str]:
        return [*self._parent._path(), self._attr]


def encode_argument(value: Any, sandbox: Sandbox) -> Any:
    """Encode a test's argument for the sandbox.

    Data is encoded as data; proxies of the student's own objects by name or handle; NumPy ufuncs
    (``np.tanh``) by name. Anything else (a lambda written in the test) cannot cross: the sandbox
    never receives code.

    Parameters
    ----------
    value : Any
        The argument.
    sandbox : Sandbox
        The sandbox the call goes to.

    Returns
    -------
    Any
        The encoded structure.
    """

    def refs(obj: Any) -> dict | None:
        if isinstance(obj, _Remote):
            if obj._sandbox is not sandbox or obj._path():
                raise codec.NotData("only the student's own top-level objects can be passed")
            return obj._target()
        if isinstance(obj, np.ufunc) and getattr(np, obj.__name__, None) is obj:
            return {"$u": obj.__name__}
        return None

    def fix(tag: dict) -> dict:
        # {"name": n} / {"handle": h} targets become argument tags
        if "name" in tag:
            return {"$n": tag["name"]}
        if "handle" in tag:
            return {"$h": tag["handle"]}
        return tag

    try:
        return codec.encode(value, refs=lambda o: fix(t) if (t := refs(o)) else None)
    except codec.NotData as exc:
        raise TypeError(
            f"cannot pass {type(value).__name__} to the student's code: {exc} "
            "(only data, NumPy ufuncs and the student's own functions can be passed)"
        ) from None
