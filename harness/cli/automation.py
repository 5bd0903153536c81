"""harness setup-automation: the W&B automation that sends a webhook when a run ends."""

from __future__ import annotations

import json

import click

from ..automation import DEFAULT_NAME, AutomationOutcome, apply_automation, plan_automation
from .common import echo_json, format_option, get_settings, reports_errors


def _render(outcome: AutomationOutcome) -> str:
    plan = outcome.plan
    ident = f" (id {outcome.id})" if outcome.id else ""
    if outcome.status == "created":
        return (
            f"created W&B automation {plan.name!r}{ident} in {plan.path}: a run that "
            f"finishes or fails sends {plan.template} through webhook {plan.webhook!r}"
        )
    if outcome.status == "exists":
        line = f"W&B automation {plan.name!r}{ident} already exists in {plan.path}: nothing changed"
        if outcome.differences:
            line += (
                f" (it differs in: {', '.join(outcome.differences)}; delete it in W&B, "
                "or pass another --name, to make a new one)"
            )
        return line
    payload = json.dumps(dict(plan.payload), indent=2).replace("\n", "\n  ")
    return "\n".join(
        [
            f"would create W&B automation {plan.name!r} (dry run: W&B was not contacted)",
            f"  scope:   project {plan.path}",
            f"  event:   {plan.event}: a run's state becomes {' or '.join(plan.states)}"
            " (crashed counts as failed)",
            f"  action:  webhook {plan.webhook!r}, payload {plan.template}:",
            f"  {payload}",
        ]
    )


@click.command("setup-automation")
@click.option(
    "--webhook",
    required=True,
    help="Name of the W&B webhook (Team settings → Webhooks) that posts to GitHub.",
)
@click.option(
    "--name",
    default=DEFAULT_NAME,
    show_default=True,
    help="The automation's name; if one exists with it, nothing is changed.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be created; W&B is not contacted.")
@format_option("table", "json", help="table: for people; json: for tools.")
@reports_errors
def setup_automation(webhook: str, name: str, dry_run: bool, fmt: str) -> None:
    """Create the W&B automation that reports every run that ends.

    When a run of the W&B project (wandb.entity / wandb.project in harness.yaml, or
    WANDB_ENTITY / WANDB_PROJECT) finishes or fails (crashed counts as failed), W&B sends
    misc/wandb_webhook_payload.json through the webhook WEBHOOK: GitHub's
    repository_dispatch `wandb_run_finished`, which runs `harness analyze`. The template is
    checked first. An automation that already has the name is left as it is, so running
    this twice creates one. Needs WANDB_API_KEY, except with --dry-run.
    """
    settings = get_settings(None, None)
    plan = plan_automation(settings, webhook=webhook, name=name)
    outcome = (
        AutomationOutcome("would_create", plan) if dry_run else apply_automation(settings, plan)
    )
    if fmt == "json":
        echo_json(outcome.to_json())
    else:
        click.echo(_render(outcome))
