"""The sandbox process: isolates itself, runs the student's cells, then answers requests.

Started by :class:`autograder.sandbox.Sandbox` as ``python -I -m autograder._child REQ_FD RESP_FD``.
Everything here is UNTRUSTED once the first student cell has run: the student can rewrite this
module's objects, the codec, even the bytes it sends. That is fine, because the trusted side decodes
replies strictly (data only) and never runs anything the sandbox sends; a lying sandbox can only lie
about the student's own results.

Requests (one JSON frame each, answered with the same ``id``):

* ``run``: execute one cell; errors (also ``SystemExit``/``KeyboardInterrupt``) are caught and
  reported so the next cell still runs;
* ``list``: the student's top-level names and their kind (``callable``, ``data`` or ``object``);
* ``get``: a name's value; ``call``: call a name or handle (optionally along an attribute path),
  optionally recording warnings.
"""

from __future__ import annotations

import builtins
import importlib.abc
import linecache
import os
import sys
import traceback
import types
from typing import Any

from autograder.frames import FrameReader, write_frame
from autograder.isolation import Limits, apply_limits, drop_privileges

_TB_CHARS = 4000


#: Every refusal of a forbidden module or function says this (the runner recognises it).
FORBIDDEN = "is forbidden in this assignment"


def _forbidden_stub(dotted: str) -> Any:
    """A function named like ``dotted``'s last part that raises :class:`ImportError`.

    Its code uses nothing but a builtin, so it can also replace the original's ``__code__``.
    """
    attr = dotted.rsplit(".", 1)[-1]
    message = f"{dotted} {FORBIDDEN}: write the code yourself with NumPy"
    ns: dict[str, Any] = {}
    exec(f"def {attr}(*args, **kwargs):\n    raise ImportError({message!r})", ns)
    return ns[attr]


class _Forbidden(importlib.abc.MetaPathFinder):
    """Makes forbidden modules and functions absent, however they are reached.

    A forbidden module cannot be imported (whatever the name is computed from). A forbidden
    function (``scipy.special.softmax``) is replaced by a stub that raises
    :class:`ImportError` in its module and wherever else a loaded module holds it, now and in
    modules imported later, and a Python function's code itself is swapped, so ``getattr`` with a
    computed name, ``vars(module)``, ``__dict__`` or an alias in a private module all reach the
    stub.
    """

    def __init__(self, modules: list[str], names: list[str]) -> None:
        self.modules = modules
        self.names = [n for n in names if "." in n]
        self.stubs: dict[int, Any] = {}  # id(original) -> stub
        self.originals: list[Any] = []  # keeps the originals alive so ids stay unique
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        for name in self.modules:
            if fullname == name or fullname.startswith(name + "."):
                raise ImportError(
                    f"importing {fullname!r}: {name} {FORBIDDEN} (write the code yourself "
                    "with NumPy)"
                )
        if not self.names or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._busy.discard(fullname)
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        spec.loader = _HookedLoader(loader, self)
        return spec

    def after_import(self, module: Any) -> None:
        """Replace forbidden functions defined by ``module`` and aliases of known ones in it."""
        found = False
        for dotted in self.names:
            parent, attr = dotted.rsplit(".", 1)
            if parent != getattr(module, "__name__", None) or not hasattr(module, attr):
                continue
            original = getattr(module, attr)
            if id(original) in self.stubs:
                continue
            stub = _forbidden_stub(dotted)
            self.stubs[id(original)] = stub
            self.originals.append(original)
            code = getattr(original, "__code__", None)
            if code is not None:
                try:  # every reference to the function, even from gc, now runs the stub
                    original.__code__ = stub.__code__
                except (ValueError, TypeError, AttributeError):
                    pass
            found = True
        for mod in list(sys.modules.values()) if found else [module]:
            self._replace_in(mod)

    def _replace_in(self, module: Any) -> None:
        try:
            space = vars(module)
        except TypeError:
            return
        for key, value in list(space.items()):
            stub = self.stubs.get(id(value))
            if stub is not None and stub is not value:
                try:
                    space[key] = stub
                except TypeError:
                    pass

    def install(self) -> None:
        """Put the finder first and treat the modules already imported (NumPy).

        Libraries probe for optional modules with :func:`importlib.util.find_spec` (PyTorch
        probes for scikit-learn): for them a forbidden module is simply not installed, while
        importing it still fails with the reason.
        """
        import importlib.util

        probe = importlib.util.find_spec
        modules = self.modules

        def find_spec(name: str, package: str | None = None) -> Any:
            full = importlib.util.resolve_name(name, package) if name.startswith(".") else name
            if any(full == m or full.startswith(m + ".") for m in modules):
                return None
            return probe(name, package)

        importlib.util.find_spec = find_spec
        sys.meta_path.insert(0, self)
        for module in list(sys.modules.values()):
            self.after_import(module)


class _HookedLoader(importlib.abc.Loader):
    """Runs a module's own loader, then :meth:`_Forbidden.after_import`."""

    def __init__(self, loader: Any, owner: _Forbidden) -> None:
        self.loader, self.owner = loader, owner

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        module.__loader__ = self.loader
        self.loader.exec_module(module)
        self.owner.after_import(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


class _IPythonStub:
    """Stands in for ``get_ipython()``: magics are ignored while grading."""

    def _ignore(self, *args: Any, **kwargs: Any) -> None:
        print(f"[autograder] IPython magic ignored while grading: {args[:1]}", file=sys.stderr)

    run_line_magic = run_cell_magic = system = getoutput = _ignore

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"IPython is not available while grading ({name})")


def _describe(exc: BaseException) -> dict:
    try:
        message = str(exc)
    except Exception:
        message = "<the exception's message could not be computed>"
    try:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        tb = ""
    return {
        "ok": False,
        "error": {
            "type": type(exc).__name__,
            "message": message[:2000],
            "traceback": tb[-_TB_CHARS:],
        },
    }


class Server:
    """Runs cells and answers requests in the student's namespace."""

    def __init__(self, reader: FrameReader, out_fd: int) -> None:
        import numpy as np

        from autograder import codec

        self.np, self.codec = np, codec
        self.reader, self.out_fd = reader, out_fd
        self.ns: dict[str, Any] = {
            "__name__": "__main__",
            "__builtins__": builtins,
            "get_ipython": lambda: _IPythonStub(),
        }
        self.handles: dict[int, Any] = {}

    # ---------------------------------------------------------------------------- helpers ----
    def _handle(self, obj: Any) -> int:
        h = len(self.handles) + 1
        self.handles[h] = obj
        return h

    def _name(self, name: Any) -> Any:
        if not isinstance(name, str) or name not in self.ns:
            raise NameError(f"name {name!r} is not defined")
        return self.ns[name]

    def _ufunc(self, name: Any) -> Any:
        f = getattr(self.np, str(name), None)
        if not isinstance(f, self.np.ufunc):
            raise ValueError(f"{name!r} is not a NumPy ufunc")
        return f

    def _decode(self, value: Any) -> Any:
        return self.codec.decode(
            value, handle=self.handles.__getitem__, extra_tags={"$n": self._name, "$u": self._ufunc}
        )

    def _encode(self, value: Any) -> Any:
        return self.codec.encode(value, handles=self._handle)

    def _target(self, msg: dict) -> Any:
        target = msg.get("target", {})
        obj = self._name(target["name"]) if "name" in target else self.handles[target["handle"]]
        for attr in msg.get("path", []):
            obj = getattr(obj, attr)
        return obj

    def _kind(self, value: Any) -> str:
        try:
            self.codec.encode(value)
            return "data"
        except Exception:
            return "callable" if callable(value) else "object"

    # --------------------------------------------------------------------------- requests ----
    def op_run(self, msg: dict) -> dict:
        filename = f"<{msg.get('label', 'cell')}>"
        code = str(msg["code"])
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        exec(compile(code, filename, "exec"), self.ns)
        return {"ok": True}

    def op_list(self, msg: dict) -> dict:
        names = {}
        for name, value in list(self.ns.items()):
            if name.startswith("__") or name == "get_ipython":
                continue
            if isinstance(value, types.ModuleType):
                continue
            names[name] = self._kind(value)
        return {"ok": True, "names": names}

    def op_get(self, msg: dict) -> dict:
        return {"ok": True, "value": self._encode(self._target(msg))}

    def _arrays(self, value: Any, path: tuple = (), depth: int = 0) -> list[tuple[tuple, Any]]:
        """(path, array) of the arrays in an argument (in lists, tuples and dicts)."""
        if isinstance(value, self.np.ndarray):
            return [(path, value)]
        out: list[tuple[tuple, Any]] = []
        if depth < 4 and isinstance(value, list | tuple):
            for i, item in enumerate(value):
                out += self._arrays(item, (*path, i), depth + 1)
        elif depth < 4 and isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    out += self._arrays(item, (*path, key), depth + 1)
        return out

    def op_call(self, msg: dict) -> dict:
        func = self._target(msg)
        args = self._decode(msg.get("args", []))
        kwargs = self._decode(msg.get("kwargs", {"$d": []}))
        # the caller's arrays arrive as copies: note them, to send back what the call changed
        before = [(p, a, a.copy()) for p, a in self._arrays([list(args), kwargs])]
        if not msg.get("warnings"):
            reply = {"ok": True, "value": self._encode(func(*args, **kwargs))}
        else:
            import warnings

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with self.np.errstate(over="warn", divide="warn", invalid="warn"):
                    result = func(*args, **kwargs)
            texts = [f"{w.category.__name__}: {w.message}" for w in caught][:20]
            reply = {"ok": True, "value": self._encode(result), "warnings": texts}
        changed = [
            [list(p), self._encode(a)]
            for p, a, old in before
            if a.shape == old.shape
            and not self.np.array_equal(a, old, equal_nan=a.dtype.kind in "fc")
        ]
        if changed:
            reply["changed_args"] = changed
        return reply

    def serve(self) -> None:
        """Answer requests until the channel closes."""
        while True:
            msg = self.reader.read()
            op = getattr(self, f"op_{msg.get('op')}", None) if isinstance(msg, dict) else None
            try:
                if op is None:
                    raise ValueError(f"unknown request {msg!r:.80}")
                reply = op(msg)
            except BaseException as exc:  # the student's code may raise anything, even SystemExit
                reply = _describe(exc)
            finally:
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except Exception:
                        pass
            reply["id"] = msg.get("id") if isinstance(msg, dict) else None
            try:
                write_frame(self.out_fd, reply)
            except Exception as exc:
                write_frame(self.out_fd, {**_describe(exc), "id": reply["id"]})


def main(argv: list[str]) -> int:
    """Entry point of the sandbox process.

    Parameters
    ----------
    argv : list of str
        ``[prog, request_fd, response_fd]``.

    Returns
    -------
    int
        Exit status.
    """
    in_fd, out_fd = int(argv[1]), int(argv[2])
    reader = FrameReader(in_fd)
    setup = reader.read()
    try:  # bubblewrap made the namespaces and the file system; the rest is done here
        report: dict = {}
        if setup.get("uid") is not None:
            drop_privileges(int(setup["uid"]))
        report["limits"] = apply_limits(Limits(**setup["limits"]))
        for fd in (in_fd, out_fd):
            os.set_inheritable(fd, False)
        forbid = setup.get("forbid_modules", [])
        for name in list(sys.modules):
            if any(name == f or name.startswith(f + ".") for f in forbid):
                del sys.modules[name]
        server = Server(reader, out_fd)
    except BaseException as exc:  # no student code has run yet: report the grader's problem
        traceback.print_exc()
        write_frame(out_fd, {"op": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    for name in setup.get("preimport", []):
        try:
            __import__(name)
        except Exception:
            pass
    _Forbidden(setup.get("forbid_modules", []), setup.get("forbid_names", [])).install()
    sys.argv = ["notebook"]
    write_frame(out_fd, {"op": "ready", "isolation": report, "cwd": os.getcwd()})
    server.serve()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except BaseException:  # channel closed or the student broke the loop: just go away
        os._exit(0)
