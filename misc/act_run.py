"""Run this repository's workflows on this machine with act (no Docker, no GitHub).

    python misc/act_run.py launch [BRANCH]    # push -> run: launch.yml, local backend

`make act-launch` runs the first: the launch workflow, triggered as a push of BRANCH (the
current branch by default), runs the experiment here with the local backend, so the run
lands in .harness/ as with `launch-job`. The pinned third-party actions are replaced by a
no-op stand-in (misc/act/noop): act copies the workspace itself, and Python and uv come
from this venv. The tests drive the workflows through `act_command` too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
STUB = ROOT / "misc" / "act" / "noop"
# How this machine reaches package registries (TLS roots, proxies): passed through to act,
# which otherwise runs with a clean environment.
PASSED_THROUGH = (
    "HOME",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_CACHE_DIR",
)


def pinned_actions(root: Path = ROOT) -> list[str]:
    """Every third-party ``owner/name@sha`` the workflows and actions use."""
    found = set()
    files = [*(root / ".github" / "workflows").glob("*.yml"), *root.glob("actions/*/action.yml")]
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        jobs = data["jobs"].values() if "jobs" in data else [data["runs"]]
        for job in jobs:
            for step in job.get("steps", []):
                uses = step.get("uses", "")
                if uses and not uses.startswith("./"):
                    found.add(uses)
    return sorted(found)


def act_command(
    event_name: str,
    workflow: str,
    event_path: Path,
    cache: Path,
    *,
    env: Mapping[str, str],
    secrets: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
) -> list[str]:
    """``act EVENT`` on one workflow, its steps on this machine, the pinned actions stubbed."""
    command = [
        str(Path(sys.executable).parent / "act"),
        event_name,
        "--eventpath",
        str(event_path),
        "--workflows",
        f".github/workflows/{workflow}",
        "-P",
        "ubuntu-latest=-self-hosted",
        "--no-cache-server",
        "--action-cache-path",
        str(cache),  # outside the workspace, or act copies it into itself
    ]
    for uses in pinned_actions():
        command += ["--local-repository", f"{uses}={STUB}"]
    for flag, values in (("--env", env), ("-s", secrets or {}), ("--var", variables or {})):
        for name, value in values.items():
            command += [flag, f"{name}={value}"]
    return command


def host_env() -> dict[str, str]:
    """act's own environment: this venv first on PATH, and the network settings."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"}
    env.update({k: os.environ[k] for k in PASSED_THROUGH if k in os.environ})
    return env


def launch(branch: str) -> int:
    home = Path(os.environ.get("HARNESS_HOME") or ROOT / ".harness").resolve()
    with tempfile.TemporaryDirectory(prefix="act-launch-") as tmp:
        event = Path(tmp) / "push.json"
        event.write_text(json.dumps({"ref": f"refs/heads/{branch}"}), encoding="utf-8")
        command = act_command(
            "push",
            "launch.yml",
            event,
            Path(tmp) / "cache",
            env={
                "HARNESS_BACKEND": "local",
                "HARNESS_HOME": str(home),
                "HARNESS_LAUNCH_PYTHON": sys.executable,  # this venv has the training deps
            },
        )
        print(f"act: push of {branch} -> .github/workflows/launch.yml (local backend)")
        return subprocess.run(command, cwd=ROOT, env=host_env(), check=False).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "launch" or len(argv) > 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    if len(argv) == 2:
        branch = argv[1]
    else:
        branch = subprocess.run(
            ["git", "symbolic-ref", "--quiet", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    if not branch:
        print("act_run: not on a branch; name one: python misc/act_run.py launch BRANCH")
        return 2
    return launch(branch)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
