"""One scenario shared by the stream tests: a card-fraud model's traffic over four
one-minute windows, with drift planted in the third window only."""

from __future__ import annotations

import time
from typing import Any

import orjson

from app.demo.traffic import Drift, events

MODEL = "fraud-scorer"
# Two days before the run, aligned to the hour. Not a fixed date: the replay tests produce
# with record time = event time, and the input topic deletes records by their timestamp
# after 7 days (app.stream.admin), so the broker's retention check (every 5 minutes) would
# delete a fixed date's records part-way through a run once that date is a week old.
_HOUR_MS = 3_600_000
BASE_MS = (int(time.time() * 1000) - 48 * _HOUR_MS) // _HOUR_MS * _HOUR_MS
WINDOW_S = 60
WINDOWS = 4
PER_WINDOW = 2500
DRIFT_WINDOW = 2
PLANTED = {"amount", "country", "is_new_device"}
PREDICTION = "fraud_probability"

STREAM_ENV = {
    "DRIFTLINE_WINDOW_SECONDS": str(WINDOW_S),
    "DRIFTLINE_ALLOWED_LATENESS_SECONDS": "5",
    "DRIFTLINE_IDLE_SECONDS": "3",
    "DRIFTLINE_PARTITIONS": "4",
}


def window_start(i: int) -> int:
    return BASE_MS + i * WINDOW_S * 1000


def scenario_events(windows: int = WINDOWS, per_window: int = PER_WINDOW) -> list[bytes]:
    drift = Drift(start_ms=window_start(DRIFT_WINDOW), end_ms=window_start(DRIFT_WINDOW + 1))
    spacing = WINDOW_S * 1000 / per_window
    return [
        orjson.dumps(e)
        for e in events(MODEL, BASE_MS, windows * per_window, spacing, seed=3, drift=drift)
    ]


def closing_events(after: list[bytes], windows: int, partitions: int = 4) -> list[bytes]:
    """One event per source partition just past the lateness after the last window, so that
    every partition's watermark closes it by event time alone (no idle tick needed). They
    open one more window, which stays open."""
    lateness_ms = int(STREAM_ENV["DRIFTLINE_ALLOWED_LATENESS_SECONDS"]) * 1000
    event = orjson.loads(after[0])
    event["timestamp"] = window_start(windows) + lateness_ms + 1000
    return [orjson.dumps(event)] * partitions


def comparable(
    results: list[dict[str, Any]], differs: tuple[str, ...] = ("emitted_at",)
) -> dict[str, bytes]:
    """Documents by window_id without the fields allowed to differ; duplicates
    (at-least-once delivery) must be identical, or this raises."""
    out: dict[str, bytes] = {}
    for doc in results:
        body = orjson.dumps({k: v for k, v in doc.items() if k not in differs})
        wid = str(doc["window_id"])
        if wid in out and out[wid] != body:
            raise AssertionError(f"two different results for window {wid}")
        out[wid] = body
    return out
