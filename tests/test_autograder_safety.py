"""Every byte from a student is data (issue 13, items 3 and 7).

Each test starts from a hostile input that did damage before (live markup in feedback, report.md
and formgrader's view, spreadsheet formulas in the CSV, a lone surrogate or an unusable id that
stopped the whole class, symlinks graded as the source, a zip refused whole for one entry) and
checks that the damage does not happen and that honest neighbours in the same run are
unaffected. They pass as root (CI) and as a normal user.
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.collect import collect
from autograder.feedback import render_feedback, write_feedback
from autograder.grade import GradeOptions, discover, formgrader_copy, grade_assignment
from autograder.gradebook import export_csv
from autograder.notebook import InvalidNotebook, load_notebook_json
from autograder.report import write_report
from autograder.safe import (
    csv_cell,
    markdown_text,
    name_problem,
    sanitize_markdown,
    student_id_problem,
)

A = "01-forward-pass"
REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "exercises" / "source" / A / f"{A}.ipynb"

XSS = "<img src=x onerror=alert(1)> <script>alert(2)</script> [click](javascript:alert(3))"
# live markup in HTML; in Markdown also a link ("](" not escaped) to a javascript: URL
# the only links a page may hold: the book sections of the grader's mistake catalogue
BOOK_LINK = r'<a href="https://how-to-train-your-neurons\.github\.io/course/[^"<>]*" rel="noopener noreferrer">'
LIVE = re.compile(rf"<(img|script|iframe|svg)\b|(?!{BOOK_LINK})<a\b", re.IGNORECASE)
LIVE_MD = re.compile(r"<(img|script|a|iframe|svg)\b|(?<!\\)\]\((?=javascript)", re.IGNORECASE)


def _hostile_notebook() -> dict:
    """The full solution, with hostile outputs, metadata, attachments and markdown added."""
    nb = json.loads(SOURCE.read_text())
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"x": XSS}}
    nb["metadata"]["kernelspec"]["display_name"] = XSS
    nb["cells"][0]["metadata"]["nbgrader"] = {"grade_id": XSS, "grade": True, "points": 99}
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if cell["cell_type"] == "code":
            cell["execution_count"] = 7
            cell["outputs"] = [
                {
                    "output_type": "stream",
                    "name": "stdout",
                    "text": "FORGED: public tests passed 20/20",
                },
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"text/html": XSS, "application/javascript": "alert(4)"},
                },
            ]
        if gid == "sigmoid":  # the function is defined, then the cell prints and raises
            cell["source"] = "".join(cell["source"]) + (
                f"\nprint('\\udcff {XSS}')\nraise ValueError('\\udcfe {XSS}')\n"
            )
        if gid == "softmax_why":
            cell["source"] = XSS + "\n\n<a href='javascript:alert(5)'>x</a> [ok](https://a.b)"
            cell["attachments"] = {"x.png": {"image/png": "iVBORw0KGgo="}}
            cell["metadata"]["nbgrader"]["points"] = 99  # forged: the source's 2 are shown
    return nb


def _submit(course, student, nb: dict | None = None, link: str | None = None) -> str:
    folder = os.path.join(course.submitted_dir, student, A)  # str: surrogateescape for odd bytes
    os.makedirs(folder)
    path = os.path.join(folder, f"{A}.ipynb")
    if link is not None:
        os.symlink(link, path)
    else:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(nb, fh)
    return path


def test_grade_batch_of_hostile_submissions_beside_honest_ones(ag_course, ag_runner_path, tmp_path):
    """One run: unusable ids are refused with a reason, a symlink to the source earns nothing,
    hostile text stays inert in feedback, report, CSV, grade.log and formgrader's copy, and the
    honest student keeps full marks."""
    source = SOURCE.read_text()
    _submit(ag_course, "honest", json.loads(source))
    _submit(ag_course, "=HYPERLINK(1)", json.loads(source))  # usable id, a formula in a sheet
    _submit(ag_course, "hostile", _hostile_notebook())
    _submit(ag_course, "linked", link=str(SOURCE))  # graded as the source before: full marks
    long_id = "x" * 240  # 'File name too long' for results/<id>.json.tmp: stopped everyone
    bad_utf8 = b"bad\xff\xfe".decode("utf-8", "surrogateescape")  # codec error: stopped everyone
    refused_ids = [long_id, bad_utf8, ".hidden", "tab\there"]
    for sid in refused_ids:
        _submit(ag_course, sid, json.loads(source))
    (Path(ag_course.submitted_dir) / ".ipynb_checkpoints").mkdir()  # not a submission: ignored
    opts = GradeOptions(
        workers=2, timeout=60, cell_timeout=20, progress=False, runner_path=ag_runner_path
    )
    summary = grade_assignment(ag_course, A, options=opts)

    assert sorted(summary.results) == sorted(["honest", "=HYPERLINK(1)", "hostile", "linked"])
    assert summary.results["honest"]["score"] == 18
    assert summary.results["=HYPERLINK(1)"]["score"] == 18
    assert summary.results["hostile"]["score"] == 18  # its extra text costs nothing, earns nothing
    linked = summary.results["linked"]
    assert linked["score"] == 0 and linked["status"] == "invalid-notebook"
    assert "symbolic link" in linked["messages"][0]
    # refused: each reported with what is wrong and what to do, never silently dropped
    reasons = dict(summary.refused)
    assert len(summary.refused) == 4, summary.refused
    assert any("bytes long" in why and "rename" in why for why in reasons.values())
    assert any("not valid UTF-8" in why for why in reasons.values())
    assert any("starts with '.'" in why for why in reasons.values())
    assert any("control characters" in why for why in reasons.values())
    log = Path(ag_course.state_dir(A), "grade.log").read_bytes().decode("utf-8")  # valid UTF-8
    assert log.count("REFUSED") == 4 and "honest: ok 18/18" in log
    assert "4 refused" in log

    # feedback for everyone, none of it live
    problems: list = []
    paths = write_feedback(ag_course, A, problems)
    assert len(paths) == 4 and not problems
    page = Path(ag_course.feedback_dir("hostile", A), "feedback.html").read_text("utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the error is shown, as text
    assert not LIVE.search(page), LIVE.search(page)
    assert "Content-Security-Policy" in page
    # report.md: inert as Markdown and as HTML
    report = Path(write_report(ag_course, A)).read_text("utf-8")
    assert "linked" in report and not LIVE_MD.search(report)
    # CSV: no cell a spreadsheet evaluates
    out = tmp_path / "scores.csv"
    export_csv(ag_course, str(out))
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)
    assert any(r[0] == "'=HYPERLINK(1)" for r in rows)
    # formgrader's copy: the sources, none of the student's outputs or live markup
    copied = Path(ag_course.root, "autograded", "hostile", A, f"{A}.ipynb")
    nb = json.loads(copied.read_text("utf-8"))
    text = copied.read_text("utf-8")
    assert "FORGED" not in text and "alert(4)" not in text
    assert "widgets" not in nb["metadata"] and "attachments" not in text
    prose = "".join(c["source"] for c in nb["cells"] if c["cell_type"] != "code")
    # code is shown as highlighted text; prose is rendered: no live tag, no javascript: link
    live = r"<(img|script|iframe|svg)\b|href\s*=\s*[\"']?\s*javascript|\]\(\s*javascript"
    assert not re.search(live, prose, re.IGNORECASE), prose
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    answer = next(
        c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "softmax_why"
    )
    assert "onerror=alert(1)" in answer["source"]  # still readable for the hand grader, as text
    assert answer["metadata"]["nbgrader"]["points"] == 2
    assert nb["cells"][0]["metadata"] == {}  # forged grade cell: no metadata
    assert XSS not in json.dumps(nb["metadata"])
    assert not Path(ag_course.root, "autograded", "linked").exists()


def test_feedback_and_report_survive_surrogates_and_bad_results(ag_course):
    """Results on disk with escaped lone surrogates, invalid UTF-8 bytes, hostile text and an
    unusable id: feedback and report are written for the class, replaced, never fatal."""
    results = Path(ag_course.state_dir(A), "results")
    results.mkdir(parents=True)

    def result(student: str, status: str = "ok", msg: str = "") -> dict:
        test = {
            "grade_id": "softmax_public",
            "kind": "auto",
            "points": 0.0,
            "max_points": 2,
            "passed": False,
            "status": status,
            "message": msg,
        }
        return {
            "student": student,
            "assignment": A,
            "status": status,
            "score": 0.0,
            "max_score": 18,
            "notebooks": [
                {
                    "notebook": A,
                    "status": status,
                    "tests": [test],
                    "cells": [{"label": "sigmoid", "status": "error", "error": msg}],
                    "output_head": "\udcff" + msg,
                }
            ],
            "messages": [msg],
        }

    bad = f"\udcff\ud800 {XSS} \x1b[31m"
    (results / "mallory.json").write_text(json.dumps(result("mallory", "crashed", bad)))  # \\udcff
    raw = json.dumps(result("raw", "timeout", "x")).replace('"x"', '"bytes \xff\xfe"')
    (results / "raw.json").write_bytes(raw.encode("latin-1"))  # not UTF-8 at all
    (results / "honest.json").write_text(json.dumps(result("honest")))
    (results / "evil.json").write_text(json.dumps(result("../../evil")))  # id with path parts
    (results / "junk.json").write_text("{")
    problems: list = []
    paths = write_feedback(ag_course, A, problems)
    assert sorted(Path(p).parent.parent.name for p in paths) == ["honest", "mallory", "raw"]
    assert {name for name, _ in problems} == {"evil.json", "junk.json"}
    assert not Path(ag_course.root, "evil").exists()
    page = Path(ag_course.feedback_dir("mallory", A), "feedback.html").read_bytes()
    text = page.decode("utf-8")  # valid UTF-8
    assert "\ufffd" in text and "\x1b" not in text and not LIVE.search(text)
    report = Path(write_report(ag_course, A)).read_bytes().decode("utf-8")
    assert "mallory" in report and "raw" in report and "junk" in report
    assert not LIVE_MD.search(report) and "\x1b" not in report


def test_render_feedback_tolerates_odd_result_values():
    page = render_feedback(
        {
            "student": "s",
            "assignment": XSS,
            "max_score": "lots",
            "notebooks": [{"notebook": XSS, "tests": [{"grade_id": XSS, "points": "x"}]}],
        }
    )
    assert not LIVE.search(page)


def test_markdown_csv_and_sanitiser_helpers():
    md = markdown_text(XSS + "\n| col | ![i](x) `code` **b**")
    assert not LIVE_MD.search(md) and "\n" not in md and "|" not in md.replace("\\|", "")
    assert "&lt;img" in md
    assert csv_cell("=1+2") == "'=1+2" and csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert (
        csv_cell("-2+3") == "'-2+3" and csv_cell("\tx") == "'\tx" and csv_cell("\rx") == "'\ufffdx"
    )
    assert csv_cell(-2.5) == -2.5 and csv_cell("alice") == "alice"
    clean = sanitize_markdown(
        XSS + "\n[a](JaVa&#x09;ScRiPt:alert(1)) [b]( javascript:alert(1)) [c](//evil.example)"
        "\n[r]: vbscript:msgbox(1)\n$\\href{javascript:alert(1)}{x}$ [ok](https://a.b)"
    )
    assert not re.search(r"<(img|script)|\]\(\s*(java|//)|\]: vb|\\href", clean, re.I), clean
    assert "[ok](https://a.b)" in clean


@pytest.mark.parametrize(
    ("sid", "why"),
    [
        ("x" * 101, "bytes long"),
        ("caf\udce9", "not valid UTF-8"),
        ("a\x1b[2Jb", "control characters"),
        ("a/b", "path separator"),
        ("..", "starts with '.'"),
        ("", "empty"),
        (" alice", "white space"),
        ("a\u202eb", "control characters"),  # a bidirectional override (Trojan Source)
    ],
)
def test_unusable_ids_are_named(sid, why):
    assert why in name_problem(sid)
    assert "rename" in student_id_problem(sid)


def test_usable_ids():
    for sid in ("alice", "s-1001", "jean.dupont@uni.fr", "=HYPERLINK(1)", "é" * 50):
        assert student_id_problem(sid) is None, sid


def test_discover_refuses_each_unusable_folder_and_keeps_the_rest(tmp_path):
    root = tmp_path / "sub"
    for sid in ("alice", "x" * 200, ".git", "bob"):
        (root / sid / A).mkdir(parents=True)
    (root / os.fsdecode(b"\xff") / A).mkdir(parents=True)
    (root / "linked").symlink_to(root / "alice")
    (root / "stray.txt").write_text("not a submission")
    refused: list = []
    found = discover(str(root), A, refused)
    assert [s for s, _ in found] == ["alice", "bob"]
    assert len(refused) == 4, refused
    assert any("symbolic link" in why for _, why in refused)
    for shown, _ in refused:
        shown.encode("utf-8")  # printable


def test_load_notebook_json_refuses_what_is_not_a_regular_file(tmp_path):
    link = tmp_path / "link.ipynb"
    link.symlink_to(SOURCE)
    with pytest.raises(InvalidNotebook, match="symbolic link"):
        load_notebook_json(str(link))
    fifo = tmp_path / "fifo.ipynb"
    os.mkfifo(fifo)  # opened without O_NONBLOCK, a FIFO blocks the reader until a writer comes
    with pytest.raises(InvalidNotebook, match="FIFO"):
        load_notebook_json(str(fifo))
    (tmp_path / "dir.ipynb").mkdir()
    with pytest.raises(InvalidNotebook, match="folder"):
        load_notebook_json(str(tmp_path / "dir.ipynb"))
    dev = tmp_path / "zero.ipynb"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: endless
    except PermissionError:
        dev = Path("/dev/zero")
    with pytest.raises(InvalidNotebook, match="not a regular file"):
        load_notebook_json(str(dev))
    assert load_notebook_json(str(SOURCE))["nbformat"] == 4


@pytest.mark.parametrize("source", [None, str(SOURCE)])
def test_formgrader_copy_of_honest_notebook_keeps_every_source(source):
    copy = formgrader_copy(str(SOURCE), source)
    original = json.loads(SOURCE.read_text())
    assert len(copy["cells"]) == len(original["cells"])
    assert copy["metadata"]["kernelspec"] == original["metadata"]["kernelspec"]
    for got, want in zip(copy["cells"], original["cells"], strict=True):
        assert got["cell_type"] == want["cell_type"]
        assert got["metadata"].get("nbgrader") == want["metadata"].get("nbgrader")
        if want["cell_type"] == "code":
            assert got["source"] == "".join(want["source"])
    import nbformat

    nbformat.validate(nbformat.from_dict(copy))


def _zip(path: Path, entries: dict[str, bytes], modes: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in (modes or {}):
                info.external_attr = modes[name] << 16
            zf.writestr(info, data)
    return path


def _big_honest_notebook() -> bytes:
    """About 2 MB: the solution plus a long, repetitive training log as an output."""
    nb = json.loads(SOURCE.read_text())
    line = "epoch 1/1 - loss 0.3141 - accuracy 0.8862 - val_loss 0.3512 - val_accuracy 0.8720\n"
    nb["cells"][3]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": line * 24000}]
    nb["cells"][3]["execution_count"] = 1
    return json.dumps(nb).encode()


def test_collect_accepts_large_honest_notebook_and_a_bomb_costs_only_itself(
    ag_course, tmp_path, monkeypatch
):
    import autograder.collect as collect_mod

    big = _big_honest_notebook()
    assert len(big) > 1_900_000
    monkeypatch.setattr(collect_mod, "MAX_FILE_BYTES", 4 * 1024 * 1024)
    archive = _zip(
        tmp_path / "export.zip",
        {
            "alice/01-forward-pass.ipynb": big,  # compresses far beyond 100:1: refused whole before
            "mallory/01-forward-pass.ipynb": b"\0" * (64 * 1024 * 1024),  # a bomb: ~1000:1
            "bob/01-forward-pass.ipynb": SOURCE.read_bytes(),
        },
    )
    info = zipfile.ZipFile(archive).getinfo("alice/01-forward-pass.ipynb")
    assert info.file_size / info.compress_size > 100
    report = collect(ag_course, A, str(archive))
    assert report.imported == {"alice": [f"{A}.ipynb"], "bob": [f"{A}.ipynb"]}
    reasons = dict(report.unmatched)
    assert "mallory/01-forward-pass.ipynb" in reasons
    sub = Path(ag_course.submitted_dir)
    assert (sub / "alice" / A / f"{A}.ipynb").read_bytes() == big
    assert not (sub / "mallory").exists()


def test_collect_bomb_with_a_lying_header_costs_only_itself(ag_course, tmp_path, monkeypatch):
    """The size in the header says 1 KiB; the data expands to 8 MiB."""
    import autograder.collect as collect_mod

    monkeypatch.setattr(collect_mod, "MAX_FILE_BYTES", 1024 * 1024)
    path = _zip(
        tmp_path / "liar.zip",
        {"mallory/01-forward-pass.ipynb": b"\0" * (8 << 20), "bob/x.ipynb": SOURCE.read_bytes()},
    )
    data = bytearray(path.read_bytes())
    real = (8 << 20).to_bytes(4, "little")
    for at in [m.start() for m in re.finditer(re.escape(real), data)]:
        data[at : at + 4] = (1024).to_bytes(4, "little")  # uncompressed size, both headers
    path.write_bytes(bytes(data))
    report = collect(ag_course, A, str(path))
    assert report.imported == {"bob": [f"{A}.ipynb"]}
    assert "mallory/01-forward-pass.ipynb" in dict(report.unmatched)
    assert not (Path(ag_course.submitted_dir) / "mallory").exists()


def test_collect_refuses_links_devices_fifos_and_bad_names(ag_course, tmp_path):
    nb = SOURCE.read_bytes()
    archive = _zip(
        tmp_path / "export.zip",
        {
            "alice/01-forward-pass.ipynb": nb,
            "mallory/01-forward-pass.ipynb": b"/etc/passwd",
            "mallory/notes.txt": b"x",
            "trudy/dev.ipynb": b"",
            "eve/fifo.ipynb": b"",
            "x" * 120 + "/01-forward-pass.ipynb": nb,
            "carol/\x1b[2Jnotes.txt": b"x",
        },
        modes={
            "mallory/01-forward-pass.ipynb": stat.S_IFLNK | 0o777,
            "trudy/dev.ipynb": stat.S_IFCHR | 0o666,
            "eve/fifo.ipynb": stat.S_IFIFO | 0o666,
        },
    )
    report = collect(ag_course, A, str(archive), pattern=r"^(?P<student>[^/]+)/")
    reasons = dict(report.unmatched)
    assert report.imported == {"alice": [f"{A}.ipynb"], "mallory": ["notes.txt"]}
    for name in ("mallory/01-forward-pass.ipynb", "trudy/dev.ipynb", "eve/fifo.ipynb"):
        assert "not a regular file" in reasons[name]
    assert "unusable student id" in reasons["x" * 120 + "/01-forward-pass.ipynb"]
    assert "bytes long" in reasons["x" * 120 + "/01-forward-pass.ipynb"]
    assert "control characters" in reasons["carol/\x1b[2Jnotes.txt"]

    folder = tmp_path / "folder"
    (folder / "alice").mkdir(parents=True)
    (folder / "alice" / f"{A}.ipynb").write_bytes(nb)
    (folder / "eve").mkdir()
    os.mkfifo(folder / "eve" / f"{A}.ipynb")
    (folder / "mallory").mkdir()
    (folder / "mallory" / f"{A}.ipynb").symlink_to(SOURCE)
    (folder / "trudy").symlink_to(SOURCE.parent)
    report = collect(ag_course, A, str(folder))
    assert report.imported == {"alice": [f"{A}.ipynb"]}
    assert len(report.unmatched) == 3, report.unmatched
