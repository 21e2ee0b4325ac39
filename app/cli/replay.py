"""``driftline replay``: a time range of the input topic, the same answers as live."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time

import click

from app.cli.options import setting
from app.config import load_settings
from app.contracts.timestamps import text_timestamp_ms
from app.errors import DriftlineError


def parse_time(text: str, option: str) -> int:
    """RFC 3339 text, epoch milliseconds, or ``earliest``."""
    if text == "earliest":
        return 0
    parsed = text_timestamp_ms(text)
    if parsed is None:
        raise DriftlineError(
            f"{option} {text!r}: expected an RFC 3339 time (2026-11-27T08:00:00Z), "
            "epoch milliseconds or 'earliest'"
        )
    return parsed


@click.command()
@click.option("--from", "from_", required=True, help="Start: RFC 3339, epoch ms or earliest.")
@click.option("--to", default=None, help="Stop (default: the end of the topic at start).")
@setting("topic_predictions")
@click.option("--models", multiple=True, help="Only these model ids (repeatable).")
@click.option("--baseline", "baseline_file", default=None, help="Use this baseline file.")
@click.option("--baseline-id", default=None, help="Use this version from the baselines topic.")
@setting("drift_config")
@setting("window_seconds")
@setting("allowed_lateness_seconds")
@setting("resolve_after_windows")
@setting("kafka_bootstrap")
@click.option("--output-suffix", default=".replay", show_default=True,
              help="Appended to the windows, alerts and dead-letter topic names.")  # fmt: skip
@click.option("--allow-live-output", is_flag=True,
              help="Permit an empty --output-suffix (write to the live topics).")  # fmt: skip
@click.option("--workers", default=1, show_default=True, help="Processes sharing partitions.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def replay(
    from_: str,
    to: str | None,
    topic_predictions: str | None,
    models: tuple[str, ...],
    baseline_file: str | None,
    baseline_id: str | None,
    drift_config: str | None,
    window_seconds: int | None,
    allowed_lateness_seconds: int | None,
    resolve_after_windows: int | None,
    kafka_bootstrap: str | None,
    output_suffix: str,
    allow_live_output: bool,
    workers: int,
    no_progress: bool,
) -> None:
    """Replay a time range of the input topic into separate result topics.

    Its own state and no consumer group: safe beside live workers, and safe to interrupt
    and run again. Event time only; every window open at the end of input is closed.
    A range that holds no records writes nothing, creates no topic and exits with 0.
    """
    from tqdm import tqdm

    from app.baseline.codec import load_baseline
    from app.pipeline.close import WindowCloser
    from app.stats.rules import load_config
    from app.stream.admin import ensure_topics
    from app.stream.replay import (
        Job,
        ReplaySummary,
        baselines_for_job,
        emit,
        load_registry,
        plan,
        run_jobs,
        single_baseline,
    )

    if baseline_file and baseline_id:
        raise DriftlineError("give --baseline or --baseline-id, not both")
    if not output_suffix and not allow_live_output:
        raise DriftlineError(
            "an empty --output-suffix writes into the live topics; add --allow-live-output"
        )
    if workers < 1:
        raise DriftlineError("--workers must be at least 1")
    settings = load_settings(
        topic_predictions=topic_predictions,
        drift_config=drift_config,
        window_seconds=window_seconds,
        allowed_lateness_seconds=allowed_lateness_seconds,
        resolve_after_windows=resolve_after_windows,
        kafka_bootstrap=kafka_bootstrap,
    )
    source = settings.topic_predictions
    from_ms = parse_time(from_, "--from")
    to_ms = parse_time(to, "--to") if to else None
    windows_topic = settings.topic_windows + output_suffix
    alerts_topic = settings.topic_alerts + output_suffix
    deadletter_topic = settings.topic_deadletter + output_suffix
    started = time.monotonic()

    if baseline_file:
        registry = single_baseline(load_baseline(baseline_file))
    else:
        registry = asyncio.run(load_registry(settings))
        if baseline_id:
            chosen = registry.by_id(baseline_id)
            if chosen is None:
                raise DriftlineError(f"baseline {baseline_id} is not on {settings.topic_baselines}")
            registry = single_baseline(chosen)
    if not registry.models():
        raise DriftlineError(f"no baselines on {settings.topic_baselines}; publish one first")
    model_list = list(models)
    ranges = asyncio.run(plan(settings, source, from_ms, to_ms))
    total = sum(r.stop - r.start for r in ranges)
    if total == 0:
        # Nothing to window: output topics made now would only be empty clutter.
        click.echo(
            f"replay {source} from {from_} to {to or 'end'}: no records in this range; "
            "nothing written, no topics created",
            err=True,
        )
        return
    asyncio.run(ensure_topics(settings, [windows_topic, alerts_topic, deadletter_topic]))
    n = min(workers, len(ranges))
    jobs = [
        Job(
            settings.for_subprocess(),
            source,
            [r for r in ranges if r.partition % n == i],
            baselines_for_job(registry, model_list),
            model_list,
            deadletter_topic,
        )
        for i in range(n)
    ]
    click.echo(
        f"replay {source} from {from_} to {to or 'end'}: {total:,} records on "
        f"{len(ranges)} partitions, {n} process(es) -> {windows_topic}, {alerts_topic}",
        err=True,
    )
    progress = multiprocessing.get_context("spawn").Value("q", 0)
    stop = threading.Event()
    bar = tqdm(total=total, unit="ev", disable=no_progress, smoothing=0.1, dynamic_ncols=True)

    def follow() -> None:
        while not stop.wait(0.2):
            bar.update(progress.value - bar.n)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        runs = run_jobs(jobs, progress)
    finally:
        stop.set()
        thread.join()
        bar.update(progress.value - bar.n)
        bar.close()
    summary = ReplaySummary()
    for run in runs:
        summary.events += run.events
        summary.late += run.late
        summary.dead_letters.update(run.invalid)
    closer = WindowCloser(
        registry,
        settings.window_spec(),
        source,
        load_config(settings.drift_config) if settings.drift_config else None,
    )
    asyncio.run(emit(settings, runs, len(ranges), closer, windows_topic, alerts_topic, summary))
    seconds = time.monotonic() - started
    dead = sum(summary.dead_letters.values())
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary.dead_letters.items()))
    click.echo(
        f"done in {seconds:.1f}s: {summary.events:,} events ({summary.events / seconds:,.0f}/s), "
        f"{summary.windows} windows ({summary.partial_windows} partial), {summary.alerts} alerts, "
        f"{summary.incident_events} incident events, "
        f"{dead} dead letters{f' ({reasons})' if reasons else ''}, {summary.late} late events",
        err=True,
    )
