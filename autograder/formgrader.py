"""The copy of a submitted notebook that nbgrader's formgrader shows a human grader
(``autograded/<student>/<assignment>/``): the student's sources, inert, with the source's
metadata, never the student's outputs or metadata."""

from __future__ import annotations

import os

from autograder.config import Course
from autograder.errors import InvalidNotebook
from autograder.model import SubmissionResult
from autograder.notebook import load_notebook_json
from autograder.safe import clean_text, clean_tree, sanitize_markdown, write_json_atomic

__all__ = ["copy_for_formgrader", "formgrader_copy"]


#: Most characters of one markdown/raw cell, and of all of them, in formgrader's copy (the rest
#: is cut with a note): written answers are far shorter.
_PROSE_CELL, _PROSE_BUDGET = 20_000, 200_000


def formgrader_copy(path: str, source: str | None = None) -> dict:
    """The notebook at ``path`` as formgrader may show it to a human grader.

    Read like a submission (:func:`autograder.notebook.load_notebook_json`: no symlink, FIFO or
    device, size-capped), then rebuilt from the sources alone: no outputs (a forged "public
    tests passed" or live HTML/JavaScript output cannot appear), no execution counts, no
    attachments, no cell or notebook metadata of the student's. With ``source`` (the
    instructor's notebook), a cell whose ``grade_id`` is one of the source's gets the source's
    nbgrader metadata (formgrader matches grade cells by it; a student's forged metadata is
    not shown) and the notebook gets the source's kernel and language; without it, only
    nbgrader's metadata is kept, cleaned. Code sources are kept as they are (formgrader
    highlights them as text); markdown and raw cells are sanitised
    (:func:`autograder.safe.sanitize_markdown`: raw HTML escaped, ``javascript:`` links
    blocked), so a written answer still reads the same but renders inert. Markdown and raw
    text is capped (:data:`_PROSE_CELL` per cell, :data:`_PROSE_BUDGET` in all).
    """
    nb = load_notebook_json(path)
    trusted = load_notebook_json(source) if source else None
    by_id: dict[str, dict] = {}
    for cell in trusted["cells"] if trusted else []:
        meta = cell["metadata"].get("nbgrader")
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            by_id.setdefault(meta["grade_id"], meta)
    cells = []
    prose_left = _PROSE_BUDGET  # sanitising dense markup costs ~20 s per MB: bounded
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader")
        if trusted is not None:
            gid = meta.get("grade_id") if isinstance(meta, dict) else None
            meta = by_id.pop(gid, None) if isinstance(gid, str) else None  # each id once
        out: dict = {
            "cell_type": cell["cell_type"],
            "metadata": {"nbgrader": clean_tree(meta)} if isinstance(meta, dict) else {},
            "source": clean_text(cell["source"]),
        }
        if cell["cell_type"] == "code":
            out.update(execution_count=None, outputs=[])
        else:
            text = clean_text(cell["source"], max(0, min(_PROSE_CELL, prose_left)))
            prose_left -= len(text)
            out["source"] = sanitize_markdown(text)
        cells.append(out)
    meta = {
        k: clean_tree(v)
        for k, v in (trusted or nb)["metadata"].items()
        if k in ("kernelspec", "language_info") and isinstance(v, dict)
    }
    return {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 4}


def copy_for_formgrader(course: Course, result: SubmissionResult, folder: str) -> None:
    """Write the readable submitted notebooks to ``autograded/`` (formgrader shows the written
    answers from there): :func:`formgrader_copy` of the student's own file, with the source's
    metadata, no test code added, none of the student's outputs, markdown sanitised."""
    for nb in result.notebooks:
        if nb.status in ("invalid-notebook", "missing-notebook"):
            continue
        name = f"{nb.notebook}.ipynb"
        try:
            copy = formgrader_copy(
                os.path.join(folder, name),
                os.path.join(course.source_dir(result.assignment), name),
            )
        except InvalidNotebook as exc:  # changed since it was graded
            raise OSError(str(exc)) from None
        dest = os.path.join(course.root, "autograded", result.student, result.assignment)
        os.makedirs(dest, exist_ok=True)
        write_json_atomic(os.path.join(dest, name), copy, ensure_ascii=False)
