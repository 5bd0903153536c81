"""Settings: harness.yaml + environment, validated once, with clear one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_settings, parse_duration, parse_wait
from harness.errors import ConfigError
from harness.runs import MetricSpec

from .helpers import REPO_ROOT


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "harness.yaml").write_text(text)
    return tmp_path


def test_the_committed_harness_yaml_is_valid() -> None:
    settings = load_settings(cwd=REPO_ROOT, env={})
    assert settings.backend == "local"
    assert settings.launch.entry_point == "experiments/digits/train.py"
    assert (REPO_ROOT / settings.launch.entry_point).is_file()
    assert settings.primary_metric == MetricSpec("val/accuracy", "maximize", True, 0.005)
    assert settings.home == REPO_ROOT / ".harness"


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path, env={})
    assert settings.backend == "local"
    assert settings.baseline_branch == "main"
    assert settings.metrics == ()
    assert settings.home == (tmp_path / ".harness").resolve()


def test_first_metric_is_primary_unless_one_says_so(tmp_path: Path) -> None:
    write(tmp_path, "metrics:\n  - {name: loss, goal: minimize}\n  - {name: acc, goal: maximize}\n")
    settings = load_settings(cwd=tmp_path, env={})
    assert settings.primary_metric is not None
    assert settings.primary_metric.name == "loss"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour: blue\n", "harness.yaml: unknown key 'colour'"),
        ("backend: cloud\n", "backend: expected one of local, wandb, got 'cloud'"),
        ("metrics:\n  - {name: acc, goal: up}\n", "metrics[0].goal: expected 'maximize' or"),
        (
            "metrics:\n  - {name: acc, goal: maximize, colour: 1}\n",
            "metrics[0]: unknown key 'colour'",
        ),
        ("metrics:\n  - {goal: maximize}\n", "metrics[0].name: a metric needs a name"),
        (
            "metrics:\n  - {name: a, goal: maximize, min_delta: -1}\n",
            "min_delta: expected a number >= 0",
        ),
        (
            "metrics:\n  - {name: a, goal: maximize, primary: true}\n"
            "  - {name: b, goal: minimize, primary: true}\n",
            "only one metric may be primary",
        ),
        (
            "metrics:\n  - {name: a, goal: maximize}\n  - {name: a, goal: maximize}\n",
            "declared twice",
        ),
        ("metrics: {name: a}\n", "metrics: expected a list"),
        ("launch: {seeds: many}\n", "launch.seeds: expected int, got 'many'"),
        ("launch: {seeds: 0}\n", "launch.seeds: expected 1 to 100"),
        ("launch: {timeout: soon}\n", "launch.timeout: expected a duration"),
        ("github: {write_interval: 2m}\n", "github.write_interval: expected a wait from 0 to 60s"),
        ("github: {retry_wait: soon}\n", "github.retry_wait: expected a wait like 0, 0.5s or 2s"),
        ("analysis: {retries: 11}\n", "analysis.retries: expected 0 to 10"),
        ("launch: {entry_point: ../x.py}\n", "launch.entry_point: must be a path inside the repo"),
        ("baseline_branch: 'a..b'\n", "baseline_branch: invalid branch name 'a..b'"),
        ("wandb: {project: 'has space'}\n", "wandb.project: 'has space' may only use"),
        ("- just\n- a list\n", "expected a mapping, got list"),
        ("metrics: [\n", "not valid YAML (line 2, column 1)"),
    ],
)
def test_bad_settings_are_one_line_errors_naming_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(cwd=tmp_path, env={})
    error = str(caught.value)
    assert message in error
    assert str(tmp_path / "harness.yaml") in error
    assert "\n" not in error


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    write(tmp_path, "backend: wandb\nwandb: {project: from-file}\n")
    assert load_settings(cwd=tmp_path, env={}).backend == "wandb"
    assert load_settings(cwd=tmp_path, env={"HARNESS_BACKEND": "local"}).backend == "local"
    flagged = load_settings(cwd=tmp_path, env={"HARNESS_BACKEND": "local"}, backend="wandb")
    assert flagged.backend == "wandb"
    assert load_settings(cwd=tmp_path, env={"WANDB_PROJECT": "env-p"}).wandb.project == "env-p"
    assert load_settings(cwd=tmp_path, env={}).wandb.project == "from-file"


def test_bad_environment_values_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^HARNESS_BACKEND: expected one of local, wandb"):
        load_settings(cwd=tmp_path, env={"HARNESS_BACKEND": "gpu"})
    with pytest.raises(ConfigError, match=r"^HARNESS_CONFIG: no such file"):
        load_settings(cwd=tmp_path, env={"HARNESS_CONFIG": str(tmp_path / "nope.yaml")})
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="HARNESS_HOME: not a directory"):
        load_settings(cwd=tmp_path, env={"HARNESS_HOME": str(tmp_path / "file")})


def test_unknown_harness_variables_are_ignored(tmp_path: Path) -> None:
    assert load_settings(cwd=tmp_path, env={"HARNESS_SOMETHING_ELSE": "x"}).backend == "local"


def test_home_is_absolute_and_flag_wins(tmp_path: Path) -> None:
    env = {"HARNESS_HOME": "relative/store"}
    assert load_settings(cwd=tmp_path, env=env).home == (tmp_path / "relative/store").resolve()
    flagged = load_settings(cwd=tmp_path, env=env, home=tmp_path / "flag")
    assert flagged.home == (tmp_path / "flag").resolve()


def test_github_waits_from_the_file_then_the_environment(tmp_path: Path) -> None:
    assert load_settings(cwd=tmp_path, env={}).github.write_interval_s == 1.0  # GitHub's advice
    write(tmp_path, "github: {write_interval: 0.5s, retry_wait: 2}\n")
    github = load_settings(cwd=tmp_path, env={}).github
    assert (github.write_interval_s, github.retry_wait_s) == (0.5, 2.0)
    env = {"HARNESS_GITHUB_WRITE_INTERVAL": "0", "HARNESS_GITHUB_RETRY_WAIT": "0s"}
    github = load_settings(cwd=tmp_path, env=env).github
    assert (github.write_interval_s, github.retry_wait_s) == (0.0, 0.0)
    with pytest.raises(ConfigError, match=r"^HARNESS_GITHUB_RETRY_WAIT: expected a wait"):
        load_settings(cwd=tmp_path, env={"HARNESS_GITHUB_RETRY_WAIT": "-1"})


@pytest.mark.parametrize(("value", "seconds"), [(0, 0), ("0", 0), ("0.25s", 0.25), ("1m", 60)])
def test_waits(value: object, seconds: float) -> None:
    assert parse_wait(value, "x") == seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), (5, 300), ("1.5", 90), ("2d", 172800)],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value, "x") == seconds


@pytest.mark.parametrize("value", ["0s", "-1m", "fast", "1w", True])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^x: "):
        parse_duration(value, "x")


def test_home_defaults_to_the_main_worktree_root(tmp_path: Path) -> None:
    """From a linked worktree (as the launcher makes), the store is still the main repo's."""
    from .helpers import commit_file, git, make_repo

    main = make_repo(tmp_path / "main")
    commit_file(main, "harness.yaml", "baseline_branch: main\n")
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "--quiet", "--detach", str(linked))
    settings = load_settings(cwd=linked / ".", env={})
    assert settings.root == linked.resolve()
    assert settings.home == (main / ".harness").resolve()


def test_the_sample_launch_agent_config_is_valid_for_wandb() -> None:
    import warnings

    import yaml

    with warnings.catch_warnings():  # wandb's own module warns about its pydantic style
        warnings.simplefilter("ignore", DeprecationWarning)
        from wandb.sdk.launch.agent.config import AgentConfig

    sample = Path(__file__).resolve().parent.parent / "misc" / "launch-agent.yaml"
    config = AgentConfig(**yaml.safe_load(sample.read_text()))
    assert config.queues == ["gpus"] and config.builder is not None


def test_the_example_requirements_carry_the_harness_dependencies() -> None:
    """A Launch agent installs the example's requirements.txt: every runtime dependency of
    the harness must be there, at a version the harness accepts (wandb at the tested pin)."""
    from importlib.metadata import requires  # tomllib is 3.11+; this reads the same list

    from packaging.requirements import Requirement

    runtime = [Requirement(r) for r in requires("harness") or [] if "extra ==" not in r]
    root = Path(__file__).resolve().parent.parent
    lines = (root / "experiments" / "digits" / "requirements.txt").read_text().splitlines()
    listed = {
        req.name: req
        for req in (Requirement(line) for line in lines if line.strip() and line[0] != "#")
    }
    for need in runtime:
        assert need.name in listed, f"{need.name} is missing from the example's requirements"
        pins = [s.version for s in listed[need.name].specifier if s.operator == "=="]
        assert all(need.specifier.contains(v) for v in pins), (need, listed[need.name])
    constraints = (root / "constraints.txt").read_text().splitlines()
    tested = [Requirement(line) for line in constraints if line.strip() and line[0] != "#"]
    assert listed["wandb"].specifier == next(r.specifier for r in tested if r.name == "wandb")
