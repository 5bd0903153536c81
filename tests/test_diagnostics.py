"""Diagnostics and the no-op tracker, in process (torch, no W&B run)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from harness.config import TrackingSettings, load_settings  # noqa: E402
from harness.errors import ConfigError  # noqa: E402
from harness.tracking import NoopTracker, init  # noqa: E402
from harness.tracking.diagnostics import (  # noqa: E402
    MAX_GROUPS,
    StepMeter,
    grad_norms,
    learning_rates,
    param_groups,
)
from harness.tracking.identity import tracking_disabled  # noqa: E402
from harness.tracking.media import _looks_like_image, artifact_name  # noqa: E402

from .helpers import METRICS_YAML  # noqa: E402


def test_grad_norms_match_a_direct_computation() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    model(torch.randn(5, 4)).pow(2).sum().backward()
    norms = grad_norms(param_groups(model.named_parameters()))
    first = torch.cat([p.grad.flatten() for p in model[0].parameters()]).norm().item()
    last = torch.cat([p.grad.flatten() for p in model[2].parameters()]).norm().item()
    assert norms["diagnostics/grad_norm/0"] == pytest.approx(first, rel=1e-5)
    assert norms["diagnostics/grad_norm/2"] == pytest.approx(last, rel=1e-5)
    assert norms["diagnostics/grad_norm"] == pytest.approx(math.hypot(first, last), rel=1e-5)


def test_no_gradients_no_norms_and_frozen_parameters_are_skipped() -> None:
    model = torch.nn.Linear(2, 2)
    model.bias.requires_grad_(False)
    groups = param_groups(model.named_parameters())
    assert grad_norms(groups) == {}
    assert [len(params) for params in groups.values()] == [1]


def test_deep_models_are_grouped_by_top_level_module() -> None:
    blocks = torch.nn.ModuleList(torch.nn.Linear(2, 2) for _ in range(MAX_GROUPS + 5))
    model = torch.nn.ModuleDict({"encoder": blocks, "head": torch.nn.Linear(2, 1)})
    assert set(param_groups(model.named_parameters())) == {"encoder", "head"}


def test_learning_rates_per_param_group() -> None:
    a, b = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    single = torch.optim.SGD(a.parameters(), lr=0.1)
    assert learning_rates(single) == {"diagnostics/lr": 0.1}
    multi = torch.optim.SGD(
        [{"params": a.parameters()}, {"params": b.parameters(), "lr": 0.01}], lr=0.1
    )
    assert learning_rates(multi) == {"diagnostics/lr/group_0": 0.1, "diagnostics/lr/group_1": 0.01}


def test_step_meter_averages_the_window_and_counts_nonfinite_losses() -> None:
    meter = StepMeter()
    for loss in (1.0, 3.0, float("nan"), float("inf")):
        meter.add(torch.tensor(loss), batch_size=8)
    metrics, nonfinite = meter.flush()
    assert nonfinite == 2 and math.isnan(metrics["train/loss"])
    assert metrics["perf/step_time_ms"] > 0 and metrics["perf/samples_per_s"] > 0
    meter.add(2.0, batch_size=None)
    meter.add(4.0, batch_size=None)
    metrics, nonfinite = meter.flush()
    assert (metrics["train/loss"], nonfinite) == (3.0, 0)
    assert "perf/samples_per_s" not in metrics


def test_accelerator_losses_are_summed_on_device_with_one_copy() -> None:
    meter = StepMeter()
    meter.add(1.0, batch_size=2)
    meter.steps += 3  # as if three steps had kept their (device) losses as tensors
    meter.losses += [
        torch.tensor(2.0),
        torch.tensor(3.0, dtype=torch.float16),
        torch.tensor(float("nan")),
    ]
    metrics, nonfinite = meter.flush()
    assert nonfinite == 1 and math.isnan(metrics["train/loss"])
    meter.losses += [torch.tensor(2.0), torch.ones(1) * 4]  # mixed shapes: the slow path
    metrics, nonfinite = meter.flush()
    assert (metrics["train/loss"], nonfinite) == (3.0, 0)


def test_paused_intervals_are_not_counted_as_step_time() -> None:
    import time

    meter = StepMeter()
    meter.add(1.0, batch_size=1)
    meter.pause()
    time.sleep(0.05)  # an evaluation
    meter.add(1.0, batch_size=1)
    meter.add(1.0, batch_size=1)
    metrics, _ = meter.flush()
    assert metrics["perf/step_time_ms"] < 40


@pytest.mark.parametrize(
    ("shape", "image"),
    [
        ((8, 8), True),
        ((28, 28, 1), True),
        ((3, 32, 32), True),
        ((32, 32, 3), True),
        ((64,), False),
        ((10, 10, 7), False),
        ((1, 1), False),
    ],
)
def test_image_detection(shape: tuple[int, ...], image: bool) -> None:
    assert _looks_like_image(torch.zeros(shape).numpy()) is image


def test_artifact_names_use_allowed_characters() -> None:
    assert artifact_name("model/exp@1 x") == "model-exp-1-x"
    assert artifact_name("...") == "artifact"


@pytest.mark.parametrize(
    ("env", "why"),
    [
        ({"RANK": "1", "WORLD_SIZE": "2"}, "rank 1 (only rank 0 tracks)"),
        ({"RANK": "0", "WORLD_SIZE": "2"}, None),
        ({"HARNESS_TRACKING": "off"}, "HARNESS_TRACKING is off"),
        ({}, None),
    ],
)
def test_who_tracks(env: dict[str, str], why: str | None) -> None:
    assert tracking_disabled(env) == why


def test_other_ranks_get_a_noop_that_takes_every_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "harness.yaml").write_text(METRICS_YAML)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("HARNESS_SEED", "5")
    model = torch.nn.Linear(2, 1)
    with init(config={"lr": 0.1, "seed": 0}) as run:
        assert isinstance(run, NoopTracker) and run.id is None
        assert run.config == {"lr": 0.1, "seed": 5}
        run.watch(model, torch.optim.SGD(model.parameters(), lr=0.1))
        run.step(torch.tensor(1.0), batch_size=2, metrics={"train/accuracy": 1.0})
        run.log({"x": 1})
        assert run.log_validation({"val/accuracy": 0.5}) is True
        assert run.log_validation({"val/accuracy": 0.4}) is False
        assert run.log_validation({"val/accuracy": 0.6}) is True
        assert run.log_validation({"val/accuracy": 0.9}, final=True) is False
        run.log_predictions(torch.zeros(2, 8, 8), torch.zeros(2), torch.zeros(2))
        assert run.save_checkpoint(model.state_dict()) is None
        assert run.use_dataset("d", {"x": [1]}) is None
        assert run.global_step == 1 and not run.will_log
    assert run.finished
    assert not (tmp_path / ".harness").exists()


def test_tracking_settings_are_validated(tmp_path: Path) -> None:
    (tmp_path / "harness.yaml").write_text("tracking: {log_every: 10, stop_on_nonfinite: true}\n")
    settings = load_settings(cwd=tmp_path, env={})
    assert settings.tracking == TrackingSettings(log_every=10, stop_on_nonfinite=True)
    for bad, message in (
        ("tracking: {log_every: 0}\n", "tracking.log_every: expected an integer >= 1"),
        ("tracking: {predictions: 5000}\n", "tracking.predictions: expected 0 to 1000"),
        ("tracking: {diagnostics: maybe}\n", "tracking.diagnostics: expected bool"),
        ("tracking: {cadence: 5}\n", "tracking: unknown key 'cadence'"),
    ):
        (tmp_path / "harness.yaml").write_text(bad)
        with pytest.raises(ConfigError, match=message):
            load_settings(cwd=tmp_path, env={})
