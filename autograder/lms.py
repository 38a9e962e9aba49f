"""What the LMSs put in their exports, and what they accept back.

**Submissions.** Three layouts are recognised per entry of an export (:func:`parse_entry`):

- Canvas "Download Submissions": ``<name>[_LATE]_<user id>_<submission id>_<file>``, e.g.
  ``smithjohn_LATE_1234_98765_hw1-1.ipynb``; ``<name>`` is the student's sortable name squashed
  to lower case (two Smiths can share it), ``LATE`` marks a submission after the due date, and a
  file uploaded again under the same name gets ``-1``, ``-2``... before its extension. The key
  is the Canvas user id.
- Moodle "Download all submissions" (files in folders): ``<Full Name>_<participant id>_
  assignsubmission_file_/<file>``, or the flat form without the ``/``. The key is the
  participant id.
- Plain: ``<student>/<file>``; the key is the folder name.

**Rosters** (:func:`read_roster`): Canvas's gradebook export CSV (``Student, ID, SIS User ID,
SIS Login ID, Section, ...``, its ``Points Possible`` row skipped), Moodle's grading worksheet
(``Identifier`` = ``Participant <id>``, ``Full name``, ``Email address``...), Moodle's
participants download (``First name``, ``Last name``/``Surname``, ``ID number``, ``Email
address``; keyed by ID number, else email; submissions are matched to it by full name when the
name is unique), or plain ``id,name,email,sis_id``.

**Back to the LMS**: Canvas's gradebook import (same columns as its export, one assignment column
``<name> (<assignment id>)``; an empty cell changes nothing), Moodle's grade import (CSV with an
``Email address`` or ``ID number`` column mapped to the user, and one grade column), and feedback
files named so that Canvas's "Re-Upload Submissions" (the download's name prefix,
``<name>_<user id>_<submission id>_``) and Moodle's "Upload multiple feedback files in a zip"
(``<Full Name>_<participant id>_assignsubmission_file_/``) put each on its student's submission.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import asdict, dataclass, field

from autograder.errors import RosterError
from autograder.safe import clean_text, write_json_atomic

__all__ = [
    "Entry",
    "RosterEntry",
    "RosterError",
    "feedback_zip_name",
    "load_identities",
    "load_roster",
    "parse_entry",
    "read_roster",
    "save_identity",
    "save_roster",
]

_CANVAS = re.compile(
    r"^(?P<name>[^_/]+?)(?P<late>_LATE)?_(?P<uid>\d+)_(?P<subid>\d+)_(?P<file>[^/]+)$"
)
_CANVAS_SUFFIX = re.compile(r"^(?P<stem>.+?)-(?P<n>\d+)(?P<ext>\.[A-Za-z0-9]+)$")
_MOODLE = re.compile(
    r"^(?P<name>[^/]+?)_(?P<pid>\d+)_assign(?:submission|feedback)_(?P<plugin>[a-z]+)_"
    r"(?:/(?P<inner>.+)|(?P<flat>[^/]+))$"
)
_PLAIN = re.compile(r"^(?P<student>[^/]+)/(?P<file>.+)$")


@dataclass
class Entry:
    """One file of an export, as its layout names it.

    Attributes
    ----------
    layout : str
        ``canvas``, ``moodle``, ``plain`` or ``pattern`` (a ``--pattern``).
    key : str
        The LMS's stable id of the student (Canvas user id, Moodle participant id, folder).
    name : str
        The display name the export gives (cleaned text), may be empty.
    file : str
        The file's name as the student uploaded it (Canvas's ``-N`` suffix removed).
    late : bool
        Canvas's ``LATE`` flag.
    submission_id : str
        Canvas's submission id (empty elsewhere).
    version : int
        Canvas's ``-N`` suffix (0 without one): a higher one was uploaded later.
    uploaded : str
        The file's name in the export (with Canvas's suffix, if any).
    """

    layout: str
    key: str
    name: str
    file: str
    late: bool = False
    submission_id: str = ""
    version: int = 0
    uploaded: str = ""


def parse_entry(path: str) -> Entry | None:
    """The entry's layout, student key and file, or None when no layout fits.

    Parameters
    ----------
    path : str
        The entry's relative path inside the export (``/`` separated).

    Returns
    -------
    Entry or None
    """
    m = _CANVAS.match(path)
    if m:
        file, version = m.group("file"), 0
        s = _CANVAS_SUFFIX.match(file)
        if s:
            file, version = s.group("stem") + s.group("ext"), int(s.group("n"))
        return Entry(
            "canvas",
            m.group("uid"),
            clean_text(m.group("name"), 200),
            file,
            late=bool(m.group("late")),
            submission_id=m.group("subid"),
            version=version,
            uploaded=m.group("file"),
        )
    m = _MOODLE.match(path)
    if m:
        inner = m.group("inner") or m.group("flat") or ""
        return Entry("moodle", m.group("pid"), clean_text(m.group("name"), 200), inner)
    m = _PLAIN.match(path)
    if m:
        return Entry("plain", m.group("student"), "", m.group("file"))
    return None


# --- identities: who each collected key is -------------------------------------------------------


def _identities_path(state_root: str) -> str:
    return os.path.join(state_root, "identities.json")


def load_identities(state_root: str) -> dict[str, dict]:
    """Key -> what the exports said about that student (layout, name, Canvas ids...)."""
    try:
        with open(_identities_path(state_root), encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_identity(state_root: str, updates: dict[str, dict]) -> None:
    """Merge ``updates`` (key -> fields) into ``identities.json`` (atomically)."""
    data = load_identities(state_root)
    for key, fields in updates.items():
        data.setdefault(key, {}).update(fields)
    os.makedirs(state_root, exist_ok=True)
    write_json_atomic(_identities_path(state_root), data, ensure_ascii=False, sort_keys=True)


# --- rosters -----------------------------------------------------------------------------------


@dataclass
class RosterEntry:
    """One student of the class list.

    Attributes
    ----------
    id : str
        The key submissions are filed under (Canvas user id, Moodle participant id or ID
        number, plain id).
    name : str
        Display name.
    email, sis_id, login, section : str
        What the LMS knows (may be empty).
    """

    id: str
    name: str = ""
    email: str = ""
    sis_id: str = ""
    login: str = ""
    section: str = ""
    extra: dict = field(default_factory=dict)


def _norm(header: str) -> str:
    return re.sub(r"\s+", " ", header.replace("\ufeff", "")).strip().lower()


def read_roster(path: str) -> tuple[str, list[RosterEntry]]:
    """Read a class list and say which layout it is.

    Parameters
    ----------
    path : str
        A CSV file: Canvas gradebook export, Moodle grading worksheet or participants download,
        or plain ``id,name,email,sis_id``.

    Returns
    -------
    (str, list of RosterEntry)
        ``canvas``, ``moodle-worksheet``, ``moodle-participants`` or ``plain``, and the students.

    Raises
    ------
    RosterError
        Unknown columns, a row without an id, or the same id twice; the message names the file
        and the line.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read(20 * 1024 * 1024 + 1)
    except OSError as exc:
        raise RosterError(f"{path}: cannot read the roster ({exc.strerror})") from None
    if len(raw) > 20 * 1024 * 1024:
        raise RosterError(f"{path}: larger than 20 MB, not a class list")
    text = raw.decode("utf-8-sig", "replace")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise RosterError(f"{path}: empty roster")
    head = [_norm(h) for h in rows[0]]
    col = {h: i for i, h in enumerate(head)}

    def get(row: list[str], *names: str) -> str:
        for n in names:
            if n in col and col[n] < len(row):
                return clean_text(row[col[n]], 300).strip()
        return ""

    if {"student", "id"} <= col.keys() and ("sis user id" in col or "section" in col):
        layout = "canvas"
    elif "identifier" in col and "full name" in col:
        layout = "moodle-worksheet"
    elif "email address" in col and ("first name" in col or "id number" in col):
        layout = "moodle-participants"
    elif head[:1] == ["id"] or "id" in col:
        layout = "plain"
    else:
        raise RosterError(
            f"{path}: unknown roster layout (columns {rows[0][:6]}); expected Canvas's gradebook "
            "export (Student, ID, SIS User ID, ...), Moodle's grading worksheet (Identifier, "
            "Full name, ...) or participants download (First name, Last name, ID number, Email "
            "address), or id,name,email,sis_id"
        )
    out: list[RosterEntry] = []
    seen: dict[str, int] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if layout == "canvas":
            if get(row, "student").lower().startswith("points possible"):
                continue
            entry = RosterEntry(
                get(row, "id"),
                get(row, "student"),
                sis_id=get(row, "sis user id"),
                login=get(row, "sis login id"),
                section=get(row, "section"),
            )
        elif layout == "moodle-worksheet":
            ident = get(row, "identifier")
            m = re.search(r"(\d+)\s*$", ident)
            entry = RosterEntry(
                m.group(1) if m else "",
                get(row, "full name"),
                email=get(row, "email address"),
                sis_id=get(row, "id number"),
            )
        elif layout == "moodle-participants":
            name = " ".join(
                x for x in (get(row, "first name"), get(row, "last name", "surname")) if x
            )
            email = get(row, "email address")
            sis = get(row, "id number")
            entry = RosterEntry(sis or email, name, email=email, sis_id=sis)
        else:
            entry = RosterEntry(
                get(row, "id"),
                get(row, "name"),
                email=get(row, "email"),
                sis_id=get(row, "sis_id", "sis id"),
            )
        if not entry.id:
            raise RosterError(f"{path}, line {lineno}: no student id")
        if entry.id in seen:
            raise RosterError(
                f"{path}, line {lineno}: duplicate id {entry.id!r} (first on line "
                f"{seen[entry.id]}); fix the roster, nothing was changed"
            )
        seen[entry.id] = lineno
        out.append(entry)
    return layout, out


def _roster_path(state_root: str) -> str:
    return os.path.join(state_root, "roster.json")


def save_roster(state_root: str, layout: str, entries: list[RosterEntry], source: str = "") -> None:
    """Keep the class list as ``.autograder/roster.json`` (replacing the previous one);
    ``source`` is the file it came from, named in messages."""
    os.makedirs(state_root, exist_ok=True)
    data = {"layout": layout, "source": source, "students": [asdict(e) for e in entries]}
    write_json_atomic(_roster_path(state_root), data, ensure_ascii=False)


def load_roster(state_root: str) -> tuple[str, list[RosterEntry]]:
    """The saved class list (``("", [])`` when there is none)."""
    try:
        with open(_roster_path(state_root), encoding="utf-8") as fh:
            data = json.load(fh)
        return data.get("layout", ""), [RosterEntry(**s) for s in data.get("students", [])]
    except (OSError, ValueError, TypeError):
        return "", []


# --- feedback file names for the LMS's bulk upload ---------------------------------------------


def _name_part(text: str) -> str:
    """A display name made safe as part of one file name inside a zip."""
    text = clean_text(text, 120)
    text = re.sub(r"[\\/\ufffd\x00-\x1f]", "", text).strip().lstrip(".")
    return text or "student"


def feedback_zip_name(layout: str, key: str, identity: dict, filename: str) -> str:
    """Where a student's feedback file goes in the zip the LMS's bulk upload takes.

    Parameters
    ----------
    layout : str
        ``canvas``, ``moodle`` or anything else (plain: ``<key>/<file>``).
    key : str
        The student's key.
    identity : dict
        What collect recorded (``name``, ``submission_id``...).
    filename : str
        The feedback file's own name.
    """
    name = _name_part(identity.get("name", ""))
    if layout == "canvas":
        squashed = re.sub(r"[^a-z0-9]", "", name.lower()) or "student"
        sub = re.sub(r"\D", "", str(identity.get("submission_id", ""))) or "0"
        return f"{squashed}_{key}_{sub}_{filename}"
    if layout == "moodle":
        return f"{name}_{key}_assignsubmission_file_/{filename}"
    return f"{key}/{filename}"
