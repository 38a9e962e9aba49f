"""collect (zip-slip, zip bombs, unmatched names), feedback (no hidden tests) and report."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.collect import CollectError, collect
from autograder.feedback import render_feedback, write_feedback
from autograder.grade import GradeOptions, grade_assignment
from autograder.release import secret_lines
from autograder.report import write_report

A = "01-forward-pass"
REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "exercises" / "source" / A / f"{A}.ipynb"


def _zip(path: Path, entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def test_collect_lms_zip(ag_course, tmp_path):
    nb = SOURCE.read_bytes()
    archive = _zip(
        tmp_path / "export.zip",
        {
            "alice/01-forward-pass.ipynb": nb,
            "bob_12345_01-forward-pass-1.ipynb": nb,  # renamed by the LMS
            "carol/notes.txt": b"extra",
            "carol/my.ipynb": nb,
            "__MACOSX/._alice": b"junk",
            "Dave Smith_1_assignsubmission_file_/x.ipynb": nb,  # id with a space: not guessed
            "readme.txt": b"no student here",
        },
    )
    report = collect(ag_course, A, str(archive))
    # each student keyed by the layout's id: a folder, or Moodle's participant id (issue 14);
    # a prefix before '_' is no id (it was a last name): listed, never guessed
    assert report.imported == {
        "alice": ["01-forward-pass.ipynb"],
        "carol": ["01-forward-pass.ipynb", "notes.txt"],
        "1": ["01-forward-pass.ipynb"],
    }
    assert report.layouts == {"plain": 3, "moodle": 1}
    unmatched = dict(report.unmatched)
    assert "bob_12345_01-forward-pass-1.ipynb" in unmatched
    assert "readme.txt" in unmatched
    sub = Path(ag_course.submitted_dir)
    assert (sub / "1" / A / f"{A}.ipynb").read_bytes() == nb
    assert (sub / "alice" / A / "timestamp.txt").exists()


def test_collect_custom_pattern_and_folder(ag_course, tmp_path):
    src = tmp_path / "folder"
    (src / "s-1001").mkdir(parents=True)
    (src / "s-1001" / f"{A}.ipynb").write_bytes(SOURCE.read_bytes())
    (src / "s-1002").mkdir()
    os.symlink("/etc/passwd", src / "s-1002" / f"{A}.ipynb")
    report = collect(ag_course, A, str(src), pattern=r"^s-(?P<student>\d+)/")
    assert report.imported == {"1001": [f"{A}.ipynb"]}
    assert any("symlink" in why for _, why in report.unmatched)
    with pytest.raises(CollectError, match="student"):
        collect(ag_course, A, str(src), pattern=r"^(\w+)/")


def test_collect_refuses_zip_slip_and_symlinks(ag_course, tmp_path):
    evil = tmp_path / "evil.zip"
    _zip(
        evil,
        {
            "../../escaped.ipynb": b"{}",
            "/tmp/absolute-escape.ipynb": b"{}",
            "alice/../../../escaped2.ipynb": b"{}",
            "C:/windows.ipynb": b"{}",
            "mallory/01-forward-pass.ipynb": b"{}",
        },
        symlinks={"mallory/link.ipynb": "/etc/passwd"},
    )
    report = collect(ag_course, A, str(evil))
    reasons = dict(report.unmatched)
    assert "unsafe path" in reasons["../../escaped.ipynb"]
    assert "unsafe path" in reasons["alice/../../../escaped2.ipynb"]
    assert "symlink" in reasons["mallory/link.ipynb"]
    assert report.imported == {"mallory": [f"{A}.ipynb"]}
    for p in (
        tmp_path / "escaped.ipynb",
        tmp_path.parent / "escaped.ipynb",
        Path("/tmp/absolute-escape.ipynb"),
        Path(ag_course.root) / "escaped2.ipynb",
    ):
        assert not p.exists(), p
    written = {
        str(p.relative_to(ag_course.root))
        for p in Path(ag_course.root).rglob("*")
        if "submitted" in p.parts and p.is_file()
    }
    assert written == {f"submitted/mallory/{A}/{A}.ipynb", f"submitted/mallory/{A}/timestamp.txt"}


def test_collect_stops_zip_bombs(ag_course, tmp_path, monkeypatch):
    import autograder.collect as collect_mod

    bomb = tmp_path / "bomb.zip"
    nb = SOURCE.read_bytes()
    big = b"\0" * (collect_mod.MAX_FILE_BYTES + 1)  # 1000:1, past the per-entry limit
    _zip(bomb, {"alice/01-forward-pass.ipynb": big, "bob/01-forward-pass.ipynb": nb})
    report = collect(ag_course, A, str(bomb))  # the bomb costs only its own entry
    assert report.imported == {"bob": [f"{A}.ipynb"]}
    assert "larger than" in dict(report.unmatched)["alice/01-forward-pass.ipynb"]
    many = tmp_path / "many.zip"
    _zip(many, {f"s{i}/x.txt": b"" for i in range(5001)})
    with pytest.raises(CollectError, match="entries"):
        collect(ag_course, A, str(many))
    # many honest-looking (incompressible) entries: the total is counted while reading, and
    # what does not fit is refused entry by entry
    monkeypatch.setattr(collect_mod, "MAX_TOTAL_BYTES", 8 * 1024 * 1024)
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as zf:
        for i in range(3):
            zf.writestr(f"s{i}/data.bin", os.urandom(3 * 1024 * 1024))
    report = collect(ag_course, A, str(big))
    assert sorted(report.imported) == ["s0", "s1"]
    assert "more than" in dict(report.unmatched)["s2/data.bin"]
    assert not (Path(ag_course.submitted_dir) / "s2").exists()
    with pytest.raises(CollectError, match="not a readable zip"):
        collect(ag_course, A, str(tmp_path / "missing.zip"))


def test_feedback_and_report_never_show_hidden_tests(ag_course, ag_runner_path, tmp_path):
    sub = Path(ag_course.submitted_dir)
    for student, content in {"full": SOURCE.read_text(), "broken": "{", "naive": None}.items():
        (sub / student / A).mkdir(parents=True)
        if content is None:
            nb = json.loads(SOURCE.read_text())
            for cell in nb["cells"]:
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == "softmax":
                    cell["source"] = "def softmax(z):\n    return np.exp(z) / np.exp(z).sum()\n"
            content = json.dumps(nb)
        (sub / student / A / f"{A}.ipynb").write_text(content)
    opts = GradeOptions(
        workers=2, timeout=60, cell_timeout=20, progress=False, runner_path=ag_runner_path
    )
    grade_assignment(ag_course, A, options=opts)
    paths = write_feedback(ag_course, A)
    assert len(paths) == 3
    secrets = secret_lines(str(SOURCE))
    assert any("_ref_softmax" in s for s in secrets)
    for path in paths:
        text = Path(path).read_text()
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{path} shows hidden test or solution code: {leaked[:3]}"
        assert "HIDDEN" not in text and "nnlib" not in text
    naive = Path(ag_course.feedback_dir("naive", A)) / "feedback.html"
    assert "autograder-feedback" in str(naive)  # not in nbgrader's feedback/ (issue 14)
    text = naive.read_text()
    assert "softmax_hidden" in text and "expected" in text and "tolerance" in text
    report = Path(write_report(ag_course, A)).read_text()
    assert "| softmax\\_public |" in report and "broken" in report  # Markdown-escaped
    assert (
        Path(report and ag_course.state_dir(A)) / "report" / "histogram.png"
    ).stat().st_size > 1000


def test_render_feedback_escapes_html():
    result = {
        "student": "<b>x</b>",
        "assignment": "a",
        "status": "ok",
        "max_score": 1,
        "messages": ["<script>"],
        "notebooks": [
            {
                "notebook": "n",
                "tests": [
                    {
                        "grade_id": "t",
                        "kind": "auto",
                        "points": 0,
                        "max_points": 1,
                        "passed": False,
                        "message": "<img src=x onerror=alert(1)>",
                    }
                ],
            }
        ],
    }
    page = render_feedback(result)
    assert "<script>" not in page and "<img" not in page and "&lt;img" in page
