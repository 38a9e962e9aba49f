"""Length-prefixed JSON frames over pipes, with deadlines and size limits.

Kept free of NumPy on purpose: the sandbox child reads its set-up frame and isolates itself before
it imports anything heavy (namespaces can only be entered while the process is single-threaded).
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

__all__ = ["MAX_FRAME_BYTES", "ChannelClosed", "FrameReader", "ProtocolError", "write_frame"]

#: Largest frame accepted from the other side, in bytes.
MAX_FRAME_BYTES = 32 * 1024 * 1024
_HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """A message from the other side broke the protocol (size, structure or type)."""


class ChannelClosed(ProtocolError):
    """The other side closed its end of the channel (usually: the process died)."""


def write_frame(fd: int, message: Any, deadline: float | None = None) -> None:
    """Send one message (a JSON-serialisable dict) as a length-prefixed frame on ``fd``.

    Parameters
    ----------
    fd : int
        A file descriptor open for writing (a pipe); it must be non-blocking when a deadline is
        given.
    message : Any
        The message.
    deadline : float, optional
        A :func:`time.monotonic` time after which :class:`TimeoutError` is raised (the reader
        stopped reading).
    """
    body = json.dumps(message, separators=(",", ":"), allow_nan=True).encode("utf-8")
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(f"message of {len(body)} bytes exceeds {MAX_FRAME_BYTES}")
    view = memoryview(_HEADER.pack(len(body)) + body)
    while view:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the other side stopped reading")
            if not select.select([], [fd], [], left)[1]:
                continue
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            continue
        except BrokenPipeError:
            raise ChannelClosed("the other side closed the channel") from None


class FrameReader:
    """Reads length-prefixed JSON frames from a file descriptor, with deadlines and size limits.

    Parameters
    ----------
    fd : int
        A file descriptor open for reading.
    max_bytes : int
        Largest frame accepted; a larger announced size is a :class:`ProtocolError` (the channel
        is then out of sync and should be dropped).
    """

    def __init__(self, fd: int, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self.fd = fd
        self.max_bytes = max_bytes
        self._buf = bytearray()

    def _fill(self, n: int, deadline: float | None) -> None:
        while len(self._buf) < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no answer before the deadline")
                ready, _, _ = select.select([self.fd], [], [], left)
                if not ready:
                    continue
            chunk = os.read(self.fd, min(1 << 20, n - len(self._buf)))
            if not chunk:
                raise ChannelClosed("the other side closed the channel")
            self._buf += chunk

    def read(self, deadline: float | None = None) -> Any:
        """Return the next message, parsed from JSON.

        Parameters
        ----------
        deadline : float, optional
            A :func:`time.monotonic` time after which :class:`TimeoutError` is raised.

        Returns
        -------
        Any
            The parsed JSON message.
        """
        self._fill(_HEADER.size, deadline)
        (size,) = _HEADER.unpack(bytes(self._buf[: _HEADER.size]))
        if size > self.max_bytes:
            raise ProtocolError(f"frame of {size} bytes exceeds the limit of {self.max_bytes}")
        self._fill(_HEADER.size + size, deadline)
        body = bytes(self._buf[_HEADER.size : _HEADER.size + size])
        del self._buf[: _HEADER.size + size]
        try:
            return json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(f"frame is not valid JSON: {exc}") from None
