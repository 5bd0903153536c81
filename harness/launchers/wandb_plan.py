"""The plan of a W&B Launch launch: everything fixed before W&B is contacted.

``plan_wandb_launch`` (pure, plus git on the local checkout) reads the commit, the
``origin`` remote as an https URL, the branch's own entry point and args (its harness.yaml
at that commit), the Python version, the requirements, and the job's identity.

The job is collection ``harness-<slug>`` at alias ``<slug>-<sha7>`` (slug: the branch with
every run of characters outside ``[A-Za-z0-9._-]`` turned into ``-``): one job version per
pushed commit, never moved to another one. Its ``run_config`` carries the exact branch.
Core: no wandb.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..config import MODULE_FLAGS, Settings
from ..errors import BranchError, UsageError
from ..git import Git, validate_branch
from .command import RunValues, fill_placeholders
from .local import LocalLauncher

__all__ = ["WandbLaunchPlan", "job_identity", "normalize_remote", "plan_wandb_launch"]

MAX_REQUIREMENTS_BYTES = 256 * 1024
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
_SCP = re.compile(r"^(?:[A-Za-z0-9._~-]+@)?([A-Za-z0-9.-]+):(?!/)(.+)$")  # git@host:o/r.git
_PYTHON = re.compile(r"(?<!\d)3\.(\d{1,2})(?!\d)")


@dataclass(frozen=True)
class WandbLaunchPlan:
    """Everything a W&B launch of one branch's commit needs; nothing contacted yet."""

    branch: str
    commit: str
    remote: str  # https URL the agent clones
    entry_point: str
    args: tuple[str, ...]  # with placeholders: filled per queued run
    python: str  # major.minor
    python_source: str  # runtime.txt, .python-version or "this interpreter"
    requirements_path: str | None  # at the commit; None: an empty requirements file
    requirements: str
    entity: str | None  # None: the API key's default entity, known once W&B is contacted
    project: str
    queue: str
    seeds: int
    supersede: bool
    warnings: tuple[str, ...] = ()
    command: tuple[str, ...] = ("python",)  # launch.command: what the agent runs it under
    timeout_s: float | None = None  # launch.timeout: the per-run bound an hours budget needs

    @property
    def short(self) -> str:
        return self.commit[:7]

    @property
    def group(self) -> str:
        return f"{self.branch}@{self.short}"

    @property
    def job_name(self) -> str:
        return job_identity(self.branch, self.commit)[0]

    @property
    def job_alias(self) -> str:
        return job_identity(self.branch, self.commit)[1]

    @property
    def entrypoint(self) -> list[str]:
        return [*self.command, self.entry_point]

    def job_ref(self, entity: str | None = None) -> str:
        who = entity or self.entity or "<default entity>"
        return f"{who}/{self.project}/{self.job_name}:{self.job_alias}"

    def run_config(self, seed: int) -> dict[str, Any]:
        """What the agent hands the run as WANDB_CONFIG (merged into wandb.config)."""
        return {"branch": self.branch, "commit": self.commit, "seed": seed, "group": self.group}

    def overrides(self, seed: int, run_id: str) -> dict[str, Any]:
        values = RunValues(seed=seed, branch=self.branch, commit=self.commit, run_id=run_id)
        return {"run_config": self.run_config(seed), "args": fill_placeholders(self.args, values)}

    def to_json(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "commit": self.commit,
            "group": self.group,
            "remote": self.remote,
            "entry_point": self.entry_point,
            "args": list(self.args),
            "python": self.python,
            "requirements": self.requirements_path,
            "entity": self.entity,
            "project": self.project,
            "queue": self.queue,
            "job": self.job_ref(),
        }


def job_identity(branch: str, commit: str) -> tuple[str, str]:
    """The job's collection and alias: letters, digits, '.', '_' and '-' only."""
    slug = _SLUG.sub("-", branch).strip("-.")[:100] or "branch"
    return f"harness-{slug}", f"{slug}-{commit[:7]}"


def normalize_remote(url: str) -> str:
    """An https URL the agent can clone, from what ``git remote get-url origin`` says.

    ``git@github.com:o/r.git`` and ``ssh://git@github.com/o/r.git`` become
    ``https://github.com/o/r.git``; credentials in an http(s) URL are dropped (the job
    would publish them). Anything else (a path, ``file://``) is a UsageError.
    """
    text = url.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if "://" in text:
        host = parts.hostname
        if scheme in ("http", "https", "ssh", "git+ssh", "ssh+git") and host and parts.path:
            if scheme in ("http", "https"):
                netloc = host if parts.port is None else f"{host}:{parts.port}"
                return urlunsplit((scheme, netloc, parts.path, "", ""))
            return urlunsplit(("https", host, parts.path, "", ""))
    else:
        scp = _SCP.match(text)
        if scp:
            return f"https://{scp.group(1)}/{scp.group(2).lstrip('/')}"
    raise UsageError(
        f"git remote 'origin' is {text!r}: W&B Launch agents clone an http(s) or ssh "
        "remote (e.g. https://github.com/owner/repo.git)"
    )


def _show(git: Git, commit: str, path: str, where: str) -> str | None:
    try:
        return git.show(commit, path)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} at {where}: not UTF-8 text") from exc


def _python_version(git: Git, commit: str, where: str) -> tuple[str, str]:
    # wandb's own order (``wandb job create git`` reads runtime.txt, then .python-version).
    for name in ("runtime.txt", ".python-version"):
        text = _show(git, commit, name, where)
        if text is None:
            continue
        line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        found = _PYTHON.search(line)
        if not found:
            raise UsageError(f"{name} at {where}: no Python version like 3.11 in {line[:60]!r}")
        return f"3.{found.group(1)}", name
    return f"{sys.version_info.major}.{sys.version_info.minor}", "this interpreter"


def _requirements(git: Git, commit: str, entry: str, where: str) -> tuple[str | None, str]:
    """The requirements.txt next to the entry point, else at the root, else none."""
    here = PurePosixPath(entry).parent / "requirements.txt"
    for path in dict.fromkeys([str(here), "requirements.txt"]):
        text = _show(git, commit, path, where)
        if text is not None:
            if len(text.encode()) > MAX_REQUIREMENTS_BYTES:
                raise UsageError(f"{path} at {where}: larger than {MAX_REQUIREMENTS_BYTES} bytes")
            return path, text
    return None, ""


def plan_wandb_launch(
    settings: Settings, branch: str, *, repo: Path, seeds: int | None = None
) -> WandbLaunchPlan:
    """The launch of ``branch``'s newest commit, from the checkout at ``repo``.

    W&B's entity, project, queue and ``supersede`` come from ``settings`` (this checkout's
    harness.yaml and the environment); entry point, args and seeds from the branch's own
    harness.yaml at the commit, as the local launcher reads them.
    """
    validate_branch(branch)
    queue = settings.launch.queue
    if not queue:
        raise UsageError(
            "no W&B Launch queue: set launch.queue in harness.yaml or HARNESS_LAUNCH_QUEUE"
        )
    git = Git(repo)
    origin = git.run("remote", "get-url", "origin", check=False)
    if not origin:
        raise UsageError(
            f"{repo} has no git remote 'origin': W&B Launch agents clone the branch from it"
        )
    remote = normalize_remote(origin)
    commit = git.resolve_branch(branch)
    where = f"{branch}@{commit[:7]}"
    own = LocalLauncher(settings, repo=repo).branch_settings(branch, commit)
    entry = own.launch.entry_point
    module = own.launch.command[-1] in MODULE_FLAGS
    if not module and git.run("cat-file", "-t", f"{commit}:{entry}", check=False) != "blob":
        raise BranchError(f"launch.entry_point {entry!r} does not exist at {where}")
    python, python_source = _python_version(git, commit, where)
    requirements_path, requirements = _requirements(git, commit, entry, where)
    warnings = []
    if not git.run("branch", "--remotes", "--contains", commit, check=False):
        warnings.append(
            f"{where} is on no branch of origin this checkout knows of: push it, or the "
            "agent cannot check it out"
        )
    return WandbLaunchPlan(
        branch=branch,
        commit=commit,
        remote=remote,
        entry_point=entry,
        args=own.launch.args,
        python=python,
        python_source=python_source,
        requirements_path=requirements_path,
        requirements=requirements,
        entity=settings.wandb.entity,
        project=settings.wandb.project,
        queue=queue,
        seeds=seeds or own.launch.seeds,
        supersede=settings.launch.supersede,
        warnings=tuple(warnings),
        command=own.launch.command,
        timeout_s=own.launch.timeout_s,
    )
