"""How much does harness.tracking slow training down?

Runs the example experiment's training loop (experiments/digits/train.py) with tracking
and without (``HARNESS_TRACKING=off``: the same code, every tracking call a no-op), in
interleaved pairs so that machine drift hits both sides alike, and prints the median
tracked / untracked ratio of the loop time the script reports (``train_seconds``) with
its spread. Runs validate every 10 epochs (220 steps). A second set of pairs logs
diagnostics on every step (``log_every: 1``) to show what one logged step costs.

    .venv/bin/python benchmarks/tracking_overhead.py            # 7 pairs, 150 epochs
    .venv/bin/python benchmarks/tracking_overhead.py --pairs 11 --epochs 300
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from harness.config import TrackingSettings

ROOT = Path(__file__).resolve().parent.parent
# Validate every 10 epochs (220 steps), as real training does every few hundred steps; the
# example validates every epoch (22 steps) only because its runs are 330 steps long.
EVAL_EVERY = 10
SCRIPT = ROOT / "experiments" / "digits" / "train.py"


def run_once(epochs: int, env: dict[str, str]) -> tuple[float, int, float]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), f"--epochs={epochs}", f"--eval_every={EVAL_EVERY}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"benchmark: the example failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    seconds = re.search(r"^train_seconds: ([\d.]+)$", done.stdout, re.M)
    steps = re.search(r"^steps: (\d+)$", done.stdout, re.M)
    inside = re.search(r"^tracking_seconds: ([\d.]+)$", done.stdout, re.M)
    if not seconds or not steps or not inside:
        sys.exit("benchmark: the example printed no train_seconds / steps / tracking_seconds")
    return float(seconds.group(1)), int(steps.group(1)), float(inside.group(1))


Pair = tuple[float, float, int, float]  # tracked s, untracked s, steps, s inside tracking


def pairs(count: int, epochs: int, tracked: dict[str, str], plain: dict[str, str]) -> list[Pair]:
    results = []
    for i in range(count):
        # Alternate which side goes first, so warm caches favour neither.
        if i % 2 == 0:
            t, steps, inside = run_once(epochs, tracked)
            u, _, _ = run_once(epochs, plain)
        else:
            u, _, _ = run_once(epochs, plain)
            t, steps, inside = run_once(epochs, tracked)
        results.append((t, u, steps, inside))
        print(
            f"  pair {i + 1}/{count}: tracked {t:.3f}s  untracked {u:.3f}s  ratio {t / u:.3f}"
            f"  (inside tracking calls {inside:.3f}s)",
            flush=True,
        )
    return results


def describe(values: list[float]) -> str:
    ordered = sorted(values)
    median = statistics.median(ordered)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) >= 2 else [median] * 3
    return (
        f"{median:.3f} (min {ordered[0]:.3f}, IQR {quartiles[0]:.3f} to {quartiles[2]:.3f},"
        f" max {ordered[-1]:.3f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pairs", type=int, default=7, help="interleaved pairs at the default cadence"
    )
    parser.add_argument("--epochs", type=int, default=150, help="epochs per run (22 steps each)")
    parser.add_argument("--every-step-pairs", type=int, default=3, help="pairs with log_every: 1")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="harness-bench-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "WANDB_"))}
    plain = {**base, "HARNESS_TRACKING": "off"}
    tracked = {**base, "HARNESS_HOME": str(scratch / "store")}
    settings = yaml.safe_load((ROOT / "harness.yaml").read_text())
    default_cadence = (settings.get("tracking") or {}).get("log_every", TrackingSettings.log_every)

    print(
        f"tracking overhead: {args.pairs} pairs x {args.epochs} epochs, log_every {default_cadence}"
    )
    default = pairs(args.pairs, args.epochs, tracked, plain)
    steps = default[0][2]
    print(
        f"median tracked/untracked ratio at log_every {default_cadence}: "
        + describe([t / u for t, u, _, _ in default])
    )
    print(
        "  time inside tracking calls / loop time (the direct cost, not noise-bound): "
        + describe([inside / t for t, _, _, inside in default])
    )
    untracked_ms = 1000 * statistics.median(u for _, u, _, _ in default) / steps
    print(f"  untracked step: {untracked_ms:.3f} ms")

    if args.every_step_pairs:
        every = scratch / "every-step.yaml"
        settings["tracking"] = {**(settings.get("tracking") or {}), "log_every": 1}
        every.write_text(yaml.safe_dump(settings))
        print(f"\ndiagnostics on every step: {args.every_step_pairs} pairs")
        results = pairs(
            args.every_step_pairs, args.epochs, {**tracked, "HARNESS_CONFIG": str(every)}, plain
        )
        print("median ratio at log_every 1: " + describe([t / u for t, u, _, _ in results]))
        extra_ms = statistics.median(1000 * (t - u) / s for t, u, s, _ in results)
        inside_ms = statistics.median(1000 * inside / s for _, _, s, inside in results)
        print(
            f"  cost of one logged step (loss, grad norms, lr, timing, wandb.log): {extra_ms:.3f}"
            f" ms of wall time, {inside_ms:.3f} ms inside tracking calls"
        )
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
