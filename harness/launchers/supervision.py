"""Supervising a run's process: its output read in bounded memory, and nothing of it left
running once it has ended.

Output is read in chunks, never by line: 90 MB of ``\\r`` progress without a newline is
one "line" to ``readline``. Every byte goes to output.log as it comes; the lines shown
(and kept for the failure reason) are split on ``\\n``, a ``\\r`` within one keeps only what
follows it (what a terminal would show), and a line longer than ``MAX_LINE_BYTES`` is cut
and shown in pieces, so memory stays bounded whatever the script prints.

A run has ended when its process has (or its timeout passed), whatever it left behind: a
background ``sleep`` keeps the output pipe open, so waiting for end-of-file would wait for
it. Afterwards ``end_leftovers`` ends the run's process group and every other process
still carrying the run's ``HARNESS_RUN_ID`` in its environment (found in /proc: a
grandchild that started its own session is no longer in the group), SIGTERM first,
SIGKILL after a grace period. Linux finds them all; elsewhere only the process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from ..liveness import stat_fields

__all__ = [
    "MAX_LINE_BYTES",
    "LineSplitter",
    "Terminated",
    "end_leftovers",
    "pump",
    "run_processes",
    "sigterm_interrupts",
]

MAX_LINE_BYTES = 64 * 1024  # of one shown line; longer lines are shown in pieces
CHUNK_BYTES = 64 * 1024


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the launcher is, so it ends the run as Ctrl-C does."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While inside, SIGTERM raises Terminated (a KeyboardInterrupt) in the main thread:
    the run is recorded as crashed and its processes are ended, not left behind."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class LineSplitter:
    """Bytes in, finished lines out; at most MAX_LINE_BYTES held at any time.

    ``\r`` starts the line again (a progress bar redraws itself), except in ``\r\n``.
    """

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self.limit = limit
        self.partial = bytearray()
        self.pending_cr = False  # the last chunk ended with \r: is it \r\n?

    def feed(self, data: bytes) -> list[bytes]:
        if self.pending_cr:
            self.pending_cr = False
            if not data.startswith(b"\n"):
                self.partial.clear()  # a lone \r: the line starts again
        *done, rest = data.split(b"\n")
        lines = []
        for piece in done:
            self._add(piece.removesuffix(b"\r"))
            lines.append(self._take())
        if rest.endswith(b"\r"):
            self.pending_cr, rest = True, rest[:-1]
        self._add(rest)
        while len(self.partial) > self.limit:  # a line without end: shown in pieces
            lines.append(bytes(self.partial[: self.limit]))
            del self.partial[: self.limit]
        return lines

    def _add(self, data: bytes) -> None:
        if b"\r" in data:
            self.partial = bytearray(data.rpartition(b"\r")[2])
        else:
            self.partial += data

    def _take(self) -> bytes:
        line, self.partial = bytes(self.partial), bytearray()
        return line

    def close(self) -> list[bytes]:
        line = self._take()
        return [line] if line else []


def pump(stream: IO[bytes], log: IO[bytes], emit: Callable[[str], None]) -> None:
    """Copy ``stream`` into ``log`` as it comes and ``emit`` each line (bounded memory)."""
    splitter = LineSplitter()
    fd = stream.fileno()
    while True:
        try:
            data = os.read(fd, CHUNK_BYTES)
        except OSError:  # the pipe was closed under us: the run has been ended
            break
        if not data:
            break
        try:
            log.write(data)
            log.flush()
        except ValueError:  # the log was closed: the launcher has moved on
            break
        for line in splitter.feed(data):
            emit(line.decode("utf-8", errors="replace"))
    for line in splitter.close():
        emit(line.decode("utf-8", errors="replace"))


def run_processes(group: int, run_id: str) -> set[int]:
    """Live processes (not this one) of the run: in process group ``group``, or carrying
    HARNESS_RUN_ID=run_id in their environment. One pass over /proc (Linux; elsewhere
    none are found)."""
    wanted = f"HARNESS_RUN_ID={run_id}".encode()
    found: set[int] = set()
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        fields = stat_fields(int(entry.name))
        if not fields or fields[0] == "Z":  # gone, or a zombie: nothing left to end
            continue
        if len(fields) > 2 and fields[2] == str(group):
            found.add(int(entry.name))
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if wanted in environ.split(b"\0"):
            found.add(int(entry.name))
    return found


def end_leftovers(group: int, run_id: str, grace_s: float) -> int:
    """End what is left of a run: its process group, and every process still carrying its
    HARNESS_RUN_ID. SIGTERM, then SIGKILL after ``grace_s``. Returns how many processes
    were left (0: the script left nothing behind)."""
    left = run_processes(group, run_id)
    count = len(left)
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        if not left and sys.platform.startswith("linux"):
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)  # elsewhere this is all there is to do
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = run_processes(group, run_id)
    return count
