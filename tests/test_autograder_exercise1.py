"""Exercise 1 end to end: release, grade the source (full marks) and the release (zero), export."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from autograder.grade import GradeOptions, grade_assignment
from autograder.gradebook import export_csv
from autograder.notebook import load_source
from autograder.release import check_release, release

A = "01-forward-pass"
REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "exercises" / "source" / A / f"{A}.ipynb"


def _submit(course, student: str, notebook: Path) -> None:
    folder = Path(course.submitted_dir) / student / A
    folder.mkdir(parents=True)
    shutil.copy(notebook, folder / f"{A}.ipynb")


def test_points_add_up_to_the_total_stated_at_the_top():
    spec = load_source(str(SOURCE))
    intro = spec.cells[0].source
    stated = re.search(r"Total: (\d+) points", intro)
    assert stated, "the first cell should state 'Total: N points'"
    assert spec.max_score == float(stated.group(1)), (
        f"the cells' points add up to {spec.max_score}, the top says {stated.group(1)}"
    )
    auto = re.search(r"(\d+) points are graded automatically", intro)
    assert auto and spec.auto_max_score == float(auto.group(1))
    kinds = {c.grade_id: c.kind for c in spec.graded}
    for name in ("sigmoid", "softmax", "dense_forward", "two_layer_forward"):
        assert kinds[f"{name}_public"] == "test" and kinds[f"{name}_hidden"] == "test"
    assert kinds["softmax_why"] == "manual"
    assert "nnlib" in spec.forbid and "torch" in spec.forbid


def test_source_is_saved_without_outputs():
    nb = json.loads(SOURCE.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_release_has_no_solutions_or_hidden_tests_and_is_reproducible(ag_course):
    out = Path(ag_course.release_dir(A)) / f"{A}.ipynb"
    first = out.read_bytes()
    text = first.decode()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert "_ref_sigmoid" not in text and "default_rng(101)" not in text  # hidden test code
    assert "np.max(z, axis=-1, keepdims=True)" not in text  # solution code
    assert "raise NotImplementedError()" in text
    assert check_release(ag_course.source_dir(A), ag_course.release_dir(A)) == []
    release(ag_course, A)
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(first).digest(), (
        "releasing twice should give byte-identical files"
    )


def test_release_check_catches_a_leak(ag_course):
    out = Path(ag_course.release_dir(A)) / f"{A}.ipynb"
    nb = json.loads(out.read_text())
    nb["cells"].append(
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": "from nnlib.activations import sigmoid as _ref_sigmoid\n",
        }
    )
    out.write_text(json.dumps(nb))
    leaks = check_release(ag_course.source_dir(A), ag_course.release_dir(A))
    assert any("_ref_sigmoid" in leak for leak in leaks), leaks


def test_source_gets_full_marks_and_release_gets_zero(ag_course, ag_runner_path, tmp_path):
    _submit(ag_course, "solution", SOURCE)
    _submit(ag_course, "blank", Path(ag_course.release_dir(A)) / f"{A}.ipynb")
    opts = GradeOptions(
        workers=2, timeout=60, cell_timeout=20, progress=False, runner_path=ag_runner_path
    )
    summary = grade_assignment(ag_course, A, options=opts)
    full, blank = summary.results["solution"], summary.results["blank"]
    failed = [
        (t["grade_id"], t["message"])
        for nb in full["notebooks"]
        for t in nb["tests"]
        if t["kind"] == "auto" and not t["passed"]
    ]
    assert full["score"] == full["max_score"] == 18, failed
    assert full["status"] == "ok"
    assert blank["score"] == 0 and blank["status"] == "ok"
    copied = Path(ag_course.root) / "autograded" / "solution" / A / f"{A}.ipynb"
    source_cells = json.loads(SOURCE.read_text())["cells"]
    copied_cells = json.loads(copied.read_text())["cells"]  # formgrader needs the written answers
    assert [c["metadata"] for c in copied_cells] == [c["metadata"] for c in source_cells]
    assert [c["source"] for c in copied_cells if c["cell_type"] == "code"] == [
        "".join(c["source"]) for c in source_cells if c["cell_type"] == "code"
    ]
    messages = [
        t["message"] for nb in blank["notebooks"] for t in nb["tests"] if t["kind"] == "auto"
    ]
    assert all("NotImplementedError" in m for m in messages), messages
    csv_path = tmp_path / "scores.csv"
    export_csv(ag_course, str(csv_path))
    rows = {r["student_id"]: r for r in csv.DictReader(csv_path.open()) if r["assignment"] == A}
    assert float(rows["solution"]["score"]) == 18 and float(rows["solution"]["max_score"]) == 20
    assert float(rows["blank"]["score"]) == 0
    assert float(rows["solution"]["softmax_hidden"]) == 3
    header = next(csv.reader(csv_path.open()))
    assert header[:4] == ["student_id", "assignment", "score", "max_score"]
    assert "sigmoid_public" in header and "softmax_why" in header


@pytest.mark.parametrize("name", ["sigmoid", "softmax"])
def test_public_tests_pass_in_a_plain_kernel_namespace(name):
    """The notebook's own cells (solution + public tests) run as plain Python, as in Jupyter."""
    import numpy as np  # noqa: F401  (the setup cell imports it too)

    spec = load_source(str(SOURCE))
    ns: dict = {}
    for cell in spec.cells:
        if cell.cell_type != "code" or "HIDDEN" in cell.source:
            continue
        exec(compile(cell.source, cell.grade_id or "cell", "exec"), ns)
    assert callable(ns[name])
