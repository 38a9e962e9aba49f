"""Benchmark: ``autograder grade`` vs stock ``nbgrader autograde`` on the same 100 submissions.

Generates submissions of exercise 1 (a mix of correct, partly wrong and broken notebooks) in a
temporary copy of the course, grades them with both tools (each in its own copy of the course, so
the gradebooks do not interfere), prints both wall-clock times and the ratio, and checks that the
two agree on the honest submissions' scores.

Usage::

    .venv/bin/python benchmarks/bench_autograder.py [--n 100] [--workers N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
A = "01-forward-pass"
SOURCE = REPO / "exercises" / "source" / A / f"{A}.ipynb"

WRONG = {
    "naive_sigmoid": (
        "sigmoid",
        "def sigmoid(z):\n    return 1 / (1 + np.exp(-np.asarray(z, float)))\n",
    ),
    "unshifted_softmax": (
        "softmax",
        "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)\n",
    ),
    "softmax_wrong_axis": (
        "softmax",
        "def softmax(z):\n    e = np.exp(z - np.max(z))\n    return e / e.sum(axis=0, keepdims=True)\n",
    ),
    "dense_no_bias": (
        "dense_forward",
        "def dense_forward(X, W, b, activation):\n    return activation(X @ W)\n",
    ),
    "two_layer_relu": (
        "two_layer_forward",
        "def two_layer_forward(X, W1, b1, W2, b2):\n"
        "    h = np.maximum(0, X @ W1 + b1)\n    return softmax(h @ W2 + b2)\n",
    ),
}
BROKEN = {
    "syntax_error": lambda nb: _set(nb, "sigmoid", "def sigmoid(z)\n    return z\n"),
    "raises_on_import": lambda nb: _append(nb, "raise RuntimeError('oops')\n"),
    "invalid_json": lambda nb: '{"cells": [',
    "empty_file": lambda nb: "",
    "nbformat3": lambda nb: json.dumps({"nbformat": 3, "worksheets": [], "metadata": {}}),
}


def _set(nb: dict, grade_id: str, src: str) -> dict:
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            cell["source"] = src
    return nb


def _append(nb: dict, src: str) -> dict:
    nb["cells"].append(
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": src}
    )
    return nb


def make_submissions(root: Path, released: Path, n: int, seed: int = 0) -> dict[str, str]:
    """Write ``n`` submissions under ``root/<student>/<assignment>/``; return student -> kind."""
    rng = random.Random(seed)
    kinds = {}
    for i in range(n):
        student = f"s{i:03d}"
        folder = root / student / A
        folder.mkdir(parents=True)
        nb = json.loads(SOURCE.read_text())
        r = rng.random()
        if r < 0.4:
            kind, content = "correct", nb
        elif r < 0.75:
            kind = rng.choice(sorted(WRONG))
            content = _set(nb, *WRONG[kind])
        elif r < 0.85:
            kind, content = "blank", released.read_text()
        else:
            kind = rng.choice(sorted(BROKEN))
            content = BROKEN[kind](nb)
        text = content if isinstance(content, str) else json.dumps(content)
        (folder / f"{A}.ipynb").write_text(text)
        kinds[student] = kind
    return kinds


def _course(base: Path, name: str) -> Path:
    root = base / name
    root.mkdir()
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", root)
    shutil.copytree(REPO / "exercises" / "source", root / "source")
    return root


def bench_setup(
    doc: str, n: int, prefix: str, argv: list[str] | None
) -> tuple[argparse.Namespace, Path, dict]:
    """The benchmarks' shared options (``--n``, ``--workers``, ``--keep``), their folder and the
    environment that finds this interpreter's commands."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=n, help="number of submissions")
    ap.add_argument("--workers", type=int, default=None, help="autograder workers (default: cores)")
    ap.add_argument("--keep", help="keep the generated courses in this folder")
    args = ap.parse_args(argv)
    base = Path(args.keep or tempfile.mkdtemp(prefix=prefix))
    base.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    return args, base, env


def generate(course: Path, env: dict) -> None:
    """``nbgrader generate_assignment`` of exercise 1 in ``course``."""
    subprocess.run(
        [_bin("nbgrader"), "generate_assignment", A, "--force"],
        cwd=course,
        env=env,
        check=True,
        capture_output=True,
    )


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _scores(db: Path) -> dict[str, float]:
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT student.id, SUM(COALESCE(grade.auto_score, 0)) FROM grade "
        "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
        "JOIN student ON submitted_assignment.student_id = student.id GROUP BY student.id"
    ).fetchall()
    con.close()
    return {sid: float(score) for sid, score in rows}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments.

    Returns
    -------
    int
        Exit status.
    """
    args, base, env = bench_setup(__doc__, 100, "bench-autograder-", argv)
    try:
        ours, theirs = _course(base, "autograder"), _course(base, "nbgrader")
        for course in (ours, theirs):
            generate(course, env)
        released = ours / "release" / A / f"{A}.ipynb"
        kinds = make_submissions(ours / "submitted", released, args.n)
        shutil.copytree(ours / "submitted", theirs / "submitted")
        mix: dict[str, int] = {}
        for kind in kinds.values():
            mix[kind] = mix.get(kind, 0) + 1
        print(f"{args.n} submissions: " + ", ".join(f"{k} {v}" for k, v in sorted(mix.items())))
        print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.1f}")

        # python -m from the repository: this checkout's autograder, whatever pip points to
        cmd = [
            sys.executable,
            "-m",
            "autograder.cli",
            "--course-dir",
            str(ours),
            "grade",
            A,
            "--quiet",
        ]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
        t_ours = time.perf_counter() - t0
        if out.returncode:
            print(out.stdout, out.stderr, file=sys.stderr)
            return 1
        print(f"autograder grade:     {t_ours:7.1f} s  ({out.stdout.splitlines()[0]})")

        t0 = time.perf_counter()
        out = subprocess.run(
            [_bin("nbgrader"), "autograde", A, "--force"],
            cwd=theirs,
            env=env,
            capture_output=True,
            text=True,
        )
        t_theirs = time.perf_counter() - t0
        print(f"nbgrader autograde:   {t_theirs:7.1f} s  (exit status {out.returncode})")
        print(
            f"ratio: autograder is {t_theirs / t_ours:.2f}x faster "
            f"(total {t_ours + t_theirs:.0f} s; load average after: {os.getloadavg()[0]:.1f})"
        )

        a, b = _scores(ours / "gradebook.db"), _scores(theirs / "gradebook.db")
        honest = [
            s
            for s, k in kinds.items()
            if k in ("correct", "blank", "dense_no_bias", "softmax_wrong_axis", "two_layer_relu")
        ]
        differ = [s for s in honest if a.get(s) != b.get(s)]
        print(
            f"scores agree on {len(honest) - len(differ)}/{len(honest)} honest submissions"
            + (
                f"; differ: {[(s, kinds[s], a.get(s), b.get(s)) for s in differ[:5]]}"
                if differ
                else ""
            )
        )
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
