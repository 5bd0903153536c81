"""`make agent-demo`: a scripted coding agent drives the experiment loop through the CLI.

It is deterministic and has no LLM: what a coding agent following
.claude/skills/experiment-loop/SKILL.md does, written down. In a scratch clone of this
repository (your branches and your .harness/ are never touched) it

1. runs the baseline (`main`) with several seeds and reads its value from
   `check-results wait --format json`;
2. searches the digits example's hyperparameters: each idea is one branch off the current
   best, one commit changing one hyperparameter, launched with `launch-job` in the
   background while `check-results wait` blocks on it;
3. decides from the verdict alone (the JSON and the exit code, never a log): an idea is
   kept only when it is significantly better than the current best (wait's verdict against
   the baseline branch, then `summary --baseline <best>`); a kept idea is pushed further
   the same way, a lost one is abandoned and the next idea is tried from the best;
4. ends with `check-results leaderboard` and the claim it can back: its best branch is
   significantly better than the baseline (exit 0), or nothing was found (exit 1).

Which branches it tries depends on the verdicts it reads.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TRAIN = "experiments/digits/train.py"
SEEDS = 3
MAX_EXPERIMENTS = 4
# The moves the agent knows, in the order it tries them: (name, hyperparameter, change).
IDEAS: list[tuple[str, str, float]] = [
    ("wider", "hidden", 4.0),  # multiply the width by 4
    ("faster", "lr", 2.0),  # double the learning rate
    ("deeper", "layers", 2.0),  # twice the hidden layers
    ("slower", "lr", 0.5),  # halve the learning rate
]
VERDICT_CODES = {0: "better", 10: "worse", 11: "inconclusive", 12: "missing", 13: "failed"}


@dataclass(frozen=True)
class Best:
    branch: str
    params: dict[str, float]
    mean: float | None


class Agent:
    def __init__(self, repo: Path, home: Path, seeds: int) -> None:
        self.repo, self.seeds = repo, seeds
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "WANDB_"))}
        self.env.update(HARNESS_HOME=str(home), HARNESS_BACKEND="local")
        self.logs = home.parent / "launch-logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    # -- the tools an agent has: git and the CLI -------------------------------------------
    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.repo, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            sys.exit(f"agent-demo: git {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def cli(self, program: str, *args: str) -> tuple[int, dict[str, Any]]:
        """A command's exit code and its JSON (stdout); its progress lines go to stderr."""
        done = subprocess.run(
            [str(BIN / program), *args, "--format", "json"],
            cwd=self.repo,
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        try:
            data = json.loads(done.stdout)
        except ValueError:
            sys.exit(
                f"agent-demo: {program} {' '.join(args)} printed no JSON (exit {done.returncode})"
            )
        return done.returncode, data

    def launch_and_wait(self, branch: str) -> tuple[str, dict[str, Any]]:
        """Launch the branch's seeds in the background and wait for the verdict."""
        log = (self.logs / f"{branch.replace('/', '_')}.log").open("w")
        launcher = subprocess.Popen(
            [str(BIN / "launch-job"), "--branch", branch, "--seeds", str(self.seeds)],
            cwd=self.repo,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            code, report = self.cli("check-results", "wait", "--branch", branch, "--timeout", "20m")
        finally:
            launcher.wait()
            log.close()
        verdict = report["branches"][0]["primary_verdict"]
        if code not in (0, 10, 11, 12, 13, 14, 15):
            sys.exit(f"agent-demo: wait for {branch} ended with exit {code}")
        return verdict, report

    # -- reading the JSON -----------------------------------------------------------------
    @staticmethod
    def primary(report: dict[str, Any]) -> dict[str, Any]:
        metrics = report["branches"][0]["metrics"]
        return next(m for m in metrics if m["primary"])

    def params(self) -> dict[str, float]:
        """The hyperparameters at the top of train.py, on the checked-out branch."""
        text = (self.repo / TRAIN).read_text()
        found = re.findall(r"^(\w+) = ([0-9.]+)\s", text, re.M)
        return {name: float(value) for name, value in found}

    def branch_off(self, best: Best, name: str, param: str, factor: float, n: int) -> str | None:
        value = best.params[param] * factor
        shown = int(value) if param in ("hidden", "layers") else round(value, 4)
        if shown == best.params[param] or (param in ("hidden", "layers") and shown < 1):
            return None
        branch = f"agent/{n}-{name}-{param}-{shown}"
        self.git("checkout", "--quiet", "-b", branch, best.branch)
        path = self.repo / TRAIN
        text, count = re.subn(
            rf"^{param} = [0-9.]+(\s)",
            rf"{param} = {shown}\g<1>",
            path.read_text(),
            count=1,
            flags=re.M,
        )
        if count != 1:
            sys.exit(f"agent-demo: {TRAIN} has no line '{param} = ...'; update misc/agent_demo.py")
        path.write_text(text)
        was = best.params[param]
        self.git(
            "commit",
            "--quiet",
            "-am",
            f"{name.capitalize()}: {param} {was:g} -> {shown} (from {best.branch})",
        )
        return branch


def say(text: str) -> None:
    bold = "\033[1m" if sys.stdout.isatty() else ""
    reset = "\033[0m" if bold else ""
    print(f"\n{bold}{text}{reset}", flush=True)


def run(agent: Agent, experiments: int) -> int:
    say(f"1. The baseline: launch-job --branch main --seeds {agent.seeds}, then check-results wait")
    verdict, report = agent.launch_and_wait("main")
    if verdict != "baseline":
        sys.exit(f"agent-demo: main's verdict is {verdict!r}, not 'baseline'")
    base = agent.primary(report)
    agent.git("checkout", "--quiet", "main")
    best = Best("main", agent.params(), base["value"]["mean"])
    metric = base["name"]
    print(f"  main: {metric} = {best.mean:.4f} over {base['value']['n']} seeds")

    say(f"2. The search: at most {experiments} ideas, each a branch off the current best")
    queue, n, kept = list(IDEAS), 0, []
    while queue and n < experiments:
        name, param, factor = queue.pop(0)
        branch = agent.branch_off(best, name, param, factor, n + 1)
        if branch is None:
            continue
        n += 1
        verdict, report = agent.launch_and_wait(branch)
        mine = agent.primary(report)
        line = f"  {branch}: {mine['value']['mean']:.4f} vs main, {verdict}"
        p_value = mine["evidence"].get("p_value")
        if verdict == "better" and best.branch != "main":  # better than main; than the best?
            _, versus = agent.cli(
                "check-results", "summary", "--branch", branch, "--baseline", best.branch
            )
            verdict = versus["branches"][0]["primary_verdict"]
            p_value = agent.primary(versus)["evidence"].get("p_value")  # what decided
            line += f"; vs {best.branch}: {verdict}"
        if verdict == "better" and not mine["evidence"]["single_seed"]:
            agent.git("checkout", "--quiet", branch)
            best = Best(branch, agent.params(), mine["value"]["mean"])
            queue.insert(0, (name, param, factor))  # it helped: push the same way again
            kept.append(branch)
            print(f"{line} (p={p_value:.3g}) -> keep; the next ideas branch from it")
        else:
            print(f"{line} -> abandon")

    say("3. check-results leaderboard: every branch against main")
    subprocess.run(
        [str(BIN / "check-results"), "leaderboard"], cwd=agent.repo, env=agent.env, check=False
    )
    _, board = agent.cli("check-results", "leaderboard")
    if best.branch == "main":
        say("No idea beat main: nothing to propose.")
        return 1
    _, final = agent.cli("check-results", "summary", "--branch", best.branch)
    verdict = final["branches"][0]["primary_verdict"]
    if verdict != "better":
        say(f"{best.branch} no longer beats main ({verdict}): nothing to propose.")
        return 1
    evidence = agent.primary(final)["evidence"]
    say(
        f"Winner: {best.branch} is significantly better than main on {metric} "
        f"(p={evidence['p_value']:.3g}; kept {', '.join(kept)}; leaderboard winner: "
        f"{board['winner'] or 'none'}). Next: open a pull request with its headline."
    )
    print(f"  {final['branches'][0]['headline']}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=SEEDS, help=f"seeds per branch ({SEEDS})")
    parser.add_argument(
        "--experiments", type=int, default=MAX_EXPERIMENTS, help=f"ideas to try ({MAX_EXPERIMENTS})"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="harness-agent-demo-"))
    repo = scratch / "repo"
    print(f"A scratch clone of this repository in {repo}")
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(repo)], check=True)
    agent = Agent(repo, scratch / "store", args.seeds)
    agent.git("checkout", "--quiet", "-B", "main")
    agent.git("remote", "remove", "origin")
    agent.git("config", "user.name", "Harness Agent Demo")
    agent.git("config", "user.email", "agent@harness.invalid")
    try:
        code = run(agent, args.experiments)
    finally:
        print(f"\nDone in {time.monotonic() - started:.0f}s.")
        if args.keep:
            print(f"Everything is in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
