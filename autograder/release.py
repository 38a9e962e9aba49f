"""``autograder release``: nbgrader's generate_assignment, then a check that nothing secret leaked.

The student version goes to ``release/<assignment>/`` (nbgrader also records the assignment's
cells in the gradebook, which grading needs). Afterwards every released file is compared with the
source: a line that exists in the source only inside a solution region (``### BEGIN SOLUTION`` ...),
a hidden-test region or a written-answer (solution) cell must not appear in the release, nor may
any of the markers. A leak raises :class:`ReleaseError` and the command fails loudly.
"""

from __future__ import annotations

import os
import re

from autograder.config import Course
from autograder.errors import ReleaseError
from autograder.notebook import load_notebook_json

CATALOGUE_FILES = ("mutants.py",)

__all__ = ["ReleaseError", "check_release", "release", "secret_lines"]

_MARKERS = re.compile(r"###\s*(BEGIN|END)\s+(SOLUTION|HIDDEN TESTS)")
_REGION = re.compile(
    r"^[ \t]*###\s*BEGIN\s+(SOLUTION|HIDDEN TESTS)[^\n]*\n(.*?)^[ \t]*###\s*END\s+\1", re.M | re.S
)


def secret_lines(source_nb: str) -> set[str]:
    """Lines of a source notebook that students must never see.

    Parameters
    ----------
    source_nb : str
        Path of the source notebook.

    Returns
    -------
    set of str
        Stripped, non-trivial lines that occur in solution/hidden regions or solution cells and
        nowhere in the public parts of the notebook.
    """
    nb = load_notebook_json(source_nb)
    secret: set[str] = set()
    public: set[str] = set()
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        src = cell["source"]
        if isinstance(meta, dict) and meta.get("solution") and not _REGION.search(src):
            secret.update(src.splitlines())
            continue
        inside = "".join(m.group(2) for m in _REGION.finditer(src))
        secret.update(inside.splitlines())
        public.update(_REGION.sub("", src).splitlines())
    clean = lambda lines: {s.strip() for s in lines if len(s.strip()) > 3}
    return clean(secret) - clean(public)


def check_release(source_dir: str, release_dir: str) -> list[str]:
    """Compare a release with its source; return one message per leak (empty: all good).

    Parameters
    ----------
    source_dir : str
        ``source/<assignment>``.
    release_dir : str
        ``release/<assignment>``.

    Returns
    -------
    list of str
        Leaks found.
    """
    secret: set[str] = set()
    for name in sorted(os.listdir(source_dir)):
        if name.endswith(".ipynb"):
            secret |= secret_lines(os.path.join(source_dir, name))
    leaks = []
    for folder, _, files in os.walk(release_dir):
        for name in sorted(files):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, release_dir)
            try:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
            except (UnicodeDecodeError, OSError):
                continue  # binary data files
            if name.endswith(".ipynb"):
                nb = load_notebook_json(path)
                text = "\n".join(c["source"] for c in nb["cells"])
            if _MARKERS.search(text):
                leaks.append(f"{rel}: contains a solution or hidden-test marker")
            lines = {s.strip() for s in text.splitlines()}
            for line in sorted(lines & secret)[:5]:
                leaks.append(f"{rel}: contains a line of the solution or hidden tests: {line!r}")
    return leaks


def release(course: Course, assignment: str) -> list[str]:
    """Generate the student version of an assignment and check it for leaks.

    Parameters
    ----------
    course : Course
        The course.
    assignment : str
        The assignment (a folder in ``source/``).

    Returns
    -------
    list of str
        The released files (relative to the course directory).

    Raises
    ------
    ReleaseError
        When nbgrader fails or the release leaks solutions or hidden tests.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograder.gradebook import ensure_alembic_on_path

    ensure_alembic_on_path()
    if not os.path.isdir(course.source_dir(assignment)):
        raise ReleaseError(f"no source folder {course.source_dir(assignment)}")
    from traitlets.config import Config

    config = Config(course.config)
    # the grader's mistake catalogue (solution snippets) stays in source/, never in the release
    ignore = config.CourseDirectory.get("ignore")
    ignore = list(ignore) if isinstance(ignore, list | tuple) else list(CourseDirectory().ignore)
    config.CourseDirectory.ignore = [*ignore, *(n for n in CATALOGUE_FILES if n not in ignore)]
    # the exchange is not used here; keep nbgrader from probing a system-wide folder
    config.Exchange.root = os.path.join(course.root, ".autograder", "exchange")
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise ReleaseError(
            f"nbgrader generate_assignment failed:\n{result.get('error') or result.get('log')}"
        )
    out = course.release_dir(assignment)
    leaks = check_release(course.source_dir(assignment), out)
    if leaks:
        raise ReleaseError("the release LEAKS solutions or hidden tests:\n  " + "\n  ".join(leaks))
    files = []
    for folder, _, names in os.walk(out):
        files.extend(os.path.relpath(os.path.join(folder, n), course.root) for n in names)
    return sorted(files)
