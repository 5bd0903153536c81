"""Whether the process that owns a running run is still there: a run whose owner (its
launcher, or the script itself when nothing launched it) is provably gone is ``crashed``,
never ``running`` for good.

An owner is recorded as its pid, the host, and where the system tells (Linux: /proc) a
token of the process's identity: the boot id and the process's start time, so a reused pid
or a reboot is not mistaken for the same process. Provably gone: on the same host, no
process has that pid, or the process that has it is another one. Another host, or no
record: unknown, and the run stays as its manifest says. Core: the standard library only.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["owner_gone", "process_token", "stat_fields", "this_process"]

_PROC = Path("/proc")


def _boot_id() -> str | None:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name, from the state on
    (``[0]`` state, ``[2]`` process group, ``[19]`` start time); None without one."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return stat.rsplit(")", 1)[-1].split()


def process_token(pid: int) -> str | None:
    """``<boot id>:<start time in clock ticks>`` of a live process, None where the system
    does not tell (no /proc) or the process does not exist."""
    boot = _boot_id()
    fields = stat_fields(pid)
    if boot is None or fields is None or len(fields) < 20:
        return None
    return f"{boot}:{fields[19]}"  # field 22 of the line: starttime


def this_process() -> dict[str, Any]:
    """The record of the calling process, as an owner of a run."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "token": process_token(pid)}


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # a process is there (someone else's, when it is a PermissionError)
        return True
    return True


def owner_gone(owner: object) -> bool:
    """True when the recorded owner is provably not running any more."""
    if not isinstance(owner, Mapping):
        return False
    pid, host, token = owner.get("pid"), owner.get("host"), owner.get("token")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if host != socket.gethostname():
        return False  # another machine's process: nothing provable from here
    if not _exists(pid):
        return True
    if isinstance(token, str) and token:
        now = process_token(pid)
        return now is not None and now != token  # the pid was reused, or the host rebooted
    return False
