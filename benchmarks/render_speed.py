"""How long does rendering take, and how big can a report get?

1. A 100-branch comparison (3 seeds per branch, 2 metrics) rendered as Markdown, in the
   terminal (rich, to a string) and as JSON: the median time of each, and its ratio to the
   time the comparison itself takes (``compare()``: the statistics).
2. The biggest run-ended report a 10 MB log can produce: a failed branch of 10 seeds, each
   failing a different way with a 10 MB log of 2,000-character lines (escape sequences,
   backtick runs, Markdown images and HTML) that ends in a 300-frame traceback or (every
   other seed) in no traceback at all, analysed for real (``harness
   analyze`` over a local store, no engine): the Markdown's size against GitHub's
   65,536-character comment limit.

    .venv/bin/python benchmarks/render_speed.py
    .venv/bin/python benchmarks/render_speed.py --branches 300 --repeat 9
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness.compare import compare
from harness.config import load_settings
from harness.events import RunEvent
from harness.manifest import update_manifest
from harness.pipelines import analyze
from harness.render import terminal
from harness.report import Report
from harness.runs import MetricSpec, Run, RunState
from harness.stores.local import LocalStore

GITHUB_LIMIT = 65_536
METRICS = [
    MetricSpec("val/accuracy", "maximize", primary=True, min_delta=0.005),
    MetricSpec("val/loss", "minimize"),
]


def runs(branches: int, seeds: int, rng: random.Random) -> list[Run]:
    found = []
    for b in range(branches):
        branch = "main" if b == 0 else f"exp/idea-{b:03d}"
        effect = 0.0 if b == 0 else rng.gauss(0, 0.01)
        for seed in range(seeds):
            acc = 0.9 + effect + rng.gauss(0, 0.005)
            found.append(
                Run(
                    id=f"r{b:03d}s{seed}",
                    state=RunState.FINISHED,
                    branch=branch,
                    commit=f"{b:07x}" + "0" * 33,
                    seed=seed,
                    created_at="2026-11-01T00:00:00+00:00",
                    summary={"val/accuracy": acc, "val/loss": 1 - acc},
                )
            )
    return found


def median_s(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def terminal_text(report: Report) -> str:
    from rich.console import Console

    out = io.StringIO()
    terminal.render(report.document(), Console(file=out, width=200, color_system=None))
    return out.getvalue()


def rendering(branches: int, repeat: int) -> None:
    found = runs(branches, 3, random.Random(0))
    base = median_s(lambda: compare(found, METRICS, baseline_branch="main"), repeat)
    report = Report("compare", compare(found, METRICS, baseline_branch="main"))
    print(f"{branches}-branch compare ({len(found)} runs): compare() {base * 1000:.1f} ms")
    for name, work in (
        ("markdown", report.to_markdown),
        ("terminal", lambda: terminal_text(report)),
        ("json", lambda: json.dumps(report.to_json(), allow_nan=False)),
    ):
        took = median_s(work, repeat)
        size = len(str(work()))
        print(f"  {name:9} {took * 1000:7.1f} ms  {took / base:5.2f}x compare()  {size:>8,} chars")


HOSTILE = "![x](https://evil.invalid/?q=s) <img src=x> ``` \x1b[2J [/] @everyone "


def big_logs(home: Path, seeds: int, size: int) -> None:
    for seed in range(seeds):
        run_dir = home / "runs" / f"bad{seed:03d}"
        update_manifest(
            run_dir,
            branch="exp/huge-logs",
            commit="b" * 40,
            seed=seed,
            state="failed",
            exit_code=1,
            reason=f"exit code 1: E{seed}Error: " + HOSTILE * 1000,
            created_at=f"2026-11-01T00:00:{seed:02d}+00:00",
        )
        with open(run_dir / "output.log", "w", encoding="utf-8") as log:
            line = (HOSTILE * 40)[:2000] + "\n"
            written = 0
            while written < size - 200_000:
                log.write(line)
                written += len(line)
            if seed % 2:  # no traceback: the log's last lines are the excerpt
                log.write(f"E{seed}Error: " + HOSTILE * 2000 + "\n")
                continue
            log.write("Traceback (most recent call last):\n")
            for frame in range(300):
                log.write(f'  File "/venv/lib/site-packages/lib{frame}.py", line 1, in f\n')
                log.write("    " + "x" * 500 + "\n")
            log.write(f"E{seed}Error: " + HOSTILE * 2000 + "\n")
    update_manifest(
        home / "runs" / "base000",
        branch="main",
        commit="a" * 40,
        seed=0,
        state="finished",
        summary={"val/accuracy": 0.9},
    )


def biggest_report(seeds: int, log_mb: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "harness.yaml").write_text(
            "metrics:\n  - {name: val/accuracy, goal: maximize, primary: true}\n"
            "analysis: {engine: none}\n"
        )
        home = root / "store"
        big_logs(home, seeds, int(log_mb * 1024 * 1024))
        settings = load_settings(cwd=root, env={})
        started = time.perf_counter()
        out = root / "out"
        analyze(
            settings, LocalStore(home), RunEvent(None, None), out_dir=out, repo=None, analyst=None
        )
        took = time.perf_counter() - started
        size = len((out / "exp%2Fhuge-logs.md").read_text(encoding="utf-8"))
        print(
            f"biggest report: {seeds} runs x {log_mb:g} MB logs -> {size:,} characters of"
            f" Markdown ({size / GITHUB_LIMIT:.2f}x GitHub's {GITHUB_LIMIT:,} limit),"
            f" analyzed in {took:.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branches", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=10, help="failed runs of the big report")
    parser.add_argument("--log-mb", type=float, default=10.0)
    args = parser.parse_args()
    rendering(args.branches, args.repeat)
    biggest_report(args.seeds, args.log_mb)


if __name__ == "__main__":
    main()
