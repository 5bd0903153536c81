"""What does filling a manifest from a W&B offline run cost, next to the training it follows?

A plain ``wandb`` script logs ROWS history rows offline (a training loss every row, two
validation metrics every 100 rows), as a script that does not use harness.tracking would;
its wall time is the "training". Then the launcher's step after such a run,
``harness.stores.local.fill_from_wandb``, reads the log and writes config, summary and
curves into the manifest; it runs REPEAT times (each in a fresh interpreter, so wandb's
import counts) and the median is reported, with the ratio to the training and, for
comparison, the time of wandb's own Go reader printing the same log as JSON
(``wandb leet inspect --json``).

    .venv/bin/python benchmarks/fill_manifest.py              # 100,000 rows
    .venv/bin/python benchmarks/fill_manifest.py --rows 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TRAIN = """
import wandb
run = wandb.init(project="bench", config={"lr": 0.1})
for i in range(ROWS):
    row = {"train/loss": 1.0 / (i + 1)}
    if i % 100 == 0:
        row["val/accuracy"] = 0.5 + i / (4 * ROWS)
        row["val/loss"] = 1.0 - i / (2 * ROWS)
    run.log(row)
run.finish()
"""
FILL = """
import sys
from pathlib import Path
from harness.runs import MetricSpec
from harness.stores.local import fill_from_wandb
metrics = [MetricSpec("val/accuracy", "maximize", True), MetricSpec("val/loss", "minimize")]
print(fill_from_wandb(Path(sys.argv[1]), metrics))
"""


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "runs" / "bench001"
        run_dir.mkdir(parents=True)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "HARNESS_"))},
            "WANDB_MODE": "offline",
            "WANDB_ERROR_REPORTING": "false",
            "WANDB_SILENT": "true",
            "WANDB_DIR": str(run_dir),
            "WANDB_RUN_ID": "bench001",
        }
        code = TRAIN.replace("ROWS", str(args.rows))
        print(f"training: {args.rows:,} rows logged offline …", flush=True)
        training = timed([sys.executable, "-c", code], env)
        wandb_dir = next(run_dir.glob("wandb/offline-run-*"))
        fills = [timed([sys.executable, "-c", FILL, str(run_dir)], env) for _ in range(args.repeat)]
        leet = timed([str(BIN / "wandb"), "leet", "inspect", "--json", str(wandb_dir)], env)
    fill = statistics.median(fills)
    print(f"training (the script, start-up included)  {training:8.2f} s")
    print(f"fill_from_wandb, median of {args.repeat}            {fill:8.2f} s")
    print(f"  ratio fill / training                    {fill / training:8.3f}")
    print(f"wandb leet inspect --json (for comparison) {leet:8.2f} s")
    print(f"  ratio leet / fill                        {leet / fill:8.2f}")


if __name__ == "__main__":
    main()
