"""Text that came from a student, made safe to keep and to show.

Everything a submission produces (printed output, exception messages, names, file names, markdown)
is data an attacker chose. It is cleaned once where it enters a result (:func:`clean_text`: valid
UTF-8, no control characters, bounded length) and escaped again wherever it is written for a
reader: HTML, Markdown, CSV, logs.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["clean_text"]

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
