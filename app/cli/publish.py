"""``driftline baseline publish``: put a baseline on the baselines topic for the workers."""

from __future__ import annotations

import asyncio
import time

import click

from app.baseline.codec import baseline_to_dict, load_baseline
from app.cli.options import setting
from app.config import env_name, load_settings
from app.contracts.timestamps import format_rfc3339_ms, text_timestamp_ms
from app.errors import DriftlineError
from app.windows.spec import WindowSpec

# The --effective-from words that are computed from the window size (the rest are times).
WINDOW_RELATIVE = ("next-window", "now")


def effective_from_ms(text: str, spec: WindowSpec, now_ms: int) -> int:
    """``next-window`` (default): the start of the first window after now; ``now``: the
    window holding now; an RFC 3339 time or epoch milliseconds: that time."""
    if text == "next-window":
        return spec.end_of(spec.start_of(now_ms))
    if text == "now":
        return spec.start_of(now_ms)
    parsed = text_timestamp_ms(text)
    if parsed is None:
        raise DriftlineError(
            f"--effective-from {text!r}: expected next-window, now, an RFC 3339 time "
            "(2026-11-27T08:00:00Z) or epoch milliseconds"
        )
    return parsed


def effective_text(effective_ms: int, effective_from: str, window_seconds: int) -> str:
    """``effective from <RFC 3339>``, and for a window-relative choice the window size it
    was computed with: this shell's setting, which must be the workers' for it to be
    their window boundary."""
    text = f"effective from {format_rfc3339_ms(effective_ms)}"
    if effective_from in WINDOW_RELATIVE:
        text += (
            f" ({effective_from} for {window_seconds} s windows, from --window-seconds or "
            f"{env_name('window_seconds')}; the workers' must be the same)"
        )
    return text


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--effective-from",
    default="next-window",
    show_default=True,
    help="First window the baseline applies to: next-window, now, RFC 3339 time or epoch ms. "
    "next-window and now use --window-seconds, which must be the workers' window size. "
    "A model's first baseline also covers every earlier window.",
)
@setting("window_seconds")
@setting("kafka_bootstrap")
def publish(
    path: str, effective_from: str, window_seconds: int | None, kafka_bootstrap: str | None
) -> None:
    """Publish a baseline file; running workers pick it up without a restart."""
    from app.stream.publish import publish_baseline

    settings = load_settings(window_seconds=window_seconds, kafka_bootstrap=kafka_bootstrap)
    baseline = load_baseline(path)
    effective = effective_from_ms(effective_from, settings.window_spec(), int(time.time() * 1000))
    partition, offset = asyncio.run(
        publish_baseline(settings, baseline_to_dict(baseline), effective)
    )
    click.echo(
        f"published {baseline.baseline_id} for model {baseline.model_id} to "
        f"{settings.topic_baselines}[{partition}]@{offset}, "
        f"{effective_text(effective, effective_from, settings.window_seconds)}",
        err=True,
    )
