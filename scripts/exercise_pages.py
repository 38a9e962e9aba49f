"""Render the student version of every assignment as a page of the book (``make book`` runs this).

For each assignment in ``exercises/source/``, ``autograder release`` writes the student notebook
(no solutions, no hidden tests, checked for leaks) to ``exercises/release/``; this script copies it
to ``book/exercises/<assignment>.ipynb``, marked not to be executed, with a short header on how to
work on it. ``_toc.yml`` lists these pages under the Exercises part; each page has the book's
download and launch buttons for the ``.ipynb``.

The pages are committed (so that Binder, Colab and a reader of the repository find them) and
generated from the sources: ``tests/test_exercises.py`` fails when they are out of date. After
changing an assignment, run ``python scripts/exercise_pages.py`` and commit the result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "book" / "exercises"

HEADER = """\
```{{note}}
This is the **student version** of assignment {number} (chapter: {chapter}). Download it with the
button at the top of the page (`.ipynb`) or open it with a launch button, fill in the cells marked
`# YOUR CODE HERE`, and run the public test below each function: it tells you what is wrong
(expected and actual shape, the first differing element, the tolerance). Hidden tests run when your
submission is graded. How to run it locally and how to submit: {{doc}}`../exercises`.
```
"""
CHAPTERS = {
    "01": "{doc}`../02-forward-pass`",
    "02": "{doc}`../03-backpropagation`",
    "03": "{doc}`../04-activations` and {doc}`../05-initialization`",
    "04": "{doc}`../06-optimizers`",
    "05": "{doc}`../08-model-selection` and {doc}`../08-regularization`",
    "06": "{doc}`../07-in-practice`",
    "07": "{doc}`../10-pytorch-gpu`",
}


def render(course_root: Path = REPO / "exercises", fresh: bool = True) -> dict[Path, str]:
    """The text of every exercise page, by path.

    ``fresh`` releases every assignment of the course at ``course_root`` first (``autograder
    release``: nbgrader's student version, checked for leaks); otherwise its release is used.
    """
    from autograder.config import load_course
    from autograder.release import release

    course = load_course(str(course_root))
    pages = {}
    for assignment in course.assignments():
        if fresh:
            release(course, assignment)
        nb = json.loads((Path(course.release_dir(assignment)) / f"{assignment}.ipynb").read_text())
        number = assignment.split("-")[0]
        header = HEADER.format(number=int(number), chapter=CHAPTERS.get(number, "see the map"))
        nb["cells"].insert(1, {"cell_type": "markdown", "metadata": {}, "source": header})
        nb["metadata"]["mystnb"] = {"execution_mode": "off"}
        nb["nbformat"], nb["nbformat_minor"] = 4, max(nb.get("nbformat_minor", 0), 5)
        for i, cell in enumerate(nb["cells"]):  # nbformat 4.5 cell ids, stable across releases
            cell.setdefault("id", f"{assignment}-{i}")
        pages[OUT / f"{assignment}.ipynb"] = (
            json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        )
    return pages


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    changed = []
    for target, text in render().items():
        if not target.exists() or target.read_text() != text:  # untouched files keep their mtime
            target.write_text(text)
            changed.append(str(target.relative_to(REPO)))
    print("exercise pages updated:", ", ".join(changed) if changed else "none (all up to date)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
