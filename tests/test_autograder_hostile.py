"""Hostile submissions graded in ONE batch with honest ones.

Each hostile notebook starts from the source notebook with WRONG implementations (every test
fails on its own) plus an attack, so the only way to earn a point is for the attack to work: each
must score what the blank release scores (0), while the honest submissions in the same batch get
exactly their marks, every submission is accounted for (results, gradebook, CSV), and the machine
is left as it was (no stray processes, no files written outside the grader's temp dirs).
"""

from __future__ import annotations

import csv
import json
import os
import socket
import threading
from pathlib import Path

import psutil
import pytest

from autograder.grade import GradeOptions, grade_assignment
from autograder.gradebook import export_csv
from autograder.isolation import UID_RANGE

A = "01-forward-pass"
REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "exercises" / "source" / A / f"{A}.ipynb"
ROOT = os.geteuid() == 0
UID_BASE = 63000  # a range of sandbox uids only this test uses (other graders may run alongside)

WRONG = {
    "sigmoid": "def sigmoid(z):\n    return np.zeros_like(np.asarray(z, dtype=float))\n",
    "softmax": "def softmax(z):\n    return np.zeros_like(np.asarray(z, dtype=float))\n",
    "dense_forward": "def dense_forward(X, W, b, activation):\n    return np.zeros((len(X), len(b)))\n",
    "two_layer_forward": (
        "def two_layer_forward(X, W1, b1, W2, b2):\n    return np.zeros((len(X), len(b2)))\n"
    ),
}
NAIVE_SIGMOID = "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))\n"

# Code that, IF it got hold of the source notebook, would define the correct functions.
PWN = """
import json as _json
def _pwn(text):
    if "BEGIN SOLUTION" not in text:
        return False
    for _c in _json.loads(text)["cells"]:
        _s = "".join(_c["source"])
        if "BEGIN SOLUTION" in _s and _c["cell_type"] == "code":
            exec(_s, globals())
    return True
"""


def _source() -> dict:
    return json.loads(SOURCE.read_text())


def _code(src: str, **nbgrader) -> dict:
    meta = {"nbgrader": {"schema_version": 3, **nbgrader}} if nbgrader else {}
    return {
        "cell_type": "code",
        "metadata": meta,
        "outputs": [],
        "execution_count": None,
        "source": src,
    }


def _notebook(impl: dict | None = None, extra: list[str] = (), wrong: bool = True) -> dict:
    """The source notebook with solutions replaced (wrong by default) and attack cells appended."""
    nb = _source()
    impl = {**(WRONG if wrong else {}), **(impl or {})}
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in impl:
            cell["source"] = impl[gid]
    nb["cells"].extend(_code(src) for src in extra)
    return nb


def _write(
    root: Path,
    student: str,
    nb: dict | str | bytes | None,
    name: str = f"{A}.ipynb",
    extra_files: dict | None = None,
) -> None:
    folder = root / student / A
    folder.mkdir(parents=True)
    if nb is not None:
        data = nb if isinstance(nb, str | bytes) else json.dumps(nb)
        (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    for fname, content in (extra_files or {}).items():
        (folder / fname).write_text(content)


def _stray_processes() -> list[psutil.Process]:
    """Our own leftovers: children of this test process, processes of this test's sandbox uids."""
    out = psutil.Process().children(recursive=True)
    for p in psutil.process_iter(["uids"]):
        try:
            if UID_BASE <= p.info["uids"].real < UID_BASE + UID_RANGE:
                out.append(p)
        except (psutil.Error, AttributeError):
            continue
    return out


@pytest.fixture
def listener():
    """A local TCP server; a sandbox that can reach it has network access."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.2)
    hits: list[bytes] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            hits.append(conn.recv(100))
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], hits
    stop.set()
    t.join(2)
    srv.close()


@pytest.mark.slow
def test_hostile_batch(ag_course, ag_runner_path, tmp_path, listener):
    port, hits = listener
    course_root = Path(ag_course.root)
    subs = tmp_path / "submissions"
    marker = tmp_path / "outside-marker"
    gradebook = course_root / "gradebook.db"
    source_nb = Path(ag_course.source_dir(A)) / f"{A}.ipynb"
    released = (Path(ag_course.release_dir(A)) / f"{A}.ipynb").read_text()
    probes = [str(source_nb), str(gradebook), str(SOURCE)]

    cases: dict[str, dict] = {}  # student -> expectations

    def hostile(student, nb, status=None, message=None, **kw):
        _write(subs, student, nb, **kw)
        cases[student] = {"score": 0, "status": status, "message": message}

    # --- honest submissions ------------------------------------------------------------------
    _write(subs, "honest_full", _source())
    cases["honest_full"] = {"score": 18, "status": "ok"}
    _write(subs, "honest_partial", _notebook({"sigmoid": NAIVE_SIGMOID}, wrong=False))
    cases["honest_partial"] = {"score": 14, "status": "ok", "message": "RuntimeWarning"}
    _write(subs, "honest_blank", released)
    cases["honest_blank"] = {"score": 0, "status": "ok", "message": "NotImplementedError"}
    honest_no_tests = _source()
    honest_no_tests["cells"] = [
        c for c in honest_no_tests["cells"] if not c["metadata"].get("nbgrader", {}).get("grade")
    ]
    _write(subs, "honest_tests_deleted", honest_no_tests)
    cases["honest_tests_deleted"] = {"score": 18, "status": "ok"}
    _write(subs, "honest_extra_files", _source(), extra_files={"notes.txt": "hi", "x.py": "1"})
    cases["honest_extra_files"] = {"score": 18, "status": "ok", "message": "extra files ignored"}

    # --- denial of service -------------------------------------------------------------------
    hostile(
        "dos_infinite_loop",
        _notebook(extra=["while True:\n    pass\n"]),
        "timeout",
        "did not finish in time",
    )
    hostile(
        "dos_swallow_interrupt",
        _notebook(
            extra=[
                "import signal\nfor s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):\n"
                "    signal.signal(s, signal.SIG_IGN)\n"
                "while True:\n    try:\n        while True:\n            pass\n"
                "    except BaseException:\n        pass\n"
            ]
        ),
        "timeout",
    )
    hostile(
        "dos_memory_bomb",
        _notebook(
            extra=[
                "hog = []\nwhile True:\n    hog.append(bytearray(50_000_000))\n",
                "big = np.ones((100_000, 100_000))\n",
                "with open('fill', 'wb') as f:\n    while True:\n        f.write(b'x' * 10_000_000)\n",
            ]
        ),
        message=None,
    )
    hostile("dos_fork_bomb", _notebook(extra=["import os\nwhile True:\n    os.fork()\n"]))
    hostile("dos_os_exit", _notebook(extra=["import os\nos._exit(0)\n"]), "crashed", "exit")
    hostile("dos_sys_exit", _notebook(extra=["import sys\nsys.exit(3)\n"]))
    hostile(
        "dos_kill_self",
        _notebook(
            extra=[
                "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
                "import os, signal\nos.killpg(0, signal.SIGKILL)\n",
            ]
        ),
        "crashed",
    )
    hostile(
        "dos_print_100mb",
        _notebook(
            extra=[
                "print('x' * 100_000_000)\n",
                "import os\nfor _ in range(100):\n    os.write(1, b'y' * 1_000_000)\n",
            ]
        ),
    )

    # --- forging the verdict -------------------------------------------------------------------
    hostile(
        "forge_input_transformer",
        _notebook(
            extra=[
                "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n",
                "from IPython import get_ipython as g\n"
                "g().input_transformers_post.append(lambda lines: ['pass\\n'])\n",
            ]
        ),
    )
    hostile(
        "forge_patch_numpy",
        _notebook(
            extra=[
                "import builtins, numpy, numpy.testing\n"
                "numpy.testing.assert_allclose = lambda *a, **k: None\n"
                "numpy.allclose = lambda *a, **k: True\n"
                "numpy.isclose = lambda a, b, **k: numpy.ones(numpy.shape(a), bool)\n"
                "import autograder.checks as ch\n"
                "ch.assert_close = ch.assert_shape = ch.assert_dtype = lambda *a, **k: None\n"
                "builtins.AssertionError = type('Nope', (Exception,), {})\n"
                "builtins.isinstance = lambda *a: True\n"
            ]
        ),
    )
    always = (
        "class Always:\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return False\n"
        "    def __bool__(self): return True\n"
        "    def __getitem__(self, i): return self\n"
        "    def __len__(self): return 3\n"
        "    def sum(self, *a, **k): return self\n"
        "    def __gt__(self, o): return True\n"
        "    __lt__ = __ge__ = __le__ = __gt__\n"
        "    shape = (2, 3)\n"
        "    dtype = np.dtype(float)\n"
    )
    hostile(
        "forge_eq_always_true",
        _notebook(
            {
                "sigmoid": always + "def sigmoid(z):\n    return Always()\n",
                "softmax": "def softmax(z):\n    return Always()\n",
                "dense_forward": "def dense_forward(X, W, b, activation):\n    return Always()\n",
                "two_layer_forward": "def two_layer_forward(X, W1, b1, W2, b2):\n    return Always()\n",
            }
        ),
    )
    fake = (
        "class Fake(np.ndarray):\n"
        "    def __eq__(self, o): return np.ones(self.shape, bool)\n"
        "    def __array_ufunc__(self, *a, **k): return np.ones(1, bool)\n"
        "    def __array_function__(self, *a, **k): return True\n"
        "def _fake(shape):\n"
        "    return np.zeros(shape).view(Fake)\n"
    )
    hostile(
        "forge_ndarray_subclass",
        _notebook(
            {
                "sigmoid": fake + "def sigmoid(z):\n    return _fake(np.shape(z))\n",
                "softmax": "def softmax(z):\n    return _fake(np.shape(z))\n",
                "dense_forward": "def dense_forward(X, W, b, activation):\n    return _fake((len(X), len(b)))\n",
                "two_layer_forward": "def two_layer_forward(X, W1, b1, W2, b2):\n"
                "    return _fake((len(X), len(b2)))\n",
            }
        ),
    )
    hostile(
        "forge_shadow_builtins",
        _notebook(
            extra=[
                "def len(x):\n    return 3\n",
                "def print(*a, **k):\n    return None\n",
                "assert_close = assert_shape = assert_dtype = assert_no_warnings = lambda *a, **k: None\n",
                "np = None\n",
            ]
        ),
    )
    tampered = _notebook()
    for cell in tampered["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade") and cell["cell_type"] == "code":
            cell["source"] = "pass\n"
            meta["points"] = 100
    tampered["cells"].append(
        _code(
            "pass\n", grade=True, solution=False, locked=True, grade_id="sigmoid_public", points=50
        )
    )
    tampered["cells"].append(
        _code("pass\n", grade=True, solution=False, locked=True, grade_id="bonus_points", points=50)
    )
    hostile("forge_tampered_tests", tampered)
    dup = _notebook()
    first_test = next(c for c in dup["cells"] if c["metadata"].get("nbgrader", {}).get("grade"))
    first_test["metadata"]["nbgrader"]["grade_id"] = "renamed_test"
    dup["cells"].extend([json.loads(json.dumps(first_test))] * 3)
    hostile("forge_duplicated_renamed", dup)

    # --- escaping the sandbox -------------------------------------------------------------------
    # Without root the student's code runs as the grader's user and can read what it can read
    # (see autograder/README.md); the file-system attacks are only a fair test as root.
    if ROOT:
        hostile(
            "escape_read_secrets",
            _notebook(
                extra=[
                    PWN
                    + (
                        "import os\n"
                        f"for _p in {probes!r}:\n"
                        "    try:\n        _pwn(open(_p).read())\n    except Exception as e:\n        print(e)\n"
                        f"for _top in ['/tmp', {str(course_root)!r}, {str(subs)!r}, {str(REPO / 'exercises')!r}]:\n"
                        "    for _d, _, _fs in os.walk(_top):\n"
                        "        for _f in _fs:\n"
                        "            if _f.endswith(('.ipynb', '.db', '.json')):\n"
                        "                try:\n                    _pwn(open(os.path.join(_d, _f)).read())\n"
                        "                except Exception:\n                    pass\n"
                    )
                ]
            ),
        )
        hostile(
            "escape_write_files",
            _notebook(
                extra=[
                    f"for _p in [{str(gradebook)!r}]:\n"
                    "    try:\n        open(_p, 'r+b').write(b'garbage' * 1000)\n"
                    "    except Exception as e:\n        print('gradebook', e)\n",
                    f"for _p in [{str(subs / 'honest_full' / A / 'pwned.txt')!r}, "
                    f"{str(course_root / 'pwned.txt')!r}, {str(marker)!r}, '/tmp/autograder-pwned']:\n"
                    "    try:\n        open(_p, 'w').write('pwned')\n"
                    "    except Exception as e:\n        print(_p, e)\n",
                ]
            ),
        )
    hostile(
        "escape_network",
        _notebook(
            extra=[
                "import socket\n"
                f"s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                "s.sendall(b'PWNED')\n"
            ]
        ),
    )
    hostile(
        "escape_privileges",
        _notebook(
            extra=[
                "import os\nos.setuid(0)\n",
                "import subprocess\nsubprocess.run(['su', '-c', 'id'])\n",
                "import os\nos.chmod('/etc/passwd', 0o777)\n",
            ]
        ),
    )
    hostile(
        "forbidden_nnlib",
        _notebook(
            {
                "sigmoid": "from nnlib.activations import sigmoid\n",
                "softmax": "def softmax(z):\n    import nnlib.activations as a\n    return a.softmax(z)\n",
                "dense_forward": "def dense_forward(X, W, b, activation):\n"
                "    m = __import__('nn' + 'lib.layers', fromlist=['x'])\n"
                "    return activation(m.dense_forward(X, W, b)[0])\n",
                "two_layer_forward": "def two_layer_forward(X, W1, b1, W2, b2):\n"
                f"    ns = {{}}\n    exec(open({str(REPO / 'nnlib' / 'activations.py')!r})"
                ".read(), ns)\n"
                "    return ns['softmax'](X @ W1)\n",
            }
        ),
        "forbidden-import",
        "forbidden",
    )

    # --- corrupt input ---------------------------------------------------------------------------
    hostile("corrupt_invalid_json", '{"cells": [', "invalid-notebook", "not valid JSON")
    hostile(
        "corrupt_nbformat3",
        json.dumps(
            {"nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": []}], "metadata": {}}
        ),
        "invalid-notebook",
        "nbformat 3",
    )
    hostile("corrupt_empty_file", b"", "invalid-notebook", "empty")
    hostile("corrupt_binary", os.urandom(2000), "invalid-notebook")
    hostile("corrupt_renamed", _source(), "missing-notebook", "renamed", name="my-solution.ipynb")
    hostile("corrupt_missing", None, "missing-notebook", "missing")

    scratch = tmp_path / "grader-tmp"
    scratch.mkdir()
    ag_course.settings["uid_base"] = UID_BASE
    opts = GradeOptions(
        workers=2,
        timeout=25,
        cell_timeout=3,
        progress=False,
        runner_path=ag_runner_path,
        tmp_dir=str(scratch),
    )
    summary = grade_assignment(ag_course, A, str(subs), opts)

    # every submission is accounted for, with the expected score, status and a clear message
    assert sorted(summary.results) == sorted(cases)
    problems = []
    for student, want in cases.items():
        res = summary.results[student]
        msgs = " | ".join(
            [
                *res["messages"],
                *[t["message"] for nb in res["notebooks"] for t in nb["tests"]],
                *[c["error"] for nb in res["notebooks"] for c in nb.get("cells", [])],
            ]
        )
        if res["score"] != want["score"]:
            problems.append(f"{student}: score {res['score']} != {want['score']} ({msgs[:300]})")
        if want.get("status") and res["status"] != want["status"]:
            problems.append(f"{student}: status {res['status']} != {want['status']}")
        if want.get("message") and want["message"] not in msgs:
            problems.append(f"{student}: no {want['message']!r} in {msgs[:300]!r}")
    assert not problems, "\n".join(problems)

    # the gradebook and the CSV have every student with the same scores
    csv_path = tmp_path / "scores.csv"
    export_csv(ag_course, str(csv_path))
    rows = {r["student_id"]: r for r in csv.DictReader(csv_path.open()) if r["assignment"] == A}
    assert {s: float(rows[s]["score"]) for s in cases} == {s: c["score"] for s, c in cases.items()}

    # the attacks left no trace: no connection, no files, no processes
    assert hits == [], f"a sandbox reached the network: {hits}"
    assert not marker.exists() and not (course_root / "pwned.txt").exists()
    assert not (subs / "honest_full" / A / "pwned.txt").exists()
    assert not os.path.exists("/tmp/autograder-pwned")
    assert list(scratch.iterdir()) == [], "the grader left temp files behind"
    assert _stray_processes() == [], "stray processes"
    iso = summary.isolation
    assert "isolated" in iso["network"]
    if ROOT:
        assert iso["user"].startswith("uid 63") and "private /tmp" in iso["filesystem"]
    out = summary.results["dos_print_100mb"]["notebooks"][0]
    assert out["output_bytes"] >= 100_000_000 and len(out["output_head"]) <= 64 * 1024
