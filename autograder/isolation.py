"""Operating-system isolation of the sandbox: one code path, bubblewrap, as root or not.

Every sandbox is started under Debian's ``bubblewrap`` (``bwrap``) with new mount, PID, IPC,
network, UTS and cgroup namespaces:

* a root file system made of read-only binds of only what the assignment needs (the system's
  ``/usr`` and ``/etc``, the Python installation and its packages, this package, provided packages
  and data), a private size-limited ``/tmp`` holding copies of the notebook and data files, a
  private ``/dev`` with a size-limited ``/dev/shm`` and a ``/proc`` that shows only the sandbox's
  own processes. Home folders, the course (sources with hidden tests, the gradebook), other
  students' submissions and the grader's files do not exist inside; forbidden packages inside a
  bound tree are covered with empty mounts;
* its own System V IPC (shared memory, semaphores, message queues die with it), no network
  (only a downed loopback), its own host name;
* ``--die-with-parent``, and the PID namespace: killing the sandbox kills every process in it,
  however it forked or ``setsid``-ed.

Who the student's code runs as:

* **not root**: bubblewrap makes a user namespace (Debian allows unprivileged ones); the code runs
  as the grader's user mapped into it, with no capabilities, and cannot make further user
  namespaces (``--disable-userns``). Process limits count only the sandbox's processes (limits are
  per user namespace since Linux 5.14);
* **as root**: bubblewrap runs privileged, then the sandbox switches to a dedicated unprivileged
  uid (one per concurrent sandbox, leased with a lock file, never a real account) before any
  student code, with no groups and ``no_new_privs``.

Both: resource limits (CPU seconds, address space per process, processes, file size, open files,
no core dumps), and a memory limit for the whole sandbox. Where systemd runs and delegates cgroups
(a desktop session, a server: ``systemd-run --user --scope`` as a user, ``systemd-run --scope`` as
root), each sandbox gets its own cgroup v2 scope with ``MemoryMax``, ``MemorySwapMax=0`` and
``TasksMax`` (:func:`cgroup_prefix`). Everywhere, the trusted side also sums the resident memory of
all the sandbox's processes ten times a second and kills the sandbox past the limit
(:func:`tree_usage`), so several processes cannot together hold more than one may even without a
cgroup (containers, cgroup v1 hosts). The report says what applied.

Where bubblewrap cannot isolate (not installed, user namespaces disabled), the grader refuses to
run student code unless the instructor explicitly allows unisolated grading, which the results
then say.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import pwd
import resource
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

from autograder.errors import NotIsolated

__all__ = [
    "DEFAULT_UID_BASE",
    "Limits",
    "Mounts",
    "NotIsolated",
    "UidLease",
    "acquire_uid",
    "apply_limits",
    "bwrap_command",
    "drop_privileges",
    "kill_uid",
    "probe",
    "processes_of_uid",
    "tree_usage",
]

#: First uid used for sandboxes when the grader runs as root (uids without a passwd entry).
DEFAULT_UID_BASE = 61000
#: How many sandbox uids may be leased at the same time.
UID_RANGE = 256
_LOCK_DIR = "/tmp/.autograder-uid-locks"
#: Where the sandbox's working folder (cwd, ``$HOME``) is, inside the sandbox.
WORKDIR = "/tmp/work"
#: Where datasets are bound inside the sandbox.
DATA_DIR = "/data"
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
_SYSTEM = ("/usr", "/etc")
_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@dataclass
class Limits:
    """Resource limits of one sandbox.

    Attributes
    ----------
    cpu_s : int
        CPU seconds (``RLIMIT_CPU``) per process.
    memory_mb : int
        Memory in MiB: the address space of each process (``RLIMIT_AS``) and the resident memory
        of all the sandbox's processes together (cgroup ``memory.max`` or the watchdog).
    nproc : int
        Processes and threads of the sandbox (``RLIMIT_NPROC``, and ``pids.max``).
    fsize_mb : int
        Largest file the sandbox may write (``RLIMIT_FSIZE``), MiB.
    nofile : int
        Open file descriptors (``RLIMIT_NOFILE``).
    tmp_mb : int
        Size of the private ``/tmp`` and of ``/dev/shm``, MiB each.
    """

    cpu_s: int = 60
    memory_mb: int = 1024
    nproc: int = 32
    fsize_mb: int = 16
    nofile: int = 64
    tmp_mb: int = 64


@dataclass
class Mounts:
    """What the sandbox sees besides the system.

    Attributes
    ----------
    needed : list of str
        Host paths bound read-only at the same path (the interpreter, packages, this package).
    hide : list of str
        Host paths covered with empty read-only mounts where they fall inside a bound tree.
    data : dict
        Path inside the sandbox -> host path, bound read-only (datasets).
    files : dict
        File name -> open file descriptor of a regular file, copied into the working folder.
    """

    needed: list[str]
    hide: list[str]
    data: dict[str, str]
    files: dict[str, int]


def _outermost(paths: list[str]) -> list[str]:
    """Drop paths inside other paths of the list; shortest first."""
    out: list[str] = []
    for p in sorted({os.path.normpath(p) for p in paths}, key=len):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def _inside(path: str, trees: list[str]) -> bool:
    return any(path == t or path.startswith(t.rstrip("/") + "/") for t in trees)


def _bwrap() -> str | None:
    return shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")


@functools.lru_cache(maxsize=1)
def probe() -> str:
    """Check once that bubblewrap can build a sandbox here, as this user.

    Returns
    -------
    str
        The path of ``bwrap``.

    Raises
    ------
    NotIsolated
        Saying what is missing and how to fix it.
    """
    bwrap = _bwrap()
    if bwrap is None:
        raise NotIsolated(
            "bubblewrap is not installed: install Debian's package (`sudo apt-get install "
            "bubblewrap`) so that student code runs isolated"
        )
    cmd = [bwrap, *_namespaces(), "--ro-bind", "/", "/", "--proc", "/proc", "--", "true"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise NotIsolated(
            f"bubblewrap cannot create namespaces here ({proc.stderr.strip()[:300]}); unprivileged "
            "user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1, or "
            "user.max_user_namespaces > 0), or grade as root"
        )
    return bwrap


def _namespaces() -> list[str]:
    ns = ["--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts"]
    ns += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if os.geteuid() == 0:  # privileged: the child switches to a sandbox uid itself
        return [*ns, "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return [*ns, "--unshare-user", "--disable-userns"]


@functools.lru_cache(maxsize=1)
def _systemd_scope() -> list[str] | None:
    """``systemd-run`` options that put a command in a new cgroup v2 scope, if that works here."""
    run = shutil.which("systemd-run", path="/usr/bin:/bin")
    if run is None or not os.path.isfile("/sys/fs/cgroup/cgroup.controllers"):
        return None  # no systemd, or not a pure cgroup v2 hierarchy
    base = [run, "--scope", "--quiet", "--collect"]
    if os.geteuid() != 0:
        base.insert(1, "--user")
    # the sandbox needs its pipes: check that an inherited descriptor survives systemd-run
    read, write = os.pipe()
    try:
        ok = subprocess.run(
            [*base, "--", "/bin/sh", "-c", f"echo ok >&{write}"],
            capture_output=True,
            timeout=15,
            check=False,
            pass_fds=(write,),
            env=scope_env(),
        )
        os.close(write)
        write = -1
        passed = ok.returncode == 0 and os.read(read, 16).strip() == b"ok"
    except (OSError, subprocess.SubprocessError):
        passed = False
    finally:
        for fd in (read, write):
            if fd >= 0:
                os.close(fd)
    return base if passed else None


def scope_env() -> dict[str, str]:
    """What ``systemd-run`` needs of the environment (the user's bus), and a plain ``PATH``."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    for key in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def cgroup_prefix(limits: Limits) -> list[str]:
    """The command prefix that runs a sandbox in its own cgroup v2 scope, or ``[]`` if none.

    Parameters
    ----------
    limits : Limits
        ``memory_mb`` becomes ``MemoryMax`` (swap off), ``nproc`` becomes ``TasksMax``.

    Returns
    -------
    list of str
        ``systemd-run ... --`` options, empty where systemd cannot delegate a cgroup.
    """
    base = _systemd_scope()
    if base is None:
        return []
    props = [f"MemoryMax={limits.memory_mb}M", "MemorySwapMax=0", f"TasksMax={limits.nproc + 4}"]
    return [*base, *(f"--property={p}" for p in props), "--"]


def bwrap_command(
    argv: list[str], mounts: Mounts, limits: Limits, env: dict[str, str]
) -> tuple[list[str], list[str]]:
    """The ``bwrap`` command line that runs ``argv`` in a new sandbox.

    Parameters
    ----------
    argv : list of str
        The command to run inside (the sandbox's Python).
    mounts : Mounts
        What it sees.
    limits : Limits
        Sizes of ``/tmp`` and ``/dev/shm``.
    env : dict
        The complete environment inside.

    Returns
    -------
    command : list of str
        For :class:`subprocess.Popen` (pass the file descriptors of ``mounts.files``).
    visible : list of str
        What is visible inside, in words, for the report.
    """
    bwrap = _bwrap()  # the grader checked once that it works (probe); here only where it is
    if bwrap is None:
        raise NotIsolated("bubblewrap is not installed (sudo apt-get install bubblewrap)")
    cmd = [*cgroup_prefix(limits), bwrap, *_namespaces(), "--hostname", "sandbox"]
    cmd += ["--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    system = [p for p in _SYSTEM if os.path.isdir(p)]
    trees = _outermost(system + [p for p in mounts.needed if os.path.exists(p)])
    made: set[str] = set()

    def parents(path: str) -> list[str]:  # world-traversable, whatever their modes are outside
        out, parts = [], path.strip("/").split("/")
        for i in range(1, len(parts)):
            parent = "/" + "/".join(parts[:i])
            if parent not in made:
                made.add(parent)
                out += ["--perms", "0755", "--dir", parent]
        return out

    for tree in trees:
        cmd += [*parents(tree), "--ro-bind", tree, tree]
    for link in _SYSTEM_LINKS:
        if os.path.islink(link):
            cmd += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link) and not _inside(link, trees):
            cmd += ["--ro-bind", link, link]
    hidden = []
    for path in sorted(set(mounts.hide)):
        if not _inside(path, trees) or not os.path.exists(path):
            continue
        if os.path.isdir(path):
            cmd += ["--perms", "0755", "--size", "4096", "--tmpfs", path, "--remount-ro", path]
        else:
            cmd += ["--ro-bind", "/dev/null", path]
        hidden.append(path)
    size = str(limits.tmp_mb * 1024 * 1024)
    cmd += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/dev/shm"]
    cmd += ["--perms", "1777", "--size", size, "--tmpfs", "/tmp", "--perms", "0755", "--dir"]
    cmd += [WORKDIR]
    for inside, host in sorted(mounts.data.items()):
        cmd += [*parents(inside), "--ro-bind", host, inside]
    for name, fd in sorted(mounts.files.items()):
        cmd += ["--perms", "0644", "--file", str(fd), f"{WORKDIR}/{name}"]
    cmd += ["--chdir", WORKDIR, "--", *argv]
    visible = [*trees, *sorted(mounts.data)] + [f"hidden: {h}" for h in hidden]
    return cmd, visible


def drop_privileges(uid: int) -> None:
    """Inside a sandbox started by root: own the working folder, then become ``uid`` for good.

    Parameters
    ----------
    uid : int
        The leased sandbox uid (also used as gid).
    """
    for name in [".", *os.listdir(".")]:
        os.chown(name, uid, uid, follow_symlinks=False)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def apply_limits(limits: Limits) -> dict:
    """Set the resource limits of this (sandbox) process, ``no_new_privs`` and a death signal.

    Parameters
    ----------
    limits : Limits
        The limits.

    Returns
    -------
    dict
        What was applied (a value, or why not), for the report.
    """
    import ctypes

    mib = 1024 * 1024
    table = {
        "cpu_s": (resource.RLIMIT_CPU, limits.cpu_s),
        "memory_mb": (resource.RLIMIT_AS, limits.memory_mb * mib),
        "nproc": (resource.RLIMIT_NPROC, limits.nproc),
        "fsize_mb": (resource.RLIMIT_FSIZE, limits.fsize_mb * mib),
        "nofile": (resource.RLIMIT_NOFILE, limits.nofile),
        "core": (resource.RLIMIT_CORE, 0),
    }
    applied: dict = {}
    for name, (res, value) in table.items():
        try:
            resource.setrlimit(res, (value, value))
            applied[name] = value if name not in ("memory_mb", "fsize_mb") else value // mib
        except (ValueError, OSError) as exc:
            applied[name] = f"not set ({exc})"
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    return applied


# ---------------------------------------------------------------- the sandbox's process tree ----
def _stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, read from ``/proc/<pid>/task/<tid>/children`` (only the
    sandbox's own processes: cheap however busy the machine is), else from a full scan."""
    out, todo = [root], [root]
    try:
        while todo:
            pid = todo.pop()
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                    kids = [int(k) for k in fh.read().split()]
                out += kids
                todo += kids
        return out
    except FileNotFoundError as exc:
        if (
            exc.filename
            and exc.filename.endswith("/children")
            and not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
        ):
            return _tree_by_scan(root)  # a kernel without CONFIG_PROC_CHILDREN
        return out  # a process ended while we looked: the rest is still right
    except OSError:
        return out


def _tree_by_scan(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat(int(name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(name))
    out, todo = [root], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_usage(root: int) -> tuple[int, float]:
    """Resident memory and CPU time of a process and all its descendants.

    A PID namespace keeps every process of a sandbox below its ``bwrap`` process, and processes
    that ended were waited for by the namespace's init, whose children's CPU time counts here.

    Parameters
    ----------
    root : int
        The sandbox's ``bwrap`` process.

    Returns
    -------
    rss : int
        Bytes resident, summed over the live processes.
    cpu : float
        User + system seconds of the processes and of their reaped children.
    """
    rss, ticks = 0, 0
    for pid in _tree(root):
        fields = _stat(pid)
        if fields is None:
            continue
        # after the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14) ...
        ticks += sum(int(f) for f in fields[11:15])
        rss += int(fields[21]) * _PAGE
    return rss, ticks / _TICK


def kill_tree(root: int) -> None:
    """SIGKILL a sandbox's ``bwrap`` process and everything below it (the PID namespace dies)."""
    for pid in reversed(_tree(root)):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# --------------------------------------------------------------------------- uid management ----
class UidLease:
    """An exclusive lease on a sandbox uid, held through an ``flock`` on a lock file.

    Parameters
    ----------
    uid : int
        The leased uid.
    fd : int
        The locked file descriptor (the lease ends when it is closed, also when the process dies).
    """

    def __init__(self, uid: int, fd: int) -> None:
        self.uid = uid
        self._fd = fd

    def release(self) -> None:
        """Kill whatever still runs under the uid and give the lease back."""
        if self._fd >= 0:
            kill_uid(self.uid)
            os.close(self._fd)
            self._fd = -1


def acquire_uid(base: int = DEFAULT_UID_BASE, count: int = UID_RANGE) -> UidLease:
    """Lease a free sandbox uid (root only), killing leftovers of an earlier crashed run under it.

    Parameters
    ----------
    base : int
        First uid of the range.
    count : int
        Size of the range.

    Returns
    -------
    UidLease
        The lease; call :meth:`UidLease.release` when the sandbox is gone.
    """
    os.makedirs(_LOCK_DIR, mode=0o700, exist_ok=True)
    os.chmod(_LOCK_DIR, 0o700)
    for uid in range(base, base + count):
        try:
            pwd.getpwuid(uid)
            continue  # a real account: never use (or mass-kill) it
        except KeyError:
            pass
        fd = os.open(os.path.join(_LOCK_DIR, str(uid)), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        kill_uid(uid)
        return UidLease(uid, fd)
    raise RuntimeError(f"no free sandbox uid in {base}..{base + count - 1}")


def processes_of_uid(uid: int) -> list[int]:
    """Return the pids of live (not zombie) processes whose real uid is ``uid`` (from ``/proc``).

    Parameters
    ----------
    uid : int
        The uid.

    Returns
    -------
    list of int
        Process ids.
    """
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status", "rb") as fh:
                    for line in fh:
                        if line.startswith(b"State:") and line.split()[1] in (b"Z", b"X"):
                            break
                        if line.startswith(b"Uid:"):
                            if int(line.split()[1]) == uid:
                                pids.append(int(name))
                            break
            except (OSError, ValueError, IndexError):
                continue
    return pids


def kill_uid(uid: int, timeout: float = 5.0) -> bool:
    """SIGKILL every process of a sandbox ``uid`` (root only) and wait until none is left.

    Parameters
    ----------
    uid : int
        A sandbox uid (never a real account).
    timeout : float
        Seconds to wait for the processes to disappear.

    Returns
    -------
    bool
        True when no process of the uid is left.
    """
    if os.geteuid() != 0 or uid == 0:
        return False
    deadline = time.monotonic() + timeout
    while True:
        pids = processes_of_uid(uid)
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError as exc:
                if exc.errno != errno.ESRCH:
                    raise
        if time.monotonic() > deadline:
            return not processes_of_uid(uid)
        time.sleep(0.02)
