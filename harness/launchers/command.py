"""The command line a run starts with: the launch command, the entry point, its arguments.

``launch.args`` may carry four literal placeholders, ``{seed}``, ``{branch}``, ``{commit}``
and ``{run_id}``, replaced wherever they appear in an argument (``--seed={seed}`` too). It is
plain text replacement, not ``str.format``: any other brace is left as it is, and a value is
never read as a placeholder itself. Core: no wandb.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import MODULE_FLAGS, LaunchSettings

__all__ = ["PLACEHOLDERS", "RunValues", "entry_exists", "fill_placeholders", "run_command"]

PLACEHOLDERS = ("{seed}", "{branch}", "{commit}", "{run_id}")


@dataclass(frozen=True)
class RunValues:
    """What the placeholders stand for in one run."""

    seed: int
    branch: str
    commit: str
    run_id: str

    def as_mapping(self) -> Mapping[str, str]:
        return {
            "{seed}": str(self.seed),
            "{branch}": self.branch,
            "{commit}": self.commit,
            "{run_id}": self.run_id,
        }


def fill_placeholders(args: Sequence[str], values: RunValues) -> list[str]:
    """Each argument with the placeholders replaced, in one left-to-right pass."""
    table = values.as_mapping()
    filled = []
    for arg in args:
        out, i = [], 0
        while i < len(arg):
            token = next((t for t in PLACEHOLDERS if arg.startswith(t, i)), None)
            if token is None:
                out.append(arg[i])
                i += 1
            else:
                out.append(table[token])
                i += len(token)
        filled.append("".join(out))
    return filled


def _program(name: str, python: str) -> str:
    """``python`` is the launch interpreter; another program is looked for beside it first
    (``torchrun``, ``accelerate`` of the same environment), then on PATH."""
    if name in ("python", "python3"):
        return python
    beside = Path(python).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name) or name


def run_command(
    launch: LaunchSettings, *, python: str, workdir: Path, values: RunValues
) -> list[str]:
    """The argv of one run: ``[*command, entry, *args]`` with the placeholders filled."""
    command = [_program(launch.command[0], python), *launch.command[1:]]
    if command[0] == python and len(command) == 1:
        command.append("-u")  # unbuffered, so the log shows lines as they are printed
    module = launch.command[-1] in MODULE_FLAGS
    entry = launch.entry_point if module else str(workdir / launch.entry_point)
    return [*command, entry, *fill_placeholders(launch.args, values)]


def entry_exists(launch: LaunchSettings, workdir: Path) -> bool:
    """Whether the entry point is there: a file, or a module's file or package."""
    if launch.command[-1] not in MODULE_FLAGS:
        return (workdir / launch.entry_point).is_file()
    base = workdir.joinpath(*launch.entry_point.split("."))
    return base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()
