"""``driftline baseline publish``: put a baseline on the baselines topic for the workers."""

from __future__ import annotations

import asyncio
import time

import click

from app.baseline.codec import baseline_to_dict, load_baseline
from app.config import load_settings
from app.contracts.decode import parse_rfc3339_ms
from app.errors import DriftlineError


def effective_from_ms(text: str, window_seconds: int, now_ms: int) -> int:
    """``next-window`` (default): the start of the first window after now; ``now``: the
    window holding now; an RFC 3339 time or epoch milliseconds: that time."""
    size_ms = window_seconds * 1000
    if text == "next-window":
        return now_ms - now_ms % size_ms + size_ms
    if text == "now":
        return now_ms - now_ms % size_ms
    if text.isdigit():
        return int(text)
    parsed = parse_rfc3339_ms(text)
    if parsed is None:
        raise DriftlineError(
            f"--effective-from {text!r}: expected next-window, now, an RFC 3339 time "
            "(2026-11-27T08:00:00Z) or epoch milliseconds"
        )
    return parsed


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--effective-from",
    default="next-window",
    show_default=True,
    help="First window the baseline applies to: next-window, now, RFC 3339 time or epoch ms. "
    "A model's first baseline also covers every earlier window.",
)
def publish(path: str, effective_from: str) -> None:
    """Publish a baseline file; running workers pick it up without a restart."""
    from app.stream.publish import publish_baseline

    settings = load_settings()
    baseline = load_baseline(path)
    effective = effective_from_ms(effective_from, settings.window_seconds, int(time.time() * 1000))
    partition, offset = asyncio.run(
        publish_baseline(settings, baseline_to_dict(baseline), effective)
    )
    click.echo(
        f"published {baseline.baseline_id} for model {baseline.model_id} "
        f"(effective from {effective} ms) to {settings.topic_baselines}[{partition}]@{offset}",
        err=True,
    )
