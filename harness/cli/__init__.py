"""Command-line entry points: ``harness``, and ``check-results`` / ``launch-job``.

``check-results`` is ``harness results`` and ``launch-job`` is ``harness launch``: the same
code under the names the workflows and the README use.
"""

from __future__ import annotations

import click

from .analyze import analyze_cmd, mark_reported_cmd
from .automation import setup_automation
from .comment import comment_cmd
from .gc import gc_cmd
from .launch import launch
from .results import results
from .wait import wait_cmd

__all__ = ["harness_cli", "launch_cli", "results_cli"]


@click.group("harness")
@click.version_option(package_name="harness")
def harness_cli() -> None:
    """One experiment = one git branch: launch, track, analyze and compare ML runs."""


harness_cli.add_command(launch, "launch")
harness_cli.add_command(results, "results")
harness_cli.add_command(analyze_cmd, "analyze")
harness_cli.add_command(mark_reported_cmd, "mark-reported")
harness_cli.add_command(setup_automation, "setup-automation")
harness_cli.add_command(comment_cmd, "comment")
harness_cli.add_command(gc_cmd, "gc")

results.add_command(wait_cmd, "wait")
results_cli = results
launch_cli = launch
