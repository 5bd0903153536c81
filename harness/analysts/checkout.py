"""A read-only checkout of one commit for the analysis engine to read, and nothing more.

The files come from ``git archive`` (no ``.git``: no remote URL, no token in a config),
extracted with tarfile's ``data`` filter (no links out, no devices), files that commonly
hold credentials left out, and every file and folder made read-only. Its fingerprint is
checked when the engine is done: a checkout that changed is reported, never trusted.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import AnalysisUnavailable

__all__ = ["CREDENTIAL_FILES", "fingerprint", "read_only_checkout"]

MAX_ARCHIVE = 200 * 1024 * 1024
CREDENTIAL_FILES = re.compile(
    r"(^|/)(\.env(\..*)?|\.netrc|\.npmrc|\.pypirc|\.git-credentials|\.dockercfg"
    r"|id_(rsa|dsa|ecdsa|ed25519)(\.pub)?|credentials(\.json)?|secrets?\.(ya?ml|json|toml)"
    r"|[^/]*\.(pem|key|p12|pfx|keystore|jks))$",
    re.I,
)
_SHA = re.compile(r"[0-9a-f]{7,64}")


def fingerprint(root: Path) -> str:
    """A digest of every path under ``root`` and its content."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode("utf-8", "surrogateescape") + b"\0")
        if path.is_file() and not path.is_symlink():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _writable(root: Path) -> None:
    for folder, _, _ in os.walk(root):
        Path(folder).chmod(stat.S_IRWXU)


@contextmanager
def read_only_checkout(repo: Path, commit: str) -> Iterator[Path]:
    """The files of ``commit`` in a temporary, read-only folder (removed afterwards)."""
    if not _SHA.fullmatch(commit):
        raise AnalysisUnavailable(f"not a commit: {commit[:60]!r}")
    try:
        done = subprocess.run(
            ["git", "archive", "--format=tar", commit],
            cwd=repo,
            capture_output=True,
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AnalysisUnavailable("git archive of the run's commit failed") from exc
    if done.returncode != 0:
        raise AnalysisUnavailable("the run's commit is not in this checkout's git")
    if len(done.stdout) > MAX_ARCHIVE:
        raise AnalysisUnavailable("the run's commit is too large to check out for reading")
    base = Path(tempfile.mkdtemp(prefix="harness-checkout-"))
    root = base / "checkout"
    try:
        with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
            members = [m for m in archive.getmembers() if not CREDENTIAL_FILES.search(m.name)]
            archive.extractall(root, members=members, filter="data")
        root.mkdir(exist_ok=True)
        for folder, _, files in os.walk(root, topdown=False):
            for name in files:
                path = Path(folder) / name
                if not path.is_symlink():
                    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
            Path(folder).chmod(stat.S_IRUSR | stat.S_IXUSR)
        yield root
    finally:
        _writable(base)
        shutil.rmtree(base, ignore_errors=True)
