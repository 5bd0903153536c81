"""How long does ``check-results compare`` take over a big local store, start-up included?

Builds a store of RUNS runs in BRANCHES branches (the baseline ``main`` and experiment
branches, SEEDS seeds each at one commit) in a temporary folder, written by the real
manifest writer (``harness.manifest``, as the launcher and tracking write it: identity,
config, a W&B-shaped summary, and a ``curves.json`` of 256 points per metric), then runs
the installed console script as a user would and prints the median wall time of several
runs. The per-run cost is the median over the big store minus the median over an empty
store (the start-up), divided by the number of runs.

    .venv/bin/python benchmarks/compare_speed.py                  # 500 runs, 100 branches
    .venv/bin/python benchmarks/compare_speed.py --runs 2000 --branches 200 --repeat 9
    .venv/bin/python benchmarks/compare_speed.py --command leaderboard --format json
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.manifest import CURVES_FILE, CurveBuffer, update_manifest, write_json_atomic

BIN = Path(sys.executable).parent
METRICS_YAML = """\
metrics:
  - {name: val/accuracy, goal: maximize, primary: true, min_delta: 0.005}
  - {name: val/loss, goal: minimize}
"""
CONFIG = {  # what the example experiment logs (experiments/digits/train.py)
    "hidden": 8,
    "layers": 1,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "batch_size": 64,
    "epochs": 5,
    "eval_every": 1,
    "val_fraction": 0.25,
}


def build_store(home: Path, runs: int, branches: int, rng: random.Random) -> None:
    """``runs`` runs spread evenly over ``branches`` branches, ``main`` the first."""
    names = ["main", *(f"exp/idea-{i:03d}" for i in range(1, branches))]
    per_branch = max(1, runs // branches)
    count = 0
    for b, branch in enumerate(names):
        commit = f"{b:07x}" + "0" * 33
        effect = rng.gauss(0.0, 0.01) if branch != "main" else 0.0
        for seed in range(per_branch):
            if count >= runs:
                return
            accuracy = min(1.0, 0.85 + effect + rng.gauss(0.0, 0.01))
            loss = max(0.0, 0.5 - 2 * effect + rng.gauss(0.0, 0.03))
            run_id = f"r{count:07d}"
            run_dir = home / "runs" / run_id
            failed = rng.random() < 0.03
            update_manifest(
                run_dir,
                name=f"{branch} s{seed}",
                branch=branch,
                commit=commit,
                seed=seed,
                group=f"{branch}@{commit[:7]}",
                state="failed" if failed else "finished",
                exit_code=1 if failed else 0,
                reason="exit code 1: RuntimeError: boom" if failed else None,
                created_at=f"2026-01-{1 + b % 28:02d}T00:{seed % 60:02d}:00+00:00",
                ended_at=f"2026-01-{1 + b % 28:02d}T00:{seed % 60:02d}:30+00:00",
                duration_s=5.8,
                entry_point="experiments/digits/train.py",
                launcher="local",
                config={**CONFIG, "branch": branch, "commit": commit, "seed": seed},
                summary={}
                if failed
                else {
                    "val/accuracy": {"last": accuracy, "max": accuracy},
                    "val/loss": {"last": loss, "min": loss},
                    "train/loss": 0.3,
                    "perf/samples_per_s": 20_000.0,
                },
            )
            curves = {}
            for metric, final in (("val/accuracy", accuracy), ("val/loss", loss)):
                buffer = CurveBuffer()
                for step in range(0, 1100, 2):
                    buffer.add(step, final * (0.5 + step / 2200))
                curves[metric] = buffer.snapshot()
            write_json_atomic(run_dir / CURVES_FILE, curves)
            count += 1


def time_command(args: list[str], cwd: Path, env: dict[str, str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            sys.exit(f"benchmark: {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--branches", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7, help="runs of the command (median)")
    parser.add_argument("--command", default="compare", help="check-results subcommand")
    parser.add_argument("--format", default="table", choices=["table", "md", "json"])
    parser.add_argument("--keep", action="store_true", help="keep the temporary store")
    options = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="harness-compare-speed-"))
    try:
        (scratch / "harness.yaml").write_text(METRICS_YAML)
        home, empty = scratch / "store", scratch / "empty"
        empty.mkdir()
        started = time.perf_counter()
        build_store(home, options.runs, options.branches, random.Random(7))
        built = time.perf_counter() - started
        written = len(list((home / "runs").iterdir()))
        print(f"store: {written} runs in {options.branches} branches, built in {built:.1f}s")

        env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "WANDB_"))}
        command = [str(BIN / "check-results"), *options.command.split()]
        command += ["--format", options.format]
        time_command(command, scratch, {**env, "HARNESS_HOME": str(home)}, 1)  # warm caches
        full = time_command(command, scratch, {**env, "HARNESS_HOME": str(home)}, options.repeat)
        bare = time_command(command, scratch, {**env, "HARNESS_HOME": str(empty)}, options.repeat)
        median, start = statistics.median(full), statistics.median(bare)
        print(f"command: {' '.join(command)}  (cwd: the store's repo, output piped)")
        print(
            f"  {written} runs: median {median:.3f}s "
            f"(min {min(full):.3f}, max {max(full):.3f}, {options.repeat} runs)"
        )
        print(f"  empty store (start-up): median {start:.3f}s")
        print(f"  per run: {(median - start) / max(1, written) * 1000:.3f} ms")
        if options.keep:
            print(f"kept: {scratch}  (HARNESS_HOME={home})")
    finally:
        if not options.keep:
            shutil.rmtree(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
