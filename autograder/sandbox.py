"""Trusted side of the sandbox: start it, feed it the student's cells, call into it, kill it.

One :class:`Sandbox` runs one submission's notebook. Each cell and each call has a wall-clock
deadline (also bounded by the submission's deadline); when one passes, or the process dies, the
whole process group and (as root) every process of the sandbox uid get SIGKILL. The sandbox is then
restarted on demand (a bounded number of times) without the cell that killed it, so one endless
loop or ``os._exit`` costs only the tests that need that cell.
"""

from __future__ import annotations

import os
import shutil
import signal
import site
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder import codec
from autograder.config import DEFAULTS
from autograder.errors import SandboxCrashed, SandboxError, SandboxTimeout, StudentError
from autograder.frames import ChannelClosed, FrameReader, ProtocolError, write_frame
from autograder.isolation import (
    WORKDIR,
    Limits,
    Mounts,
    NotIsolated,
    UidLease,
    bwrap_command,
    cgroup_prefix,
    kill_tree,
    kill_uid,
    scope_env,
    tree_usage,
)
from autograder.launch import PACKAGE_DIR, module_command
from autograder.proxy import RemoteObject, encode_argument
from autograder.safe import clean_text, open_nofollow

__all__ = [
    "WALL_FACTOR",
    "CellRun",
    "Sandbox",
    "SandboxCrashed",
    "SandboxError",
    "SandboxTimeout",
    "StudentError",
]

_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    "PYTHONDONTWRITEBYTECODE": "1",
}


#: Wall-clock safety net of a cell or call, as a multiple of its CPU-time limit.
WALL_FACTOR = 4


@dataclass
class CellRun:
    """What happened to one of the student's cells.

    Attributes
    ----------
    label : str
        Grade id or ``cell <n>``.
    status : str
        ``ok``, ``error``, ``timeout``, ``crashed`` or ``not-run``.
    error : str
        The error message (empty when ``ok``).
    """

    label: str
    status: str = "not-run"
    error: str = ""


@dataclass
class _Output:
    """Drains the sandbox's stdout/stderr pipe, keeping at most ``cap`` bytes."""

    fd: int
    cap: int
    head: bytearray = field(default_factory=bytearray)
    total: int = 0

    def run(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    break
                self.total += len(chunk)
                room = self.cap - len(self.head)
                if room > 0:
                    self.head += chunk[:room]
        except OSError:
            pass
        finally:
            os.close(self.fd)


def _reap_orphans() -> None:
    """Collect zombies of the sandbox's orphans (the runner is their subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Sandbox:
    """A sandboxed interpreter holding one student's namespace.

    Parameters
    ----------
    cells : list of (label, code)
        The student's cells, in order.
    limits : Limits
        Resource limits.
    cell_timeout : float
        Wall-clock seconds per cell and per call.
    deadline : float
        :func:`time.monotonic` time when the whole submission must be done.
    files : dict
        File name -> path of a file to place in the working directory.
    hide : list of str
        Paths the sandbox must not see.
    forbid_modules : list of str
        Modules whose import is blocked.
    provide : list of str
        Further paths bound read-only into the sandbox (packages the exercise allows).
    data : dict
        Path inside the sandbox -> host path of a dataset file or folder, bound read-only.
    env : dict
        Further environment variables for the student's process.
    forbid_names : list of str
        Dotted names of forbidden functions, removed from their modules in the sandbox.
    unisolated : bool
        Run WITHOUT bubblewrap (only when the instructor allowed it; the report says so).
    lease : UidLease or None
        The uid to run as (root only).
    tmp_base : str
        Where a working directory is created for an unisolated run.
    max_restarts : int
        How often the sandbox may be restarted after a timeout or crash.
    output_cap : int
        Bytes of the student's output kept.
    """

    def __init__(
        self,
        cells: list[tuple[str, str]],
        *,
        limits: Limits,
        cell_timeout: float,
        deadline: float,
        files: dict[str, str],
        hide: list[str],
        forbid_modules: list[str],
        lease: UidLease | None,
        provide: list[str] | None = None,
        data: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        forbid_names: list[str] | None = None,
        unisolated: bool = False,
        tmp_base: str,
        max_restarts: int = 3,
        output_cap: int = DEFAULTS["output_cap"],
    ) -> None:
        self.cells = cells
        self.limits = limits
        self.cell_timeout = cell_timeout
        self.deadline = deadline
        self.files = files
        self.hide = hide
        self.forbid_modules = forbid_modules
        self.provide = list(provide or [])
        self.data = dict(data or {})
        self.env = {**_ENV, **(env or {})}
        self.forbid_names = list(forbid_names or [])
        self.unisolated = unisolated
        self.memory_exceeded = False
        self._cpu_base = 0.0
        self._cpu_now = 0.0
        self.lease = lease
        self.tmp_base = tmp_base
        self.restarts_left = max_restarts
        self.output_cap = output_cap
        self.runs = [CellRun(label) for label, _ in cells]
        self.skip: set[int] = set()
        self.isolation: dict = {}
        self.generation = 0
        self.call_deadline: float | None = None
        self.death: str = ""
        self.start_error: str = ""
        self._proc: subprocess.Popen | None = None
        self._outputs: list[_Output] = []
        self._next_id = 0

    # --------------------------------------------------------------------------- lifecycle ----
    @property
    def alive(self) -> bool:
        """Whether the sandbox process is running and usable."""
        return self._proc is not None

    def start(self) -> None:
        """Start the process and run every cell not skipped (restarting after a fatal cell)."""
        while True:
            self._spawn()
            fatal = self._run_cells()
            if fatal is None:
                return
            self.skip.add(fatal)
            if not self._may_restart():
                return

    def _may_restart(self) -> bool:
        if self.restarts_left <= 0 or time.monotonic() >= self.deadline - 0.5:
            return False
        self.restarts_left -= 1
        return True

    def ensure(self) -> None:
        """Restart a dead sandbox if the budget allows, else raise :class:`SandboxCrashed`."""
        if self.alive:
            return
        if not self._may_restart():
            raise SandboxCrashed(
                f"your code's process is gone ({self.death}) and was not restarted"
            )
        self.start()
        if not self.alive:
            raise SandboxCrashed(f"your code's process could not be restarted ({self.death})")

    def _open_files(self) -> dict[str, int]:
        """Open the files to copy into the sandbox, refusing anything but regular files."""
        fds: dict[str, int] = {}
        try:
            for name, path in self.files.items():
                fd, st = open_nofollow(path)
                fds[name] = fd
                if not stat.S_ISREG(st.st_mode):
                    raise OSError(f"{name} is not a regular file")
        except OSError:
            for fd in fds.values():
                os.close(fd)
            raise
        return fds

    def _command(self, argv: list[str], files: dict[str, int]) -> tuple[list[str], dict]:
        """The command that starts the child: under bubblewrap, or (if allowed) unisolated."""
        python = [sys.prefix, sys.base_prefix, *site.getsitepackages(), PACKAGE_DIR]
        python += [sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")]
        python += self.provide
        needed = sorted({q for p in python + [sys.executable] for q in (p, os.path.realpath(p))})
        env = {**self.env, "HOME": WORKDIR}
        if self.unisolated:
            workdir = tempfile.mkdtemp(prefix="unisolated-", dir=self.tmp_base)
            for name, fd in files.items():
                with os.fdopen(os.dup(fd), "rb") as src, open(f"{workdir}/{name}", "wb") as out:
                    shutil.copyfileobj(src, out)
            env = {**self.env, "HOME": workdir}
            for key, value in env.items():  # dataset paths: the host's, since nothing is bound
                for inside, host in self.data.items():
                    if inside == value or inside.startswith(value.rstrip("/") + "/"):
                        env[key] = host if inside == value else os.path.dirname(host)
            report = {
                "mode": "UNISOLATED (allowed by the instructor): the student's code ran as the "
                "grader's user with only per-process resource limits; these results are not "
                "protected against a hostile submission",
            }
            return argv, {"report": report, "workdir": workdir, "env": env}
        mounts = Mounts(needed=needed, hide=self.hide, data=self.data, files=files)
        cmd, visible = bwrap_command(argv, mounts, self.limits, env)
        root = os.geteuid() == 0
        uid = self.lease.uid if self.lease else os.getuid()
        report = {
            "user": f"uid {uid} (dropped from root; no groups, no capabilities)"
            if root
            else f"uid {uid} in a new user namespace (no capabilities, no further namespaces)",
            "mode": "bubblewrap " + ("(as root, then a sandbox uid)" if root else "(as this user)"),
            "namespaces": ("" if root else "user, ")
            + "mount, pid, ipc, network, uts, cgroup (new for each sandbox)",
            "network": "isolated: new network namespace, no interfaces up",
            "filesystem": f"read-only binds of {', '.join(visible)}; private /tmp and /dev/shm "
            f"(tmpfs, {self.limits.tmp_mb} MiB each) holding only the notebook copy and data "
            "files; nothing else of the real file system is visible",
            "processes": "own PID namespace: /proc shows only the sandbox; all its processes die "
            "with it",
            "memory": f"{self.limits.memory_mb} MiB per process (RLIMIT_AS) and for all the "
            "sandbox's processes together: "
            + (
                "a cgroup v2 scope (MemoryMax, no swap, TasksMax) and "
                if cgroup_prefix(self.limits)
                else "no delegated cgroup v2 here; "
            )
            + "resident memory summed by the grader 10 times a second",
        }
        return cmd, {"report": report, "workdir": WORKDIR, "env": env}

    def _spawn(self) -> None:
        uid = self.lease.uid if self.lease else None
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        argv = module_command("autograder._child", str(req_r), str(resp_w))
        files: dict[str, int] = {}
        try:
            files = self._open_files()
            cmd, how = self._command(argv, files)
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(req_r, resp_w, *files.values()),
                start_new_session=True,
                env=how["env"] if self.unisolated else scope_env(),
                cwd=how["workdir"] if self.unisolated else "/",
            )
        except (OSError, NotIsolated) as exc:
            for fd in (req_w, resp_r, out_r):
                os.close(fd)
            self._proc = None
            self.death = f"could not start the sandbox: {exc}"
            if self.generation == 0:
                self.start_error = str(exc)
            self.generation += 1
            return
        finally:
            for fd in (req_r, resp_w, out_w, *files.values()):
                os.close(fd)
        self.generation += 1
        self._req = req_w
        os.set_blocking(req_w, False)
        self._reader = FrameReader(resp_r)
        self._resp = resp_r
        out = _Output(out_r, self.output_cap)
        threading.Thread(target=out.run, daemon=True).start()
        self._outputs.append(out)
        watch = threading.Thread(target=self._watch, args=(self._proc,), daemon=True)
        watch.start()
        setup = {
            "uid": uid,
            "limits": vars(self.limits),
            "forbid_modules": self.forbid_modules,
            "forbid_names": self.forbid_names,
            "preimport": ["numpy"],
        }
        try:
            self._send(setup, min(self.deadline, time.monotonic() + 30))
            ready = self._reader.read(min(self.deadline, time.monotonic() + 30))
            if not isinstance(ready, dict) or ready.get("op") != "ready":
                why = ready.get("message") if isinstance(ready, dict) else None
                raise ProtocolError(clean_text(why or "the sandbox did not start", 500))
            if self.generation == 1:
                iso = ready.get("isolation")
                limits = iso.get("limits") if isinstance(iso, dict) else None
                self.isolation = {**how["report"], "limits": _plain(limits)}
        except (TimeoutError, ProtocolError, OSError) as exc:
            self.kill(f"could not start the sandbox: {exc}")
            if self.generation == 1:
                self.start_error = f"{exc}; output: {self.output[0][-500:]!r}"

    # ------------------------------------------------------------- memory and CPU watchdog ----
    def _watch(self, proc: subprocess.Popen) -> None:
        """Sum the sandbox's resident memory and CPU time; kill it past the memory limit."""
        limit = self.limits.memory_mb * 1024 * 1024
        while proc.poll() is None and self._proc is proc:
            rss, cpu = tree_usage(proc.pid)
            self._cpu_now = cpu
            if rss > limit:
                self.memory_exceeded = True
                kill_tree(proc.pid)
                return
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """CPU seconds used by every process of the sandbox so far (all its generations).

        Returns
        -------
        float
            User + system time, measured from outside the sandbox.
        """
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._cpu_now = tree_usage(proc.pid)[1]
        return self._cpu_base + self._cpu_now

    def kill(self, reason: str = "stopped") -> None:
        """SIGKILL the sandbox (its PID namespace: every process in it) and, as root, its uid.

        Parameters
        ----------
        reason : str
            Why; kept in :attr:`death` for messages.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if self.memory_exceeded:
            reason = (
                f"your code used more than {self.limits.memory_mb} MiB of memory (all its "
                "processes together) and was stopped"
            )
            self.memory_exceeded = False
        self.death = reason
        if proc.poll() is None:  # a last reading before the processes are gone
            self._cpu_now = tree_usage(proc.pid)[1]
        kill_tree(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        if self.lease is not None:
            kill_uid(self.lease.uid)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        _reap_orphans()
        self._cpu_base += self._cpu_now
        self._cpu_now = 0.0
        for fd in (self._req, self._resp):
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        """Kill the sandbox for good."""
        self.kill("finished")
        self.restarts_left = 0

    # ----------------------------------------------------------------------------- output ----
    @property
    def output(self) -> tuple[str, int]:
        """The first bytes of everything the student's code printed, and the total byte count."""
        head = b"".join(bytes(o.head) for o in self._outputs)[: self.output_cap]
        return head.decode("utf-8", "replace"), sum(o.total for o in self._outputs)

    # --------------------------------------------------------------------------- requests ----
    def _send(self, msg: dict, deadline: float) -> None:
        write_frame(self._req, msg, deadline)

    def _request(self, msg: dict, timeout: float, what: str) -> dict:
        if self._proc is None:
            raise SandboxCrashed(f"your code's process is gone ({self.death})")
        self._next_id += 1
        msg["id"] = self._next_id
        # The limit is CPU time of the sandbox, so a busy machine costs nobody a point; wall
        # time is only a safety net (code that sleeps or waits), WALL_FACTOR times longer.
        deadline = min(time.monotonic() + timeout * WALL_FACTOR, self.deadline)
        if self.call_deadline is not None:
            deadline = min(deadline, self.call_deadline)
        cpu_start = self.cpu_seconds()
        try:
            self._send(msg, deadline)
            for _ in range(100_000):
                try:
                    reply = self._reader.read(min(time.monotonic() + 0.25, deadline))
                except TimeoutError:
                    if time.monotonic() >= deadline or self.cpu_seconds() - cpu_start > timeout:
                        raise
                    continue
                if isinstance(reply, dict) and reply.get("id") == msg["id"]:
                    return reply
            raise ProtocolError("too many unexpected messages")
        except TimeoutError:
            self.kill(f"{what} did not finish within its time limit")
            raise SandboxTimeout(
                f"{what} did not finish in time (limit: {self.cell_timeout:g} s of CPU time per "
                f"cell or call, and {self.cell_timeout * WALL_FACTOR:g} s of wall time, within the "
                "submission's total time)"
            ) from None
        except ChannelClosed:
            code = self._exit_code()
            self.kill(f"the process exited during {what} (exit status {code})")
            raise SandboxCrashed(self.death) from None
        except (ProtocolError, OSError) as exc:
            self.kill(f"the process broke the protocol during {what}: {exc}")
            raise SandboxCrashed(self.death) from None

    def _exit_code(self) -> Any:
        proc = self._proc
        if proc is None:
            return None
        try:
            code = proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "still running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return code
        return code

    def _run_cells(self) -> int | None:
        """Run the cells; return the index of a cell that killed the sandbox, else None."""
        if not self.alive:
            return None
        for i, (label, code) in enumerate(self.cells):
            if i in self.skip:
                continue
            first = self.runs[i].status == "not-run"
            try:
                reply = self._request(
                    {"op": "run", "label": label, "code": code},
                    self.cell_timeout,
                    f"cell {label!r}",
                )
            except SandboxTimeout as exc:
                self.runs[i] = CellRun(label, "timeout", str(exc))
                return i
            except SandboxCrashed as exc:
                self.runs[i] = CellRun(label, "crashed", str(exc))
                return i
            if first:
                err = reply.get("error") if not reply.get("ok") else None
                text = _error_text(err) if err else ""
                self.runs[i] = CellRun(label, "error" if err else "ok", text)
        return None

    def names(self) -> dict[str, str]:
        """The student's top-level names and their kinds (``callable``, ``data``, ``object``)."""
        self.ensure()
        reply = self._request({"op": "list"}, self.cell_timeout, "listing your names")
        names = reply.get("names") if reply.get("ok") else None
        if not isinstance(names, dict):
            raise SandboxCrashed("the sandbox sent an invalid list of names")
        return {k: v for k, v in names.items() if isinstance(k, str) and k.isidentifier()}

    def call(
        self,
        target: dict,
        path: list[str],
        args: tuple,
        kwargs: dict,
        warnings: bool = False,
        what: str = "a call",
    ) -> tuple[Any, list[str]]:
        """Call the student's function (``target`` = ``{"name": ...}`` or ``{"handle": ...}``).

        Parameters
        ----------
        target : dict
            What to call.
        path : list of str
            Attribute path below the target.
        args, kwargs
            Arguments: data, or proxies of the student's own objects, or NumPy ufuncs.
        warnings : bool
            Record the warnings the call emits.
        what : str
            Description for messages.

        Returns
        -------
        value : Any
            The decoded result (data, or a remote handle proxy).
        warnings : list of str
            Recorded warnings (empty unless asked).
        """
        self.ensure()
        msg = {
            "op": "call",
            "target": target,
            "path": path,
            "args": [encode_argument(a, self) for a in args],
            "kwargs": encode_argument(dict(kwargs), self),
            "warnings": warnings,
        }
        reply = self._request(msg, self.cell_timeout, what)
        value = self._result(reply)
        _write_back([list(args), dict(kwargs)], reply.get("changed_args"))
        return value, [clean_text(w, 500) for w in reply.get("warnings", [])][:20]

    def get(self, target: dict, path: list[str] | None = None) -> Any:
        """Fetch the value of a student's name or attribute (data, or a handle proxy)."""
        self.ensure()
        reply = self._request(
            {"op": "get", "target": target, "path": path or []},
            self.cell_timeout,
            "fetching a value",
        )
        return self._result(reply)

    def _result(self, reply: dict) -> Any:
        if not reply.get("ok"):
            err = reply.get("error")
            if not isinstance(err, dict):
                raise SandboxCrashed("the sandbox sent an invalid error")
            raise StudentError(
                str(err.get("type", "Error"))[:100],
                str(err.get("message", ""))[:2000],
                str(err.get("traceback", ""))[:4000],
            )
        generation = self.generation
        try:
            return codec.decode(
                reply.get("value"), handle=lambda h: RemoteObject(self, h, generation)
            )
        except ProtocolError as exc:
            raise SandboxCrashed(f"the value your code returned is not plain data: {exc}") from None


def _write_back(args: list, changed: Any) -> None:
    """Apply to the caller's own arrays what the student's function wrote into their copies.

    The sandbox gets copies of the arguments; without this, a function that modifies its inputs
    would pass a "the caller's arrays are unchanged" test in the grader and fail it in the
    student's kernel. Only arrays the test passed are written, with their own shape and dtype.
    """
    if not isinstance(changed, list):
        return
    for entry in changed[:256]:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], list)):
            continue
        target: Any = args
        try:
            for key in entry[0]:
                if isinstance(target, list | tuple) and isinstance(key, int):
                    target = target[key]
                elif isinstance(target, dict) and isinstance(key, str):
                    target = target[key]
                else:
                    raise KeyError(key)
            new = codec.decode(entry[1])
        except (KeyError, IndexError, TypeError, ProtocolError):
            continue
        if isinstance(target, np.ndarray) and isinstance(new, np.ndarray):
            if target.shape != new.shape:
                continue
            if not target.flags.writeable:
                raise StudentError("ValueError", "assignment destination is read-only")
            np.copyto(target, new, casting="unsafe")


def _plain(value: Any) -> dict:
    """The sandbox's report of its limits as a small dict of plain values."""
    if not isinstance(value, dict):
        return {}
    out: dict = {}
    for key, item in list(value.items())[:20]:
        ok = isinstance(item, int | float) and not isinstance(item, bool)
        out[clean_text(key, 40)] = item if ok else clean_text(item, 200)
    return out


def _error_text(err: Any) -> str:
    if not isinstance(err, dict):
        return "error"
    kind, msg = str(err.get("type", "Error"))[:100], str(err.get("message", ""))[:2000]
    return f"{kind}: {msg}" if msg else kind
