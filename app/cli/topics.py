"""``driftline topics ...``."""

from __future__ import annotations

import asyncio
import logging

import click

from app.cli.options import setting
from app.cli.output import echo_json, json_option, table
from app.config import load_settings


@click.group()
def topics() -> None:
    """Manage Driftline's Kafka topics."""


@topics.command("create")
@setting("kafka_bootstrap")
@setting("partitions")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds to keep retrying an unreachable broker, and to wait for partition leaders.",
)
def create(kafka_bootstrap: str | None, partitions: int | None, timeout_s: float) -> None:
    """Create Driftline's topics (idempotent: existing topics are left alone)."""
    from app.stream.admin import create_topics

    # aiokafka logs an ERROR line for every failed connection attempt while we retry; if the
    # broker stays unreachable, the command reports that itself, in one line.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, partitions=partitions)
    for outcome in asyncio.run(create_topics(settings, timeout_s=timeout_s)):
        state = "created" if outcome.created else "exists "
        click.echo(
            f"{state} {outcome.name:<28} partitions={outcome.partitions} "
            f"cleanup.policy={outcome.cleanup_policy}"
        )


@topics.command("list")
@json_option
@setting("kafka_bootstrap")
def list_(as_json: bool, kafka_bootstrap: str | None) -> None:
    """Driftline's topics: whether they exist, partitions, cleanup policy, messages."""
    from app.stream.topic_info import list_topics

    infos = asyncio.run(list_topics(load_settings(kafka_bootstrap=kafka_bootstrap)))
    if as_json:
        echo_json(
            [
                {
                    "topic": t.name,
                    "exists": t.exists,
                    "partitions": t.partitions,
                    "cleanup_policy": t.cleanup_policy,
                    "messages": t.messages,
                    "offsets": [
                        {"partition": o.partition, "beginning": o.beginning, "end": o.end}
                        for o in t.offsets
                    ],
                }
                for t in infos
            ]
        )
        return
    headers = ("topic", "exists", "partitions", "cleanup.policy", "messages")
    rows = [(t.name, t.exists, t.partitions, t.cleanup_policy, t.messages) for t in infos]
    click.echo(table(headers, rows))
