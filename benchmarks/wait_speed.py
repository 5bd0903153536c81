"""How soon does ``check-results wait`` wake after the last run ends, and what does waiting
cost?

A local store holds a launch in progress (its record) and its running run, both owned by
this process. ``check-results wait`` runs as a user runs it; after a random pause the run
is marked finished and the launch ended, and the time until the waiter exits is the wake-up
delay (median and max over TRIES). Then a waiter is left waiting for WAIT_S seconds on a
run that does not end; its CPU time, less that of a waiter that returns at once (start-up
and the summary), is the cost of waiting, per minute waited.

    .venv/bin/python benchmarks/wait_speed.py
    .venv/bin/python benchmarks/wait_speed.py --tries 40 --wait 60
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.liveness import this_process
from harness.manifest import now_iso, update_manifest, write_json_atomic

BIN = Path(sys.executable).parent
COMMIT = "a" * 40


def store(root: Path) -> tuple[Path, Path]:
    (root / "harness.yaml").write_text(
        "metrics:\n  - {name: val/accuracy, goal: maximize, primary: true}\n"
    )
    home = root / "store"
    run = home / "runs" / "run00001"
    update_manifest(
        run, branch="main", commit=COMMIT, seed=0, state="running", created_at=now_iso(),
        owner=this_process(),
    )  # fmt: skip
    launch = home / "launches" / "launch01.json"
    launch.parent.mkdir(parents=True)
    record = {"id": "launch01", "branch": "main", "commit": COMMIT, "seeds": 1,
              "runs": ["run00001"], "owner": this_process(), "created_at": now_iso(),
              "ended_at": None}  # fmt: skip
    write_json_atomic(launch, record)
    return run, launch


def finish(run: Path, launch: Path) -> None:
    update_manifest(run, state="finished", exit_code=0, ended_at=now_iso(),
                    summary={"val/accuracy": 0.9})  # fmt: skip
    import json

    record = json.loads(launch.read_text())
    record["ended_at"] = now_iso()
    write_json_atomic(launch, record)


def waiter(root: Path, timeout: str = "10m") -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "WANDB_"))}
    env["HARNESS_HOME"] = str(root / "store")
    command = [str(BIN / "check-results"), "wait", "--branch", "main", "--commit", COMMIT]
    return subprocess.Popen(
        [*command, "--timeout", timeout, "--format", "json"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def cpu_s(process: subprocess.Popen[bytes]) -> float:
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    return usage.ru_utime + usage.ru_stime


def wake_ups(tries: int, rng: random.Random) -> list[float]:
    delays = []
    for _ in range(tries):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            run, launch = store(root)
            process = waiter(root)
            time.sleep(1.5 + rng.random())  # past its start-up, at a random point of a poll
            finish(run, launch)
            ended = time.monotonic()
            process.wait(timeout=60)
            delays.append(time.monotonic() - ended)
    return delays


def waiting_cost(wait_s: float) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run, launch = store(root)
        finish(run, launch)
        at_once = cpu_s(waiter(root))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store(root)
        waited = cpu_s(waiter(root, timeout=f"{wait_s:g}s"))
    return at_once, waited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--wait", type=float, default=30.0, help="seconds of waiting measured")
    args = parser.parse_args()
    delays = wake_ups(args.tries, random.Random(0))
    print(
        f"wake-up after the last run ends: median {statistics.median(delays):.3f} s,"
        f" max {max(delays):.3f} s over {args.tries} tries"
    )
    at_once, waited = waiting_cost(args.wait)
    per_minute = (waited - at_once) / args.wait * 60
    print(
        f"cost of waiting: {per_minute:.2f} CPU s per minute waited"
        f" ({waited:.2f} s for {args.wait:g} s of waiting, {at_once:.2f} s for a wait that"
        f" returns at once); {per_minute / 60:.1%} of one core"
    )


if __name__ == "__main__":
    main()
