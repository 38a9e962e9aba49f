"""A small progress bar with an ETA (one redrawn line on a terminal, plain lines otherwise)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """``75.2`` -> ``"1:15"``; ``3700`` -> ``"1:01:40"``.

    Parameters
    ----------
    seconds : float
        A duration.

    Returns
    -------
    str
        ``[h:]mm:ss``.
    """
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Progress of a batch.

    Parameters
    ----------
    total : int
        Number of items.
    stream : TextIO, optional
        Where to draw (default: stderr).
    enabled : bool
        Draw nothing when False.
    """

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.start = time.monotonic()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def eta(self) -> float | None:
        """Estimated seconds left (None before the first item finishes)."""
        if self.done == 0:
            return None
        rate = (time.monotonic() - self.start) / self.done
        return rate * (self.total - self.done)

    def update(self, label: str = "") -> None:
        """Count one finished item and redraw.

        Parameters
        ----------
        label : str
            Shown after the bar (e.g. ``alice: ok 18/18``).
        """
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = int(width * self.done / self.total)
        eta = self.eta()
        elapsed = format_seconds(time.monotonic() - self.start)
        left = format_seconds(eta) if eta is not None else "?"
        bar = "#" * filled + "." * (width - filled)
        line = f"[{bar}] {self.done}/{self.total}  {elapsed} elapsed, ETA {left}  {label}"
        if self.tty:
            self.stream.write("\r\x1b[K" + line[:160])
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
