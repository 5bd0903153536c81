"""Run a command that dies with its launcher: ``python -I die_with_parent.py PID CMD…``.

Linux only (``prctl(PR_SET_PDEATHSIG)``): the kernel sends SIGKILL to the run's process
when the launcher that started it dies, however it dies (SIGKILL included), so no run
keeps training, unseen, after its launcher is gone. The setting survives ``exec``, so this
wrapper sets it and then becomes the command. If the launcher is already gone when the
wrapper starts (the race before ``prctl``), it exits at once.

Standalone on purpose: run with ``-I`` before the branch's own code, it imports nothing of
the harness (a branch cannot replace it) and nothing outside the standard library.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    if len(argv) < 3 or not argv[1].isdigit():
        print("usage: die_with_parent.py LAUNCHER_PID COMMAND [ARG…]", file=sys.stderr)
        return 2
    launcher, command = int(argv[1]), argv[2:]
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # no prctl here: the run is still ended by the launcher's own stop
    if os.getppid() != launcher:
        print("harness: the launcher is gone; not starting the run", file=sys.stderr)
        return 1
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"harness: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv))
