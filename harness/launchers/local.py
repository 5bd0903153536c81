"""The local launcher: runs a branch's committed code in a git worktree, as an agent would.

For each seed it creates the run's manifest (state ``running``) before starting anything,
so a script that dies before importing anything is still recorded; checks the branch's
commit out into ``HARNESS_HOME/worktrees/<run-id>``; runs the branch's own entry point under
its launch command with the run identity handed over the ways any script can read it (the
``HARNESS_*`` variables for harness.tracking; for a plain ``wandb.init()``, W&B's own
variables, offline into the run folder, and a ``config-defaults.yaml``); streams output to
the terminal and ``output.log``; finalizes state and exit code from the exit status (a
signal, Ctrl-C or the timeout = ``crashed``); fills the manifest from the W&B run when
harness.tracking did not; and removes the worktree. It never runs the working tree.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import CONFIG_FILE, MODULE_FLAGS, Settings, load_settings
from ..git import Git
from ..inert import one_line
from ..launches import LaunchRecord, recorded_launch
from ..liveness import this_process
from ..manifest import new_run_id, now_iso, update_manifest
from ..runs import RunState
from ..stores.local import fill_from_wandb
from ..wandb_env import branch_tag, offline_variables
from .command import RunValues, entry_exists, fill_placeholders, run_command
from .supervision import Terminated, end_leftovers, pump

__all__ = ["LaunchedRun", "LocalLauncher"]

KILL_GRACE_S = 10.0
READER_JOIN_S = 5.0  # the output reader, once the run and what it left have ended
# sitecustomize: ranks > 0 log nothing, and `import harness` finds the installed one
STARTUP_HOOK = Path(__file__).resolve().parent / "startup"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder the running harness is in
DIE_WITH_PARENT = Path(__file__).resolve().parent / "die_with_parent.py"
CONFIG_DEFAULTS = "config-defaults.yaml"  # wandb reads it from the working directory
_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*")


@dataclass(frozen=True)
class LaunchedRun:
    run_id: str
    branch: str
    commit: str
    seed: int
    state: RunState
    exit_code: int | None
    reason: str | None
    duration_s: float
    run_dir: Path
    warnings: tuple[str, ...] = ()


def _describe_failure(lines: list[str], exit_code: int) -> str:
    """'exit code 1: ValueError: boom' from the last exception line of the output."""
    for line in reversed(lines):
        if _ERROR_LINE.match(line.strip()):
            return f"exit code {exit_code}: {line.strip()[:300]}"
    return f"exit code {exit_code}"


def _format_duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


class LocalLauncher:
    def __init__(
        self,
        settings: Settings,
        *,
        repo: Path,
        output: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.git = Git(repo)
        self.output = output or (lambda line: None)

    def branch_settings(self, branch: str, commit: str) -> Settings:
        """The branch's own harness.yaml at that commit (entry point, metrics, seeds)."""
        text = self.git.show(commit, CONFIG_FILE)
        return load_settings(
            cwd=self.git.cwd,
            home=self.settings.home,
            backend="local",
            config_text=text if text is not None else "",
            config_source=f"{CONFIG_FILE} at {branch}@{commit[:7]}",
        )

    def launch(
        self,
        branch: str,
        *,
        seeds: int | None = None,
        timeout_s: float | None = None,
        record: LaunchRecord | None = None,
    ) -> list[LaunchedRun]:
        """Run ``seeds`` runs of the branch's newest commit, one after another (``record``:
        the launch's record, when the caller already wrote it)."""
        commit = self.git.resolve_branch(branch)
        own = self.branch_settings(branch, commit)
        count = seeds or own.launch.seeds
        timeout = timeout_s or own.launch.timeout_s
        results = []
        home = self.settings.home
        with recorded_launch(home, branch, commit, count, record) as record:
            for seed in range(count):
                self.output(
                    f"▶ run {seed + 1}/{count}: {branch} @ {commit[:7]}, seed {seed}"
                    f" ({own.launch.entry_point})"
                )
                results.append(self._run_one(own, branch, commit, seed, timeout, record))
        return results

    def _run_one(
        self,
        own: Settings,
        branch: str,
        commit: str,
        seed: int,
        timeout: float | None,
        record: LaunchRecord,
    ) -> LaunchedRun:
        home = self.settings.home
        run_id = new_run_id()
        run_dir = home / "runs" / run_id
        worktree = home / "worktrees" / run_id
        group = f"{branch}@{commit[:7]}"
        launch = own.launch
        values = RunValues(seed=seed, branch=branch, commit=commit, run_id=run_id)
        module = launch.command[-1] in MODULE_FLAGS
        shown = [*launch.command, launch.entry_point, *fill_placeholders(launch.args, values)]
        update_manifest(
            run_dir,
            name=f"{branch} s{seed}",
            branch=branch,
            commit=commit,
            seed=seed,
            group=group,
            state=RunState.RUNNING.value,
            exit_code=None,
            reason=None,
            created_at=now_iso(),
            ended_at=None,
            entry_point=launch.entry_point,
            command=shown,
            launcher="local",
            owner=this_process(),  # a run whose launcher is gone reads as crashed
            project=self.settings.wandb.project,
        )
        record.add_run(run_id)
        start = time.monotonic()
        state: RunState = RunState.CRASHED
        exit_code: int | None = None
        reason: str | None = "the launcher stopped unexpectedly"
        warnings: list[str] = []
        try:
            self.git.run("worktree", "add", "--detach", "--quiet", str(worktree), commit)
            if not entry_exists(launch, worktree):
                state, exit_code = RunState.FAILED, None
                kind = "module" if module else "entry point"
                reason = f"{kind} {launch.entry_point} does not exist at {commit[:7]}"
                self.output(f"✘ {reason}")
            else:
                identity = {"branch": branch, "commit": commit, "seed": seed, "group": group}
                warnings += _hand_identity(worktree, identity)
                env = self._environment(run_id, run_dir, values, group)
                python = launch.python or sys.executable
                command = run_command(launch, python=python, workdir=worktree, values=values)
                prefix = f"{branch} s{seed}"
                state, exit_code, reason, left = self._supervise(
                    command, worktree, env, run_dir / "output.log", prefix, timeout
                )
                if left:
                    update_manifest(run_dir, left_processes=left)
                    warnings.append(
                        f"the script left {left} process(es) running after its run ended;"
                        " the launcher ended them (its process group and every process"
                        " carrying its HARNESS_RUN_ID)"
                    )
        except KeyboardInterrupt as exc:
            why = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
            state, exit_code, reason = RunState.CRASHED, None, why
            raise
        except Exception as exc:
            reason = f"launcher error: {exc}"
            raise
        finally:
            duration = time.monotonic() - start
            try:  # values first, the end state last: nothing marks a run still being filled
                warnings += self._collect(run_dir, worktree, own, state)
            finally:
                update_manifest(
                    run_dir,
                    state=state.value,
                    exit_code=exit_code,
                    reason=reason,
                    ended_at=now_iso(),
                    duration_s=round(duration, 3),
                )
                self._remove_worktree(worktree)
        mark = "✔" if state is RunState.FINISHED else "✘"
        detail = f" ({one_line(reason)})" if reason else ""
        self.output(f"{mark} {branch} s{seed}: {state.value} in {duration:.1f}s{detail}")
        for warning in warnings:
            self.output(f"⚠ {branch} s{seed}: {one_line(warning)}")
        return LaunchedRun(
            run_id,
            branch,
            commit,
            seed,
            state,
            exit_code,
            reason,
            duration,
            run_dir,
            tuple(warnings),
        )

    def _collect(self, run_dir: Path, worktree: Path, own: Settings, state: RunState) -> list[str]:
        """After the process: W&B runs written inside the worktree move into the run folder
        (Lightning's WandbLogger writes to ``save_dir="."``), then the manifest is filled
        from the W&B run unless harness.tracking filled it."""
        try:
            _move_wandb_runs(worktree, run_dir / "wandb")
            return fill_from_wandb(run_dir, own.metrics, state=state)
        except Exception as exc:  # whatever the log holds, the run is recorded and cleaned up
            warning = f"its W&B run could not be read: {one_line(str(exc), 300)}"
            update_manifest(run_dir, warnings=[warning])
            return [warning]

    def _environment(
        self, run_id: str, run_dir: Path, values: RunValues, group: str
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "WANDB_"))}
        # The start-up hook first. The worktree is not put on the path, and the hook makes
        # `import harness` find the harness that launched the run, never a branch's copy
        # (HARNESS_PACKAGE_ROOT): the installed code is what records a run.
        pythonpath = [str(STARTUP_HOOK), *filter(None, [os.environ.get("PYTHONPATH")])]
        env.update(
            PYTHONPATH=os.pathsep.join(pythonpath),
            HARNESS_PACKAGE_ROOT=str(PACKAGE_ROOT),
            PYTHONUNBUFFERED="1",
            HARNESS_BACKEND="local",
            HARNESS_HOME=str(self.settings.home),
            HARNESS_RUN_ID=run_id,
            HARNESS_RUN_DIR=str(run_dir),
            HARNESS_BRANCH=values.branch,
            HARNESS_COMMIT=values.commit,
            HARNESS_SEED=str(values.seed),
            HARNESS_GROUP=group,
        )
        # What a plain wandb.init() reads: offline into the run folder, the harness's id
        # (new for every run: Lightning resumes a reused id), group, tag and name.
        env.update(offline_variables(run_dir))
        env.update(
            WANDB_RUN_ID=run_id,
            WANDB_RUN_GROUP=group,
            WANDB_TAGS=branch_tag(values.branch),
            WANDB_NAME=f"{values.branch} s{values.seed}",
            WANDB_PROJECT=self.settings.wandb.project,
        )
        return env

    def _supervise(
        self,
        command: list[str],
        cwd: Path,
        env: dict[str, str],
        log_path: Path,
        prefix: str,
        timeout: float | None,
    ) -> tuple[RunState, int | None, str | None, int]:
        """Run ``command`` until it exits or ``timeout`` passes; then end whatever it left
        running (supervision.py). Returns its state, exit code, reason, and how many
        processes it left behind."""
        start = time.monotonic()
        tail: list[str] = []
        run_id = env["HARNESS_RUN_ID"]

        def emit(line: str) -> None:
            tail.append(line)
            del tail[:-200]
            self.output(f"[{prefix} {time.monotonic() - start:6.1f}s] {line}")

        if sys.platform.startswith("linux"):  # the run dies with the launcher, even on SIGKILL
            command = [sys.executable, "-I", str(DIE_WITH_PARENT), str(os.getpid()), *command]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so a kill reaches children
            )
            assert process.stdout is not None
            reader = threading.Thread(target=pump, args=(process.stdout, log, emit), daemon=True)
            reader.start()
            outcome: tuple[RunState, int | None, str | None] | None = None
            try:
                code = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._stop(process)
                assert timeout is not None
                outcome = RunState.CRASHED, None, f"timed out after {_format_duration(timeout)}"
            except KeyboardInterrupt:
                self._stop(process)
                raise
            finally:  # the run has ended: nothing of it may outlive it, nor hold its pipe
                left = end_leftovers(process.pid, run_id, KILL_GRACE_S)
                reader.join(timeout=READER_JOIN_S)
                if not reader.is_alive():  # its pipe is closed once nothing reads it
                    process.stdout.close()
        if outcome is not None:
            return (*outcome, left)
        if code == 0:
            return RunState.FINISHED, 0, None, left
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            return RunState.CRASHED, code, f"killed by signal {name}", left
        return RunState.FAILED, code, _describe_failure(tail, code), left

    @staticmethod
    def _stop(process: subprocess.Popen[bytes]) -> None:
        """SIGTERM the run's process group, then SIGKILL it after a grace period."""
        for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def _remove_worktree(self, worktree: Path) -> None:
        if worktree.exists():
            self.git.run("worktree", "remove", "--force", str(worktree), check=False)
            shutil.rmtree(worktree, ignore_errors=True)
        self.git.run("worktree", "prune", check=False)


def _hand_identity(worktree: Path, identity: Mapping[str, Any]) -> list[str]:
    """Write the identity into the worktree's ``config-defaults.yaml``, which wandb reads
    into ``wandb.config`` at init. Defaults only: the script's own config wins, and keys
    the file already sets are left as they are."""
    path = worktree / CONFIG_DEFAULTS
    merged: object = {}
    if path.exists():
        try:
            merged = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, ValueError, OverflowError, yaml.YAMLError):
            merged = None
    if not isinstance(merged, dict):
        return [
            f"its {CONFIG_DEFAULTS} is not a YAML mapping: branch, commit and seed"
            " were not handed to wandb.config"
        ]
    for key, value in identity.items():
        merged.setdefault(key, {"value": value})
    path.unlink(missing_ok=True)  # a committed symlink is replaced, never written through
    path.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
    return []


def _inside(folder: Path, root: Path) -> bool:
    """A real folder under ``root``, reached through no symlink."""
    path = folder
    while path != root and path != path.parent:
        if path.is_symlink() or not path.is_dir():
            return False
        path = path.parent
    return path == root


def _move_wandb_runs(worktree: Path, into: Path) -> None:
    """Move the W&B offline runs written under the worktree (up to two folders down) into
    ``into``: the worktree is deleted after the run."""
    patterns = ("wandb/*run-*", "*/wandb/*run-*", "*/*/wandb/*run-*")
    for pattern in patterns:
        for folder in sorted(worktree.glob(pattern)):
            # Never through a committed symlink: the folder must really be in the worktree.
            if _inside(folder, worktree) and any(folder.glob("run-*.wandb")):
                into.mkdir(parents=True, exist_ok=True)
                target = into / folder.name
                if not target.exists():
                    shutil.move(str(folder), str(target))
