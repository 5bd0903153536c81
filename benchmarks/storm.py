"""How long does a storm of run-ended events take to deliver, and does it end as one comment
per PR?

The storm of ``tests/test_storm.py``: ten branches' five runs end at once and each run's
webhook starts the run-finished workflow's steps, ``harness analyze`` (every new run) then
``harness comment``, 50 pairs of processes at once against one local GitHub (which checks
every request against GitHub's OpenAPI description, as in the tests). Printed: the storm's
wall time, the slowest and median member, the comments per PR, GitHub's requests by kind
(deletes of duplicates, and deletes that found the duplicate gone already). For scale, the
same 50 deliveries one at a time, as the workflows' shared concurrency group runs them on
GitHub: the first posts every branch's report, each of the other 49 only refreshes its
named run's comment, which is up to date (one of those is timed and counted 49 times).

    .venv/bin/python benchmarks/storm.py
    .venv/bin/python benchmarks/storm.py --tries 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' GitHub and storm

from tests.servers.github_server import GithubServer
from tests.test_storm import BRANCHES, REPO, build_storm, storm


def one_storm(tmp: Path) -> tuple[float, list[float], list[int], Counter[str]]:
    """(wall s, each member's s, comments per PR, requests by kind) of one storm."""
    with GithubServer() as gh:
        gh.add_repo(REPO)
        prs = [gh.add_pull(REPO, head=branch) for branch in BRANCHES]
        repo, home = build_storm(tmp)
        began = time.monotonic()
        members = storm(repo, home, gh, tmp)
        wall = time.monotonic() - began
        failed = [m for m in members if m.commented is None or m.commented.returncode != 0]
        if failed:
            raise SystemExit(f"{len(failed)} member(s) failed: {failed[0]}")
        comments = [len(gh.comments(REPO, pr)) for pr in prs]
        kinds = Counter(f"{method} {status}" for method, _, status in gh.requests)
    return wall, [m.seconds for m in members], comments, kinds


def one_at_a_time(tmp: Path) -> tuple[float, float]:
    """(s of the delivery that posts everything, s of one that finds its comment current)."""
    with GithubServer() as gh:
        gh.add_repo(REPO)
        for branch in BRANCHES:
            gh.add_pull(REPO, head=branch)
        repo, home = build_storm(tmp)
        [first] = storm(repo, home, gh, tmp / "first", count=1)
        [later] = storm(repo, home, gh, tmp / "later", count=1)
    if first.commented is None or {d["action"] for d in later.deliveries} != {"unchanged"}:
        raise SystemExit("the first delivery failed, or the second found something new")
    return first.seconds, later.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=1, help="storms timed (the median shown)")
    args = parser.parse_args()
    walls: list[float] = []
    for _ in range(args.tries):
        with tempfile.TemporaryDirectory() as tmp:
            wall, members, comments, kinds = one_storm(Path(tmp))
        walls.append(wall)
        print(
            f"storm of {len(members)} deliveries, {len(BRANCHES)} branches: {wall:.1f} s wall;"
            f" members median {statistics.median(members):.1f} s, slowest {max(members):.1f} s"
        )
        print(
            f"comments per PR: min {min(comments)}, max {max(comments)};"
            f" GitHub requests: {sum(kinds.values())}"
            f" ({', '.join(f'{kind}: {n}' for kind, n in sorted(kinds.items()))})"
        )
    with tempfile.TemporaryDirectory() as tmp:
        first, later = one_at_a_time(Path(tmp))
    queued = first + (len(members) - 1) * later
    storm_s = statistics.median(walls)
    print(
        f"one at a time (the concurrency group): {first:.1f} s for the delivery that posts,"
        f" {later:.1f} s for each that finds its comment current: {queued:.1f} s for"
        f" {len(members)}; the storm takes {storm_s / queued:.2f}x that"
    )


if __name__ == "__main__":
    main()
