"""The autograder's data model: one JSON round trip, hostile input cleaned or refused, never a
crash (:mod:`autograder.model`)."""

from __future__ import annotations

import json
import math

import pytest

from autograder.config import DEFAULTS
from autograder.errors import AutograderError, ResultError
from autograder.isolation import DEFAULT_UID_BASE
from autograder.model import Job, NotebookResult, SubmissionResult, TestResult, load_result


def _result() -> SubmissionResult:
    diagnosed = TestResult("softmax_hidden", "auto", 0.0, 3.0, False, "failed", "no")
    diagnosed.diagnosis, diagnosed.sections = "exp overflows", [{"title": "t", "url": "https://x"}]
    tests = [
        TestResult("sigmoid_public", "auto", 2.0, 2.0, True, "ok"),
        diagnosed,
        TestResult("why", "manual", None, 4.0, False, "manual", "needs manual grading"),
    ]
    nb = NotebookResult("01-forward", "ok", ["a note"], tests, isolation={"bwrap": True})
    result = SubmissionResult("ada", "01-forward", notebooks=[nb], version={"sha256": "ab"})
    result.add_up()
    return result


def test_a_result_survives_its_json_round_trip():
    result = _result()
    data = json.loads(json.dumps(result.to_json()))
    problems: list[str] = []
    again = SubmissionResult.from_json(data, problems)
    assert again == result, "to_json then from_json should give the same result back"
    assert problems == [], f"a result the grader wrote should read back cleanly: {problems}"
    assert (result.score, result.max_score, result.manual_max_score) == (2.0, 5.0, 4.0)


def test_unset_annotations_stay_out_of_the_json_form():
    test = _result().tests[0]
    assert "diagnosis" not in test.to_json() and "diagnosis" not in test
    assert test.get("diagnosis") is None, "an unset annotation reads as absent, as in JSON"
    assert _result().tests[1].to_json()["diagnosis"] == "exp overflows"


def test_key_access_reads_and_writes_fields_and_refuses_other_keys():
    result = _result()
    test = result["notebooks"][0]["tests"][1]
    test["look"] = "the max subtraction"
    assert test.look == "the max subtraction" and result["score"] == 2.0
    with pytest.raises(KeyError, match="no field 'hint'.*diagnosis"):
        test["hint"] = "x"
    assert test.get("hint", "none") == "none"


def test_hostile_values_are_cleaned_with_a_problem_each_never_a_crash():
    data = {
        "student": "s\udcff",
        "assignment": 7,
        "score": math.nan,
        "max_score": "lots",
        "messages": ["ok", {"not": "text"}],
        "evil": "x",
        "notebooks": [
            {"notebook": "n", "tests": [{"grade_id": "<b>", "points": "x", "passed": 1}, 5]},
            "junk",
        ],
    }
    problems: list[str] = []
    result = SubmissionResult.from_json(data, problems)
    assert result.student == "s\ufffd", "lone surrogates become U+FFFD"
    assert (result.assignment, result.score, result.max_score) == ("?", 0.0, 0.0)
    assert result.messages == ["ok"] and len(result.notebooks) == 1
    test = result.notebooks[0].tests[0]
    assert (test.grade_id, test.points, test.passed) == ("<b>", 0.0, False)
    said = "\n".join(problems)
    for what in ("assignment", "score", "max_score", "messages[1]", "evil", "points", "passed"):
        assert what in said, f"cleaning {what} should be reported: {said}"
    assert "tests[1]" in said and "notebooks[1]" in said, said


@pytest.mark.parametrize("data", [None, [], "text", 3, {"score": 1}, {"student": 5}])
def test_what_is_not_a_result_is_refused_with_a_clear_error(data):
    with pytest.raises(ResultError, match="not a result"):
        SubmissionResult.from_json(data)
    assert issubclass(ResultError, AutograderError) and issubclass(ResultError, ValueError)


def test_load_result_refuses_unreadable_files(tmp_path):
    (tmp_path / "bad.json").write_bytes(b"{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    for name in ("bad.json", "list.json", "missing.json"):
        with pytest.raises(ResultError):
            load_result(str(tmp_path / name))
    (tmp_path / "ok.json").write_text(json.dumps(_result().to_json()))
    assert load_result(str(tmp_path / "ok.json")) == _result()


def test_a_job_has_its_defaults_in_one_place_and_round_trips():
    job = Job(assignment="a", student="s", limits={"memory_mb": 512})
    assert job.uid_base == DEFAULT_UID_BASE == DEFAULTS["uid_base"]
    assert job.output_cap == DEFAULTS["output_cap"] and job.timeout == DEFAULTS["timeout"]
    again = Job.from_json(json.loads(json.dumps(job.to_json())))
    assert again == job
    problems: list[str] = []
    Job.from_json({"assignment": "a", "uid_base": "61000", "bogus": 1}, problems)
    assert any("uid_base" in p for p in problems) and any("bogus" in p for p in problems)
