"""``autograder collect``: import an LMS zip export (or a folder) into ``submitted/``.

Each entry's layout is recognised (:func:`autograder.lms.parse_entry`): Canvas
(``lastfirst[_LATE]_<user id>_<submission id>_<file>``), Moodle (``Full Name_<participant
id>_assignsubmission_file_/<file>``) or a plain ``<student>/<file>``; or, with a ``--pattern``,
a regular expression with a group named ``student``. The student is keyed by the LMS's stable id
and the display name kept beside it; the file lands in ``submitted/<id>/<assignment>/``. A single
notebook submitted for a single-notebook assignment is stored under the expected name whatever the
LMS renamed it to. Two files for one name are never merged (the newer kept, the older archived),
a changed resubmission archives the previous version, and anything that does not match is
reported, never guessed.

The archive is untrusted: entries with absolute paths, ``..`` components or drive letters
(zip-slip), symlinks, devices, FIFOs and other special files are refused (zip entries by their
mode bits; folders with ``lstat`` and ``O_NOFOLLOW``), and so are unusable student ids and file
names (:func:`autograder.safe.name_problem`), each with the reason. The number of entries is
capped; each entry's real decompressed size is counted while reading (headers can lie) and capped
(:data:`MAX_FILE_BYTES`), so a zip bomb costs only its own entry, reported, never the rest of the
export; what is imported is capped in total (:data:`MAX_TOTAL_BYTES`) and so is everything
decompressed (:data:`MAX_WORK_BYTES`). There is no compression-ratio rule: an honest notebook with
repetitive outputs compresses far better than 100:1. Everything is staged in a temporary folder
first.
"""

from __future__ import annotations

import calendar
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass, field

from autograder.config import Course
from autograder.errors import CollectError
from autograder.notebook import load_assignment
from autograder.safe import clean_text, name_problem, open_nofollow

__all__ = [
    "CollectError",
    "CollectReport",
    "DEFAULT_PATTERN",
    "archive_submission",
    "collect",
    "submission_hash",
]

#: The rule before issue 14 (first component or prefix before ``_``), for ``--pattern`` only: a
#: prefix before ``_`` is a last name in Canvas's exports, never an id.
DEFAULT_PATTERN = r"^(?P<student>[A-Za-z0-9][A-Za-z0-9.@-]*)(?:/|_)"
MAX_FILES = 5000
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TOTAL_BYTES = 500 * 1024 * 1024
#: Most bytes decompressed per export, refused entries (zip bombs) included.
MAX_WORK_BYTES = 2 * MAX_TOTAL_BYTES
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_JUNK = ("__MACOSX/", ".DS_Store", ".ipynb_checkpoints")


@dataclass
class CollectReport:
    """What ``collect`` did.

    Attributes
    ----------
    imported : dict
        Student -> files written to ``submitted/<student>/<assignment>/``.
    unmatched : list of (str, str)
        Entries not imported, with the reason.
    layouts : dict
        Layout (``canvas``, ``moodle``, ``plain``, ``pattern``) -> entries recognised as such.
    conflicts : list of (str, str, str, str)
        ``(student, file, kept entry, archived entry)``: two files for one name.
    resubmitted : list of str
        Students whose submission changed since the last collect (previous one archived).
    archived : dict
        Student -> where the previous version went.
    unchanged : list of str
        Students collected again with the same content.
    not_on_roster : list of str
        Students who submitted but are not on the roster (imported all the same).
    late : list of str
        Students whose submission the LMS marked late (Canvas's ``LATE``).
    older : dict
        Student -> where this export's version went: it is older than the one already
        collected, which stays (an older export collected after a newer one).
    """

    imported: dict[str, list[str]] = field(default_factory=dict)
    unmatched: list[tuple[str, str]] = field(default_factory=list)
    layouts: dict[str, int] = field(default_factory=dict)
    conflicts: list[tuple[str, str, str, str]] = field(default_factory=list)
    resubmitted: list[str] = field(default_factory=list)
    archived: dict[str, str] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    not_on_roster: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    older: dict[str, str] = field(default_factory=dict)


def _id_problem(student: str) -> str | None:
    """Why ``student`` (found by the pattern) cannot be a student id, in words, or None."""
    why = name_problem(student)
    if why is None and _STUDENT_ID.match(student):
        return None
    shown = clean_text(student, 80).replace("\n", " ")
    if why is None:
        why = "only letters, digits, '.', '_', '@' and '-' are allowed, at most 64 characters"
    return (
        f"unusable student id {shown!r}: {why}; rename the file in the export or pass a "
        "--pattern whose 'student' group captures a plain id"
    )


def _safe_parts(name: str) -> list[str] | None:
    """The path's components if it is a safe relative path, else None."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return parts


class _Budget:
    """Bytes the export may still unpack: ``keep`` counts what is imported (at most
    :data:`MAX_TOTAL_BYTES`), ``work`` everything decompressed, refused entries included (at most
    :data:`MAX_WORK_BYTES`), so that the time spent on an export is bounded too."""

    def __init__(self) -> None:
        self.keep = MAX_TOTAL_BYTES
        self.work = MAX_WORK_BYTES


def _copy_capped(src, dst_path: str, limit: int, budget: _Budget) -> str | None:
    """Copy at most ``limit`` bytes, counting what is really read (headers can lie).

    Returns None when copied, else why the entry is refused (its partial copy removed)."""
    written = 0
    why = None
    with open(dst_path, "wb") as out:
        while True:
            chunk = src.read(min(1 << 16, limit + 1 - written, budget.work + 1))
            if not chunk:
                break
            written += len(chunk)
            budget.work -= len(chunk)
            if written > limit:
                why = f"expands to more than {limit} bytes (a zip bomb?): not imported"
                break
            if budget.work < 0:
                why = (
                    f"not imported: the export already unpacked more than {MAX_WORK_BYTES} "
                    "bytes; split it into smaller exports"
                )
                break
            out.write(chunk)
    if why is None and written > budget.keep:
        why = (
            f"not imported: the export unpacks to more than {MAX_TOTAL_BYTES} bytes; "
            "split it into smaller exports"
        )
    if why is not None:
        os.unlink(dst_path)
        return why
    budget.keep -= written
    return None


def _entries_from_zip(path: str, stage: str) -> tuple[list[tuple[str, str, float]], list]:
    out, refused = [], []
    budget = _Budget()
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:  # ValueError: bad UTF-8 names
        raise CollectError(f"{path} is not a readable zip file ({clean_text(exc, 300)})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_FILES:
            raise CollectError(f"the export has {len(infos)} entries (limit {MAX_FILES})")
        for i, info in enumerate(infos):
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind == stat.S_IFDIR or (not kind and info.is_dir()):
                continue
            if kind and kind != stat.S_IFREG:
                refused.append((info.filename, "not a regular file (symlink or special file)"))
                continue
            if info.is_dir():  # a name ending in '/' that claims to be a regular file
                refused.append((info.filename, "not a regular file (a folder)"))
                continue
            if _safe_parts(info.filename) is None:
                refused.append((info.filename, "unsafe path (absolute or with '..')"))
                continue
            if info.file_size > MAX_FILE_BYTES:
                refused.append((info.filename, f"larger than {MAX_FILE_BYTES} bytes"))
                continue
            if budget.work <= 0:
                refused.append(
                    (
                        info.filename,
                        f"not read: the export already unpacked more than {MAX_WORK_BYTES} "
                        "bytes; split it into smaller exports",
                    )
                )
                continue
            dest = os.path.join(stage, f"{i:06d}")
            try:
                with zf.open(info) as src:
                    why = _copy_capped(src, dest, MAX_FILE_BYTES, budget)
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError) as exc:
                with contextlib.suppress(OSError):
                    os.unlink(dest)
                refused.append((info.filename, f"unreadable ({clean_text(exc, 300)})"))
                continue
            if why is not None:
                refused.append((info.filename, why))
                continue
            try:
                mtime = time.mktime((*info.date_time, 0, 0, -1))
            except (OverflowError, ValueError):
                mtime = time.time()
            out.append((info.filename, dest, mtime))
    return out, refused


def _entries_from_folder(path: str, stage: str) -> tuple[list[tuple[str, str, float]], list]:
    out, refused = [], []
    budget = _Budget()
    count = 0
    for folder, dirs, files in os.walk(path, followlinks=False):
        for d in list(dirs):
            if os.path.islink(os.path.join(folder, d)):
                refused.append((os.path.relpath(os.path.join(folder, d), path), "symlink"))
                dirs.remove(d)
        for name in sorted(files):
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            st = os.lstat(full)
            if not stat.S_ISREG(st.st_mode):
                refused.append((rel, "not a regular file (symlink or special file)"))
                continue
            count += 1
            if count > MAX_FILES:
                raise CollectError(f"the folder has more than {MAX_FILES} files")
            if st.st_size > MAX_FILE_BYTES:
                refused.append((rel, f"larger than {MAX_FILE_BYTES} bytes"))
                continue
            dest = os.path.join(stage, f"{count:06d}")
            try:  # no symlink, no FIFO, and it is still the regular file that lstat saw
                fd, opened = open_nofollow(full)
            except OSError as exc:
                refused.append((rel, f"not a regular file or unreadable ({exc.strerror})"))
                continue
            if not stat.S_ISREG(opened.st_mode):
                os.close(fd)
                refused.append((rel, "not a regular file (symlink or special file)"))
                continue
            with os.fdopen(fd, "rb") as src:
                why = _copy_capped(src, dest, MAX_FILE_BYTES, budget)
            if why is not None:
                refused.append((rel, why))
                continue
            out.append((rel, dest, st.st_mtime))
    return out, refused


def submission_hash(folder: str) -> str:
    """SHA-256 over a submission folder's files (names and bytes; ``timestamp.txt`` and hidden
    files left out): the version a grade belongs to. Links and special files are not read."""
    h = hashlib.sha256()
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return ""
    for name in names:
        if name == "timestamp.txt" or name.startswith("."):
            continue
        path = os.path.join(folder, name)
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            continue
        h.update(name.encode("utf-8", "surrogateescape") + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 16), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def _utc(ts: float) -> str:
    """nbgrader's timestamp format (``timestamp.txt``, ``parse_utc`` reads it)."""
    return time.strftime("%Y-%m-%d %H:%M:%S.000000 UTC", time.gmtime(ts))


def _collected_time(folder: str) -> float:
    """The time in a collected submission's ``timestamp.txt`` (0 when unreadable)."""
    try:
        with open(os.path.join(folder, "timestamp.txt"), encoding="utf-8") as fh:
            text = fh.read(100).strip()
        return float(calendar.timegm(time.strptime(text[:19], "%Y-%m-%d %H:%M:%S")))
    except (OSError, ValueError):
        return 0.0


def archive_submission(course: Course, assignment: str, student: str, folder: str) -> str:
    """Move a submission folder into ``.autograder/<assignment>/archive/<student>/`` (never
    deleted), named by its time and hash; returns where it went."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    with contextlib.suppress(OSError):
        with open(os.path.join(folder, "timestamp.txt")) as fh:
            stamp = re.sub(r"[^0-9T]", "", fh.read().replace(" ", "T"))[:15] + "Z"
    base = os.path.join(course.state_dir(assignment), "archive", student)
    os.makedirs(base, exist_ok=True)
    dest = os.path.join(base, f"{stamp}-{submission_hash(folder)[:12]}")
    n = 1
    while os.path.exists(dest):
        n += 1
        dest = os.path.join(base, f"{stamp}-{submission_hash(folder)[:12]}-{n}")
    shutil.move(folder, dest)
    return dest


def _roster_match(course: Course) -> tuple[set[str], dict[str, str], str]:
    """Roster ids, full name -> id for names that occur once (Moodle participants), layout."""
    from autograder.lms import load_roster

    layout, entries = load_roster(os.path.join(course.root, ".autograder"))
    ids = {e.id for e in entries}
    names: dict[str, list[str]] = {}
    for e in entries:
        names.setdefault(e.name.casefold(), []).append(e.id)
    unique = {n: v[0] for n, v in names.items() if len(v) == 1 and n}
    return ids, unique, layout


def collect(
    course: Course, assignment: str, source: str, pattern: str | None = None
) -> CollectReport:
    """Import a zip export or a folder of submissions into ``submitted/``.

    Each entry's layout is recognised (:func:`autograder.lms.parse_entry`: Canvas, Moodle,
    plain ``<student>/<file>``) unless ``pattern`` is given; the student is keyed by the LMS's
    stable id (Canvas user id, Moodle participant id) and the display name is recorded beside it
    (``.autograder/identities.json``). Two files of one student that would land on the same
    name: the newer is kept (file time, then Canvas's ``-N`` suffix), the older archived under
    ``.autograder/<assignment>/archive/<student>/`` and reported. A student whose submission
    changed since the last collect has the previous version archived (never deleted), and the
    next ``grade`` regrades them (it compares the content hash). Entries that fit no layout are
    listed in ``unmatched``; when nothing fits, :class:`CollectError` names the export.

    Parameters
    ----------
    course : Course
        The course.
    assignment : str
        The assignment the files belong to.
    source : str
        A ``.zip`` file or a folder.
    pattern : str, optional
        Regular expression with a ``student`` group, searched in each entry's relative path
        (default: the layouts above, or ``c.Autograder.collect_pattern``).

    Returns
    -------
    CollectReport
        Imported files per student, the layouts found, archived and conflicting files,
        resubmissions, students missing from the roster, and unmatched entries.
    """

    pattern = pattern or course.settings.get("collect_pattern")
    regex = re.compile(pattern) if pattern else None
    if regex is not None and "student" not in regex.groupindex:
        raise CollectError("the pattern needs a group named 'student', e.g. (?P<student>\\w+)")
    notebooks = [s.name for s in load_assignment(course.source_dir(assignment))]
    os.makedirs(course.state_dir(assignment), exist_ok=True)
    with open(os.path.join(course.state_dir(assignment), "lock"), "w") as lock:
        try:  # grade holds it while it runs: never swap a submission under a grading run
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise CollectError(
                f"a grading run of {assignment} is in progress; collect when it has finished"
            ) from None
        return _collect_locked(course, assignment, source, regex, notebooks)


def _collect_locked(
    course: Course, assignment: str, source: str, regex: re.Pattern | None, notebooks: list[str]
) -> CollectReport:
    from autograder.lms import Entry, parse_entry, save_identity

    report = CollectReport()
    roster_ids, roster_names, roster_layout = _roster_match(course)
    with tempfile.TemporaryDirectory(prefix="autograder-collect-") as stage:
        if os.path.isdir(source):
            entries, refused = _entries_from_folder(source, stage)
        else:
            entries, refused = _entries_from_zip(source, stage)
        report.unmatched.extend(refused)
        by_student: dict[str, list[tuple[str, str, float, Entry]]] = {}
        seen_any = False
        for name, staged, mtime in entries:
            if any(j in name for j in _JUNK):
                continue
            seen_any = True
            if regex is not None:
                m = regex.search(name)
                student = m.group("student") if m else None
                entry = Entry("pattern", student or "", "", name.rsplit("/", 1)[-1])
            else:
                entry = parse_entry(name.replace("\\", "/"))
                student = entry.key if entry else None
            if not student or entry is None:
                report.unmatched.append(
                    (name, "no student id found (not a Canvas, Moodle or plain-folder name)")
                )
                continue
            if entry.layout == "moodle" and roster_layout == "moodle-participants":
                # the participants download has no participant id: match the unique full name
                student = roster_names.get(entry.name.casefold(), student)
                entry.key = student
            why = _id_problem(student)
            if why is not None:
                report.unmatched.append((name, why))
                continue
            report.layouts[entry.layout] = report.layouts.get(entry.layout, 0) + 1
            by_student.setdefault(student, []).append((name, staged, mtime, entry))
        if seen_any and not by_student and not refused:
            raise CollectError(
                f"{source}: unknown layout, no entry is a Canvas ('name[_LATE]_<user id>_"
                "<submission id>_<file>'), Moodle ('Full Name_<id>_assignsubmission_file_/"
                "<file>') or plain ('<student>/<file>') name; pass --pattern (first entries: "
                + ", ".join(repr(clean_text(n, 80)) for n, _, _ in entries[:3])
                + ")"
            )
        identities: dict[str, dict] = {}
        for student, files in sorted(by_student.items()):
            ipynbs = [f for f in files if f[3].file.endswith(".ipynb")]
            chosen: dict[str, tuple[str, str, float, Entry]] = {}
            for name, staged, mtime, entry in files:
                base = os.path.basename(entry.file)
                if entry.uploaded and any(entry.uploaded == f"{nb}.ipynb" for nb in notebooks):
                    base, entry.version = entry.uploaded, 0  # "part-1.ipynb" is no re-upload
                if base.endswith(".ipynb"):
                    match = [nb for nb in notebooks if base.endswith(f"{nb}.ipynb")]
                    if match:
                        base = f"{match[0]}.ipynb"
                    elif len(notebooks) == 1 and (
                        len(ipynbs) == 1 or {os.path.basename(f[3].file) for f in ipynbs} == {base}
                    ):
                        base = f"{notebooks[0]}.ipynb"  # the LMS renamed it
                if base in ("timestamp.txt", "") or base.startswith("."):
                    continue
                bad_name = name_problem(base)
                if bad_name is not None:
                    report.unmatched.append((name, f"unusable file name: {bad_name}"))
                    continue
                item = (name, staged, mtime, entry)
                old = chosen.get(base)
                if old is None:
                    chosen[base] = item
                    continue
                # two files for one name: keep the newer, archive the older (never merged)
                newer, older = (
                    (item, old)
                    if (mtime, entry.version) >= (old[2], old[3].version)
                    else (old, item)
                )
                chosen[base] = newer
                report.conflicts.append((student, base, newer[0], older[0]))
                keep = os.path.join(
                    course.state_dir(assignment), "archive", student, "superseded-in-export"
                )
                os.makedirs(keep, exist_ok=True)
                shutil.copyfile(
                    older[1], os.path.join(keep, f"{_utc(older[2])[:19].replace(':', '')}-{base}")
                )
            if not chosen:  # every file refused (reported above): no empty submission
                continue
            dest = os.path.join(course.submitted_dir, student, assignment)
            tmp_dest = dest + ".collecting"
            shutil.rmtree(tmp_dest, ignore_errors=True)
            os.makedirs(tmp_dest)
            for base, (_, staged, _, _) in chosen.items():
                shutil.copyfile(staged, os.path.join(tmp_dest, base))
            newest = max(item[2] for item in chosen.values())
            with open(os.path.join(tmp_dest, "timestamp.txt"), "w") as fh:
                fh.write(_utc(newest))
            digest = submission_hash(tmp_dest)
            if os.path.isdir(dest):
                if submission_hash(dest) == digest:
                    shutil.rmtree(tmp_dest)  # the same version again: nothing to do
                    report.unchanged.append(student)
                elif newest < _collected_time(dest):
                    # an older export collected after a newer one: the newer stays, this one is
                    # archived, never graded in its place
                    report.older[student] = archive_submission(
                        course, assignment, student, tmp_dest
                    )
                    continue
                else:
                    report.archived[student] = archive_submission(course, assignment, student, dest)
                    report.resubmitted.append(student)
            if os.path.isdir(tmp_dest):
                os.replace(tmp_dest, dest)
            report.imported[student] = sorted(chosen)
            entries_of = [item[3] for item in chosen.values()]
            first = entries_of[0]
            identities[student] = {
                "layout": first.layout,
                "name": next((e.name for e in entries_of if e.name), ""),
                "late": any(e.late for e in entries_of),
                "submission_id": next((e.submission_id for e in entries_of if e.submission_id), ""),
                "assignment": assignment,
                "submitted_at": _utc(newest),
                "sha256": digest,
                "files": {base: item[0] for base, item in chosen.items()},
            }
            if identities[student]["late"]:
                report.late.append(student)
            if roster_ids and student not in roster_ids:
                report.not_on_roster.append(student)
    # per assignment (Canvas submission ids differ between assignments)
    save_identity(course.state_dir(assignment), identities)
    save_identity(
        os.path.join(course.root, ".autograder"),
        {k: {f: v[f] for f in ("layout", "name") if v[f]} for k, v in identities.items()},
    )
    return report
