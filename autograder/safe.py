"""Text that came from a student, made safe to keep and to show.

Everything a submission produces (printed output, exception messages, names, file names, markdown)
is data an attacker chose. It is cleaned once where it enters a result (:func:`clean_text`: valid
UTF-8, no control characters, bounded length) and escaped again wherever it is written for a
reader: HTML, Markdown, CSV, logs.
"""

from __future__ import annotations

import html
import json
import os
import re
from typing import Any

__all__ = [
    "MAX_ID_BYTES",
    "open_nofollow",
    "clean_text",
    "clean_tree",
    "csv_cell",
    "html_text",
    "load_json_clean",
    "log_text",
    "markdown_text",
    "name_problem",
    "sanitize_markdown",
    "show_id",
    "student_id_problem",
    "write_json_atomic",
]

# C0 controls except tab and newline, DEL, C1 controls, the bidirectional overrides that can
# make a line read differently from what it is (Trojan Source), and lone surrogates (undecodable
# bytes): none can be written as UTF-8 or shown safely
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def clean_text(value: Any, limit: int | None = None) -> str:
    """Return ``value`` as valid UTF-8 text without control characters, at most ``limit`` chars.

    Lone surrogates (what Python makes of undecodable bytes) and other unencodable code points
    become U+FFFD, control characters become U+FFFD, and a text longer than ``limit`` is cut with
    a note of how much was left out. Never raises.

    Parameters
    ----------
    value : Any
        A string, bytes (decoded as UTF-8 with replacement) or anything else (``str()``-ed).
    limit : int, optional
        Most characters kept.

    Returns
    -------
    str
        The cleaned text.
    """
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except Exception:
            text = f"<unprintable {type(value).__name__}>"
    text = _CONTROL.sub("\ufffd", text)
    if limit is not None and len(text) > limit:
        cut = len(text) - limit
        text = text[:limit] + f"\n[... {cut} more characters left out]"
    return text


# --- escaping for each place student text is written -------------------------------------------

#: Longest student id accepted, in UTF-8 bytes: ``results/<id>.json.tmp``,
#: ``feedback/<id>/...`` and ``<id>.collecting`` must stay under the 255-byte name limit.
MAX_ID_BYTES = 100
_ID_HELP = (
    "rename the folder (or the file in the export) to a plain id: letters, digits, '.', '_', "
    f"'@', '-', not starting with '.', at most {MAX_ID_BYTES} bytes; then run the command again"
)


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a file or folder name made from student input, or None.

    Unusable: empty, not valid UTF-8 (undecodable bytes, which Python shows as lone
    surrogates), control characters, a path separator, a leading ``.`` (hidden, ``.``, ``..``),
    leading or trailing white space, or longer than :data:`MAX_ID_BYTES` bytes (``File name too
    long`` once suffixes are added).

    Parameters
    ----------
    name : Any
        The candidate (a ``str``; ``bytes`` are decoded strictly).

    Returns
    -------
    str or None
        What is wrong, in words (``"the name starts with '.'"``); None if it is usable.
    """
    if isinstance(name, bytes | bytearray):
        try:
            name = bytes(name).decode("utf-8")
        except UnicodeDecodeError:
            return "it is not valid UTF-8"
    if not isinstance(name, str) or not name:
        return "it is empty"
    if re.search("[\ud800-\udfff]", name):
        return "it is not valid UTF-8"
    if _CONTROL.search(name) or "\t" in name or "\n" in name:
        return "it contains control characters"
    if "/" in name or "\\" in name or "\0" in name:
        return "it contains a path separator"
    if name.startswith("."):
        return "it starts with '.'"
    if name != name.strip():
        return "it starts or ends with white space"
    size = len(name.encode("utf-8"))
    if size > MAX_ID_BYTES:
        return f"it is {size} bytes long (limit {MAX_ID_BYTES})"
    return None


def student_id_problem(student: Any) -> str | None:
    """Why ``student`` cannot be used as a student id (a folder and file name), or None.

    See :func:`name_problem` for what makes an id unusable.

    Parameters
    ----------
    student : Any
        The candidate id.

    Returns
    -------
    str or None
        What is wrong and what to do, in words; None if the id is usable.
    """
    why = name_problem(student)
    if why is None:
        return None
    return f"the student id {show_id(student)!r} is unusable: {why}; {_ID_HELP}"


def show_id(student: Any, limit: int = 80) -> str:
    """A student id (possibly unusable) as printable text for messages and logs."""
    return clean_text(student, limit).replace("\n", " ")


def clean_tree(value: Any, limit: int | None = None) -> Any:
    """``value`` (parsed JSON) with every string, keys included, passed through :func:`clean_text`.

    Results on disk may hold escaped lone surrogates (``"\\udcff"``) that cannot be written as
    UTF-8; this cleans them on read. Numbers, booleans and None are kept; nesting is followed
    iteratively, so a deep structure cannot exhaust the stack.
    """
    if isinstance(value, str):
        return clean_text(value, limit)
    if not isinstance(value, dict | list):
        return value
    root: list = [value]
    stack: list[tuple[Any, Any, Any]] = [(root, 0, value)]
    while stack:
        parent, key, item = stack.pop()
        if isinstance(item, dict):
            new: Any = {}
            for k, v in item.items():
                k2 = clean_text(k, limit) if isinstance(k, str) else k
                new[k2] = v
                stack.append((new, k2, v))
        elif isinstance(item, list):
            new = list(item)
            stack.extend((new, i, v) for i, v in enumerate(item))
        elif isinstance(item, str):
            new = clean_text(item, limit)
        else:
            new = item
        parent[key] = new
    return root[0]


def load_json_clean(path: str, limit: int | None = None) -> Any:
    """Read a JSON file that may hold student text: invalid UTF-8 bytes and escaped lone
    surrogates are replaced (U+FFFD), never fatal. Raises ``OSError``/``ValueError`` only when
    the file cannot be read or is not JSON at all."""
    with open(path, "rb") as fh:
        raw = fh.read()
    return clean_tree(json.loads(raw.decode("utf-8", "replace")), limit)


def write_json_atomic(path: str, data: Any, mode: int | None = None, **dump: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically: to ``path.tmp``, flushed to disk, then
    renamed over ``path``, so a reader (or a run killed mid-write) sees the old file or the new
    one, never half of one.

    Parameters
    ----------
    path : str
        The file.
    data : Any
        JSON-serialisable data.
    mode : int, optional
        Permissions of the new file (default: the umask's).
    **dump
        Passed to :func:`json.dump` (default ``indent=1``).
    """
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, **{"indent": 1, **dump})
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def html_text(value: Any, limit: int | None = None) -> str:
    """Student text for HTML element content or a quoted attribute: cleaned, then every ``&``,
    ``<``, ``>``, ``"`` and ``'`` escaped, so no markup, link or script can be formed."""
    return html.escape(clean_text(value, limit), quote=True)


# Characters with a meaning in CommonMark/GFM (emphasis, links, images, code, tables, headings,
# lists, autolinks, HTML); each gets a backslash, so the text is shown literally.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>:=\"'])")


def markdown_text(value: Any, limit: int | None = None) -> str:
    """Student text for one line of Markdown (a list item, a table cell): inert as Markdown and
    as HTML.

    Cleaned, put on one line, ``&``/``<``/``>`` written as HTML entities (no tag can open, an
    ``<img onerror=...>`` shows as text) and Markdown's punctuation backslash-escaped (no link,
    image, emphasis, code span or table cell boundary: ``[x](javascript:...)`` shows as text).
    """
    text = clean_text(value, limit)
    text = re.sub(r"\s*\n\s*", " ", text)
    text = html.escape(text, quote=False)  # & < > first: the escapes below add no & < >
    return _MD_SPECIAL.sub(r"\\\1", text)


#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value for a CSV cell that no spreadsheet evaluates.

    Numbers (and None) are kept. Text is cleaned and, when it starts with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return, prefixed with a single quote, as OWASP recommends (the
    csv module then quotes it as needed).
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return clean_text(text)


def log_text(value: Any, limit: int = 2000) -> str:
    """Student text for one line of a log: cleaned, bounded, newlines shown as ``\\n``, so a
    student cannot forge log lines."""
    return clean_text(value, limit).replace("\r", "\\r").replace("\n", "\\n")


# --- formgrader's copy of a submission ----------------------------------------------------------

_SAFE_SCHEMES = ("http", "https", "mailto")
# [text](destination ...) and [text]: destination (link reference definitions)
_MD_INLINE_LINK = re.compile(r"(\]\(\s*)(<[^>\n]*>|[^\s)]*)")
_MD_REF_DEF = re.compile(r"^([ ]{0,3}\[[^\]\n]+\]:[ \t]*)(<[^>\n]*>|\S+)", re.MULTILINE)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
# TeX link macros that MathJax turns into live links
_TEX_LINK = re.compile(r"\\(href|url)\b")


def _safe_destination(match: re.Match) -> str:
    target = match.group(2)
    plain = html.unescape(target.strip("<>"))
    plain = re.sub(r"[\x00-\x20\x7f-\x9f]+", "", plain).lower()
    scheme = _SCHEME.match(plain)
    if plain.startswith("//") or (scheme and scheme.group(1) not in _SAFE_SCHEMES):
        return match.group(1) + "#blocked-link"
    if not scheme and ":" in plain.split("/")[0]:  # e.g. "java&#x09;script:" variants
        return match.group(1) + "#blocked-link"
    return match.group(0)


def sanitize_markdown(source: Any) -> str:
    """A student's markdown answer made safe to render (formgrader renders it as HTML).

    Raw HTML goes through nbconvert's :class:`~nbconvert.preprocessors.SanitizeHTML` (bleach:
    tags and attributes outside a small safe list are escaped, so ``<script>`` or
    ``<img onerror=...>`` show as text; ``javascript:`` URLs in the allowed ``<a>`` are removed);
    Markdown link targets with any scheme but http, https and mailto become ``#blocked-link``;
    MathJax's ``\\href``/``\\url`` lose their backslash. The text itself is kept, so a written
    answer can still be graded.
    """
    text = clean_text(source)
    try:
        from nbconvert.preprocessors.sanitize import SanitizeHTML

        text = SanitizeHTML().sanitize_html_tags(text)
    except ImportError:  # pragma: no cover - nbconvert is a dependency of nbgrader
        text = html.escape(text, quote=False)
    text = _MD_INLINE_LINK.sub(_safe_destination, text)
    text = _MD_REF_DEF.sub(_safe_destination, text)
    return _TEX_LINK.sub(lambda m: "\u2216" + m.group(1), text)


def open_nofollow(path: str) -> tuple[int, os.stat_result]:
    """Open a student's file for reading as it is: never through a symlink, never blocking on a
    FIFO, and return what ``fstat`` says of the opened file (what is read is what was checked).

    Parameters
    ----------
    path : str
        The file.

    Returns
    -------
    fd : int
        The open descriptor (the caller closes it); check ``stat.S_ISREG(st.st_mode)``.
    st : os.stat_result
        The opened file's status.

    Raises
    ------
    OSError
        ``ELOOP`` for a symbolic link, or whatever else stopped the open.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    return fd, os.fstat(fd)
