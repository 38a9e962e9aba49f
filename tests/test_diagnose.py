"""Feedback that names the mistake (autograder/diagnose.py, autograder/check.py).

* Patterns (off by a factor, sign, transposed, wrong axis, float32, NaN) on plain data.
* The book links: every graded function of every assignment has a section, and every anchor is the
  id of a heading of that chapter.
* One grading batch of exercise 2 and one of exercise 5 with 14 typical mistakes: each failing
  test of the mistaken function names the mistake with its catalogue sentence, and hidden tests'
  diagnoses carry no numbers; a wrong sign in ``softmax_cross_entropy`` makes the failures of
  ``two_layer_backward`` and ``train`` point at it; the feedback page shows the sentence and the
  link.
* The local check (``autograder check``) agrees with the grader on every public test for a
  forbidden ``scipy.special.log_softmax`` and for arguments written in place, and says why; and
  on every public test of every catalogued mutant of every assignment (one batch).
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from autograder.diagnose import Call, _Outcome, load_catalogue, pattern_sentences
from autograder.notebook import load_source
from tests.test_exercises import (
    ASSIGNMENTS,
    SOURCE,
    _course_template,
    apply_mutant,
    auto_tests,
    source_notebook,
)

REPO = Path(__file__).resolve().parents[1]


def _pattern(student, reference, args=(), hidden=False):
    return pattern_sentences(
        "f", Call("f", tuple(args), {}, value=student, done=True), _Outcome(value=reference), hidden
    )


def test_patterns_name_what_is_wrong():
    rng = np.random.default_rng(0)
    r = rng.normal(size=(4, 3))
    assert "constant factor" in _pattern(r / 4, r)[0] and "0.25" in _pattern(r / 4, r)[0]
    assert "0.25" not in _pattern(r / 4, r, hidden=True)[0]  # hidden tests: no numbers
    assert "opposite sign" in _pattern(-r, r)[0]
    assert "transposed" in _pattern(r.T.copy(), r)[0]
    dz = rng.normal(size=(5, 3))
    assert "wrong axis" in _pattern(dz.sum(axis=1), dz.sum(axis=0), args=(dz,))[0]
    assert "float32" in _pattern(r.astype(np.float32), r)[0]
    assert "float32" in _pattern(r.astype(np.float32).astype(float), r)[0]
    bad = r.copy()
    bad[0, 0] = np.nan
    assert "NaN or infinity" in _pattern(bad, r)[0]
    assert _pattern(r, r) == [] and _pattern(r + rng.normal(size=r.shape), r) == []


def _section_ids(page: Path) -> set[str]:
    """The ids Sphinx gives the page's sections: docutils' make_id of each heading's text
    (headings inside code cells and fences are comments, not sections)."""
    from docutils.nodes import make_id

    ids, fence = set(), None
    for line in page.read_text().splitlines():
        m = re.match(r"^(`{3,}|:{3,})", line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif line.strip() == fence:
                fence = None
            continue
        if fence is None and (h := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)):
            ids.add(make_id(h.group(1)))
    return ids


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_graded_function_links_to_a_section_of_the_book_that_exists(assignment):
    catalogue = load_catalogue(str(SOURCE / assignment))
    spec = load_source(str(source_notebook(assignment)))
    from autograder.diagnose import call_graph

    functions = set(call_graph(spec))
    sections = catalogue.SECTIONS
    assert functions <= set(sections), (
        f"{assignment}: no book section for {functions - set(sections)}"
    )
    for name, s in sections.items():
        page = REPO / f"{s['page']}.md"
        assert page.is_file(), f"{assignment}: {name} links to {s['page']}, which is not a page"
        assert s["anchor"] in _section_ids(page), (
            f"{assignment}: {name} links to #{s['anchor']}, not a section of {s['page']}.md "
            f"(sections: {sorted(_section_ids(page))})"
        )
        assert s["title"]


def _by_why(assignment: str, why: str) -> dict:
    found = [m for m in load_catalogue(str(SOURCE / assignment)).MUTANTS if m["why"] == why]
    assert len(found) == 1, f"{assignment}: no single mutant {why!r}"
    return found[0]


def _edits(*pairs: tuple[str, str, str]) -> dict:
    """A mistake written for these tests (several edits of one cell), not from the catalogue."""
    return {"edits": [dict(cell=c, old=o, new=n) for c, o, n in pairs]}


def _apply(nb: dict, mistake: dict) -> dict:
    for m in mistake.get("edits", [mistake]):
        nb = apply_mutant(nb, {**m, "why": m.get("why", "test edit")})
    return nb


_INPLACE = _edits(
    (
        "numerical_gradient",
        "p = {k: np.array(v, dtype=float) for k, v in params.items()}",
        "p = params",
    ),
    ("numerical_gradient", "            w[i] = old\n            g[i]", "            g[i]"),
)
_FLOAT32 = _edits(
    (
        "numerical_gradient",
        "p = {k: np.array(v, dtype=float) for k, v in params.items()}",
        "p = {k: np.array(v, dtype=np.float32) for k, v in params.items()}",
    )
)
_LOG_SOFTMAX = _edits(
    (
        "softmax_cross_entropy",
        "    log_p = Z - m - np.log(np.exp(Z - m).sum(axis=1, keepdims=True))",
        "    from scipy.special import log_softmax\n\n    log_p = log_softmax(Z, axis=1)",
    )
)

# (assignment, student, mistake, function, what its failing tests' diagnosis must contain)
TYPICAL = [
    ("02-backprop", "sce_sign", "wrong sign of the gradient", "softmax_cross_entropy", None),
    (
        "02-backprop",
        "sce_no_1_over_n",
        "gradient of the summed loss (no 1/N) while the loss is the mean",
        "softmax_cross_entropy",
        None,
    ),
    (
        "02-backprop",
        "db_mean",
        "averages the bias gradient over the batch a second time",
        "dense_backward",
        None,
    ),
    (
        "02-backprop",
        "dx_transpose",
        "missing transpose in dX (a shape error when D != H)",
        "dense_backward",
        None,
    ),
    (
        "02-backprop",
        "sigmoid_tanh",
        "tanh's derivative instead of the sigmoid's",
        "sigmoid_prime",
        None,
    ),
    ("02-backprop", "float32", _FLOAT32, "numerical_gradient", "float32"),
    ("02-backprop", "in_place", _INPLACE, "numerical_gradient", "in place"),
    (
        "05-regularization",
        "bn_variance_path",
        "the path through the variance is missing",
        "batchnorm_backward",
        None,
    ),
    (
        "05-regularization",
        "es_leq",
        "an equal loss counts as an improvement",
        "early_stopping_epoch",
        None,
    ),
    ("05-regularization", "l2_norm", "L2 norm instead of its square", "weight_penalty", None),
    (
        "05-regularization",
        "no_rescale",
        "dropout without rescaling the kept units",
        "dropout_forward",
        None,
    ),
    (
        "05-regularization",
        "eps_outside",
        "epsilon outside the square root",
        "batchnorm_forward",
        None,
    ),
    (
        "05-regularization",
        "sign_nan",
        "sign(W) as W / |W|: NaN and a warning at exact zeros",
        "weight_penalty_gradients",
        None,
    ),
    (
        "05-regularization",
        "dbeta_mean",
        "dbeta averaged instead of summed over the batch",
        "batchnorm_backward",
        None,
    ),
]


def _mistake(assignment: str, spec: str | dict) -> dict:
    return _by_why(assignment, spec) if isinstance(spec, str) else spec


_BATCHES: dict[str, tuple[dict, str]] = {}


def _graded(assignment: str, tmp_root: str) -> tuple[dict, str]:
    """One grading batch per assignment: the typical mistakes (and, for exercise 2, the
    forbidden log_softmax), then their feedback pages."""
    if assignment in _BATCHES:
        return _BATCHES[assignment]
    from autograder.config import load_course
    from autograder.feedback import write_feedback
    from autograder.grade import GradeOptions, grade_assignment

    root = _course_template(tmp_root)
    course = load_course(root)
    nb = json.loads(source_notebook(assignment).read_text())
    subs = {st: _apply(nb, _mistake(a, m)) for a, st, m, _, _ in TYPICAL if a == assignment}
    if assignment == "02-backprop":
        subs["log_softmax"] = _apply(nb, _LOG_SOFTMAX)
    folder = Path(root) / "submitted"
    for st, notebook in subs.items():
        (folder / st / assignment).mkdir(parents=True, exist_ok=True)
        (folder / st / assignment / f"{assignment}.ipynb").write_text(json.dumps(notebook))
    opts = GradeOptions(workers=2, progress=False, regrade=True)
    results = grade_assignment(course, assignment, str(folder), options=opts).results
    write_feedback(course, assignment)
    _BATCHES[assignment] = (results, root)
    return results, root


@pytest.fixture(scope="module")
def tmp_root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("diagnose"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "assignment, student, mistake, function, expected",
    TYPICAL,
    ids=[t[1] for t in TYPICAL],
)
def test_a_typical_mistake_gets_its_diagnosis(
    assignment, student, mistake, function, expected, tmp_root
):
    results, root = _graded(assignment, tmp_root)
    tests = auto_tests(results[student])
    mine = {k: t for k, t in tests.items() if k.startswith(f"{function}_")}
    failed = {k: t for k, t in mine.items() if not t["passed"]}
    assert failed, f"{student}: the mistake in {function} is not caught"
    want = _mistake(assignment, mistake).get("say") if expected is None else expected
    for k, t in failed.items():
        assert want in t.get("diagnosis", ""), (
            f"{student}: test {k} should say {want!r}, says {t.get('diagnosis')!r} "
            f"(message {t['message']!r})"
        )
        if k.endswith("_hidden"):
            assert not re.search(r"\d\.\d|\d{3,}", t["diagnosis"]), t["diagnosis"]
    for k, t in tests.items():  # a diagnosis only where a test of this function fails
        if t.get("diagnosis") and not t.get("root_cause"):
            assert k in failed, f"{student}: {k} got a diagnosis: {t['diagnosis']!r}"
    page = (Path(root) / "autograder-feedback" / student / assignment / "feedback.html").read_text()
    assert "Likely cause:" in page and 'href="https://' in page


@pytest.mark.slow
def test_a_wrong_sign_in_softmax_cross_entropy_is_named_as_the_root_cause(tmp_root):
    results, root = _graded("02-backprop", tmp_root)
    tests = auto_tests(results["sce_sign"])
    for k in ["two_layer_backward_public", "two_layer_backward_hidden"]:
        assert not tests[k]["passed"]
        assert tests[k]["root_cause"]["function"] == "softmax_cross_entropy", tests[k]
        assert "fails only because `softmax_cross_entropy`" in tests[k]["message"], tests[k]
    for k in ["train_public", "train_hidden"]:
        assert not tests[k]["passed"]
        assert tests[k]["root_cause"]["function"] == "softmax_cross_entropy", tests[k]
        text = tests[k]["message"] + tests[k].get("diagnosis", "")
        assert "`softmax_cross_entropy`" in text, tests[k]
    page = (
        Path(root) / "autograder-feedback" / "sce_sign" / "02-backprop" / "feedback.html"
    ).read_text()
    assert "fails only because" in page


@pytest.mark.slow
def test_the_report_names_the_most_common_diagnosed_mistake_per_test(tmp_root):
    """The instructor's report: per failed test, the share of students, the mean points lost
    and the mistake the diagnosis named most often (a root cause counts as its function)."""
    from autograder.config import load_course
    from autograder.report import summarize, write_report

    results, course_root = _graded("02-backprop", tmp_root)
    s = summarize(list(results.values()))
    said = Counter()  # what each failed test of two_layer_backward names, as the report groups it
    for r in results.values():
        t = auto_tests(r)["two_layer_backward_public"]
        if t["passed"]:
            continue
        if t.get("root_cause"):
            said[f"fails because `{t['root_cause']['function']}` fails"] += 1
        elif t.get("mistake") or t.get("diagnosis"):
            said[t.get("mistake") or t["diagnosis"]] += 1
    assert said, "the batch should have diagnosed failures of two_layer_backward"
    mistake, n = s["mistakes"]["two_layer_backward_public"]
    assert n == max(said.values()) and said[mistake] == n, (s["mistakes"], said)
    report = Path(write_report(load_course(course_root), "02-backprop")).read_text()
    head = (
        "| test | failed | share of students | mean points lost | most common diagnosed mistake |"
    )
    assert head in report, report[:800]
    row = next(
        line
        for line in report.splitlines()
        if line.startswith("| two\\_layer\\_backward\\_public |")
    )
    assert row.endswith(f"({n}) |"), row


def test_the_report_keeps_a_hostile_diagnosis_inert():
    """A diagnosis is the trusted side's text, but it is escaped like everything else: a pipe or
    a tag cannot break the report's table."""
    from autograder.report import _mistake_cell, summarize

    test = {
        "kind": "auto",
        "grade_id": "f_public",
        "passed": False,
        "points": 0,
        "max_points": 2,
        "diagnosis": "a | b <img src=x onerror=alert(1)>",
    }
    results = [
        {"student": s, "score": 0, "max_score": 2, "notebooks": [{"tests": [test]}]}
        for s in ("a", "b")
    ]
    s = summarize(results)
    assert s["mistakes"]["f_public"] == ("a | b <img src=x onerror=alert(1)>", 2)
    cell = _mistake_cell(s["mistakes"]["f_public"])
    assert "<img" not in cell and "\\|" in cell and cell.endswith("(2)"), cell
    assert _mistake_cell(None) == "none named"


def _student_copy(root: str, assignment: str, source_nb: dict, out: Path) -> Path:
    """The released notebook with the solution cells of ``source_nb`` (markers removed)."""
    release = Path(root) / "release" / assignment / f"{assignment}.ipynb"
    nb = json.loads(release.read_text())
    by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in source_nb["cells"]}
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in by_id and cell["cell_type"] == "code":
            src = "".join(by_id[meta["grade_id"]]["source"])
            cell["source"] = "".join(
                line
                for line in src.splitlines(True)
                if "### BEGIN" not in line and "### END" not in line
            )
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{assignment}.ipynb"
    path.write_text(json.dumps(nb))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("student", ["log_softmax", "in_place"])
def test_the_local_check_agrees_with_the_grader(student, tmp_root, tmp_path):
    from autograder.check import check_notebook, format_report

    results, root = _graded("02-backprop", tmp_root)
    graded = auto_tests(results[student])
    mistake = _LOG_SOFTMAX if student == "log_softmax" else _INPLACE
    nb = _apply(json.loads(source_notebook("02-backprop").read_text()), mistake)
    path = _student_copy(root, "02-backprop", nb, tmp_path / student)
    local = check_notebook(str(path))
    checked = auto_tests(local)
    assert set(checked) == {k for k in graded if k.endswith("_public")}
    for k, t in checked.items():
        assert (t["passed"], t["status"]) == (graded[k]["passed"], graded[k]["status"]), (
            f"{student}: {k} locally {t['status']} {t['message']!r}, graded "
            f"{graded[k]['status']} {graded[k]['message']!r}"
        )
    report = format_report(local)
    public = sum(t["points"] for k, t in graded.items() if k.endswith("_public"))
    assert f"public tests {public:g} / 13 points" in report, report
    if student == "log_softmax":
        assert checked["softmax_cross_entropy_public"]["status"] == "forbidden-import"
        assert "scipy.special.log_softmax" in report
    else:
        assert "in place" in checked["numerical_gradient_public"].get("diagnosis", ""), report
        assert "in place" in graded["numerical_gradient_public"].get("diagnosis", "")


@pytest.mark.slow
def test_one_pip_install_gives_a_notebook_what_it_imports(tmp_path):
    """`pip install git+<repository>` (the exercises page's line for Colab): the wheel holds
    nnlib and the autograder (checks, check, diagnose), needs no nbgrader (an extra for
    instructors: it pins Jupyter packages a hosted service already has), and ships no mistake
    catalogue (solution snippets)."""
    import shutil
    import subprocess
    import sys
    import zipfile

    tree = tmp_path / "repo"
    tree.mkdir()
    for name in ["pyproject.toml", "README.md"]:
        shutil.copy(REPO / name, tree / name)
    for name in ["nnlib", "autograder", "exercises"]:
        shutil.copytree(REPO / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(out), str(tree)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    for module in ["autograder/checks.py", "autograder/check.py", "autograder/diagnose.py"]:
        assert module in names
    assert "nnlib/__init__.py" in names
    assert not [n for n in names if "mutants" in n or n.startswith("exercises/")]
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    core = [r for r in requires if "extra ==" not in r]
    assert not [r for r in core if "nbgrader" in r], core
    line = (REPO / "book" / "exercises.md").read_text()
    assert "pip install git+https://github.com/how-to-train-your-neurons/course" in line


#: Exercise 6's mutants that fail before training (the others train for about 15 CPU seconds in
#: each local check; their grading is test_exercises.py's).
_QUICK_06 = {
    "reshaped to (784, N): samples in columns",
    "integer labels with categorical_crossentropy (needs one-hot labels): fit raises",
}


@pytest.mark.slow
def test_the_local_check_agrees_with_the_grader_on_every_mutant(tmp_root, tmp_path):
    """Every catalogued mutant of every assignment (exercise 6: those that fail before training):
    each public test passes in ``autograder check`` exactly when it passes in the grader, with the
    same status. The grader's verdicts are the batches of test_exercises.py (one per assignment,
    shared); the local checks run two at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from autograder.check import check_notebook

    # pytest imports test_exercises.py as "test_exercises" (tests/ has no __init__.py); importing
    # it as "tests.test_exercises" would make a second module with its own cache of grading
    # batches, and every assignment would be graded twice in one run.
    te = sys.modules.get("test_exercises") or importlib.import_module("tests.test_exercises")
    graded, mutants = te.graded, te.mutants

    root = _course_template(tmp_root)
    jobs = []
    for assignment in ASSIGNMENTS:
        source = json.loads(source_notebook(assignment).read_text())
        for i, mutant in enumerate(mutants(assignment)):
            if assignment == "06-fashion-mnist" and mutant["why"] not in _QUICK_06:
                continue
            path = _student_copy(
                root, assignment, apply_mutant(source, mutant), tmp_path / assignment / f"m{i}"
            )
            jobs.append((assignment, i, mutant["why"], path))
    with ThreadPoolExecutor(2) as pool:
        local = list(pool.map(lambda job: auto_tests(check_notebook(str(job[3]))), jobs))
    disagree, compared = [], 0
    for (assignment, i, why, _), checked in zip(jobs, local, strict=True):
        grader = auto_tests(graded(assignment, root)[f"mutant{i:02d}"])
        public = {k for k in grader if k.endswith("_public")}
        assert set(checked) == public, f"{assignment} {why}: checked {sorted(checked)}"
        for k, t in checked.items():
            compared += 1
            if (t["passed"], t["status"]) != (grader[k]["passed"], grader[k]["status"]):
                disagree.append((assignment, why, k, t["message"], grader[k]["message"]))
    assert not disagree, disagree
    assert len({j[0] for j in jobs}) == len(ASSIGNMENTS) and compared > len(jobs)


@pytest.mark.book
def test_the_links_resolve_in_the_built_book():
    """Where the book is built (``make book``), each linked page exists and holds the anchor."""
    site = REPO / "_build" / "html"
    if not (site / "index.html").is_file():
        pytest.skip("the book is not built here (make book)")
    for assignment in ASSIGNMENTS:
        for name, s in load_catalogue(str(SOURCE / assignment)).SECTIONS.items():
            page = site / f"{s['page']}.html"
            assert page.is_file(), f"{assignment}: {name} links to {page}, not built"
            assert f'id="{s["anchor"]}"' in page.read_text(), f"{name}: no #{s['anchor']} in {page}"


def test_self_check_finds_the_notebook_it_runs_in(tmp_path, monkeypatch):
    """Jupyter Server names the kernel's notebook in $JPY_SESSION_NAME; else a single
    NN-name.ipynb in the working folder; else self_check asks for the file."""
    from autograder import checks

    nb = tmp_path / "02-backprop.ipynb"
    nb.write_text("{}")
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb))
    assert checks._this_notebook() == str(nb)
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.chdir(tmp_path)
    assert checks._this_notebook() == "02-backprop.ipynb"
    (tmp_path / "05-regularization.ipynb").write_text("{}")
    assert checks._this_notebook() is None
    with pytest.raises(FileNotFoundError, match="self_check"):
        checks.self_check()
