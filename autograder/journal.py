"""An append-only journal that makes grading resumable.

Each finished submission appends ``{"event": "graded", ...}`` (after its result file is safely on
disk) and, once the gradebook has it, ``{"event": "stored", ...}``; every line is flushed and
``fsync``-ed. After a crash (even SIGKILL) a new run skips what is ``graded`` (nothing is graded
twice) and only re-stores what is ``graded`` but not ``stored`` (idempotent). A torn last line
from a crash mid-write is ignored.
"""

from __future__ import annotations

import json
import os
import time

__all__ = ["Journal"]


class Journal:
    """The journal file of one assignment.

    Parameters
    ----------
    path : str
        The ``journal.jsonl`` file (created on first write).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def read(self) -> tuple[dict[str, dict], set[str]]:
        """Return the graded records (by student) and the set of stored students."""
        graded: dict[str, dict] = {}
        stored: set[str] = set()
        try:
            with open(self.path, encoding="utf-8") as fh:
                lines = fh.read().split("\n")
        except FileNotFoundError:
            return graded, stored
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # empty or torn line
            if not isinstance(rec, dict) or not isinstance(rec.get("student"), str):
                continue
            if rec.get("event") == "graded":
                graded[rec["student"]] = rec
                stored.discard(rec["student"])
            elif rec.get("event") == "stored":
                stored.add(rec["student"])
            elif rec.get("event") == "reset":  # ``--regrade STUDENT``: this student only
                graded.pop(rec["student"], None)
                stored.discard(rec["student"])
        return graded, stored

    def append(self, event: str, student: str, **fields: object) -> None:
        """Append one record durably (write, then ``fsync``).

        Parameters
        ----------
        event : str
            ``graded``, ``stored`` or ``reset`` (forget this student's earlier grading).
        student : str
            The student id.
        **fields
            More JSON-serialisable fields.
        """
        if self._fd is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            # a torn line from a crash must not glue itself to the next record
            if os.fstat(self._fd).st_size and not self._ends_with_newline():
                os.write(self._fd, b"\n")
        rec = {"event": event, "student": student, "time": round(time.time(), 3), **fields}
        os.write(self._fd, (json.dumps(rec) + "\n").encode("utf-8"))
        os.fsync(self._fd)

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def reset(self) -> None:
        """Start over (``--regrade``): the old journal is kept as ``journal.jsonl.old``."""
        self.close()
        if os.path.exists(self.path):
            os.replace(self.path, self.path + ".old")

    def close(self) -> None:
        """Close the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
