"""The instructor's round trip loses nothing (issue 14).

LMS exports in (Canvas's "Download Submissions" zip, Moodle's "Download all submissions", a
plain folder, a roster), grades, hand grading, comments and feedback back out (Canvas's
gradebook import, Moodle's grade import, the bulk feedback uploads). Each test starts from what
went wrong before: two Smiths merged into one folder, the ``LATE`` flag and Canvas user id
dropped, the older of two files graded, Moodle's layout unmatched, a resubmission not regraded,
``--regrade`` of one student resetting everyone, non-submitters missing or 0, hand-graded points
counted as 0, the grader's comments lost, ``nbgrader generate_feedback`` deleting our feedback,
no importable CSV and no submission time.

The fixtures are built from the formats' documentation: Canvas names files
``<lastfirst>[_LATE]_<user id>_<submission id>_<file>`` and adds ``-1``, ``-2`` to a file
uploaded again under the same name; Moodle puts each participant's files in
``<Full Name>_<participant id>_assignsubmission_file_/``.

Imports of what issue 14 added are inside the tests, so that on the code before it each test
fails on its own assertion.
"""

from __future__ import annotations

import calendar
import csv
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from autograder.collect import CollectError, collect
from autograder.config import load_course

A = "01-forward-pass"
REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "exercises" / "source" / A / f"{A}.ipynb"
DUE = "2026-11-01 12:00:00 UTC"


def _epoch(text: str) -> float:
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


def _zip(path: Path, entries: list[tuple[str, bytes, str]]) -> Path:
    """A zip whose entries carry the given UTC times (zip times are local: converted)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, when in entries:
            info = zipfile.ZipInfo(name, time.localtime(_epoch(when))[:6])
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return path


def _solution() -> bytes:
    return SOURCE.read_bytes()


def _blank(course) -> bytes:
    return Path(course.release_dir(A), f"{A}.ipynb").read_bytes()


def _variant(tag: str) -> bytes:
    nb = json.loads(SOURCE.read_text())
    nb["cells"].append(
        {"cell_type": "markdown", "metadata": {}, "source": f"version {tag}", "attachments": {}}
    )
    return json.dumps(nb).encode()


def _identities(course) -> dict:
    return json.loads(Path(course.state_dir(A), "identities.json").read_text())


# ---------------------------------------------------------------------------- identity ----


def test_canvas_two_smiths_are_two_students_with_late_flag_and_user_id(ag_course, tmp_path):
    nb = _solution()
    export = _zip(
        tmp_path / "submissions.zip",
        [
            (f"smithjohn_12_501_{A}.ipynb", nb, "2026-11-01 10:00:00"),
            (f"smithjohn_LATE_13_502_{A}.ipynb", _variant("second smith"), "2026-11-01 14:30:00"),
            ("smithjohn_13_502_notes.txt", b"my notes", "2026-11-01 14:30:00"),
            ("readme.txt", b"no student here", "2026-11-01 10:00:00"),
        ],
    )
    report = collect(ag_course, A, str(export))
    assert report.layouts == {"canvas": 3}
    assert report.imported == {"12": [f"{A}.ipynb"], "13": [f"{A}.ipynb", "notes.txt"]}
    sub = Path(ag_course.submitted_dir)
    assert (sub / "12" / A / f"{A}.ipynb").read_bytes() == nb  # nobody overwritten
    assert b"second smith" in (sub / "13" / A / f"{A}.ipynb").read_bytes()
    who = _identities(ag_course)
    assert who["12"]["name"] == who["13"]["name"] == "smithjohn"  # the name beside the id
    assert who["12"]["late"] is False and who["13"]["late"] is True
    assert who["13"]["submission_id"] == "502"
    assert report.late == ["13"]
    assert (sub / "13" / A / "timestamp.txt").read_text() == "2026-11-01 14:30:00.000000 UTC"
    assert "readme.txt" in dict(report.unmatched)  # listed, never dropped silently


@pytest.mark.parametrize("newer_first", [False, True])
def test_two_files_of_one_student_newer_kept_older_archived(ag_course, tmp_path, newer_first):
    old, new = _variant("first upload"), _variant("second upload")
    entries = [
        (f"doejane_20_601_{A}.ipynb", old, "2026-11-01 09:00:00"),
        (f"doejane_20_601_{A}-1.ipynb", new, "2026-11-01 11:00:00"),  # Canvas's -1: uploaded again
    ]
    export = _zip(tmp_path / "two.zip", entries[::-1] if newer_first else entries)
    report = collect(ag_course, A, str(export))
    assert report.imported == {"20": [f"{A}.ipynb"]}
    graded = Path(ag_course.submitted_dir, "20", A, f"{A}.ipynb").read_bytes()
    assert b"second upload" in graded
    [(student, base, kept, archived)] = report.conflicts
    assert (student, base, kept, archived) == (
        "20",
        f"{A}.ipynb",
        f"doejane_20_601_{A}-1.ipynb",
        f"doejane_20_601_{A}.ipynb",
    )
    keep = Path(ag_course.state_dir(A), "archive", "20", "superseded-in-export")
    assert [p.read_bytes() for p in keep.iterdir()] == [old]


def test_canvas_suffix_is_not_confused_with_notebook_names(ag_course, tmp_path):
    lab = Path(ag_course.source_dir("lab"))
    lab.mkdir(parents=True)
    for name in ("part-1", "part-2"):  # notebook names that end like Canvas's suffix
        shutil.copy(SOURCE, lab / f"{name}.ipynb")
    export = _zip(
        tmp_path / "lab.zip",
        [
            ("leeann_12_501_part-1.ipynb", b"one", "2026-11-01 10:00:00"),
            ("leeann_12_501_part-2.ipynb", b"two, first upload", "2026-11-01 10:00:00"),
            ("leeann_12_501_part-2-1.ipynb", b"two, again", "2026-11-01 10:05:00"),
        ],
    )
    report = collect(ag_course, "lab", str(export))
    assert report.imported == {"12": ["part-1.ipynb", "part-2.ipynb"]}
    folder = Path(ag_course.submitted_dir, "12", "lab")
    assert (folder / "part-1.ipynb").read_bytes() == b"one"
    assert (folder / "part-2.ipynb").read_bytes() == b"two, again"
    assert [c[3] for c in report.conflicts] == ["leeann_12_501_part-2.ipynb"]


def test_moodle_layout_keyed_by_participant_id(ag_course, tmp_path):
    nb = _solution()
    export = _zip(
        tmp_path / "moodle.zip",
        [
            (f"Jane Doe_301_assignsubmission_file_/{A}.ipynb", nb, "2026-11-01 10:00:00"),
            ("John Roe_302_assignsubmission_file_/my work.ipynb", nb, "2026-11-01 11:00:00"),
            ("Ann Poe_303_assignsubmission_file_notes.txt", b"flat form", "2026-11-01 11:00:00"),
        ],
    )
    report = collect(ag_course, A, str(export))
    assert report.layouts == {"moodle": 3}
    assert report.imported == {
        "301": [f"{A}.ipynb"],
        "302": [f"{A}.ipynb"],  # renamed to the assignment's notebook
        "303": ["notes.txt"],
    }
    who = _identities(ag_course)
    assert who["301"]["name"] == "Jane Doe" and who["302"]["layout"] == "moodle"
    from autograder.feedback import feedback_zip

    for student in ("301", "302"):  # as autograder feedback writes them
        page = Path(ag_course.feedback_dir(student, A), "feedback.html")
        page.parent.mkdir(parents=True)
        page.write_text(f"feedback for {student}")
    out = tmp_path / "feedback.zip"
    assert feedback_zip(ag_course, A, str(out)) == 2
    # Moodle's "Upload multiple feedback files in a zip" takes the download's folder names
    assert sorted(zipfile.ZipFile(out).namelist()) == [
        "Jane Doe_301_assignsubmission_file_/feedback.html",
        "John Roe_302_assignsubmission_file_/feedback.html",
    ]


def test_collect_waits_for_a_grading_run(ag_course, tmp_path):
    import fcntl

    export = _zip(tmp_path / "s.zip", [(f"a/{A}.ipynb", b"{}", "2026-11-01 10:00:00")])
    os.makedirs(ag_course.state_dir(A), exist_ok=True)
    with open(os.path.join(ag_course.state_dir(A), "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as grade holds it
        with pytest.raises(CollectError, match="grading run .* in progress"):
            collect(ag_course, A, str(export))
    assert collect(ag_course, A, str(export)).imported == {"a": [f"{A}.ipynb"]}


def test_unknown_layout_is_an_error_naming_the_file(ag_course, tmp_path):
    export = _zip(tmp_path / "odd.zip", [("homework.ipynb", b"{}", "2026-11-01 10:00:00")])
    with pytest.raises(CollectError, match=r"odd\.zip: unknown layout"):
        collect(ag_course, A, str(export))
    assert not any(Path(ag_course.submitted_dir).iterdir())


def test_resubmission_archives_the_previous_version(ag_course, tmp_path):
    first = _zip(tmp_path / "1.zip", [(f"a/{A}.ipynb", _variant("v1"), "2026-11-01 10:00:00")])
    second = _zip(tmp_path / "2.zip", [(f"a/{A}.ipynb", _variant("v2"), "2026-11-01 11:00:00")])
    collect(ag_course, A, str(first))
    report = collect(ag_course, A, str(second))
    assert report.resubmitted == ["a"]
    old = Path(report.archived["a"])
    assert old.is_relative_to(Path(ag_course.state_dir(A), "archive", "a"))
    assert b"v1" in (old / f"{A}.ipynb").read_bytes()  # never deleted
    assert b"v2" in Path(ag_course.submitted_dir, "a", A, f"{A}.ipynb").read_bytes()
    assert collect(ag_course, A, str(second)).unchanged == ["a"]
    # the older export collected again afterwards: the newer submission stays
    again = collect(ag_course, A, str(first))
    assert again.resubmitted == [] and list(again.older) == ["a"]
    assert b"v2" in Path(ag_course.submitted_dir, "a", A, f"{A}.ipynb").read_bytes()
    assert b"v1" in (Path(again.older["a"]) / f"{A}.ipynb").read_bytes()


# ------------------------------------------------------------------------------ roster ----

CANVAS_ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Forward pass (777)\n"
    "    Points Possible,,,,,20\n"
    '"Smith, John",12,S012,jsmith,Sec A,\n'
    '"Smith, John",13,S013,jsmith2,Sec B,\n'
    '"Missing, Max",14,S014,mmax,Sec A,\n'
    '"Roe, Ann",15,S015,aroe,Sec A,\n'
    '"Doe, Jane",16,S016,jdoe,Sec B,\n'
)


def test_roster_formats_and_errors(tmp_path):
    from autograder.lms import RosterError, read_roster

    canvas = tmp_path / "canvas.csv"
    canvas.write_text("\ufeff" + CANVAS_ROSTER)
    layout, people = read_roster(str(canvas))
    assert layout == "canvas" and [p.id for p in people] == ["12", "13", "14", "15", "16"]
    assert people[0].name == "Smith, John" and people[0].sis_id == "S012"
    worksheet = tmp_path / "grades.csv"
    worksheet.write_text(
        "Identifier,Full name,Email address,Status,Grade,Maximum Grade\n"
        "Participant 301,Jane Doe,jane@example.org,Submitted,,20\n"
    )
    layout, people = read_roster(str(worksheet))
    assert layout == "moodle-worksheet" and (people[0].id, people[0].email) == (
        "301",
        "jane@example.org",
    )
    participants = tmp_path / "participants.csv"
    participants.write_text(
        "First name,Last name,ID number,Email address\nJane,Doe,S1,jane@example.org\n"
    )
    assert read_roster(str(participants))[1][0].name == "Jane Doe"
    plain = tmp_path / "plain.csv"
    plain.write_text("id,name,email,sis_id\nalice,Alice A,a@example.org,S9\n")
    assert read_roster(str(plain))[0] == "plain"
    dup = tmp_path / "dup.csv"
    dup.write_text("id,name\nalice,A\nbob,B\nalice,C\n")
    with pytest.raises(RosterError, match=r"dup\.csv, line 4: duplicate id 'alice'"):
        read_roster(str(dup))
    odd = tmp_path / "odd.csv"
    odd.write_text("who,what\nx,y\n")
    with pytest.raises(RosterError, match=r"odd\.csv: unknown roster layout"):
        read_roster(str(odd))


def test_roster_that_lacks_a_submitter_is_reported(ag_course, tmp_path, capsys):
    from autograder.cli import main

    roster = _roster(tmp_path)
    assert main(["--course-dir", ag_course.root, "roster", roster]) == 0
    out = capsys.readouterr().out
    assert "5 student(s)" in out and "canvas layout" in out
    export = _zip(tmp_path / "s.zip", [(f"nobodyx_99_900_{A}.ipynb", b"{}", "2026-11-01 10:00:00")])
    assert main(["--course-dir", ag_course.root, "collect", A, str(export)]) == 0
    err = capsys.readouterr().err
    assert f"NOT ON ROSTER 99: not in {roster}" in err  # names the roster file
    assert Path(ag_course.submitted_dir, "99", A, f"{A}.ipynb").exists()  # nothing dropped
    dup = tmp_path / "dup.csv"
    dup.write_text(CANVAS_ROSTER + '"Again, Smith",12,S1,x,A,\n')
    assert main(["--course-dir", ag_course.root, "roster", str(dup)]) == 1
    assert "dup.csv, line 8: duplicate id '12'" in capsys.readouterr().err
    saved = json.loads(Path(ag_course.root, ".autograder", "roster.json").read_text())
    assert saved["source"] == roster  # the previous roster is kept


def test_moodle_participants_roster_matches_unique_full_names(ag_course, tmp_path):
    from autograder.lms import read_roster, save_roster

    people = tmp_path / "participants.csv"
    people.write_text(
        "First name,Last name,ID number,Email address\n"
        "Jane,Doe,S1,jane@example.org\nJohn,Roe,S2,john@example.org\nJohn,Roe,S3,roe3@example.org\n"
    )
    save_roster(os.path.join(ag_course.root, ".autograder"), *read_roster(str(people)))
    export = _zip(
        tmp_path / "m.zip",
        [
            (f"Jane Doe_301_assignsubmission_file_/{A}.ipynb", b"{}", "2026-11-01 10:00:00"),
            (f"John Roe_302_assignsubmission_file_/{A}.ipynb", b"{}", "2026-11-01 10:00:00"),
        ],
    )
    report = collect(ag_course, A, str(export))
    # a unique name gets the roster's ID number; two John Roes: never guessed
    assert sorted(report.imported) == ["302", "S1"] and report.not_on_roster == ["302"]


def _roster(tmp_path: Path) -> str:
    path = tmp_path / "canvas-gradebook.csv"
    path.write_text(CANVAS_ROSTER)
    return str(path)


# ------------------------------------------------------- the graded round trip (one class) ----

CONFIG = f"""
c.Autograder.due_dates = {{"{A}": "{DUE}"}}
c.Autograder.extensions = {{"{A}": {{"15": {{"hours": 48}}}}}}
c.Autograder.lms_assignment_ids = {{"{A}": "777"}}
c.AssignLatePenalties.plugin_class = "autograder.late.SubtractPenalty"
c.SubtractPenalty.points_per_hour = 1.0
"""


@pytest.fixture(scope="module")
def klass(_ag_released, ag_runner_path, tmp_path_factory):
    """A class of five on the roster, four of whom submitted through Canvas, graded once."""
    from autograder.grade import GradeOptions, grade_assignment
    from autograder.lms import read_roster, save_roster

    tmp = tmp_path_factory.mktemp("round-trip")
    root = tmp / "course"
    shutil.copytree(_ag_released, root)
    with open(root / "nbgrader_config.py", "a") as fh:
        fh.write(CONFIG)
    course = load_course(str(root))
    os.makedirs(course.submitted_dir, exist_ok=True)
    save_roster(str(root / ".autograder"), *read_roster(_roster(tmp)))
    nb = _solution()
    export = _zip(
        tmp / "submissions.zip",
        [
            (f"smithjohn_12_501_{A}.ipynb", nb, "2026-11-01 10:00:00"),  # on time
            (f"smithjohn_LATE_13_502_{A}.ipynb", nb, "2026-11-01 14:30:00"),  # 2.5 h late
            (f"roeann_LATE_15_503_{A}.ipynb", nb, "2026-11-02 12:00:00"),  # 48 h extension
            (f"doejane_16_504_{A}.ipynb", _blank(course), "2026-11-01 11:00:00"),  # blank
        ],
    )
    report = collect(course, A, str(export))
    assert sorted(report.imported) == ["12", "13", "15", "16"] and not report.not_on_roster
    opts = GradeOptions(
        workers=2, timeout=60, cell_timeout=20, progress=False, runner_path=ag_runner_path
    )
    summary = grade_assignment(course, A, options=opts)
    assert sorted(summary.graded) == ["12", "13", "15", "16"]
    return {"course": course, "opts": opts, "tmp": tmp}


def _long(course, tmp: Path) -> dict[str, dict]:
    from autograder.gradebook import export_csv

    out = tmp / "long.csv"
    export_csv(course, str(out))
    return {r["student_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}


def test_late_penalty_from_timestamps(klass):
    course, rows = klass["course"], _long(klass["course"], klass["tmp"])
    assert rows["12"]["submitted_at"] == "2026-11-01 10:00:00 UTC" and rows["12"]["late_by"] == ""
    assert (rows["12"]["lms_late"], rows["13"]["lms_late"]) == ("", "LATE")  # Canvas's flag kept
    assert rows["13"]["late_by"] == "02:30:00" and float(rows["13"]["penalty"]) == 3.0
    assert float(rows["13"]["final_score"]) == float(rows["13"]["score"]) - 3 == 15
    assert rows["15"]["late_by"] == "" and float(rows["15"]["penalty"]) == 0  # extension
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export"],
        cwd=course.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    theirs = {
        r["student_id"]: r for r in csv.DictReader(Path(course.root, "grades.csv").open())
    }  # nbgrader's own export shows the time and the penalty now
    assert theirs["13"]["timestamp"].startswith("2026-11-01 14:30:00"), proc.stderr[-2000:]
    assert float(theirs["13"]["late_submission_penalty"]) == 3.0
    assert (theirs["13"]["last_name"], theirs["13"]["first_name"]) == ("Smith", "John")
    from autograder.gradebook import open_gradebook

    with open_gradebook(course) as gb:  # nbgrader's own records: nbgrader export sees them
        sub = gb.find_submission(A, "13")
        assert sub.timestamp.isoformat() == "2026-11-01T14:30:00"
        assert sub.total_seconds_late == 9000 and sub.late_submission_penalty == 3.0
        assert gb.find_submission(A, "15").extension.total_seconds() == 48 * 3600


def test_non_submitters_are_missing_not_zero(klass):
    rows = _long(klass["course"], klass["tmp"])
    assert set(rows) == {"12", "13", "14", "15", "16"}
    assert rows["14"]["status"] == "missing" and rows["14"]["score"] == "missing"
    assert rows["16"]["score"] == "0.0" and rows["16"]["status"] != "missing"  # blank: 0
    from autograder.feedback import write_feedback
    from autograder.report import write_report

    missing: list[str] = []
    write_feedback(klass["course"], A, missing=missing)
    assert missing == ["14"]
    assert "- 14: no submission" in Path(write_report(klass["course"], A)).read_text()


def test_manual_points_are_pending_not_zero(klass):
    course = klass["course"]
    rows = _long(course, klass["tmp"])
    assert rows["12"]["status"] == "pending" and float(rows["12"]["pending"]) == 2
    assert rows["12"]["softmax_why"] == "pending" and float(rows["12"]["score"]) == 18
    from autograder.feedback import write_feedback

    write_feedback(course, A)
    page = Path(course.feedback_dir("12", A), "feedback.html").read_text()
    assert "Score so far: 18 / 20, 2 point(s) pending" in page
    assert "Score: 18 / 20" not in page


def test_csv_importable_by_canvas_and_moodle(klass):
    from autograder.gradebook import export_csv

    course, tmp = klass["course"], klass["tmp"]
    out = tmp / "canvas.csv"
    export_csv(course, str(out), fmt="canvas")
    # Canvas reads the header, skips "Points Possible", matches each row by ID (user id)
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{A} (777)"]
    assert rows[1][0] == "Points Possible" and float(rows[1][5]) == 20
    by_id = {r[1]: r for r in rows[2:]}
    assert sorted(by_id) == ["12", "13", "14", "15", "16"]  # one row per roster student
    assert by_id["13"][:5] == ["Smith, John", "13", "S013", "jsmith2", "Sec B"]
    for r in rows[2:]:
        assert len(r) == 6 and (r[5] == "" or float(r[5]) >= 0), r  # a number, or unchanged
    assert by_id["14"][5] == ""  # missing: left to Canvas, never a 0
    assert by_id["12"][5] == ""  # pending hand grading: not posted yet
    moodle = tmp / "moodle.csv"
    export_csv(course, str(moodle), fmt="moodle")
    table = list(csv.DictReader(moodle.open(encoding="utf-8")))
    assert list(table[0]) == ["Full name", "Email address", "ID number", A]
    assert {r["ID number"] for r in table} == {"S012", "S013", "S014", "S015", "S016"}


def test_hand_grading_and_comments_reach_the_feedback(klass):
    from autograder.feedback import write_feedback
    from autograder.gradebook import export_csv, open_gradebook

    course, tmp = klass["course"], klass["tmp"]
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.server_extensions.formgrader.apihandlers import CommentHandler, GradeHandler

    from autograder.cli import main

    # formgrader lists the class from our gradebook: graded, hand grading pending, with times
    api = NbGraderAPI(coursedir=CourseDirectory(config=course.config), config=course.config)
    listed = {s["student"]: s for s in api.get_submissions(A)}
    assert listed["12"]["autograded"] and listed["12"]["needs_manual_grade"]
    assert str(listed["13"]["timestamp"]) == "2026-11-01T14:30:00"
    with open_gradebook(course) as gb:  # formgrader's own handlers save the grade and comment
        grade_id = gb.find_grade("softmax_why", A, A, "12").id
        comment_id = gb.find_comment("softmax_why", A, A, "12").id

        def handler(body: dict):
            return type(
                "Request",
                (),
                {"gradebook": gb, "get_json_body": lambda self: body, "write": lambda self, x: 0},
            )()

        def raw(method):  # under tornado's login and formgrader's xsrf/setup checks
            while hasattr(method, "__wrapped__"):
                method = method.__wrapped__
            return method

        raw(GradeHandler.put)(handler({"manual_score": 2.0}), grade_id)
        text = "Good <b>reasoning</b> about overflow"
        raw(CommentHandler.put)(handler({"manual_comment": text}), comment_id)
    cli = ["--course-dir", course.root, "hand-grade", A, "13", "softmax_why", "2"]
    assert main([*cli, "--comment", "Clear."]) == 0  # or through our command line
    assert main([*cli[:-1], "9"]) == 1  # more than the cell's points: refused
    write_feedback(course, A)
    page = Path(course.feedback_dir("12", A), "feedback.html").read_text()
    assert "Score: 20 / 20" in page and "pending" not in page.split("<h2>")[0]
    assert "Comments from your grader" in page
    assert "Good &lt;b&gt;reasoning&lt;/b&gt; about overflow" in page and "<b>" not in page
    late = Path(course.feedback_dir("13", A), "feedback.html").read_text()
    assert "02:30:00 late; late penalty: 3 point(s), final score 17 / 20" in late
    assert "Clear." in late
    out = tmp / "canvas-after.csv"
    export_csv(course, str(out), fmt="canvas")
    by_id = {r[1]: r for r in list(csv.reader(out.open()))[2:]}
    assert float(by_id["12"][5]) == 20 and float(by_id["13"][5]) == 17


def test_generate_feedback_does_not_delete_ours(klass):
    from autograder.feedback import write_feedback

    course = klass["course"]
    write_feedback(course, A)
    ours = Path(course.feedback_dir("12", A), "feedback.html")
    assert ours.exists()
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_feedback", A, "--force"],
        cwd=course.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ours.exists(), proc.stderr[-2000:]
    theirs = Path(course.root, "feedback", "12", A, f"{A}.html")
    assert theirs.exists(), proc.stderr[-2000:]  # nbgrader's own is not blocked by ours
    write_feedback(course, A)
    assert theirs.exists() and ours.exists()


def test_feedback_zip_for_the_lms_bulk_upload(klass, tmp_path):
    from autograder.feedback import feedback_zip, write_feedback
    from autograder.lms import parse_entry

    course = klass["course"]
    write_feedback(course, A)
    out = tmp_path / "feedback.zip"
    assert feedback_zip(course, A, str(out)) == 4
    names = zipfile.ZipFile(out).namelist()
    # Canvas's "Re-Upload Submissions" matches the download's prefix: user and submission id
    assert sorted(names) == [
        "doejane_16_504_feedback.html",
        "roeann_15_503_feedback.html",
        "smithjohn_12_501_feedback.html",
        "smithjohn_13_502_feedback.html",
    ]
    assert {parse_entry(n).key for n in names} == {"12", "13", "15", "16"}
    moodle = tmp_path / "moodle.zip"
    feedback_zip(course, A, str(moodle), layout="moodle")
    assert "smithjohn_12_assignsubmission_file_/feedback.html" in zipfile.ZipFile(moodle).namelist()


def test_resubmission_is_regraded(klass):
    from autograder.grade import grade_assignment

    course, tmp = klass["course"], klass["tmp"]
    nb = json.loads(SOURCE.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "softmax_why":
            cell["source"] = "A new answer, written after the hand grading."
    again = _zip(
        tmp / "again.zip",
        [
            (f"doejane_16_505_{A}.ipynb", _solution(), "2026-11-01 11:30:00"),  # was blank
            (f"smithjohn_12_506_{A}.ipynb", json.dumps(nb).encode(), "2026-11-01 11:40:00"),
            (f"smithjohn_LATE_13_502_{A}.ipynb", _solution(), "2026-11-01 14:30:00"),  # same
        ],
    )
    report = collect(course, A, str(again))
    assert sorted(report.resubmitted) == ["12", "16"] and report.unchanged == ["13"]
    summary = grade_assignment(course, A, options=klass["opts"])
    assert sorted(summary.graded) == ["12", "16"] == sorted(summary.resubmitted)
    assert summary.results["16"]["score"] == 18
    rows = _long(course, tmp)
    assert float(rows["16"]["score"]) == 18 and rows["16"]["submitted_at"].endswith("11:30:00 UTC")
    assert rows["16"]["version"] == summary.results["16"]["version"]["sha256"][:12]
    # the hand grade belonged to the old answer: pending again, never silently kept
    assert rows["12"]["status"] == "pending" and rows["12"]["softmax_why"] == "pending"
    assert any("softmax_why" in m for m in summary.results["12"]["messages"])
    assert rows["13"]["softmax_why"] == "2.0"  # unchanged submission: hand grade kept


def test_regrade_of_one_student_resets_only_that_student(klass):
    from autograder.cli import main

    course = klass["course"]
    journal = Path(course.state_dir(A), "journal.jsonl")
    before = journal.read_text().count('"graded"')
    opts = klass["opts"]
    args = ["--course-dir", course.root, "grade", A, str(Path(course.submitted_dir, "12"))]
    args += ["--workers", "1", "--quiet", "--timeout", "60", "--regrade"]
    for p in opts.runner_path:
        args[5:5] = ["--runner-path", p]
    assert main(args) == 0
    records = [json.loads(x) for x in journal.read_text().splitlines() if x.strip()]
    assert journal.read_text().count('"graded"') == before + 1
    assert [r["student"] for r in records if r["event"] == "reset"] == ["12"]
    from autograder.grade import grade_assignment

    summary = grade_assignment(course, A, options=klass["opts"])
    assert summary.graded == [] and len(summary.skipped) == 4  # nobody else regraded
    summary = grade_assignment(
        course, A, options=type(opts)(**{**vars(opts), "regrade_students": ["13"]})
    )
    assert summary.graded == ["13"]
