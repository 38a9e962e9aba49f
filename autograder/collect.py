"""``autograder collect``: import an LMS zip export (or a folder) into ``submitted/``.

Each file's path inside the export is matched against a regular expression with a group named
``student`` (default: the first path component or the file-name prefix before ``_``, as Moodle and
Canvas name them); the file lands in ``submitted/<student>/<assignment>/``. A single notebook
submitted for a single-notebook assignment is stored under the expected name whatever the LMS
renamed it to. Anything that does not match is reported, never guessed.

The archive is untrusted: entries with absolute paths, ``..`` components or drive letters
(zip-slip), symlinks and special files are refused; the number of files, each file's size, the
total uncompressed size and the compression ratio are capped, and sizes are counted while reading
(headers can lie), so a zip bomb stops early. Everything is staged in a temporary folder first.
"""

from __future__ import annotations

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

__all__ = ["CollectError", "CollectReport", "DEFAULT_PATTERN", "collect"]

#: Default: ``alice/...`` or ``alice_...`` (student id = first component or prefix before ``_``).
DEFAULT_PATTERN = r"^(?P<student>[A-Za-z0-9][A-Za-z0-9.@-]*)(?:/|_)"
MAX_FILES = 5000
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TOTAL_BYTES = 500 * 1024 * 1024
MAX_RATIO = 100
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


def _safe_parts(name: str) -> list[str] | None:
    """The path's components if it is a safe relative path, else None."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return parts


def _copy_capped(src, dst_path: str, limit: int, budget: list[int]) -> None:
    written = 0
    with open(dst_path, "wb") as out:
        while True:
            chunk = src.read(1 << 16)
            if not chunk:
                return
            written += len(chunk)
            budget[0] -= len(chunk)
            if written > limit:
                raise CollectError(f"{os.path.basename(dst_path)} is larger than {limit} bytes")
            if budget[0] < 0:
                raise CollectError(f"the export unpacks to more than {MAX_TOTAL_BYTES} bytes")
            out.write(chunk)


def _entries_from_zip(path: str, stage: str) -> tuple[list[tuple[str, str, float]], list]:
    out, refused = [], []
    budget = [MAX_TOTAL_BYTES]
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CollectError(f"{path} is not a readable zip file ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_FILES:
            raise CollectError(f"the export has {len(infos)} entries (limit {MAX_FILES})")
        for i, info in enumerate(infos):
            if info.is_dir():
                continue
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind and kind != stat.S_IFREG:
                refused.append((info.filename, "not a regular file (symlink or special file)"))
                continue
            if _safe_parts(info.filename) is None:
                refused.append((info.filename, "unsafe path (absolute or with '..')"))
                continue
            if info.file_size > MAX_FILE_BYTES:
                refused.append((info.filename, f"larger than {MAX_FILE_BYTES} bytes"))
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > 1024 * 1024 and ratio > MAX_RATIO:
                raise CollectError(f"{info.filename} compresses {ratio:.0f}:1: a zip bomb?")
            dest = os.path.join(stage, f"{i:06d}")
            try:
                with zf.open(info) as src:
                    _copy_capped(src, dest, MAX_FILE_BYTES, budget)
            except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                if isinstance(exc, CollectError):
                    raise
                refused.append((info.filename, f"unreadable ({exc})"))
                continue
            out.append((info.filename, dest, time.mktime((*info.date_time, 0, 0, -1))))
    return out, refused


def _entries_from_folder(path: str, stage: str) -> tuple[list[tuple[str, str, float]], list]:
    out, refused = [], []
    budget = [MAX_TOTAL_BYTES]
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
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as src:
                _copy_capped(src, dest, MAX_FILE_BYTES, budget)
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
            if not student or not _STUDENT_ID.match(student):
                why = "no student id found" if not student else f"invalid student id {student!r}"
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
                shutil.copyfile(staged, os.path.join(tmp_dest, base))
                written.append(base)
            newest = max(mtime for _, _, mtime in files)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S.000000 UTC", time.gmtime(newest))
            with open(os.path.join(tmp_dest, "timestamp.txt"), "w") as fh:
                fh.write(stamp)
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(tmp_dest, dest)
            report.imported[student] = sorted(written)
    return report
