"""Shared fixtures (autograder tests): a fresh copy of the course directory, released."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXERCISES = REPO / "exercises"
if str(REPO) not in sys.path:  # test this checkout, whatever an editable install points to
    sys.path.insert(0, str(REPO))

_STAND_IN = {
    "activations.py": """
        import numpy as np

        def sigmoid(z):
            z = np.asarray(z, dtype=float)
            return np.exp(-np.logaddexp(0.0, -z))

        def softmax(z, axis=-1):
            z = np.asarray(z, dtype=float)
            e = np.exp(z - z.max(axis=axis, keepdims=True))
            return e / e.sum(axis=axis, keepdims=True)
    """,
    "layers.py": """
        def dense_forward(x, W, b):
            return x @ W + b, (x, W)
    """,
    "__init__.py": "",
}


@pytest.fixture(scope="session")
def ag_runner_path(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Import path for the trusted runner: empty when nnlib has the reference functions, else a
    stand-in package with the same names (nnlib is written in parallel to the autograder)."""
    probe = "from nnlib.activations import sigmoid, softmax; from nnlib.layers import dense_forward"
    ok = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True).returncode == 0
    if ok:
        return []
    root = tmp_path_factory.mktemp("nnlib-stand-in")
    (root / "nnlib").mkdir()
    for name, src in _STAND_IN.items():
        (root / "nnlib" / name).write_text(textwrap.dedent(src))
    return [str(root)]


@pytest.fixture(scope="session")
def _ag_released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course (config + exercise 1's source), released once per session."""
    from autograder.config import load_course
    from autograder.release import release

    root = tmp_path_factory.mktemp("course-template") / "course"
    root.mkdir()
    shutil.copy(EXERCISES / "nbgrader_config.py", root)
    shutil.copytree(EXERCISES / "source" / "01-forward-pass", root / "source" / "01-forward-pass")
    course = load_course(str(root))
    for assignment in course.assignments():
        release(course, assignment)
    return root


@pytest.fixture
def ag_course(tmp_path: Path, _ag_released: Path):
    """A fresh copy of the released course directory (own gradebook, nothing submitted)."""
    from autograder.config import load_course

    root = tmp_path / "course"
    shutil.copytree(_ag_released, root)
    course = load_course(str(root))
    os.makedirs(course.submitted_dir, exist_ok=True)
    return course
