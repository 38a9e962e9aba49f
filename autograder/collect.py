"""``autograder collect``: import an LMS zip export (or a folder) into ``submitted/``.

Each file's path inside the export is matched against a regular expression with a group named
``student`` (default: the first path component or the file-name prefix before ``_``, as Moodle and
Canvas name them); the file lands in ``submitted/<student>/<assignment>/``. A single notebook
submitted for a single-notebook assignment is stored under the expected name whatever the LMS
renamed it to. Anything that does not match is reported, never guessed.

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

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass, field

from autograder.config import Course
from autograder.notebook import load_assignment
from autograder.safe import clean_text, name_problem

__all__ = ["CollectError", "CollectReport", "DEFAULT_PATTERN", "collect"]

#: Default: ``alice/...`` or ``alice_...`` (student id = first component or prefix before ``_``).
DEFAULT_PATTERN = r"^(?P<student>[A-Za-z0-9][A-Za-z0-9.@-]*)(?:/|_)"
MAX_FILES = 5000
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TOTAL_BYTES = 500 * 1024 * 1024
#: Most bytes decompressed per export, refused entries (zip bombs) included.
MAX_WORK_BYTES = 2 * MAX_TOTAL_BYTES
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_JUNK = ("__MACOSX/", ".DS_Store", ".ipynb_checkpoints")


class CollectError(RuntimeError):
    """The export is unsafe (zip bomb, too many files) or unreadable."""


@dataclass
class CollectReport:
    """What ``collect`` did.

    Attributes
    ----------
    imported : dict
        Student -> files written to ``submitted/<student>/<assignment>/``.
    unmatched : list of (str, str)
        Entries not imported, with the reason.
    """

    imported: dict[str, list[str]] = field(default_factory=dict)
    unmatched: list[tuple[str, str]] = field(default_factory=list)


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
                fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as exc:
                refused.append((rel, f"not a regular file or unreadable ({exc.strerror})"))
                continue
            if not stat.S_ISREG(os.fstat(fd).st_mode):
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


def collect(
    course: Course, assignment: str, source: str, pattern: str | None = None
) -> CollectReport:
    """Import a zip export or a folder of submissions into ``submitted/``.

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
        (default: :data:`DEFAULT_PATTERN`, or ``c.Autograder.collect_pattern``).

    Returns
    -------
    CollectReport
        Imported files per student and unmatched entries.
    """
    regex = re.compile(pattern or course.settings.get("collect_pattern") or DEFAULT_PATTERN)
    if "student" not in regex.groupindex:
        raise CollectError("the pattern needs a group named 'student', e.g. (?P<student>\\w+)")
    notebooks = [s.name for s in load_assignment(course.source_dir(assignment))]
    report = CollectReport()
    with tempfile.TemporaryDirectory(prefix="autograder-collect-") as stage:
        if os.path.isdir(source):
            entries, refused = _entries_from_folder(source, stage)
        else:
            entries, refused = _entries_from_zip(source, stage)
        report.unmatched.extend(refused)
        by_student: dict[str, list[tuple[str, str, float]]] = {}
        for name, staged, mtime in entries:
            if any(j in name for j in _JUNK):
                continue
            m = regex.search(name)
            student = m.group("student") if m else None
            if not student:
                report.unmatched.append((name, "no student id found"))
                continue
            why = _id_problem(student)
            if why is not None:
                report.unmatched.append((name, why))
                continue
            by_student.setdefault(student, []).append((name, staged, mtime))
        for student, files in sorted(by_student.items()):
            dest = os.path.join(course.submitted_dir, student, assignment)
            tmp_dest = dest + ".collecting"
            shutil.rmtree(tmp_dest, ignore_errors=True)
            os.makedirs(tmp_dest)
            ipynbs = [f for f in files if f[0].endswith(".ipynb")]
            written = []
            for name, staged, _ in files:
                base = os.path.basename(name.replace("\\", "/"))
                if name.endswith(".ipynb"):
                    match = [nb for nb in notebooks if base.endswith(f"{nb}.ipynb")]
                    if match:
                        base = f"{match[0]}.ipynb"
                    elif len(notebooks) == 1 and len(ipynbs) == 1:
                        base = f"{notebooks[0]}.ipynb"  # the LMS renamed it
                if base in ("timestamp.txt", "") or base.startswith("."):
                    continue
                bad_name = name_problem(base)
                if bad_name is not None:
                    report.unmatched.append((name, f"unusable file name: {bad_name}"))
                    continue
                shutil.copyfile(staged, os.path.join(tmp_dest, base))
                written.append(base)
            if not written:  # every file refused (reported above): no empty submission
                shutil.rmtree(tmp_dest, ignore_errors=True)
                continue
            newest = max(mtime for _, _, mtime in files)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S.000000 UTC", time.gmtime(newest))
            with open(os.path.join(tmp_dest, "timestamp.txt"), "w") as fh:
                fh.write(stamp)
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(tmp_dest, dest)
            report.imported[student] = sorted(written)
    return report
