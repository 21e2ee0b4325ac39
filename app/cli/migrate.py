"""``driftline baseline migrate``: per-version keys for the versions on the baselines topic."""

from __future__ import annotations

import asyncio

import click

from app.cli.options import setting
from app.config import load_settings


@click.command()
@setting("kafka_bootstrap")
def migrate(kafka_bootstrap: str | None) -> None:
    """Copy baselines published under the old key (the model id) to per-version keys.

    Optional: workers and replay read old-keyed versions as before. Once copied, nothing
    written under a model's id can erase them. Safe to run again (copies each version once).
    """
    from app.stream.baseline_migrate import migrate as run_migration

    settings = load_settings(kafka_bootstrap=kafka_bootstrap)
    plan = asyncio.run(run_migration(settings))
    invalid = f"; {plan.invalid} invalid message(s) left as they are" if plan.invalid else ""
    click.echo(
        f"{settings.topic_baselines}: copied {len(plan.copies)} version(s) of "
        f"{len(plan.models)} model(s) to per-version keys; {plan.keyed} already had "
        f"their own key{invalid}",
        err=True,
    )
