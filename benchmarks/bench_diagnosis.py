"""How often does the feedback name the mistake? Grades wrong solutions and scores the diagnoses.

    .venv/bin/python benchmarks/bench_diagnosis.py [--assignments 02-backprop ...] [--workers 2]

For each assignment (all by default): the source solution and the catalogue's correct variants
(must get no diagnosis at all), every mutant of its catalogue (``exercises/source/<a>/mutants.py``)
and the independent mistakes of ``benchmarks/diagnosis_mistakes.py`` (written from how students
get these functions wrong, not from the catalogue; each says what a right diagnosis contains).
Exercise 6 trains a network in every grading (about 15 CPU seconds each): it has three independent
mistakes per function, as the others, and its catalogue; ``--assignments`` leaves it out. A mistake in function ``f`` is
*named correctly* when a failed test of ``f`` carries a diagnosis containing the expected text and
none carries another, *named wrongly* when a failed test of ``f`` carries a diagnosis without it,
*not named* otherwise (a mistake no test catches is left out). Targets (issue 15): at least 80 %
of the independent mistakes named correctly, at most 5 % named wrongly, no diagnosis on correct
code.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.config import load_course  # noqa: E402
from autograder.diagnose import call_graph, load_catalogue, student_sentence  # noqa: E402
from autograder.grade import GradeOptions, grade_assignment  # noqa: E402
from autograder.notebook import load_source  # noqa: E402
from autograder.release import release  # noqa: E402


def apply_edits(nb: dict, edits: list[dict]) -> dict:
    """The notebook with each edit (``cell``, ``old``, ``new``; ``old`` once in that cell)."""
    nb = copy.deepcopy(nb)
    for edit in edits:
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id") == edit["cell"]:
                src = "".join(cell["source"])
                if src.count(edit["old"]) != 1:
                    raise ValueError(f"{edit['old']!r} is not once in cell {edit['cell']!r}")
                cell["source"] = src.replace(edit["old"], edit["new"])
                break
        else:
            raise ValueError(f"no cell {edit['cell']!r}")
    return nb


def _function_of(spec, cell_id: str) -> str:
    for cell in spec.cells:
        if cell.grade_id == cell_id:
            import ast

            for stmt in ast.parse(cell.source).body:
                if isinstance(stmt, ast.FunctionDef):
                    return stmt.name
    return cell_id


def score(result: dict, function: str, expected: str | None) -> str:
    """``right``, ``wrong``, ``silent`` or ``uncaught`` for one graded mistake."""
    tests = [
        t
        for nb in result["notebooks"]
        for t in nb["tests"]
        if t["kind"] == "auto" and t["grade_id"].startswith(f"{function}_")
    ]
    failed = [t for t in tests if not t["passed"]]
    if not failed:
        return "uncaught"
    said = [t.get("diagnosis", "") for t in failed if t.get("diagnosis")]
    if not said:
        return "silent"
    if expected is None or any(expected not in s for s in said):
        return "wrong"
    return "right"


def run(assignment: str, root: Path, workers: int, independent: dict) -> dict:
    source = REPO / "exercises" / "source" / assignment
    nb = json.loads((source / f"{assignment}.ipynb").read_text())
    spec = load_source(str(source / f"{assignment}.ipynb"))
    functions = set(call_graph(spec))
    catalogue = load_catalogue(str(source))
    cases: dict[str, tuple[str, str, str, list[dict]]] = {}
    for i, m in enumerate(getattr(catalogue, "MUTANTS", [])):
        cases[f"cat{i:02d}"] = (
            "catalogue",
            _function_of(spec, m["cell"]),
            student_sentence(m),
            [m],
        )
    for i, m in enumerate(independent.get(assignment, [])):
        edits = m.get("edits", [m])
        fn = _function_of(spec, edits[0]["cell"])
        cases[f"ind{i:02d}"] = ("independent", fn, m["expect"], edits)
    subs = {"solution": nb}
    for key, (_, _, _, edits) in cases.items():
        subs[key] = apply_edits(nb, edits)
    folder = root / "submissions" / assignment
    for st, notebook in subs.items():
        (folder / st / assignment).mkdir(parents=True, exist_ok=True)
        (folder / st / assignment / f"{assignment}.ipynb").write_text(json.dumps(notebook))
    course = load_course(str(root))
    opts = GradeOptions(workers=workers, progress=False, regrade=True)
    results = grade_assignment(course, assignment, str(folder), options=opts).results
    out = {"catalogue": {}, "independent": {}, "functions": len(functions)}
    # correct code: the solution and the catalogue's correct variants (``fails`` empty)
    correct = ["solution"] + [
        k for k, (kind, _, _, e) in cases.items() if kind == "catalogue" and e[0].get("fails") == []
    ]
    out["correct"] = len(correct)
    out["solution_diagnoses"] = [
        f"{key}: {t['grade_id']}"
        for key in correct
        for nbr in results[key]["notebooks"]
        for t in nbr["tests"]
        if t.get("diagnosis") or t.get("root_cause")
    ]
    out["fails_differ"] = []
    for key, (kind, fn, expected, edits) in cases.items():
        verdict = score(results[key], fn, expected)
        failed = sorted(
            t["grade_id"]
            for nbr in results[key]["notebooks"]
            for t in nbr["tests"]
            if t["kind"] == "auto" and not t["passed"]
        )
        if kind == "catalogue" and "fails" in edits[0] and failed != sorted(edits[0]["fails"]):
            out["fails_differ"].append((key, edits[0]["why"], failed))
        out[kind].setdefault(verdict, []).append(
            (key, fn, edits[0].get("why") or expected or "-", _said(results[key], fn))
        )
    return out


def _said(result: dict, function: str) -> str:
    """The distinct diagnoses of the failed tests of ``function`` (``|`` between them)."""
    said = [
        t["diagnosis"]
        for nb in result["notebooks"]
        for t in nb["tests"]
        if t["grade_id"].startswith(f"{function}_") and not t["passed"] and t.get("diagnosis")
    ]
    return " | ".join(dict.fromkeys(said))


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the runners, the sandboxes)."""
    import resource

    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _share(counts: dict, verdict: str) -> str:
    caught = sum(len(v) for k, v in counts.items() if k != "uncaught")
    return f"{100 * len(counts.get(verdict, [])) / caught:5.1f} %" if caught else "    - "


def main(argv: list[str] | None = None) -> int:
    from benchmarks.diagnosis_mistakes import MISTAKES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignments", nargs="*", default=sorted(MISTAKES))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--verbose", action="store_true", help="list every mistake not named right")
    args = ap.parse_args(argv)
    header = f"{'assignment':20} {'set':12} {'n':>4} {'right':>8} {'wrong':>8} {'silent':>8}"
    print(header + "  correct code diagnosed")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "course"
        root.mkdir()
        shutil.copy(REPO / "exercises" / "nbgrader_config.py", root)
        shutil.copytree(REPO / "exercises" / "source", root / "source")
        course = load_course(str(root))
        totals: dict[str, dict[str, int]] = {}
        diagnosed = [0, 0]
        for assignment in args.assignments:
            release(course, assignment)
            t0, c0 = time.monotonic(), _cpu()
            out = run(assignment, root, args.workers, MISTAKES)
            for kind in ("catalogue", "independent"):
                counts = out[kind]
                n = sum(len(v) for k, v in counts.items() if k != "uncaught")
                if not n:
                    continue
                for k, v in counts.items():
                    totals.setdefault(kind, {}).setdefault(k, 0)
                    totals[kind][k] += len(v)
                print(
                    f"{assignment:20} {kind:12} {n:4d} {_share(counts, 'right'):>8} "
                    f"{_share(counts, 'wrong'):>8} {_share(counts, 'silent'):>8}  "
                    f"{len(out['solution_diagnoses'])} of {out['correct']}"
                )
                if args.verbose:
                    for verdict in ("wrong", "silent", "uncaught"):
                        for key, fn, what, said in counts.get(verdict, []):
                            print(f"    {verdict:8} {key} {fn}: {what} -> {said[:240]!r}")
            if args.verbose:
                for key, why, failed in out["fails_differ"]:
                    print(f"    catalogue {key} ({why}) fails {failed}, not its list `fails`")
            for said in out["solution_diagnoses"]:
                print(f"    correct code diagnosed: {said}")
            ok &= not out["solution_diagnoses"]
            diagnosed[0] += len(out["solution_diagnoses"])
            diagnosed[1] += out["correct"]
            print(
                f"    ({time.monotonic() - t0:.0f} s wall, {_cpu() - c0:.0f} s CPU: this process and the "
                "child processes it waited for)"
            )
        for kind, counts in totals.items():
            as_lists = {k: [None] * v for k, v in counts.items()}
            n = sum(v for k, v in counts.items() if k != "uncaught")
            print(
                f"{'all':20} {kind:12} {n:4d} {_share(as_lists, 'right'):>8} "
                f"{_share(as_lists, 'wrong'):>8} {_share(as_lists, 'silent'):>8}  "
                f"{diagnosed[0]} of {diagnosed[1]}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
