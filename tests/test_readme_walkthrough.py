"""README's instructor walk-through, run as written on the example export it ships.

The bash block between ``<!-- walkthrough:start -->`` and ``<!-- walkthrough:end -->`` in
README.md is executed unchanged (in a scratch course), and what README says comes out is checked:
identities, the archived older upload, late work and the extension, the resubmission regraded
alone, the non-submitter, pending hand grading, Canvas's import and bulk-upload formats, and the
report's diagnosed mistakes. The example files must be what ``make_example.py`` writes.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "tests" / "fixtures" / "lms-example"
A = "01-forward-pass"


def _block() -> str:
    text = (REPO / "README.md").read_text()
    m = re.search(
        r"<!-- walkthrough:start -->\s*```bash\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S
    )
    assert m, "README.md lost its walk-through block (<!-- walkthrough:start --> ... end)"
    return m.group(1)


def test_the_example_files_are_what_make_example_writes():
    spec = importlib.util.spec_from_file_location("make_example", EXAMPLE / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, data in module.files().items():
        path = EXAMPLE / name
        assert path.exists(), f"{path} is missing: run tests/fixtures/lms-example/make_example.py"
        if name.endswith(".zip"):  # compare the entries (names, times, bytes), not the deflate
            with (
                zipfile.ZipFile(path) as have,
                zipfile.ZipFile(io.BytesIO(data)) as want,
            ):
                got = [(i.filename, i.date_time, have.read(i)) for i in have.infolist()]
                exp = [(i.filename, i.date_time, want.read(i)) for i in want.infolist()]
            assert got == exp, f"{name} is stale: run tests/fixtures/lms-example/make_example.py"
        else:
            assert path.read_bytes() == data, f"{name} is stale: run make_example.py"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("walkthrough") / "demo"
    env = {**os.environ, "DEMO": str(out)}
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _block()],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, (
        f"README's walk-through failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n"
        f"{proc.stderr[-3000:]}"
    )
    return out, proc.stdout


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_collect_keys_students_by_canvas_id_and_archives_the_older_upload(demo):
    out, log = demo
    assert "canvas" in log and "collected 5 student(s)" in log, log[-2000:]
    for uid in ("12", "13", "15", "16", "17"):
        assert (out / "submitted" / uid / A / f"{A}.ipynb").exists(), f"{uid} not collected"
    assert not (out / "submitted" / "18").exists()
    archived = list((out / ".autograder" / A / "archive" / "16").rglob("*.ipynb"))
    assert archived, "student 16's older upload was not archived"
    assert "RESUBMITTED 17" in log and "graded again (changed since graded): 17" in log, log[-2000:]


def test_canvas_import_file_has_every_roster_student(demo):
    out, _ = demo
    rows = list(csv.reader((out / "grades-canvas.csv").open(newline="")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{A} (777)"]
    assert rows[1][0].strip() == "Points Possible" and float(rows[1][-1]) == 20
    by_id = {r[1]: r for r in rows[2:]}
    assert sorted(by_id) == ["12", "13", "15", "16", "17", "18"], by_id
    assert float(by_id["12"][-1]) == 20, "12: 18 automatic points and 2 by hand"
    for uid in ("13", "15", "16", "17", "18"):  # pending hand grading, or no submission
        assert by_id[uid][-1] == "", f"{uid}: Canvas must see an empty cell, got {by_id[uid]}"


def test_long_export_has_late_work_resubmission_and_missing(demo):
    out, _ = demo
    rows = {r["student_id"]: r for r in _rows(out / "grades-long.csv")}
    assert rows["13"]["late_by"] == "02:30:00" and float(rows["13"]["penalty"]) == 3, rows["13"]
    assert rows["13"]["lms_late"] == "LATE" and rows["13"]["status"] == "pending"
    assert float(rows["15"]["penalty"]) == 0 and rows["15"]["lms_late"] == "LATE", rows["15"]
    assert float(rows["16"]["score"]) == 8, rows["16"]
    assert rows["16"]["version"] != rows["12"]["version"]
    assert float(rows["17"]["score"]) == 18 and float(rows["17"]["penalty"]) == 3, rows["17"]
    assert rows["17"]["submitted_at"] == "2026-11-01 15:00:00 UTC", rows["17"]
    assert rows["18"]["status"] == "missing" and rows["18"]["score"] == "missing", rows["18"]
    assert rows["12"]["status"] == "graded" and float(rows["12"]["pending"]) == 0


def test_feedback_zip_and_report_name_the_mistake(demo):
    out, _ = demo
    with zipfile.ZipFile(out / "feedback.zip") as zf:
        names = sorted(zf.namelist())
        page = zf.read("doejane_16_504_feedback.html").decode()
    assert names == sorted(
        f"{n}_feedback.html"
        for n in ("smithjohn_12_501", "smithjohn_13_502", "roeann_15_503", "doejane_16_504",
                  "leeann_17_505")
    ), names  # fmt: skip
    assert "wrong axis" in page and "fails only because `softmax`" in page
    report = (out / ".autograder" / A / "report" / "report.md").read_text()
    assert "wrong axis" in report and "### missing (1)" in report, report
