"""Reading and validating notebooks: the instructor's source (trusted) and submissions (not).

Submissions are parsed with plain :mod:`json` and checked by hand, with a size cap, so that corrupt
input (invalid JSON, nbformat 3, an empty file, odd cell shapes) becomes a clear
:class:`InvalidNotebook` message instead of an exception somewhere deep in a library.

Everything graded comes from the SOURCE notebook: which cells are tests, their points and grade
ids, hidden tests, the forbidden imports. From a submission only the student's code is taken:
solution cells are matched to the source by ``grade_id`` (a missing one counts as empty), test
cells in the submission are dropped whatever their metadata says, locked instructor cells are
replaced by their source version.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any

from autograder.errors import InvalidNotebook
from autograder.safe import clean_text, open_nofollow

__all__ = [
    "DATASETS",
    "MAX_NOTEBOOK_BYTES",
    "InvalidNotebook",
    "NotebookSpec",
    "SourceCell",
    "load_assignment",
    "load_notebook_json",
    "load_source",
    "student_cells",
]

#: Datasets a notebook may ask for in ``metadata.autograder.datasets``.
#: ``fashion-mnist-train`` binds only the training split (the test split decides grades).
DATASETS = ("fashion-mnist", "fashion-mnist-train")
#: Largest notebook file accepted, in bytes.
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
_CELL_TYPES = ("code", "markdown", "raw")
_MAGIC = re.compile(r"^\s*(%|!|\?)", re.MULTILINE)


def _source_text(src: Any, where: str) -> str:
    if isinstance(src, str):
        return src
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    raise InvalidNotebook(f"{where}: 'source' must be a string or a list of strings")


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_IFDIR: "a folder",
        stat.S_IFIFO: "a FIFO",
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
        stat.S_IFSOCK: "a socket",
        stat.S_IFLNK: "a symbolic link",
    }
    return kinds.get(stat.S_IFMT(mode), "a special file")


def load_notebook_json(path: str) -> dict:
    """Read and structurally validate an nbformat 4 notebook.

    Parameters
    ----------
    path : str
        The ``.ipynb`` file.

    Returns
    -------
    dict
        The notebook with every cell's ``source`` joined into one string and ``metadata``
        guaranteed to be a dict.

    Raises
    ------
    InvalidNotebook
        With a message that explains what is wrong, also when ``path`` is a symbolic link, a
        FIFO, a device or anything else that is not a regular file (opened with ``O_NOFOLLOW``
        and ``O_NONBLOCK``, checked with ``fstat``: what is read is what was checked).
    """
    name = clean_text(os.path.basename(path), 200)
    try:
        # never follow a symlink, never block on a FIFO; then it must really be a regular file
        fd, st = open_nofollow(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidNotebook(
                f"{name} is a symbolic link, not a notebook file: submit the notebook itself"
            ) from None
        raise InvalidNotebook(f"{name}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise InvalidNotebook(
            f"{name} is not a regular file ({_file_kind(st.st_mode)}): submit the notebook itself"
        )
    with os.fdopen(fd, "rb") as fh:
        size = st.st_size
        if size == 0:
            raise InvalidNotebook(f"{name} is an empty file (0 bytes), not a notebook")
        if size > MAX_NOTEBOOK_BYTES:
            raise InvalidNotebook(
                f"{name} is {size} bytes, over the {MAX_NOTEBOOK_BYTES} byte limit"
            )
        try:
            raw = fh.read(MAX_NOTEBOOK_BYTES + 1)
        except OSError as exc:
            raise InvalidNotebook(f"{name}: cannot be read ({exc.strerror})") from None
    if len(raw) > MAX_NOTEBOOK_BYTES:  # grew while being read
        raise InvalidNotebook(f"{name} is over the {MAX_NOTEBOOK_BYTES} byte limit")
    try:
        nb = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidNotebook(f"{name} is not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:
        raise InvalidNotebook(f"{name} is not valid JSON ({clean_text(exc, 300)})") from None
    if not isinstance(nb, dict):
        raise InvalidNotebook(f"{name}: the top level is not a JSON object")
    major = nb.get("nbformat")
    if major != 4:
        raise InvalidNotebook(
            f"{name} has nbformat {major!r}; only nbformat 4 (Jupyter 4 or later) is supported: "
            "open it in a current Jupyter and save it again"
        )
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise InvalidNotebook(f"{name}: 'cells' is missing or not a list")
    clean = []
    for i, cell in enumerate(cells):
        where = f"{name}, cell {i}"
        if not isinstance(cell, dict) or cell.get("cell_type") not in _CELL_TYPES:
            raise InvalidNotebook(f"{where}: not a code, markdown or raw cell")
        meta = cell.get("metadata", {})
        clean.append(
            {
                "cell_type": cell["cell_type"],
                "source": _source_text(cell.get("source", ""), where),
                "metadata": meta if isinstance(meta, dict) else {},
            }
        )
    meta = nb.get("metadata", {})
    return {"nbformat": 4, "metadata": meta if isinstance(meta, dict) else {}, "cells": clean}


def _nbgrader(cell: dict) -> dict:
    meta = cell["metadata"].get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _forbid_list(meta: dict) -> list[str]:
    block = meta.get("autograder") if isinstance(meta, dict) else None
    items = block.get("forbid", []) if isinstance(block, dict) else []
    return [s for s in items if isinstance(s, str) and s]


@dataclass
class SourceCell:
    """One cell of the instructor's source notebook.

    Attributes
    ----------
    index : int
        Position in the notebook.
    cell_type : str
        ``code``, ``markdown`` or ``raw``.
    source : str
        The full source (including solutions and hidden tests).
    kind : str
        ``test`` (autograded tests), ``solution`` (student code), ``answer`` (a code answer graded
        by hand: nbgrader's "manually graded answer" code cell; it runs, but never earns points
        automatically), ``manual`` (a written answer graded by hand), ``instructor`` (other code)
        or ``text``.
    grade_id : str or None
        nbgrader's ``grade_id``.
    points : float
        Points of a graded cell, else 0.
    locked : bool
        Whether nbgrader marks the cell read-only.
    forbid : list of str
        Forbidden modules/names declared on this cell.
    """

    index: int
    cell_type: str
    source: str
    kind: str
    grade_id: str | None
    points: float
    locked: bool
    forbid: list[str] = field(default_factory=list)

    @property
    def manual(self) -> bool:
        """Whether a person grades this cell (a written answer or a code answer)."""
        return self.kind in ("manual", "answer")

    @property
    def hidden(self) -> bool:
        """Whether this test cell holds hidden tests (its feedback never shows their values)."""
        return self.kind == "test" and "BEGIN HIDDEN TESTS" in self.source


@dataclass
class NotebookSpec:
    """What the SOURCE notebook says about grading one notebook of an assignment.

    Attributes
    ----------
    name : str
        Notebook name without ``.ipynb`` (nbgrader's notebook id).
    path : str
        The source file.
    cells : list of SourceCell
        All cells in order.
    forbid : list of str
        Forbidden modules/names (notebook metadata and all cells together).
    data_files : list of str
        Files (relative to the source folder) copied into the sandbox's working directory.
    provide : list of str
        Packages the student's code may import although they live outside the Python
        installation (e.g. ``nnlib`` in an exercise that uses it): bound read-only into the sandbox.
    datasets : list of str
        Datasets bound read-only into the sandbox (``fashion-mnist``: the directory where
        :func:`nnlib.data.locate_fashion_mnist` finds it, announced as ``$NNLIB_DATA``).
    """

    name: str
    path: str
    cells: list[SourceCell]
    forbid: list[str]
    data_files: list[str]
    provide: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)

    @property
    def graded(self) -> list[SourceCell]:
        """Cells that carry points, in order."""
        return [c for c in self.cells if c.kind in ("test", "answer", "manual")]

    @property
    def max_score(self) -> float:
        """Total points of the notebook (autograded and manual)."""
        return sum(c.points for c in self.graded)

    @property
    def auto_max_score(self) -> float:
        """Points the autograder can give."""
        return sum(c.points for c in self.graded if c.kind == "test")


def _kind(cell: dict) -> str:
    meta = _nbgrader(cell)
    grade, solution = bool(meta.get("grade")), bool(meta.get("solution"))
    if cell["cell_type"] != "code":
        return "manual" if grade else "text"
    if grade and not solution:
        return "test"
    if grade and solution:
        return "answer"
    if solution:
        return "solution"
    return "instructor"


def load_source(path: str) -> NotebookSpec:
    """Parse an instructor's source notebook.

    Parameters
    ----------
    path : str
        The source ``.ipynb``.

    Returns
    -------
    NotebookSpec
        The grading specification.
    """
    nb = load_notebook_json(path)
    cells, forbid = [], list(_forbid_list(nb["metadata"]))
    seen: set[str] = set()
    for i, cell in enumerate(nb["cells"]):
        meta = _nbgrader(cell)
        kind = _kind(cell)
        grade_id = meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else None
        if kind in ("test", "answer", "manual", "solution"):
            if not grade_id:
                raise InvalidNotebook(f"{path}, cell {i}: an nbgrader cell without a grade_id")
            if grade_id in seen:
                raise InvalidNotebook(f"{path}: grade_id {grade_id!r} is used twice")
            seen.add(grade_id)
        cell_forbid = _forbid_list(cell["metadata"])
        forbid.extend(f for f in cell_forbid if f not in forbid)
        points = float(meta.get("points", 0) or 0) if kind in ("test", "answer", "manual") else 0.0
        cells.append(
            SourceCell(
                i,
                cell["cell_type"],
                cell["source"],
                kind,
                grade_id,
                points,
                bool(meta.get("locked")),
                cell_forbid,
            )
        )
    block = nb["metadata"].get("autograder", {})
    block = block if isinstance(block, dict) else {}

    def strings(key: str) -> list[str]:
        items = block.get(key, [])
        return [d for d in items if isinstance(d, str)] if isinstance(items, list) else []

    name = os.path.splitext(os.path.basename(path))[0]
    unknown = sorted(set(strings("datasets")) - set(DATASETS))
    if unknown:
        raise InvalidNotebook(
            f"{path}: unknown dataset(s) {unknown} in metadata.autograder.datasets "
            f"(known: {sorted(DATASETS)})"
        )
    clash = sorted(set(strings("provide")) & set(forbid))
    if clash:
        raise InvalidNotebook(f"{path}: {clash} both provided and forbidden")
    return NotebookSpec(
        name,
        path,
        cells,
        forbid,
        strings("data_files"),
        strings("provide"),
        strings("datasets"),
    )


def load_assignment(source_dir: str) -> list[NotebookSpec]:
    """Parse every notebook of an assignment's source folder.

    Parameters
    ----------
    source_dir : str
        ``<course>/source/<assignment>``.

    Returns
    -------
    list of NotebookSpec
        One per ``.ipynb`` file, sorted by name.
    """
    names = sorted(n for n in os.listdir(source_dir) if n.endswith(".ipynb"))
    if not names:
        raise FileNotFoundError(f"no notebook in {source_dir}")
    return [load_source(os.path.join(source_dir, n)) for n in names]


def strip_magics(code: str) -> str:
    """Turn IPython syntax (magics, shell escapes, ``?`` help) into plain Python.

    IPython's own ``TransformerManager`` does the conversion (``%time x`` becomes a
    ``get_ipython().run_line_magic(...)`` call, which the sandbox's stub ignores); it is imported
    only when a cell needs it.

    Parameters
    ----------
    code : str
        A cell's source.

    Returns
    -------
    str
        Python source.
    """
    if not _MAGIC.search(code):
        return code
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(code)
    except Exception:
        return "\n".join("" if _MAGIC.match(line) else line for line in code.splitlines())


def student_cells(spec: NotebookSpec, submission: dict) -> list[tuple[str, str]]:
    """The code the sandbox runs for one submission, in the submission's order.

    Parameters
    ----------
    spec : NotebookSpec
        The source's specification.
    submission : dict
        A notebook from :func:`load_notebook_json`.

    Returns
    -------
    list of (label, code)
        ``label`` is the grade id of a solution/answer cell or ``cell <n>`` for other cells.
        Test cells of the submission (by source grade id or by their own metadata) are dropped;
        locked instructor cells are taken from the source; source cells the student deleted are
        treated as empty.
    """
    by_id = {c.grade_id: c for c in spec.cells if c.grade_id}
    locked = {c.grade_id: c for c in spec.cells if c.kind == "instructor" and c.grade_id}
    out: list[tuple[str, str]] = []
    used: set[str] = set()
    for i, cell in enumerate(submission["cells"]):
        if cell["cell_type"] != "code":
            continue
        meta = _nbgrader(cell)
        gid = meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else None
        src = by_id.get(gid) if gid else None
        if src is not None and src.kind in ("test", "manual"):
            continue
        if src is None and meta.get("grade") and not meta.get("solution"):
            continue  # a test cell the source does not know: never the student's to define
        if gid in used:
            continue  # duplicated graded/locked cell: the first copy counts
        if src is not None:
            used.add(gid)
        code = locked[gid].source if gid in locked and locked[gid].locked else cell["source"]
        label = gid if src is not None and src.kind in ("solution", "answer") else f"cell {i}"
        out.append((label, strip_magics(code)))
    missing = [c for c in spec.cells if c.kind == "instructor" and c.locked and c.grade_id]
    missing = [(f"cell {c.index}", c.source) for c in missing if c.grade_id not in used]
    return [(label, strip_magics(code)) for label, code in missing] + out
