"""The JSON contract agents rely on: every `--format json` output here has a JSON Schema in
docs/schemas/ (required fields listed, no open-ended object where the shape is known),
and real outputs validate against it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import METRICS_YAML, acc, invoke, offline_env, write_run
from .schemas import SCHEMAS, assert_valid, problems, validator

GOLDEN = Path(__file__).parent / "golden"
# Objects whose keys are the user's: a run's config, a webhook payload template.
EXPECTED_OPEN = [
    "automation.schema.json/properties/payload",
    "comparison.schema.json/$defs/run/properties/config",
    "leaderboard.schema.json/$defs/run/properties/config",
    "runs.schema.json/$defs/run/properties/config",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("schemas")
    (root / "harness.yaml").write_text(METRICS_YAML + "budget: {runs_per_branch: 10}\n")
    home = root / "store"
    for seed in range(3):
        write_run(home, f"base{seed}", seed=seed, summary=acc(0.80 + seed / 100, 0.5))
        write_run(home, f"good{seed}", branch="exp/good", commit="c" * 40, seed=seed,
                  summary=acc(0.90 + seed / 100, 0.4), config={"lr": 0.1})  # fmt: skip
    write_run(home, "bad0", branch="exp/bad", commit="d" * 40, state="failed", exit_code=1,
              reason="exit code 1: ValueError: x")  # fmt: skip
    write_run(home, "run0", branch="exp/running", commit="e" * 40, state="running")
    return root, offline_env(HARNESS_HOME=str(home))


CASES = [
    ("comparison", ["compare"]),
    ("comparison", ["summary", "--branch", "exp/good"]),
    ("comparison", ["summary", "--branch", "exp/bad"]),
    ("comparison", ["summary", "--branch", "main"]),
    ("comparison", ["wait", "--branch", "exp/good", "--commit", "c" * 40]),
    ("leaderboard", ["leaderboard"]),
    ("runs", ["runs"]),
]


@pytest.mark.parametrize(("name", "args"), CASES, ids=[" ".join(a[:2]) for _, a in CASES])
def test_real_outputs_validate(
    store: tuple[Path, dict[str, str]], name: str, args: list[str]
) -> None:
    root, env = store
    ran = invoke("check-results", *args, "--format", "json", cwd=root, env=env)
    assert ran.returncode in (0, 1, 10, 11, 12, 13, 14, 15), ran.stderr
    assert problems(name, json.loads(ran.stdout)) == []


@pytest.mark.parametrize(
    ("name", "golden"), [("comparison", "compare"), ("leaderboard", "leaderboard")]
)
def test_the_golden_outputs_validate(name: str, golden: str) -> None:
    assert problems(name, json.loads((GOLDEN / f"{golden}.json").read_text())) == []


def test_a_schema_catches_a_missing_or_unknown_field() -> None:
    data = json.loads((GOLDEN / "compare.json").read_text())
    del data["branches"][0]["primary_verdict"]
    data["surprise"] = 1
    found = problems("comparison", data)
    assert any("primary_verdict" in p for p in found) and any("surprise" in p for p in found)


def test_analyze_and_its_reports_folder_validate(
    store: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, env = store
    out = tmp_path / "reports"
    ran = invoke("harness", "analyze", "--out", str(out), "--format", "json", cwd=root, env=env)
    assert ran.returncode == 0, ran.stderr
    assert_valid("analyze", json.loads(ran.stdout))
    index = json.loads((out / "index.json").read_text())
    assert_valid("report-index", index)
    assert {entry["verdict"] for entry in index["reports"]} >= {"better", "failed", "baseline"}
    for entry in index["reports"]:
        assert_valid("analysis", json.loads((out / entry["json"]).read_text()))


def test_every_schema_is_valid_and_closed() -> None:
    """Each schema is a valid draft 2020-12 schema, and no object in it is left open
    except the ones whose keys are the user's (config, payload, a run's values)."""
    open_ones = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "additionalProperties" not in node:
                open_ones.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    for path in sorted(SCHEMAS.glob("*.schema.json")):
        validator(path.name.removesuffix(".schema.json"))
        walk(json.loads(path.read_text()), path.name)
    assert sorted(open_ones) == sorted(EXPECTED_OPEN)
