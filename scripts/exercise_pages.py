"""Render the student version of every assignment as a page of the book (``make book`` runs this).

For each assignment in ``exercises/source/``, ``autograder release`` writes the student notebook
(no solutions, no hidden tests, checked for leaks) to ``exercises/release/``; this script copies it
to ``book/exercises/<assignment>.ipynb`` (git-ignored), marked not to be executed, with a short
header on how to work on it. ``_toc.yml`` lists these pages under the Exercises part; each page
has the book's download button for the ``.ipynb``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "book" / "exercises"

HEADER = """\
```{{note}}
This is the **student version** of assignment {number}: download it with the button at the top of
the page (`.ipynb`), open it in Jupyter with the course's environment (`make book` sets it up, or
use Binder), fill in the cells marked `# YOUR CODE HERE`, and run each test cell: the public tests
tell you what is wrong (expected and actual shape, the first differing element, the tolerance).
Hidden tests run when your submission is graded. Chapter: {chapter}.
```
"""
CHAPTERS = {
    "01": "{doc}`../02-forward-pass`",
    "02": "{doc}`../03-backpropagation`",
    "03": "{doc}`../04-activations` and {doc}`../05-initialization`",
    "04": "{doc}`../06-optimizers`",
    "05": "{doc}`../08-regularization`",
    "06": "{doc}`../07-in-practice`",
    "07": "{doc}`../10-pytorch-gpu`",
}


def main() -> int:
    from autograder.config import load_course
    from autograder.release import release

    course = load_course(str(REPO / "exercises"))
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for assignment in course.assignments():
        release(course, assignment)
        nb = json.loads((Path(course.release_dir(assignment)) / f"{assignment}.ipynb").read_text())
        number = assignment.split("-")[0]
        header = HEADER.format(number=int(number), chapter=CHAPTERS.get(number, "see the map"))
        nb["cells"].insert(1, {"cell_type": "markdown", "metadata": {}, "source": header})
        nb["metadata"]["mystnb"] = {"execution_mode": "off"}
        target = OUT / f"{assignment}.ipynb"
        text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        if not target.exists() or target.read_text() != text:  # keep the execution cache warm
            target.write_text(text)
        written.append(target.relative_to(REPO))
    print("exercise pages:", ", ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
