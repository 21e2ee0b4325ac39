"""``driftline baseline ...`` (build from training data; publish to Kafka)."""

from __future__ import annotations

import click


@click.group()
def baseline() -> None:
    """Build and publish training baselines."""
