"""The Claude Code skill and AGENTS.md tell agents the truth: every command and option they
name exists in the CLI, and every JSON field they tell an agent to read is in the real
output (``$.`` is `summary`'s and `wait`'s JSON, ``$leaderboard.`` the leaderboard's)."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import click
import pytest
import yaml

from harness.cli import harness_cli, launch_cli, results_cli

from .helpers import METRICS_YAML, REPO_ROOT, acc, invoke, offline_env, write_run

SKILL = REPO_ROOT / ".claude" / "skills" / "experiment-loop" / "SKILL.md"
DOCS = [SKILL, REPO_ROOT / "AGENTS.md"]
SPAN = re.compile(r"`([^`]+)`")
PROGRAMS: dict[str, click.Command] = {
    "check-results": results_cli,
    "launch-job": launch_cli,
    "harness": harness_cli,
}


def spans() -> list[str]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        found += [" ".join(m.group(1).split()) for m in SPAN.finditer(text)]
    return found


def test_the_skill_has_its_frontmatter() -> None:
    head = SKILL.read_text(encoding="utf-8").split("---\n")[1]
    meta = yaml.safe_load(head)
    assert meta["name"] == SKILL.parent.name
    assert 20 < len(meta["description"]) <= 1024


def commands() -> list[str]:
    return [s for s in spans() if s.split(" ", 1)[0] in PROGRAMS]


@pytest.mark.parametrize("line", commands())
def test_every_command_and_option_named_exists(line: str) -> None:
    words = shlex.split(re.sub(r"<[^>]+>", "x", line))
    command = PROGRAMS[words[0]]
    rest = words[1:]
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        assert rest[0] in command.commands, f"{line}: no command {rest[0]!r}"
        command = command.commands[rest.pop(0)]
    known = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for word in rest:
        if word.startswith("-"):
            assert word.split("=", 1)[0] in known, f"{line}: no option {word!r}"


def paths() -> list[str]:
    return sorted({s for s in spans() if s.startswith("$")})


def resolve(data: Any, path: str) -> None:
    for part in re.findall(r"\.(\w+)|\[(\d+)\]", path):
        key, index = part
        if key:
            assert isinstance(data, dict) and key in data, f"no field {key!r} in {path}"
            data = data[key]
        else:
            assert isinstance(data, list) and len(data) > int(index), f"no [{index}] in {path}"
            data = data[int(index)]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("skill")
    (root / "harness.yaml").write_text(METRICS_YAML + "budget: {runs_per_branch: 10}\n")
    home = root / "store"
    for seed in range(2):
        write_run(home, f"base{seed}", seed=seed, summary=acc(0.80 + seed / 100, 0.5))
        write_run(home, f"exp{seed}", branch="exp/a", commit="c" * 40, seed=seed,
                  summary=acc(0.90 + seed / 100, 0.4))  # fmt: skip
    env = offline_env(HARNESS_HOME=str(home))
    args = ("--branch", "exp/a", "--commit", "c" * 40, "--format", "json")
    waited = invoke("check-results", "wait", *args, cwd=root, env=env)
    board = invoke("check-results", "leaderboard", "--format", "json", cwd=root, env=env)
    summary = invoke(
        "check-results", "summary", "--branch", "exp/a", "--format", "json", cwd=root, env=env
    )
    assert json.loads(waited.stdout) == json.loads(summary.stdout)  # wait prints summary's JSON
    return {"$": json.loads(waited.stdout), "$leaderboard": json.loads(board.stdout)}


@pytest.mark.parametrize("path", paths())
def test_every_json_field_named_is_in_the_real_output(outputs: dict[str, Any], path: str) -> None:
    prefix = "$leaderboard" if path.startswith("$leaderboard") else "$"
    resolve(outputs[prefix], path[len(prefix) :])
