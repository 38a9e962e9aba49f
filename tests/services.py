"""Real services for the tests: a Dask cluster and a PostgreSQL server, started and stopped here.

Everything listens on 127.0.0.1 (or a unix socket in a temporary folder), is started in its own
process group, and is killed by ``stop()`` (the fixtures call it even when a test fails), so a
test run leaves nothing behind.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: Exercise 1's source notebook (with its solutions: a submission of it earns full marks).
EX1 = "01-forward-pass"
EX1_SOURCE = REPO / "exercises" / "source" / EX1 / f"{EX1}.ipynb"


def submission_json(sleep: float = 0.0, broken: bool = False) -> str:
    """Exercise 1 as a student would submit it: the solutions (full marks), or with the first
    solution cell raising (``broken``), and optionally a last cell that sleeps ``sleep`` s."""
    import json

    nb = json.loads(EX1_SOURCE.read_text())
    if broken:
        for cell in nb["cells"]:
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                cell["source"] = "raise NotImplementedError()\n"
                break
    if sleep:
        code = f"import time\ntime.sleep({sleep})\n"
        nb["cells"].append(
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": code,
            }
        )
    return json.dumps(nb)


def read_journal(course, assignment: str = EX1) -> list[dict]:
    """The grading journal's records (empty before the first run)."""
    import json

    path = Path(course.state_dir(assignment)) / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["DASK_DISTRIBUTED__WORKER__DAEMON"] = "False"
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    return env


def _kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass


class DaskCluster:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

    Parameters
    ----------
    folder : Path
        For the scheduler file and the logs.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scheduler_file = self.folder / "scheduler.json"
        self.scheduler: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}
        self.address = ""

    def _spawn(self, name: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")
        return subprocess.Popen(
            [str(BIN / "dask"), *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**_env(), **(env or {})},
            cwd=self.folder,
        )

    def start_scheduler(self, timeout: float = 60) -> str:
        """Start the scheduler; returns its ``tcp://127.0.0.1:PORT`` address."""
        import json

        self.scheduler = self._spawn(
            "scheduler",
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(self.scheduler_file),
            ],
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited: {self.log('scheduler')}")
            try:
                self.address = json.loads(self.scheduler_file.read_text())["address"]
                return self.address
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        raise RuntimeError(f"dask scheduler did not start: {self.log('scheduler')}")

    def start_worker(
        self, name: str, nthreads: int = 1, env: dict | None = None, preload: str | None = None
    ) -> subprocess.Popen:
        """Start one worker (no nanny: killing it kills the worker, as a lost machine would)."""
        args = [
            "worker",
            self.address,
            "--name",
            name,
            "--nthreads",
            str(nthreads),
            "--no-nanny",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
            "--local-directory",
            str(self.folder / f"{name}-space"),
        ]
        if preload:
            args += ["--preload", preload]
        proc = self._spawn(name, args, env)
        self.workers[name] = proc
        return proc

    def wait_for_workers(self, n: int, timeout: float = 90) -> None:
        """Block until ``n`` workers are connected."""
        from distributed import Client

        with Client(self.address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=timeout)

    def worker_names(self) -> dict[str, str]:
        """Worker address -> the name it was started with here."""
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            info = client.scheduler_info(n_workers=-1)["workers"]
        return {addr: str(w["name"]) for addr, w in info.items()}

    def processing(self) -> dict[str, list]:
        """Worker address -> keys of the tasks it is running."""
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            return {k: list(v) for k, v in client.processing().items()}

    def log(self, name: str) -> str:
        """The tail of a process's log."""
        try:
            return (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Kill every process (and its children) started here."""
        for proc in self.workers.values():
            _kill_group(proc)
        if self.scheduler is not None:
            _kill_group(self.scheduler)


# --- PostgreSQL ---------------------------------------------------------------------------------


def postgres_bindir() -> str | None:
    """Debian's PostgreSQL server binaries (``/usr/lib/postgresql/<major>/bin``), newest first."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.isfile(os.path.join(folder, "initdb")) and os.path.isfile(
            os.path.join(folder, "pg_ctl")
        ):
            return folder
    return None


#: The unprivileged account that owns the test cluster when the tests run as root (PostgreSQL
#: refuses to run as root).
PG_USER = "autograder-pg"


def _ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


class Postgres:
    """A throw-away PostgreSQL cluster in a new temporary folder, on a unix socket there and on
    127.0.0.1.

    Run as root, the cluster belongs to :data:`PG_USER` (created if missing: PostgreSQL refuses
    to run as root), and its folder is a fresh ``/tmp/autograder-pg-*`` that account owns;
    otherwise everything belongs to the current user. Clients connect as the cluster's
    superuser ``postgres`` with ``trust`` authentication (local only).
    """

    def __init__(self, bindir: str) -> None:
        import tempfile

        self.folder = Path(tempfile.mkdtemp(prefix="autograder-pg-"))
        self.bindir = bindir
        self.data = self.folder / "data"
        self.sock = self.folder / "sock"
        self.port = 0
        self.as_root = os.geteuid() == 0
        self.user = PG_USER if self.as_root else pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, args: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
        cmd = [os.path.join(self.bindir, args[0]), *args[1:]]
        if self.as_root:
            pw = pwd.getpwnam(self.user)

            def demote() -> None:
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)

            kw["preexec_fn"] = demote
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        kw.setdefault("cwd", self.folder)
        return subprocess.run(cmd, check=check, capture_output=True, text=True, env=env, **kw)

    def init(self) -> None:
        """``initdb`` a fresh cluster and pick a free port."""
        import socket

        if self.as_root:
            pw = _ensure_user(self.user)
        self.sock.mkdir(exist_ok=True)
        if self.as_root:
            for path in (self.folder, self.sock):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        self._run(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"])
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    def start(self, timeout: float = 60) -> None:
        """``pg_ctl start`` and wait until it accepts connections."""
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.sock} -c max_connections=100 -c fsync=off"
        )
        self._run(
            [
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.folder / "server.log"),
                "-o",
                opts,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop`` (``fast``: disconnect clients; ``immediate``: like a crash)."""
        if self.data.exists():
            self._run(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"], check=False)

    def restart(self, down_s: float = 0.0, mode: str = "fast") -> None:
        """Stop, wait ``down_s`` seconds, start again."""
        self.stop(mode)
        time.sleep(down_s)
        self.start()

    def createdb(self, name: str) -> None:
        """A new database."""
        self._run(["createdb", "-h", str(self.sock), "-p", str(self.port), "-U", "postgres", name])

    def url(self, db: str) -> str:
        """SQLAlchemy URL (psycopg 3) over TCP on 127.0.0.1."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def log(self) -> str:
        """The server log's tail."""
        try:
            return (self.folder / "server.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def destroy(self) -> None:
        """Stop the server immediately and delete the cluster."""
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
