"""``driftline demo``: the main job end to end on this machine, in about a minute.

Creates a run's own topics, builds a baseline from generated card-fraud training data,
publishes it, starts a worker, streams prediction events in accelerated event time (one
minute of event time every ~2 s) with a drift that starts part-way, and prints window
results and alerts as they arrive. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import orjson

from app.config import Settings, load_settings
from app.demo.traffic import Drift, events, write_training_csv
from app.stream import kafka
from app.stream.publish import produce_events

MODEL = "fraud-scorer"
WINDOW_S = 60


def _hhmm(ms: int) -> str:
    return time.strftime("%H:%M", time.gmtime(ms / 1000))


def describe_result(doc: dict[str, Any]) -> str:
    w = doc["window"]
    head = (
        f"window {_hhmm(w['start_ms'])}-{_hhmm(w['end_ms'])}  {doc['model_id']}  "
        f"n={doc['n_events']:<5} late={doc['late_events']:<3} "
    )
    if doc["status"] != "drift":
        return head + click.style(doc["status"], fg="green" if doc["status"] == "ok" else "yellow")
    parts = []
    for f in doc["features"]:
        if f.get("drifted"):
            effect = f.get("effect") or {}
            why = [f"{effect.get('name', '?')}={effect.get('value') or 0.0:.3f}"]
            nulls = (f.get("stats") or {}).get("null_rate_change") or 0.0
            if abs(nulls) >= 0.02:  # a null-rate jump, not a distribution change
                why.append(f"nulls {nulls:+.0%}")
            parts.append(f"{f['name']} ({', '.join(why)})")
    return (
        head
        + click.style(f"DRIFT {doc['severity']}", fg="red", bold=True)
        + "  "
        + ", ".join(parts)
    )


def describe_alert(doc: dict[str, Any]) -> str:
    """The alert's head line, then why: one summary line per drifted feature."""
    names = ", ".join(f["name"] for f in doc["drifted_features"])
    head = click.style(
        f"ALERT {doc['alert_id']} severity={doc['severity']} model={doc['model_id']} "
        f"window={_hhmm(doc['window']['start_ms'])} features: {names}",
        fg="red",
        bold=True,
    )
    why = [f"  {f['summary']}" for f in doc["drifted_features"] if f.get("summary")]
    return "\n".join([head, *why])


def describe_incident(doc: dict[str, Any]) -> str:
    """A drift incident's lifecycle event: one line (the page a person would get)."""
    names = ", ".join(f["name"] for f in doc["drifted_features"])
    return click.style(
        f"INCIDENT {doc['incident_id']} {doc['event'].upper()} severity={doc['severity']} "
        f"model={doc['model_id']} window={_hhmm(doc['window']['start_ms'])} features: {names}",
        fg="green" if doc["event"] == "resolved" else "magenta",
        bold=True,
    )


async def _follow(settings: Settings, stop: asyncio.Event, expected_windows: int) -> int:
    topics = (settings.topic_windows, settings.topic_alerts)
    seen = 0
    async with kafka.started(kafka.consumer(settings, *topics), settings) as consumer:
        while not stop.is_set() and seen < expected_windows:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for rec in records:
                    doc = orjson.loads(rec.value)
                    if rec.topic == settings.topic_windows:
                        seen += 1
                        click.echo(describe_result(doc))
                    elif doc.get("kind") == "incident":
                        click.echo(describe_incident(doc))
                    else:
                        click.echo(describe_alert(doc))
    return seen


def _run(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "app", *args], env=env, check=False)
    if proc.returncode != 0:
        raise click.ClickException(f"`driftline {' '.join(args)}` failed ({proc.returncode})")


@click.command()
@click.option("--windows", default=10, show_default=True, help="Windows of traffic to stream.")
@click.option("--per-window", default=3000, show_default=True, help="Events per window.")
@click.option("--drift-at", default=6, show_default=True, help="Window where drift starts.")
@click.option("--seconds-per-window", default=2.0, show_default=True, help="Wall time per window.")
@click.option("--workdir", default="data/demo", show_default=True, help="Where files go.")
def demo(
    windows: int, per_window: int, drift_at: int, seconds_per_window: float, workdir: str
) -> None:
    """Run Driftline's main job end to end against the local broker."""
    run_id = time.strftime("%Y%m%d%H%M%S")
    work = Path(workdir) / run_id
    work.mkdir(parents=True, exist_ok=True)
    prefix = f"demo-{run_id}"
    env = {
        **os.environ,
        "DRIFTLINE_APP_ID": prefix,
        "DRIFTLINE_TOPIC_PREDICTIONS": f"{prefix}-predictions",
        "DRIFTLINE_TOPIC_BASELINES": f"{prefix}-baselines",
        "DRIFTLINE_TOPIC_WINDOWS": f"{prefix}-windows",
        "DRIFTLINE_TOPIC_ALERTS": f"{prefix}-alerts",
        "DRIFTLINE_TOPIC_DEADLETTER": f"{prefix}-deadletter",
        "DRIFTLINE_TOPIC_PARTIALS": f"{prefix}-partials",
        "DRIFTLINE_WINDOW_SECONDS": str(WINDOW_S),
        "DRIFTLINE_ALLOWED_LATENESS_SECONDS": "5",
        "DRIFTLINE_IDLE_SECONDS": "4",
        "DRIFTLINE_DATA_DIR": str(work / "state"),
    }
    os.environ.update({k: v for k, v in env.items() if k.startswith("DRIFTLINE_")})
    settings = load_settings()

    click.echo(click.style(f"== Driftline demo {run_id} (files in {work})", bold=True))
    click.echo("== 1/5 topics")
    _run(["topics", "create"], env)
    click.echo("== 2/5 baseline from 50,000 generated training rows")
    train = write_training_csv(work / "train.csv", 50_000)
    baseline = work / "baseline.json"
    _run(
        ["baseline", "build", "--input", str(train), "--model-id", MODEL,
         "--prediction-column", "fraud_probability", "--out", str(baseline)],
        env,
    )  # fmt: skip
    click.echo("== 3/5 publish the baseline")
    _run(["baseline", "publish", str(baseline)], env)
    click.echo(
        f"== 4/5 worker (logs: {work / 'worker.log'}; metrics: "
        f"http://{settings.web_host}:{settings.web_port}/metrics)"
    )
    log = (work / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "app", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        asyncio.run(_stream(settings, windows, per_window, drift_at, seconds_per_window))
    except KeyboardInterrupt:
        click.echo("\ninterrupted: stopping the worker")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
    click.echo("== done")


async def _stream(
    settings: Settings, windows: int, per_window: int, drift_at: int, seconds_per_window: float
) -> None:
    # Event time starts two hours back, so the last window closes by the idle-partition
    # rule a few seconds after the traffic stops (the wall clock is far ahead of it).
    now_ms = int(time.time() * 1000)
    start = now_ms - 2 * 3600 * 1000
    start -= start % (WINDOW_S * 1000)
    drift = Drift(start_ms=start + drift_at * WINDOW_S * 1000)
    click.echo(
        f"== 5/5 streaming {windows} windows x {per_window} events; drift from window "
        f"{_hhmm(drift.start_ms)} (amount x1.6, more US traffic, device flag nulls)"
    )
    stop = asyncio.Event()
    follower = asyncio.create_task(_follow(settings, stop, windows))
    spacing = WINDOW_S * 1000 / per_window
    stream = events(MODEL, start, windows * per_window, spacing, drift=drift)
    for w in range(windows):
        t0 = time.monotonic()
        chunk = [(None, orjson.dumps(next(stream))) for _ in range(per_window)]
        await produce_events(settings, settings.topic_predictions, chunk)
        click.echo(
            click.style(f"   produced window {_hhmm(start + w * WINDOW_S * 1000)}", dim=True)
        )
        await asyncio.sleep(max(0.0, seconds_per_window - (time.monotonic() - t0)))
    try:
        await asyncio.wait_for(follower, timeout=90)
    except TimeoutError:
        click.echo("timed out waiting for the last window results (see the worker log)")
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await follower
