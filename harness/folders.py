"""A folder replaced as a whole, with no moment where it is missing or half-written.

``swap_in`` renames a fully written staging folder onto the target. A plain rename cannot
replace a non-empty folder, so on Linux the two are exchanged atomically
(``renameat2(RENAME_EXCHANGE)``, Linux 3.15+) and the old content, now under the staging
name, is deleted afterwards. Where the exchange is not available (another system, a file
system without it) the old folder is first renamed aside, then the new one in: readers see
the old folder or the new one, or for an instant none, never a mix. Core.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import sys
from pathlib import Path

__all__ = ["swap_in"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two existing paths; False when this system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # not here: fall back
        return False
    raise OSError(error, os.strerror(error), str(b))


def swap_in(staging: Path, target: Path) -> None:
    """Make ``staging`` (a complete folder) the content of ``target``."""
    if not target.exists():
        staging.rename(target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # the old content, under the staging name
        return
    aside = staging.with_name(staging.name + ".old")
    target.rename(aside)
    try:
        staging.rename(target)
    except BaseException:
        aside.rename(target)
        raise
    shutil.rmtree(aside, ignore_errors=True)
