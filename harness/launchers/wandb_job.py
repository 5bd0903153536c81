"""The W&B Launch git job of a plan, made in a child process with wandb's own builder.

``make_job`` writes the job's spec and runs ``python -m harness.launchers.wandb_job`` on it:
the job is built there because it needs a ``wandb.init``, which must not touch the calling
process's wandb state, console or atexit hooks. ``require_job_builder`` refuses a wandb the
builder (wandb internals) was not tested with. Never imports wandb at module import time.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import StoreError, UsageError
from .wandb_plan import WandbLaunchPlan

__all__ = [
    "HELPER_JOB_TYPE",
    "JOB_BUILDER_WANDB",
    "make_job",
    "new_wandb_run_id",
    "require_job_builder",
]

HELPER_JOB_TYPE = "harness-create-job"  # the hidden run that logs the job (then deleted)
JOB_TIMEOUT_S = 300.0
# Variables that shape a wandb run: the hidden helper run must not inherit them (a launched
# run's WANDB_CONFIG would give it a branch; WANDB_RUN_ID would make it someone's run).
_KEPT_WANDB = {
    "WANDB_API_KEY",
    "WANDB_BASE_URL",
    "WANDB_APP_URL",
    "WANDB_CONFIG_DIR",
    "WANDB_ERROR_REPORTING",
    "WANDB_HTTP_TIMEOUT",
    "WANDB_INIT_TIMEOUT",
    "WANDB_IDENTITY_TOKEN_FILE",
    "WANDB_CREDENTIALS_FILE",
    "WANDB_INSECURE_DISABLE_SSL",
    "WANDB_DEBUG",
    "WANDB_CORE_DEBUG",
}


def _child_env(settings: Settings, workdir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WANDB_") or k in _KEPT_WANDB or k.startswith("WANDB__")
    }
    if settings.wandb.base_url:
        env["WANDB_BASE_URL"] = settings.wandb.base_url
    env.update(
        WANDB_MODE="online",
        WANDB_SILENT="true",
        WANDB_CONSOLE="off",
        WANDB_DISABLE_GIT="true",
        WANDB_DISABLE_CODE="true",
        WANDB_DIR=str(workdir),
        WANDB_DATA_DIR=str(workdir / "data"),
        WANDB_CACHE_DIR=str(workdir / "cache"),
    )
    return env


def make_job(settings: Settings, plan: WandbLaunchPlan, entity: str) -> str:
    """Make the git job of ``plan`` in ``entity/project``; returns its reference.

    A child process does it (``_build_job``): its ``wandb.init`` must not touch this
    process's wandb state, console or atexit hooks. Errors are one line (exit 2).
    """
    spec = {
        "entity": entity,
        "project": plan.project,
        "name": plan.job_name,
        "aliases": [plan.job_alias, "latest"],
        "description": (
            f"harness: {plan.branch} @ {plan.short} ({plan.remote}, {' '.join(plan.entrypoint)})"
        ),
        "remote": plan.remote,
        "commit": plan.commit,
        "entrypoint": plan.entrypoint,
        "python": plan.python,
        "requirements": plan.requirements,
    }
    with tempfile.TemporaryDirectory(prefix="harness-job-") as tmp:
        workdir = Path(tmp)
        (workdir / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, "-m", __name__, str(workdir)],
                cwd=workdir,
                env=_child_env(settings, workdir),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=JOB_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StoreError(
                f"W&B: making job {plan.job_ref(entity)} took over {JOB_TIMEOUT_S:.0f}s"
            ) from exc
        result_path = workdir / "result.json"
        result = json.loads(result_path.read_text()) if result_path.exists() else {}
    if done.returncode != 0 or "job" not in result:
        detail = result.get("error") or _last_line(done.stderr) or f"exit code {done.returncode}"
        raise StoreError(f"W&B: cannot make job {plan.job_ref(entity)}: {detail}")
    return str(result["job"])


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


# The job is built with wandb internals (see _build_job), checked against these releases.
JOB_BUILDER_WANDB = ((0, 31), (0, 31))  # lowest and highest (major, minor) tested


def require_job_builder(version: str | None = None) -> None:
    """A one-line UsageError unless this wandb is one the Launch job builder was tested on:
    it uses wandb internals that change between releases. Training may use any supported
    wandb; only the machine that queues jobs needs this one."""
    if version is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            version = installed("wandb")
        except PackageNotFoundError:
            version = "none"
    parts = re.match(r"^(\d+)\.(\d+)", version)
    found = (int(parts.group(1)), int(parts.group(2))) if parts else None
    low, high = JOB_BUILDER_WANDB
    if found is None or not low <= found <= high:
        span = ".".join(map(str, low)) + ("" if low == high else " to " + ".".join(map(str, high)))
        raise UsageError(
            f"launch-job --backend wandb builds Launch jobs with wandb {span}.x internals;"
            f" this environment has wandb {version} (install the constraints.txt pins)"
        )


def new_wandb_run_id() -> str:
    """A W&B run id (8 of [a-z0-9], as wandb makes them)."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


# -- the child process that makes the job ----------------------------------------------------
def _build_job(spec: Mapping[str, Any], workdir: Path) -> dict[str, Any]:
    """Log the git job of ``spec`` as ``wandb job create git`` does, without cloning.

    Why wandb's internals: ``wandb job create git`` (``wandb.sdk.launch.create_job``)
    clones the remote only to read the commit, the Python version and the entry point,
    which the plan already took from the local checkout (and which CI and tests cannot
    fetch). Every other step is wandb's own, as in ``create_job._create_job`` of the pinned
    wandb 0.31.0: a partial ``JobBuilder`` with a "repo" source builds the artifact
    (``wandb-job.json`` with git remote + commit, entrypoint, runtime; the requirements as
    ``requirements.frozen.txt``), ``create_artifact_version`` makes the version with its
    aliases and the ``_partial`` marker, a hidden run logs it, and that run is deleted.
    ``wandb.Artifact(type="job")`` is refused by the public API, and a run's own job
    would carry this environment's ``pip freeze`` and the helper script as entry point.
    """
    import wandb
    from wandb.sdk.artifacts._generated.enums import ArtifactDigestAlgorithm
    from wandb.sdk.artifacts._gqlutils import create_artifact_version
    from wandb.sdk.internal.job_builder import JobBuilder

    entity, project, name = spec["entity"], spec["project"], spec["name"]
    files = workdir / "job"
    files.mkdir()
    metadata = {
        "git": {"remote": spec["remote"], "commit": spec["commit"]},
        "entrypoint": spec["entrypoint"],
        "python": spec["python"],
        "notebook": False,
    }
    (files / "wandb-metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    (files / "requirements.txt").write_text(spec["requirements"], encoding="utf-8")
    api = wandb.Api(overrides={"entity": entity, "project": project})
    run = wandb.init(
        id=new_wandb_run_id(),
        resume="never",  # a fresh id: never someone's run, which is deleted below
        entity=entity,
        project=project,
        job_type=HELPER_JOB_TYPE,
        dir=str(workdir),
        settings=wandb.Settings(
            silent=True,
            console="off",
            disable_job_creation=True,  # the run's own job would be the wrong one
            disable_git=True,
            save_code=False,
            x_disable_stats=True,
            x_disable_meta=True,
            x_save_requirements=False,
        ),
    )
    aliases = list(spec["aliases"])
    try:
        builder = JobBuilder(
            settings=wandb.Settings(job_source="repo", job_name=name), files_dir=str(files)
        )
        builder._partial = True  # as create_job: metadata gives the entrypoint
        builder._is_notebook_run = False
        builder.set_config({})
        builder.set_summary({})
        artifact = builder.build(api)
        if artifact is None:
            raise RuntimeError("wandb's JobBuilder made no job from the metadata")
        create_artifact_version(
            api._service_api,
            artifact_type_name="job",
            artifact_collection_name=name,
            digest=artifact.digest,
            digest_algorithm=ArtifactDigestAlgorithm.MANIFEST_MD5,
            client_id=artifact._client_id,
            sequence_client_id=artifact._sequence_client_id,
            entity_name=entity,
            project_name=project,
            run_name=run.id,
            description=spec["description"],
            metadata={"_partial": True},
            aliases=[{"artifactCollectionName": name, "alias": a} for a in aliases],
        )
        run.log_artifact(artifact, aliases=aliases)
        artifact.wait()
    finally:
        run.finish()
        _delete_helper(api, f"{entity}/{project}/{run.id}")
    return {"job": f"{entity}/{project}/{name}:{aliases[0]}", "version": artifact.version}


def _delete_helper(api: Any, path: str) -> None:
    """Delete the hidden run, as wandb's create_job does: it is no experiment."""
    helper = api.run(path)
    if helper.job_type != HELPER_JOB_TYPE or "branch" in helper.config:  # never someone's run
        raise RuntimeError(f"run {path} is not the helper run; left as it is")
    helper.delete()


def _child_main(workdir: Path) -> int:
    spec = json.loads((workdir / "spec.json").read_text(encoding="utf-8"))
    try:
        result = _build_job(spec, workdir)
        code = 0
    except Exception as exc:  # the parent prints it as one line
        result, code = {"error": " ".join(str(exc).split())[:300] or type(exc).__name__}, 1
    (workdir / "result.json").write_text(json.dumps(result), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(_child_main(Path(sys.argv[1])))
