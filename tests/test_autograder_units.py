"""Unit tests of the autograder's building blocks: codec, checks, static forbid check, notebooks."""

from __future__ import annotations

import base64
import io
import json
import os

import numpy as np
import pytest

from autograder import codec
from autograder.checks import assert_close, assert_dtype, assert_no_warnings, assert_shape
from autograder.forbid import module_locations, tainted_names
from autograder.frames import MAX_FRAME_BYTES, FrameReader, ProtocolError, write_frame
from autograder.journal import Journal
from autograder.names import free_names
from autograder.notebook import (
    InvalidNotebook,
    NotebookSpec,
    load_notebook_json,
    load_source,
    student_cells,
)
from autograder.progress import format_seconds


# ------------------------------------------------------------------------------------ codec ----
@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        -2.5,
        float("inf"),
        1 + 2j,
        "text",
        (1, "a"),
        [1, [2, 3]],
        {1: "x", "y": (2,)},
        np.arange(6.0).reshape(2, 3),
        np.array([True, False]),
        np.float32(1.5),
        np.int64(7),
    ],
)
def test_codec_round_trip(value):
    back = codec.decode(json.loads(json.dumps(codec.encode(value))))
    if isinstance(value, np.ndarray):
        assert type(back) is np.ndarray and back.dtype == value.dtype
        np.testing.assert_array_equal(back, value)
    else:
        assert back == value and type(back) is type(value)


def test_codec_turns_ndarray_subclasses_into_plain_arrays():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return np.ones(self.shape, bool)

    fake = np.zeros(3).view(Liar)
    back = codec.decode(codec.encode(fake))
    assert type(back) is np.ndarray and not (back == 1).any()


def test_codec_sends_objects_only_as_handles():
    class Always:
        def __eq__(self, other):
            return True

    with pytest.raises(codec.NotData):
        codec.encode(Always())
    table: list = []
    enc = codec.encode([1, Always()], handles=lambda o: table.append(o) or len(table))
    assert enc == [1, {"$h": 1}]
    with pytest.raises(ProtocolError, match="unknown tag"):
        codec.decode(enc)  # the trusted side only accepts handles when it asks for them


def _npy(arr: np.ndarray, allow_pickle: bool = False) -> str:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize(
    "payload, match",
    [
        ({"$a": _npy(np.array([object()]), allow_pickle=True)}, "invalid array"),
        ({"$a": _npy(np.array(["a", "b"]))}, "not numeric"),
        ({"$a": _npy(np.zeros(2, dtype=[("x", "f8")]))}, "not numeric"),
        ({"$a": "not base64!"}, "invalid array"),
        ({"$d": [[[1], 2]]}, "not hashable"),
        ({"__reduce__": 1}, "unknown tag"),
        ({"$t": [1], "$d": []}, "unexpected JSON"),
        ({"$c": ["1", 2]}, "numbers"),
    ],
)
def test_codec_rejects_anything_but_data(payload, match):
    with pytest.raises(ProtocolError, match=match):
        codec.decode(payload)


def test_codec_limits_depth():
    deep: object = 1
    for _ in range(codec.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ProtocolError, match="deeply"):
        codec.decode(deep)


def test_frames_reject_oversized_and_garbage():
    r, w = os.pipe()
    try:
        write_frame(w, {"ok": True})
        assert FrameReader(r).read(deadline=None) == {"ok": True}
        os.write(w, (MAX_FRAME_BYTES + 1).to_bytes(4, "big"))
        with pytest.raises(ProtocolError, match="exceeds"):
            FrameReader(r).read()
        os.write(w, (3).to_bytes(4, "big") + b"{{{")
        with pytest.raises(ProtocolError, match="JSON"):
            FrameReader(r).read()
    finally:
        os.close(r)
        os.close(w)


def test_frames_time_out():
    import time

    r, w = os.pipe()
    try:
        with pytest.raises(TimeoutError):
            FrameReader(r).read(deadline=time.monotonic() + 0.05)
    finally:
        os.close(r)
        os.close(w)


# ----------------------------------------------------------------------------------- checks ----
def test_assert_close_message_has_index_values_and_tolerance():
    with pytest.raises(AssertionError) as err:
        assert_close(np.array([[1.0, 2.0], [3.0, 5.0]]), [[1, 2], [3, 4]], rtol=1e-6, name="out")
    msg = str(err.value)
    assert "1 of 4 values differ" in msg and "(1, 1)" in msg and "got 5" in msg
    assert "expected 4" in msg and "1e-06" in msg


def test_assert_close_shape_mismatch_and_nan():
    with pytest.raises(AssertionError, match=r"shape \(3,\), expected \(2,\)"):
        assert_close(np.zeros(3), np.zeros(2))
    with pytest.raises(AssertionError, match="got nan"):
        assert_close(np.array([np.nan]), [1.0])
    assert_close(np.array([np.nan, 1.0]), [np.nan, 1.0])


def test_checks_refuse_lookalikes():
    class Always:
        def __eq__(self, other):
            return True

        def __array__(self, dtype=None, copy=None):
            return np.array([Always()], dtype=object)

    for bad in (Always(), [Always()], "text", {"a": 1}):
        with pytest.raises(AssertionError, match="numbers|numeric"):
            assert_close(bad, [1.0])
    with pytest.raises(AssertionError):
        assert_shape(Always(), (1,))


def test_assert_shape_and_dtype():
    assert_shape(np.zeros((2, 3)), (2, None))
    with pytest.raises(AssertionError, match=r"\(2, 3\), expected \(3, 2\)"):
        assert_shape(np.zeros((2, 3)), (3, 2), name="x")
    assert_dtype(np.zeros(2), "f")
    assert_dtype(np.zeros(2), np.float64)
    with pytest.raises(AssertionError, match="int64, expected a floating point"):
        assert_dtype(np.zeros(2, dtype=np.int64), "f")


def test_assert_no_warnings_catches_overflow():
    with pytest.raises(AssertionError, match="overflow"):
        assert_no_warnings(lambda z: 1 / (1 + np.exp(-z)), np.array([-1000.0]), name="sigmoid")
    assert assert_no_warnings(np.tanh, 0.0) == 0.0


# ------------------------------------------------------------------------------ static forbid ----
FORBID = ["nnlib", "scipy.special.softmax", "torch.nn.functional.softmax"]


@pytest.mark.parametrize(
    "code",
    [
        "import nnlib\ndef softmax(z):\n    return nnlib.activations.softmax(z)\n",
        "from nnlib.activations import softmax\n",
        "def softmax(z):\n    from nnlib import activations as a\n    return a.softmax(z)\n",
        "import scipy.special as sp\ndef softmax(z):\n    return sp.softmax(z)\n",
        "from scipy import special\ndef softmax(z):\n    return special.softmax(z)\n",
        "import torch.nn.functional as F\ndef softmax(z):\n    return F.softmax(z)\n",
        "import importlib\ndef softmax(z):\n    return importlib.import_module('nnlib').x\n",
        "def softmax(z):\n    return __import__('nnlib').activations.softmax(z)\n",
        "import scipy\ndef softmax(z):\n    return getattr(scipy.special, 'softmax')(z)\n",
    ],
)
def test_forbidden_references_taint_the_function(code):
    tainted, violations, complete = tainted_names([("softmax", code)], FORBID)
    assert "softmax" in tainted and violations, (tainted, violations)


def test_taint_spreads_through_helpers_but_not_to_clean_code():
    cells = [
        (
            "helpers",
            "from nnlib.activations import softmax as _s\ndef helper(z):\n    return _s(z)\n",
        ),
        ("softmax", "def softmax(z):\n    return helper(z)\n"),
        ("sigmoid", "import scipy\ndef sigmoid(z):\n    return scipy.special.expit(z)\n"),
    ]
    tainted, _, _ = tainted_names(cells, FORBID)
    assert {"_s", "helper", "softmax"} <= set(tainted)
    assert "sigmoid" not in tainted and "scipy" not in tainted
    assert "nnlib" in tainted["softmax"]


def test_free_names_and_module_locations():
    assert free_names("x = sigmoid(z)\nprint(len(x))") == {"sigmoid", "x", "z"}
    modules, paths = module_locations(["nnlib", "scipy.special.softmax", "no_such_module"])
    assert modules == ["nnlib"] and any(p.endswith("nnlib") for p in paths)


# --------------------------------------------------------------------------------- notebooks ----
@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "empty file"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"nbformat": 3, "worksheets": []}).encode(), "nbformat 3"),
        (json.dumps({"nbformat": 4, "cells": {}}).encode(), "not a list"),
        (json.dumps({"nbformat": 4, "cells": [{"cell_type": "x"}]}).encode(), "cell 0"),
        (
            json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": 3}]}).encode(),
            "source",
        ),
    ],
)
def test_invalid_notebooks_have_clear_messages(tmp_path, content, match):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(content)
    with pytest.raises(InvalidNotebook, match=match):
        load_notebook_json(str(path))


@pytest.mark.parametrize(
    "block, match",
    [
        ({"provide": ["nnlib"], "forbid": ["nnlib"]}, "both provided and forbidden"),
        ({"datasets": ["imagenet"]}, "unknown dataset"),
    ],
)
def test_source_metadata_that_cannot_work_is_refused(tmp_path, block, match):
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "metadata": {"autograder": block}, "cells": []}))
    with pytest.raises(InvalidNotebook, match=match):
        load_source(str(path))


def test_provided_packages_and_datasets_reach_the_sandbox_config(tmp_path):
    from autograder.jobs import provided

    path = tmp_path / "a.ipynb"
    block = {"provide": ["nnlib"], "datasets": ["fashion-mnist"]}
    path.write_text(json.dumps({"nbformat": 4, "metadata": {"autograder": block}, "cells": []}))
    got = provided(load_source(str(path)))
    import nnlib
    from nnlib.data import locate_fashion_mnist

    assert os.path.dirname(nnlib.__file__) in got["paths"], got
    assert got["env"] == {"NNLIB_DATA": "/data/fashion-mnist"}, got
    host = locate_fashion_mnist()
    assert sorted(got["data"].values()) == sorted(
        os.path.realpath(host / name) for name in os.listdir(host) if name.endswith(".gz")
    ), got


def test_train_only_dataset_never_binds_the_test_split(tmp_path):
    """The test split decides exercise 6's grade: the sandbox must not receive it."""
    from autograder.jobs import provided

    path = tmp_path / "a.ipynb"
    block = {"provide": ["nnlib"], "datasets": ["fashion-mnist-train"]}
    path.write_text(json.dumps({"nbformat": 4, "metadata": {"autograder": block}, "cells": []}))
    got = provided(load_source(str(path)))
    names = sorted(os.path.basename(p) for p in got["data"])
    assert names == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"], got


def test_student_cells_use_source_tests_and_drop_the_submissions():
    from autograder.notebook import SourceCell

    spec = NotebookSpec(
        "nb",
        "nb.ipynb",
        [
            SourceCell(0, "code", "import numpy as np", "instructor", "setup", 0, True),
            SourceCell(1, "code", "def f(): pass", "solution", "f", 0, False),
            SourceCell(2, "code", "assert f() is None", "test", "test_f", 1, True),
            SourceCell(3, "code", "def g(): pass", "solution", "g", 0, False),
        ],
        [],
        [],
    )

    def cell(src, **meta):
        return {"cell_type": "code", "source": src, "metadata": {"nbgrader": meta} if meta else {}}

    sub = {
        "cells": [
            cell("import os  # edited setup", grade_id="setup", locked=True),
            cell("def f(): return 1", grade_id="f", solution=True),
            cell("pass", grade_id="test_f", grade=True, points=100),
            cell("pass", grade_id="bonus", grade=True, points=100),
            cell("def f(): return 2", grade_id="f", solution=True),
            cell("%timeit f()\nx = 1"),
        ]
    }
    cells = student_cells(spec, sub)
    assert [label for label, _ in cells] == ["cell 0", "f", "cell 5"]
    assert cells[0][1] == "import numpy as np"  # locked cell restored from the source
    assert cells[1][1] == "def f(): return 1"  # first copy of a duplicated solution cell
    assert "get_ipython()" in cells[2][1] and "x = 1" in cells[2][1]


# ------------------------------------------------------------------------------ journal etc. ----
def test_journal_survives_a_torn_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    j = Journal(str(path))
    j.append("graded", "alice", score=1)
    j.close()
    with open(path, "a") as fh:
        fh.write('{"event": "graded", "stud')  # crash mid-write
    j = Journal(str(path))
    j.append("stored", "alice")
    j.append("graded", "bob", score=2)
    graded, stored = j.read()
    assert set(graded) == {"alice", "bob"} and stored == {"alice"}


def test_format_seconds():
    assert format_seconds(75.2) == "1:15" and format_seconds(3700) == "1:01:40"


# ---------------------------------------------------------------------------------------- cli ----
def test_cli_help_and_course_dir(tmp_path, monkeypatch, capsys):
    from autograder.cli import build_parser, main
    from autograder.config import find_course_dir

    help_text = build_parser().format_help()
    for cmd in ("release", "grade", "export", "collect", "feedback", "report"):
        assert cmd in help_text
    with pytest.raises(SystemExit):
        main(["grade", "--help"])
    assert "--workers" in capsys.readouterr().out
    monkeypatch.delenv("AUTOGRADER_COURSE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert find_course_dir() == str(tmp_path / "exercises")
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    assert find_course_dir() == str(tmp_path)
    monkeypatch.setenv("AUTOGRADER_COURSE_DIR", "/somewhere")
    assert find_course_dir() == "/somewhere" and find_course_dir("rel") == str(tmp_path / "rel")
    assert main(["--course-dir", str(tmp_path / "missing"), "report", "x"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_cgroup_scope_carries_the_whole_sandbox_limits(monkeypatch):
    """Where systemd delegates cgroups, one scope per sandbox gets MemoryMax/TasksMax; where it
    does not (containers, cgroup v1), no prefix, and the grader's watchdog sums the memory."""
    from autograder import isolation

    monkeypatch.setattr(isolation, "_systemd_scope", lambda: ["systemd-run", "--scope"])
    prefix = isolation.cgroup_prefix(isolation.Limits(memory_mb=512, nproc=16))
    assert prefix[-1] == "--" and "--property=MemoryMax=512M" in prefix, prefix
    assert "--property=MemorySwapMax=0" in prefix and "--property=TasksMax=20" in prefix, prefix
    monkeypatch.setattr(isolation, "_systemd_scope", lambda: None)
    assert isolation.cgroup_prefix(isolation.Limits()) == []


def test_static_check_is_linear_on_a_long_taint_chain():
    """A chain of 20,000 assignments through which taint flows backwards: the old fixed-point
    loop took time quadratic in its length; the check must finish well within its budget."""
    import time

    n = 20_000
    code = "\n".join(
        [f"a{i} = a{i + 1}" for i in range(n)] + [f"a{n} = __import__('nnlib').layers"]
    )
    start = time.monotonic()
    tainted, violations, complete = tainted_names([("c", code)], FORBID, budget_s=60)
    took = time.monotonic() - start
    assert complete and "a0" in tainted and violations, (complete, len(tainted))
    assert took < 20, f"the static check took {took:.1f} s on a 20,000-line chain"


def test_static_check_gives_up_in_time_and_says_so():
    code = "\n".join(f"x{i} = x{i + 1}.a.b.c" for i in range(50_000))
    tainted, violations, complete = tainted_names([("c", code)], FORBID, budget_s=0.05)
    assert not complete
