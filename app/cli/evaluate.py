"""``driftline evaluate``: one file as one window against a baseline (offline engine door)."""

from __future__ import annotations

import click


@click.command()
def evaluate() -> None:
    """Evaluate a whole file as one window against a baseline."""
    raise click.ClickException("not implemented yet")
