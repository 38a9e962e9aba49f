"""Grading integrity at the edges: each attack class of issue 13, in ONE batch, as root and not.

A small assignment made for this test has one function per attack surface. Every hostile
submission starts from WRONG implementations, so that only a working attack could earn a point;
honest controls in the same batch must keep exactly their marks. The same batch is graded by the
command line twice: as the user running the tests (root in CI) and, when that is root, as an
unprivileged user created for the test, so the guarantees hold without root too.
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.checks import DEFAULT_SEED

REPO = Path(__file__).resolve().parents[1]
A = "99-integrity"
ROOT = os.geteuid() == 0
SECRET_MARK = "AGSECRET"
DAEMON_MARK = "agtest-daemon-marker"
QUEUE_KEY = 0x41475345
pytestmark = pytest.mark.slow


def _cell(kind: str, src: str, gid: str | None = None, points: float = 0) -> dict:
    meta: dict = {}
    if kind != "plain":
        grade = kind in ("test", "answer", "manual")
        solution = kind in ("solution", "answer", "manual")
        meta = {
            "nbgrader": {
                "schema_version": 3,
                "grade": grade,
                "solution": solution,
                "locked": kind == "test",
                "grade_id": gid,
                **({"points": points} if grade else {}),
            }
        }
    cell_type = "markdown" if kind == "manual" else "code"
    cell = {"cell_type": cell_type, "metadata": meta, "source": src, "id": gid or f"c{id(src)}"}
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


SOLUTIONS = {
    "double": "def double(x):\n    return 2 * np.asarray(x, dtype=float)\n",
    "softmax": (
        "def softmax(z):\n    z = np.asarray(z, dtype=float)\n"
        "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
        "    return e / e.sum(axis=-1, keepdims=True)\n"
    ),
    "normalize": "def normalize(x):\n    return x / x.sum()\n",
    "test_labels": "def test_labels():\n    return np.zeros(10000, dtype=np.uint8)\n",
    "train_count": (
        "import gzip, os\n"
        "def train_count():\n"
        "    path = os.path.join(os.environ['NNLIB_DATA'], 'train-labels-idx1-ubyte.gz')\n"
        "    return len(gzip.open(path).read()) - 8\n"
    ),
    "answer_code": "# a short explanation in code\nprint('see the markdown answer')\n",
}
WRONG = {
    "double": "def double(x):\n    return 0 * np.asarray(x, dtype=float)\n",
    "softmax": "def softmax(z):\n    return np.zeros_like(np.asarray(z, dtype=float))\n",
    "normalize": "def normalize(x):\n    return np.zeros_like(x)\n",
    "test_labels": "def test_labels():\n    return np.zeros(10000, dtype=np.uint8)\n",
    "train_count": "def train_count():\n    return 0\n",
    "answer_code": "# YOUR CODE HERE\n",
}
HIDDEN_INPUTS = "_x = np.random.default_rng(grading_seed()).normal(size=7)\n"


def _source() -> dict:
    def solution(name: str) -> str:
        return f"### BEGIN SOLUTION\n{SOLUTIONS[name]}### END SOLUTION\n"

    cells = [
        _cell(
            "plain",
            "import numpy as np\nfrom autograder.checks import assert_close, grading_seed\n",
        ),
        _cell("solution", solution("double"), "double"),
        _cell(
            "test",
            "assert_close(double(np.arange(3.0)), np.array([0.0, 2.0, 4.0]), name='double')\n",
            "double_public",
            1,
        ),
        _cell(
            "test",
            "### BEGIN HIDDEN TESTS\n" + HIDDEN_INPUTS + "assert_close(double(_x), 2 * _x, "
            "name='double')\n### END HIDDEN TESTS\n",
            "double_hidden",
            1,
        ),
        _cell("solution", solution("softmax"), "softmax"),
        _cell(
            "test",
            "_z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])\n"
            "_e = np.exp(_z - _z.max(axis=1, keepdims=True))\n"
            "assert_close(softmax(_z), _e / _e.sum(axis=1, keepdims=True), name='softmax')\n",
            "softmax_test",
            1,
        ),
        _cell("solution", solution("normalize"), "normalize"),
        _cell(
            "test",
            "_v = np.array([1.0, 2.0, 5.0])\n_before = _v.copy()\n_out = normalize(_v)\n"
            "assert np.array_equal(_v, _before), 'normalize changed its argument'\n"
            "assert_close(_out, _before / _before.sum(), name='normalize')\n",
            "normalize_test",
            1,
        ),
        _cell("solution", solution("test_labels"), "test_labels"),
        _cell(
            "test",
            "from nnlib.data import load_fashion_mnist\n"
            "_, (_xt, _yt) = load_fashion_mnist(download=False)\n"
            "assert np.array_equal(np.asarray(test_labels()), _yt), 'not the test labels'\n",
            "test_labels_test",
            1,
        ),
        _cell("solution", solution("train_count"), "train_count"),
        _cell("test", "assert train_count() == 60000, 'wrong count'\n", "train_count_test", 1),
        _cell("answer", solution("answer_code"), "answer_code", 2),
        _cell("manual", "The gradient of the loss flows back through every layer.", "written", 1),
    ]
    meta = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "autograder": {
            "forbid": ["scipy.special.softmax", "torch"],
            "datasets": ["fashion-mnist-train"],
        },
    }
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": meta, "cells": cells}


def _submission(impl: dict | None = None, extra: list[str] = (), wrong: bool = True) -> dict:
    nb = _source()
    impl = {**(WRONG if wrong else SOLUTIONS), **(impl or {})}
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in impl:
            cell["source"] = impl[gid]
        if gid == "double_hidden":
            cell["source"] = "# hidden tests were here\n"
    nb["cells"].extend(_cell("plain", src) for src in extra)
    return nb


# ---------------------------------------------------------------------------------- attacks ----
READ_SOURCE = r"""
import os, json
for _root, _dirs, _files in os.walk('/'):
    if _root.startswith(('/proc', '/sys', '/usr', '/dev')):
        _dirs[:] = []
        continue
    for _f in _files:
        if not _f.endswith('.ipynb'):
            continue
        try:
            _t = open(os.path.join(_root, _f)).read()
        except Exception:
            continue
        if 'BEGIN SOLUTION' in _t or ('def double' in _t and 'return 2 *' in _t):
            for _c in json.loads(_t)['cells']:
                _s = ''.join(_c['source'])
                if _c['cell_type'] == 'code' and ('BEGIN SOLUTION' in _s or 'return 2 *' in _s):
                    exec(_s, globals())
"""
PROC_CMDLINE = rf"""
import os
for _p in os.listdir('/proc'):
    try:
        _c = open(f'/proc/{{_p}}/cmdline', 'rb').read().decode(errors='replace')
    except Exception:
        continue
    if '{SECRET_MARK}' in _c:
        exec(_c.split('{SECRET_MARK}', 1)[1].split('\x00')[0])
"""
SYSV_QUEUE = rf"""
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
_q = _libc.msgget({QUEUE_KEY}, 0)
if _q >= 0:
    _buf = ctypes.create_string_buffer(8 + 4096)
    if _libc.msgrcv(_q, _buf, 4096, 0, 0o4000) > 0:
        exec(_buf.raw[8:].split(b'\0')[0].decode())
"""
SHM_LEFTOVER = r"""
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
for _i in range(4):
    _id = _libc.shmget(0, 64 * 1024 * 1024, 0o1000 | 0o600)
    if _id >= 0:
        _addr = _libc.shmat(_id, None, 0)
        ctypes.memset(_addr, 1, 64 * 1024 * 1024)
"""
MEMORY_FANOUT = r"""
import os, time
_pids = []
for _i in range(4):
    _pid = os.fork()
    if _pid == 0:
        _b = bytearray(400 * 1024 * 1024)
        for _j in range(0, len(_b), 4096):
            _b[_j] = 1
        time.sleep(3)
        os._exit(0)
    _pids.append(_pid)
if all(os.waitpid(_p, 0)[1] == 0 for _p in _pids):
    def double(x):
        return 2 * np.asarray(x, dtype=float)
"""
DAEMON = rf"""
import subprocess, sys
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{DAEMON_MARK}'],
                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""
LEAK_LABELS = r"""
import gzip, os
def test_labels():
    for _d in [os.environ.get('NNLIB_DATA', ''), '/usr/share/datasets/fashion-mnist',
               os.path.expanduser('~/.cache/nnlib'), '/data/fashion-mnist']:
        _f = os.path.join(_d, 't10k-labels-idx1-ubyte.gz')
        if os.path.exists(_f):
            return np.frombuffer(gzip.open(_f).read()[8:], dtype=np.uint8)
    return np.zeros(10000, dtype=np.uint8)
"""
FORBIDDEN = {
    "forbidden_getattr": "import scipy.special as _sp\nsoftmax = getattr(_sp, 'so' + 'ftmax')\n",
    "forbidden_vars": "import scipy.special as _sp\nsoftmax = vars(_sp)['soft' + 'max']\n",
    "forbidden_importlib": (
        "import importlib\n_m = importlib.import_module('scipy.' + 'special')\n"
        "softmax = _m.__dict__['softmax']\n"
    ),
    "forbidden_private": "from scipy.special import _logsumexp\nsoftmax = _logsumexp.softmax\n",
    "forbidden_module": (
        "_t = __import__('tor' + 'ch')\n"
        "def softmax(z):\n    return _t.softmax(_t.tensor(z), -1).numpy()\n"
    ),
}


def _lookup_table() -> str:
    """A submission that memorised what the hidden test asked before (fixed-seed inputs)."""
    hidden = np.random.default_rng(DEFAULT_SEED).normal(size=7)
    table = {tuple(np.round(v, 9).tolist()): (2 * v).tolist() for v in [np.arange(3.0), hidden]}
    return (
        f"_T = {table!r}\n"
        "def double(x):\n    x = np.asarray(x, dtype=float)\n"
        "    return np.asarray(_T.get(tuple(np.round(x, 9).tolist()), 0 * x))\n"
    )


def _taint_chain(n: int = 9000) -> str:
    """~180 KB of assignments through which taint flows backwards: quadratic in the old check."""
    lines = [f"_a{i} = _a{i + 1}" for i in range(n)]
    return "\n".join([*lines, f"_a{n} = __import__('scipy.special').special.softmax"]) + "\n"


def _batch(root: Path, source_nb: Path) -> dict[str, dict]:
    """Write the submissions; return student -> what must hold for it."""
    subs = root / "submitted"
    cases: dict[str, dict] = {}

    def put(student: str, nb: dict | None, score: float, **expect) -> None:
        folder = subs / student / A
        folder.mkdir(parents=True)
        if nb is not None:
            (folder / f"{A}.ipynb").write_text(json.dumps(nb))
        cases[student] = {"score": score, **expect}

    honest = _submission(wrong=False)
    for i in range(3):  # honest controls: everything but the leak-only point
        put(f"honest_{i}", honest, 5.0)
    put("blank", _submission(), 0.0)
    put("read_source_and_peers", _submission(extra=[READ_SOURCE]), 0.0)
    put("proc_cmdline", _submission(extra=[PROC_CMDLINE]), 0.0)
    put("sysv_queue", _submission(extra=[SYSV_QUEUE]), 0.0)
    put("shm_leftover", _submission(extra=[SHM_LEFTOVER]), 0.0)
    put("memory_fanout", _submission(extra=[MEMORY_FANOUT]), 0.0)
    put("daemon", _submission(extra=[DAEMON]), 0.0)
    put("leak_test_labels", _submission({"test_labels": LEAK_LABELS}), 0.0)
    for name, code in FORBIDDEN.items():
        put(name, _submission({"softmax": code}), 0.0, forbidden=name != "forbidden_module")
    put("manual_code_pass", _submission({"answer_code": "pass\n"}), 0.0)
    put(
        "inplace",
        _submission({"normalize": "def normalize(x):\n    x /= x.sum()\n    return x\n"}),
        0.0,
    )
    put("lookup_hidden", _submission({"double": _lookup_table()}), 1.0, hidden_redacted=True)
    put("taint_chain", _submission(extra=[_taint_chain()]), 0.0, bounded=True)
    flood = [
        "print('x' * 5_000_000)",
        *[f"raise ValueError('{i}' + 'e' * 3000)" for i in range(600)],
    ]
    put("flood", _submission(extra=flood), 0.0, bounded=True)
    nonutf8 = (
        "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe<b>\\xed\\xa0\\x80\\n')\n"
        "sys.stdout.flush()\nraise ValueError('bad \\udcff byte <script>alert(1)</script>')\n"
    )
    markup = "print('<img src=x onerror=alert(1)>')\nprint('[x](javascript:alert(1))')\n"
    put("nonutf8_markup", _submission(extra=[nonutf8, markup]), 0.0)
    folder = subs / "symlink" / A
    folder.mkdir(parents=True)
    os.symlink(source_nb, folder / f"{A}.ipynb")
    cases["symlink"] = {"score": 0.0}
    # an id too long for a file name once the grader adds its suffixes: refused for that student
    put("x" * 200, _submission(wrong=False), 0.0, refused=True)
    return cases


# ----------------------------------------------------------------------------- host fixtures ----
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


class _MsgBuf(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("mtext", ctypes.c_char * 4096)]


def _host_secrets():
    """A host process whose command line holds a correct `double`, and a SysV queue with one."""
    code = SOLUTIONS["double"]
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", SECRET_MARK + code],
        start_new_session=True,
    )
    libc = _libc()
    queue = libc.msgget(QUEUE_KEY, 0o1000 | 0o666)
    msg = _MsgBuf(1, code.encode())
    for _ in range(8):
        libc.msgsnd(queue, ctypes.byref(msg), len(code) + 1, 0o4000)
    return proc, queue


def _shm_segments() -> set[str]:
    with open("/proc/sysvipc/shm") as fh:
        return {line.split()[1] for line in fh.readlines()[1:]}


def _daemons() -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        try:
            if DAEMON_MARK.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(int(pid))
        except OSError:
            continue
    return out


@pytest.fixture(scope="module")
def unprivileged_user():
    """A normal user to grade as (only when the tests run as root), with the Python reachable."""
    if not ROOT:
        pytest.skip("the tests already run as a normal user (test_batch_as_this_user covers it)")
    name = "agtest-grader"
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
    user = pwd.getpwnam(name)
    # the interpreter may live below a 0700 home (pyenv in /root): let the user traverse, not list
    changed = []
    for path in {os.path.realpath(sys.executable), os.path.realpath(sys.prefix), str(REPO)}:
        parts = Path(path).parts
        for i in range(2, len(parts) + 1):
            p = Path(*parts[:i])
            mode = p.stat().st_mode
            if p.is_dir() and not mode & stat.S_IXOTH:
                os.chmod(p, mode | stat.S_IXOTH)
                changed.append((p, mode))
    yield user
    for p, mode in reversed(changed):
        os.chmod(p, stat.S_IMODE(mode))


def _make_course(owner: int | None) -> tuple[Path, dict[str, dict]]:
    root = Path(tempfile.mkdtemp(prefix="ag-integrity-"))
    (root / "source" / A).mkdir(parents=True)
    source_nb = root / "source" / A / f"{A}.ipynb"
    source_nb.write_text(json.dumps(_source()))
    (root / "nbgrader_config.py").write_text(
        textwrap.dedent(
            f"""
            import os
            c = get_config()
            c.CourseDirectory.course_id = "integrity"
            c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
            c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gb.db")
            c.Autograder.timeout = 60
            c.Autograder.cell_timeout = 20
            c.Autograder.memory_mb = 1024
            c.Autograder.uid_base = {64000 if owner is None else 64300}
            """
        )
    )
    cases = _batch(root, source_nb)
    if owner is not None:
        os.chmod(root, 0o700)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames]:
                os.chown(os.path.join(dirpath, name), owner, owner, follow_symlinks=False)
        os.chown(root, owner, owner)
    return root, cases


def _cli(
    root: Path, *args: str, user: pwd.struct_passwd | None = None
) -> subprocess.CompletedProcess:
    boot = f"import sys; sys.path.insert(0, {str(REPO)!r}); from autograder.cli import main; "
    boot += "sys.exit(main(sys.argv[1:]))"
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(root)}
    kw = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
    return subprocess.run(
        [sys.executable, "-I", "-c", boot, "--course-dir", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=1200,
        **kw,
    )


def _grade_and_check(user: pwd.struct_passwd | None) -> None:
    root, cases = _make_course(user.pw_uid if user else None)
    shm_before = _shm_segments()
    host_proc, queue = _host_secrets()
    try:
        start = time.monotonic()
        run = _cli(root, "grade", A, "--workers", "2", "--quiet", user=user)
        took = time.monotonic() - start
        assert run.returncode == 0, f"grade failed:\n{run.stdout}\n{run.stderr[-3000:]}"
        results = {}
        for student in [s for s, c in cases.items() if c.get("refused")]:
            assert "REFUSED" in run.stdout + run.stderr and student[:20] in run.stdout + run.stderr
            cases.pop(student)
        for student in cases:
            path = root / ".autograder" / A / "results" / f"{student}.json"
            assert path.is_file(), f"{student} was not graded (lost submission)\n{run.stdout}"
            results[student] = json.loads(path.read_text())
        for student, case in cases.items():
            res = results[student]
            tests = {t["grade_id"]: t for nb in res["notebooks"] for t in nb["tests"]}
            assert res["score"] == case["score"], (
                f"{student}: scored {res['score']}, expected {case['score']}: "
                + "; ".join(f"{k}: {t['status']} {t['message'][:150]}" for k, t in tests.items())
            )
            assert tests["answer_code"]["points"] is None, f"{student}: code answer auto-graded"
            if case.get("forbidden"):
                assert tests["softmax_test"]["status"] == "forbidden-import", (student, tests)
            if case.get("hidden_redacted"):
                msg = tests["double_hidden"]["message"]
                assert not re.search(r"\d\.\d", msg) and "got " not in msg, msg
            if case.get("bounded"):
                size = (root / ".autograder" / A / "results" / f"{student}.json").stat().st_size
                assert size <= 1024 * 1024, f"{student}: result of {size} bytes"
                assert res["status"] not in ("timeout", "crashed"), (student, res["messages"])
        iso = results["honest_0"]["notebooks"][0]["isolation"]
        assert "bubblewrap" in iso["mode"] and "private /tmp" in iso["filesystem"], iso
        # the class's feedback and report still work, whatever one submission printed
        for cmd in (["feedback", A], ["report", A]):
            out = _cli(root, *cmd, user=user)
            assert out.returncode == 0, f"{cmd} failed:\n{out.stdout}\n{out.stderr[-2000:]}"
        page = (root / "autograder-feedback" / "nonutf8_markup" / A / "feedback.html").read_text()
        assert "<img" not in page and "<script" not in page and "javascript:" not in page
        report = (root / ".autograder" / A / "report" / "report.md").read_text()
        assert "<img" not in report and "](javascript:" not in report
        # nothing was left behind on the host
        assert _daemons() == [], "a sandbox process outlived its run"
        assert _shm_segments() - shm_before == set(), "a sandbox left SysV shared memory"
        print(
            f"graded {len(cases)} submissions in {took:.1f} s as {user.pw_name if user else 'me'}"
        )
    finally:
        os.killpg(host_proc.pid, signal.SIGKILL)
        host_proc.wait()
        _libc().msgctl(queue, 0, None)  # IPC_RMID
        for pid in _daemons():
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


def test_batch_as_this_user():
    """The batch graded as whoever runs the tests (root in CI: privileged bwrap + sandbox uid)."""
    _grade_and_check(None)


def test_batch_as_unprivileged_user(unprivileged_user):
    """The same batch graded by a normal user: bwrap in a user namespace, same guarantees."""
    _grade_and_check(unprivileged_user)
