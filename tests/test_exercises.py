"""Every assignment works, and its tests are proven to catch the mistakes students really make.

For each assignment in ``exercises/source/``: the source notebook (with its solutions) scores full
marks; the released student notebook scores 0 without crashing the grader; the release holds no
solution code and no hidden test, and releasing twice gives identical files; the points add up to
the total stated at the top. Then every mutant in ``exercises/source/<assignment>/mutants.py`` (a
plausible wrong implementation; the grader reads the same catalogue for its diagnoses) is applied to the solution notebook and graded in the same batch: it must lose
the points of exactly the test cells it lists in ``fails`` and keep every other test's points.
A mutant marked ``pending`` (the grader change it waits for) is an expected failure until then.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from autograder.diagnose import load_catalogue
from autograder.grade import GradeOptions, grade_assignment
from autograder.notebook import load_source
from autograder.release import check_release, release

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "exercises" / "source"
ASSIGNMENTS = sorted(p.name for p in SOURCE.iterdir() if (p / f"{p.name}.ipynb").exists())
MUTANT_MODULES = {a: m for a in ASSIGNMENTS if (m := load_catalogue(str(SOURCE / a))) is not None}
SLOW = {"06-fashion-mnist"}  # graded under a training budget


def source_notebook(assignment: str) -> Path:
    return SOURCE / assignment / f"{assignment}.ipynb"


def mutants(assignment: str) -> list[dict]:
    module = MUTANT_MODULES.get(assignment)
    return list(module.MUTANTS) if module else []


def apply_mutant(nb: dict, mutant: dict) -> dict:
    """The source notebook with one solution cell's text replaced (exactly one occurrence)."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == mutant["cell"]:
            src = "".join(cell["source"])
            count = src.count(mutant["old"])
            assert count == 1, (
                f"mutant {mutant['why']!r}: {mutant['old']!r} occurs {count} times in cell "
                f"{mutant['cell']!r}; the mutant must name exactly one place"
            )
            cell["source"] = src.replace(mutant["old"], mutant["new"])
            return nb
    raise AssertionError(f"mutant {mutant['why']!r}: no cell with grade_id {mutant['cell']!r}")


@functools.cache
def _course_template(tmp_root: str) -> str:
    from autograder.config import load_course

    root = Path(tmp_root) / "course"
    root.mkdir(parents=True)
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", root)
    shutil.copytree(SOURCE, root / "source")
    course = load_course(str(root))
    for assignment in ASSIGNMENTS:
        release(course, assignment)
    return str(root)


@pytest.fixture(scope="module")
def course_root(tmp_path_factory) -> str:
    return _course_template(str(tmp_path_factory.mktemp("exercises")))


_GRADED: dict[str, dict] = {}


def graded(assignment: str, course_root: str) -> dict:
    """Grade solution, blank release and every mutant of an assignment in one parallel batch."""
    if assignment in _GRADED:
        return _GRADED[assignment]
    from autograder.config import load_course

    course = load_course(course_root)
    nb = json.loads(source_notebook(assignment).read_text())
    subs = {
        "solution": nb,
        "blank": json.loads(
            (Path(course.release_dir(assignment)) / f"{assignment}.ipynb").read_text()
        ),
    }
    for i, mutant in enumerate(mutants(assignment)):
        subs[f"mutant{i:02d}"] = apply_mutant(nb, mutant)
    root = Path(course_root) / "submissions" / assignment
    for student, notebook in subs.items():
        folder = root / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{assignment}.ipynb").write_text(json.dumps(notebook))
    opts = GradeOptions(workers=2, progress=False, regrade=True)
    summary = grade_assignment(course, assignment, str(root), options=opts)
    _GRADED[assignment] = summary.results
    return summary.results


def auto_tests(result: dict) -> dict[str, dict]:
    return {
        t["grade_id"]: t for nb in result["notebooks"] for t in nb["tests"] if t["kind"] == "auto"
    }


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_points_add_up_to_the_total_stated_at_the_top(assignment):
    spec = load_source(str(source_notebook(assignment)))
    stated = re.search(r"Total: (\d+(?:\.\d+)?) points", spec.cells[0].source)
    assert stated, f"{assignment}: the first cell should state 'Total: N points'"
    assert spec.max_score == float(stated.group(1)), (
        f"{assignment}: the cells' points add up to {spec.max_score}, the top says {stated.group(1)}"
    )
    assert any(c.kind == "manual" for c in spec.graded), f"{assignment}: no written answer"
    assert "nnlib" in spec.forbid or assignment in {"06-fashion-mnist"}, (
        f"{assignment}: from-scratch exercises must forbid nnlib"
    )


_FIXED_SEED = re.compile(
    r"default_rng\(\s*\d|RandomState\(\s*\d|random\.seed\(|subset\([^)]*seed=\d|manual_seed\(\s*\d"
)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_hidden_tests_draw_fresh_inputs(assignment):
    """A hidden test's random inputs come from ``grading_seed()`` (fresh for every grading), never
    from a fixed seed: a fixed input's expected value becomes public through feedback."""
    spec = load_source(str(source_notebook(assignment)))
    for cell in spec.cells:
        if "### BEGIN HIDDEN TESTS" not in cell.source:
            continue
        hidden = cell.source.split("### BEGIN HIDDEN TESTS", 1)[1]
        fixed = _FIXED_SEED.findall(hidden)
        assert not fixed, (
            f"{assignment}, {cell.grade_id}: hidden inputs from a fixed seed {fixed}; draw them "
            "from np.random.default_rng(grading_seed()) (autograder.checks)"
        )
        if "_rng" in hidden:
            assert "default_rng(grading_seed())" in hidden, (
                f"{assignment}, {cell.grade_id}: a generator not seeded by grading_seed()"
            )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_is_saved_without_outputs(assignment):
    nb = json.loads(source_notebook(assignment).read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{assignment}: save the source without outputs (jupyter nbconvert --clear-output)"
            )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_clean_and_reproducible(assignment, course_root):
    from autograder.config import load_course

    course = load_course(course_root)
    out = Path(course.release_dir(assignment)) / f"{assignment}.ipynb"
    first = out.read_bytes()
    text = first.decode()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert check_release(course.source_dir(assignment), course.release_dir(assignment)) == []
    release(course, assignment)
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(first).digest(), (
        f"{assignment}: releasing twice should give byte-identical files"
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks_and_release_scores_zero(assignment, course_root):
    results = graded(assignment, course_root)
    full, blank = results["solution"], results["blank"]
    failed = {k: t["message"] for k, t in auto_tests(full).items() if not t["passed"]}
    assert full["status"] == "ok" and not failed, f"{assignment}: the solution fails {failed}"
    assert full["score"] == full["max_score"] > 0
    assert blank["score"] == 0, f"{assignment}: the blank release earns {blank['score']} points"
    assert blank["status"] == "ok", f"{assignment}: the blank release crashed the grader: {blank}"
    seconds = full.get("duration_s")
    if seconds is not None:
        limit = 60 + (90 if assignment in SLOW else 0)
        assert seconds < limit, f"{assignment}: grading one submission took {seconds:.0f} s"


CASES = [(a, i) for a in ASSIGNMENTS for i in range(len(mutants(a)))]


@pytest.mark.parametrize(
    "assignment, index", CASES, ids=[f"{a}-{mutants(a)[i]['cell']}-{i}" for a, i in CASES]
)
def test_mutant_loses_exactly_the_points_of_what_it_breaks(assignment, index, course_root):
    mutant = mutants(assignment)[index]
    try:
        _check_mutant(assignment, index, mutant, course_root)
    except AssertionError as exc:
        if mutant.get("pending"):  # caught only once a grader change lands: say which
            pytest.xfail(f"waits for: {mutant['pending']} ({exc})")
        raise


def _check_mutant(assignment: str, index: int, mutant: dict, course_root: str) -> None:
    results = graded(assignment, course_root)
    tests = auto_tests(results[f"mutant{index:02d}"])
    unknown = set(mutant["fails"]) - set(tests)
    assert not unknown, f"mutant {mutant['why']!r} lists unknown test cells {unknown}"
    kept = [k for k in mutant["fails"] if tests[k]["passed"]]
    assert not kept, (
        f"{assignment}: the mistake {mutant['why']!r} ({mutant['cell']}) is NOT caught by {kept}"
    )
    lost = [k for k, t in tests.items() if not t["passed"] and k not in mutant["fails"]]
    assert not lost, (
        f"{assignment}: the mistake {mutant['why']!r} ({mutant['cell']}) also costs the points of "
        f"{lost}: {[tests[k]['message'] for k in lost]}"
    )


def test_exercise_pages_of_the_book_are_the_current_student_versions(course_root):
    import runpy

    render = runpy.run_path(str(REPO / "scripts" / "exercise_pages.py"))["render"]
    pages = render(Path(course_root), fresh=False)
    on_disk = sorted(p.name for p in (REPO / "book" / "exercises").glob("*.ipynb"))
    assert on_disk == sorted(p.name for p in pages), (
        f"book/exercises/ holds {on_disk}, the course has {sorted(p.name for p in pages)}: run "
        "`python scripts/exercise_pages.py` and commit book/exercises/"
    )
    for path, text in pages.items():
        assert path.read_text() == text, (
            f"{path.relative_to(REPO)} is not the current student version of its assignment: run "
            "`python scripts/exercise_pages.py` and commit the result"
        )


def test_every_assignment_has_mutants_for_every_graded_function():
    for assignment in ASSIGNMENTS:
        spec = load_source(str(source_notebook(assignment)))
        solution_cells = {c.grade_id for c in spec.cells if getattr(c, "kind", "") == "solution"}
        counts = {cell: 0 for cell in solution_cells}
        for m in mutants(assignment):
            counts[m["cell"]] = counts.get(m["cell"], 0) + 1
        thin = {c: n for c, n in counts.items() if n < 3}
        assert not thin, f"{assignment}: fewer than three mutants for {thin}"
