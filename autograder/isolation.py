"""Operating-system isolation for the sandbox: namespaces, mounts, limits, users.

The sandbox child calls :func:`isolate` first thing (single-threaded, before it imports NumPy),
while it still runs as the user who started the grader. As root it gets

* a new network namespace (only a downed loopback: no network at all),
* a new mount namespace with a size-limited private ``/tmp`` (its working directory lives there),
  empty read-only tmpfs mounts over the course directory, the submissions, the grader's state and
  the directories of forbidden packages (``nnlib``), and ``0700`` directories on the way to the
  Python installation made traversable without exposing their other contents,
* resource limits (CPU seconds, address space, processes, file size, open files, no core dumps),
* a switch to a dedicated unprivileged uid (one per concurrent sandbox, leased with a lock file, so
  ``RLIMIT_NPROC`` is per sandbox and every stray process can be killed by uid), ``no_new_privs``
  and a parent-death signal.

Not as root it tries an unprivileged user namespace for the network cut; file-system isolation is
then only what the user's own permissions give (see :func:`isolate`'s report).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import errno
import fcntl
import os
import pwd
import resource
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass

__all__ = [
    "Limits",
    "UidLease",
    "acquire_uid",
    "isolate",
    "kill_uid",
    "processes_of_uid",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

#: First uid used for sandboxes when the grader runs as root (uids without a passwd entry).
DEFAULT_UID_BASE = 61000
#: How many sandbox uids may be leased at the same time.
UID_RANGE = 256
_LOCK_DIR = "/tmp/.autograder-uid-locks"


@dataclass
class Limits:
    """Resource limits of one sandbox.

    Attributes
    ----------
    cpu_s : int
        CPU seconds (``RLIMIT_CPU``) per process.
    memory_mb : int
        Address space (``RLIMIT_AS``) in MiB.
    nproc : int
        Processes and threads of the sandbox uid (``RLIMIT_NPROC``).
    fsize_mb : int
        Largest file the sandbox may write (``RLIMIT_FSIZE``), MiB.
    nofile : int
        Open file descriptors (``RLIMIT_NOFILE``).
    tmp_mb : int
        Size of the private ``/tmp`` tmpfs (root only), MiB.
    """

    cpu_s: int = 60
    memory_mb: int = 1024
    nproc: int = 32
    fsize_mb: int = 16
    nofile: int = 64
    tmp_mb: int = 64


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(
    libc: ctypes.CDLL,
    src: str | None,
    target: str,
    fstype: str | None,
    flags: int,
    data: str | None = None,
) -> None:
    enc = lambda s: None if s is None else s.encode()
    _check(libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _unshare(libc: ctypes.CDLL, flags: int) -> bool:
    return libc.unshare(flags) == 0


_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
_DEVICES = ("null", "zero", "full", "random", "urandom")
MS_REMOUNT = 32


def _outermost(paths: list[str]) -> list[str]:
    """Drop paths inside other paths of the list; keep the order by length."""
    out: list[str] = []
    for p in sorted({os.path.normpath(p) for p in paths}, key=len):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def _bind(libc: ctypes.CDLL, fd: int, target: str, writable: bool = False) -> None:
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        open(target, "a").close()
    _mount(libc, f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
    if not writable:
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
        _mount(libc, None, target, None, flags)


def _build_root(
    libc: ctypes.CDLL,
    workdir: str,
    needed: list[str],
    hide: list[str],
    limits: Limits,
    uid: int | None,
) -> tuple[str, list[str]]:
    """Make a new root holding only the system, the interpreter and a private /tmp; chroot to it.

    Everything is bound read-only from the real file system; nothing else (home directories,
    the course, other students, the grader's files) exists inside. ``hide`` paths that fall
    inside a bound tree are covered with empty read-only tmpfs mounts.
    """
    sources = [p for p in _SYSTEM if os.path.lexists(p)]
    links = {p: os.readlink(p) for p in sources if os.path.islink(p)}
    trees = _outermost(
        [p for p in sources if p not in links] + [p for p in needed if os.path.exists(p)]
    )
    # open everything first: the skeleton is mounted over /tmp, where some sources may live
    fds = {p: os.open(p, os.O_PATH) for p in trees}
    devs = {d: os.open(f"/dev/{d}", os.O_PATH) for d in _DEVICES if os.path.exists(f"/dev/{d}")}
    proc = os.open("/proc", os.O_PATH)
    wfd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY)
    hidden_fds = {p: os.open(p, os.O_PATH) for p in hide if os.path.exists(p)}
    new = "/tmp"
    _mount(libc, "tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    # the private /tmp first, so that binds of sources below /tmp stay visible on top of it
    os.mkdir(new + "/tmp")
    tmp_opts = f"size={limits.tmp_mb}m,mode=1777"
    _mount(libc, "tmpfs", new + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp_opts)
    for path, target in links.items():
        os.symlink(target, new + path)
    for path, fd in fds.items():
        _bind(libc, fd, new + path)
    for name, fd in devs.items():
        _bind(libc, fd, f"{new}/dev/{name}", writable=True)
    _bind(libc, proc, new + "/proc", writable=True)
    hidden = []
    for path, fd in hidden_fds.items():
        inside = any(path == t or path.startswith(t.rstrip("/") + "/") for t in trees)
        if inside and os.path.isdir(f"/proc/self/fd/{fd}"):
            _mount(
                libc,
                "tmpfs",
                new + path,
                "tmpfs",
                MS_RDONLY | MS_NOSUID | MS_NODEV,
                "size=4k,mode=0755",
            )
            hidden.append(path)
        elif inside:
            _mount(libc, "/dev/null", new + path, None, MS_BIND)
            hidden.append(path)
    work = new + "/tmp/work"
    os.mkdir(work, 0o700)
    for name in os.listdir(wfd):
        src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=wfd)
        with os.fdopen(src, "rb") as fin, open(os.path.join(work, name), "wb") as fout:
            shutil.copyfileobj(fin, fout)
        if uid is not None:
            os.chown(os.path.join(work, name), uid, uid)
    if uid is not None:
        os.chown(work, uid, uid)
    for fd in [*fds.values(), *devs.values(), proc, wfd, *hidden_fds.values()]:
        os.close(fd)
    os.chroot(new)
    os.chdir("/tmp/work")
    return "/tmp/work", trees + ["/proc", "/dev/{" + ",".join(devs) + "}"] + [
        f"hidden: {h}" for h in hidden
    ]


def _set_limits(limits: Limits) -> dict:
    mib = 1024 * 1024
    table = {
        "cpu_s": (resource.RLIMIT_CPU, limits.cpu_s),
        "memory_mb": (resource.RLIMIT_AS, limits.memory_mb * mib),
        "nproc": (resource.RLIMIT_NPROC, limits.nproc),
        "fsize_mb": (resource.RLIMIT_FSIZE, limits.fsize_mb * mib),
        "nofile": (resource.RLIMIT_NOFILE, limits.nofile),
        "core": (resource.RLIMIT_CORE, 0),
    }
    applied = {}
    for name, (res, value) in table.items():
        try:
            resource.setrlimit(res, (value, value))
            applied[name] = value if name not in ("memory_mb", "fsize_mb") else value // mib
        except (ValueError, OSError) as exc:
            applied[name] = f"not set ({exc})"
    return applied


def isolate(
    *,
    uid: int | None,
    workdir: str,
    limits: Limits,
    hide: list[str],
    needed: list[str],
) -> tuple[dict, str]:
    """Isolate the current (sandbox) process; call it before any thread exists.

    Parameters
    ----------
    uid : int or None
        The unprivileged uid to switch to (root only); None keeps the current user.
    workdir : str
        A directory holding the files the student may see (their notebook copy, data files).
    limits : Limits
        Resource limits.
    hide : list of str
        Paths to cover with empty read-only mounts (course directory, submissions, state, forbidden
        packages).
    needed : list of str
        Paths the sandbox must still reach after the switch (the Python installation and
        site-packages).

    Returns
    -------
    report : dict
        What was applied, in words, for the grade log.
    cwd : str
        The working directory to use (inside the private ``/tmp`` when that worked).
    """
    libc = _libc()
    report: dict = {}
    root = os.geteuid() == 0
    me = os.getuid()  # a new user namespace would show it as the overflow uid
    cwd = workdir
    if root:
        net = _unshare(libc, CLONE_NEWNET)
        mnt = _unshare(libc, CLONE_NEWNS)
    else:
        # an unprivileged user namespace allows new network and mount namespaces; we only rely on
        # the network cut there (mounts inside a user namespace could be undone by the student)
        net = _unshare(libc, CLONE_NEWUSER | CLONE_NEWNET)
        mnt = False
    report["network"] = (
        "isolated: new network namespace, no interfaces up"
        if net
        else "NOT isolated (unshare of the network namespace was refused)"
    )
    if mnt:
        try:
            _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
            cwd, visible = _build_root(libc, workdir, needed, hide, limits, uid)
            report["filesystem"] = (
                f"chroot into a new root with read-only binds of {', '.join(visible)}; "
                f"private /tmp (tmpfs, {limits.tmp_mb} MiB) holding only the notebook copy and "
                "data files; nothing else of the real file system is visible"
            )
        except OSError as exc:  # fail closed: never run student code half-isolated
            raise RuntimeError(f"sandbox isolation failed: {exc}") from exc
    else:
        report["filesystem"] = (
            f"no mount namespace; working directory {workdir}; other files are protected only by "
            "file permissions"
        )
    if not root:  # RLIMIT_NPROC counts every process of this user: leave room for the others
        tasks = 0
        for pid in processes_of_uid(os.getuid()):
            try:
                tasks += len(os.listdir(f"/proc/{pid}/task"))  # threads count too
            except OSError:
                continue
        limits = dataclasses.replace(limits, nproc=limits.nproc + tasks)
    report["limits"] = _set_limits(limits)
    if root and uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        report["user"] = f"uid {uid} (dropped from root; no groups)"
    else:
        report["user"] = (
            f"uid {me} (not root: no user switch; RLIMIT_NPROC counts all of this user's "
            "processes and the student can read whatever this user can)"
        )
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    report["no_new_privs"] = True
    return report, cwd


# ------------------------------------------------------------------------- uid management ----
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
    """SIGKILL every process of ``uid`` (root only) and wait until none is left.

    A helper switches to ``uid`` and calls ``kill(-1, SIGKILL)``, which the kernel applies to all of
    that user's processes at once, so a fork bomb cannot outrun it.

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
    kill = shutil.which("kill", path="/usr/bin:/bin") or "/bin/kill"
    while True:
        pids = processes_of_uid(uid)
        if not pids:
            return True
        try:
            subprocess.run(
                [kill, "-9", "-1"],
                user=uid,
                group=uid,
                extra_groups=[],
                env={},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError as exc:
                    if exc.errno != errno.ESRCH:
                        raise
        if time.monotonic() > deadline:
            return not processes_of_uid(uid)
        time.sleep(0.02)


def make_workdir(base: str | None, uid: int | None) -> str:
    """Create a fresh working directory for a sandbox, owned by ``uid`` when given.

    Parameters
    ----------
    base : str or None
        Parent directory (default: the system temp dir).
    uid : int or None
        Owner of the new directory.

    Returns
    -------
    str
        The path.
    """
    path = tempfile.mkdtemp(prefix="sandbox-", dir=base)
    if uid is not None:
        os.chown(path, uid, uid)
    return path
