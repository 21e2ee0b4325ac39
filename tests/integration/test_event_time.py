"""Event time that loses nothing (issue 9), against the broker: each numbered case of the
issue, now passing. Small windows (10 s), lateness (2 s) and idleness (2 s) keep it fast.

1. idle, then traffic 30 minutes behind the clock: counted in its own windows;
2. two models on one topic, one 10 minutes behind: neither's events are late;
3. one event dated 2099: dead-lettered (timestamp_in_future), the partition keeps counting;
4. late events: on the dead-letter topic (reason late) with their own window's id.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.contracts.schemas import validate
from app.demo.traffic import events
from tests.integration.conftest import DriftlineCLI
from tests.integration.stream_scenario import MODEL, PREDICTION
from tests.integration.streamkit import docs, http_get, metric, produce, read_topic, wait_http
from tests.integration.test_stream_e2e import prepare
from tests.integration.test_stream_failures import stop

WINDOW_MS = 10_000
OTHER = "churn-scorer"
MINUTE = 60_000


@pytest.fixture
def env(stream_env: dict[str, str]) -> dict[str, str]:
    return {
        **stream_env,
        "DRIFTLINE_WINDOW_SECONDS": str(WINDOW_MS // 1000),
        "DRIFTLINE_ALLOWED_LATENESS_SECONDS": "2",
        "DRIFTLINE_IDLE_SECONDS": "2",
    }


def aligned(ms: int) -> int:
    return ms - ms % WINDOW_MS


def traffic(model: str, start_ms: int, count: int, spacing_ms: float, seed: int) -> list[bytes]:
    return [
        orjson.dumps({**e, "model_id": model})
        for e in events(MODEL, start_ms, count, spacing_ms, seed=seed)
    ]


def publish_other(driftline: DriftlineCLI, env: dict[str, str], tmp_path: Path) -> None:
    """A second model's baseline, from the same training file."""
    out = tmp_path / "other.json"
    built = driftline.run(
        [
            "baseline", "build", "--input", str(tmp_path / "train.csv"), "--model-id", OTHER,
            "--prediction-column", PREDICTION, "--out", str(out), "--no-progress",
        ],
        env,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    published = driftline.run(["baseline", "publish", str(out)], env)
    assert published.returncode == 0, published.stderr


async def windows_of(bootstrap: str, env: dict[str, str], count: int) -> list[dict[str, Any]]:
    found = docs(
        await read_topic(
            bootstrap,
            env["DRIFTLINE_TOPIC_WINDOWS"],
            until=lambda recs: len(recs) >= count,
            timeout_s=90,
        )
    )
    for doc in found:
        validate("window-result", doc)
    return sorted(found, key=lambda r: (r["model_id"], r["window"]["start_ms"]))


async def dead_letters(bootstrap: str, env: dict[str, str], count: int) -> list[dict[str, Any]]:
    found = docs(
        await read_topic(
            bootstrap,
            env["DRIFTLINE_TOPIC_DEADLETTER"],
            until=(lambda recs: len(recs) >= count) if count else None,
            timeout_s=30,
        )
    )
    for doc in found:
        validate("dead-letter", doc)
    # Keyed like the input (no key here): spread over the topic's partitions; input order.
    return sorted(found, key=lambda d: (d["source"]["partition"], d["source"]["offset"]))


def start(driftline: DriftlineCLI, env: dict[str, str], tmp_path: Path) -> Any:
    worker = driftline.start(["worker"], tmp_path / "worker", env)
    wait_http(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/ready", timeout_s=90)
    return worker


@pytest.mark.timeout(240)
async def test_idle_then_traffic_30_minutes_behind_is_counted_in_its_own_windows(
    driftline: DriftlineCLI, env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    prepare(driftline, env, tmp_path, train_rows=5000)
    worker = start(driftline, env, tmp_path)
    await asyncio.sleep(6)  # idle for three times DRIFTLINE_IDLE_SECONDS, no input at all
    base = aligned(int(time.time() * 1000) - 30 * MINUTE)
    values = traffic(MODEL, base, 4 * 200, WINDOW_MS / 200, seed=5)  # 4 full windows
    await produce(kafka_bootstrap, env["DRIFTLINE_TOPIC_PREDICTIONS"], values,
                  partitions=[i % 4 for i in range(len(values))])  # fmt: skip
    # The last window closes by idleness (the stream stopped), by event time + wall time
    # elapsed, not by a jump to the wall clock.
    results = await windows_of(kafka_bootstrap, env, 4)
    body = http_get(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/metrics")[1]
    stop(worker)
    assert [(r["window"]["start_ms"] - base, r["n_events"], r["late_events"]) for r in results] == [
        (k * WINDOW_MS, 200, 0) for k in range(4)
    ]
    assert await dead_letters(kafka_bootstrap, env, 0) == []
    assert metric(body, "driftline_events_valid_total", model=MODEL) == 800
    assert metric(body, "driftline_events_late_total", model=MODEL) == 0


@pytest.mark.timeout(240)
async def test_two_models_with_skewed_producers_on_one_topic(
    driftline: DriftlineCLI, env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    prepare(driftline, env, tmp_path, train_rows=5000)
    publish_other(driftline, env, tmp_path)
    worker = start(driftline, env, tmp_path)
    now = aligned(int(time.time() * 1000)) - 3 * WINDOW_MS
    fast = traffic(MODEL, now, 300, WINDOW_MS / 100, seed=6)
    slow = traffic(OTHER, now - 10 * MINUTE, 300, WINDOW_MS / 100, seed=7)  # 10 min behind
    mixed = [v for pair in zip(fast, slow, strict=True) for v in pair]  # same partitions
    await produce(kafka_bootstrap, env["DRIFTLINE_TOPIC_PREDICTIONS"], mixed,
                  partitions=[(i // 2) % 4 for i in range(len(mixed))])  # fmt: skip
    results = await windows_of(kafka_bootstrap, env, 6)
    stop(worker)
    assert [(r["model_id"], r["window"]["start_ms"], r["n_events"]) for r in results] == [
        *((OTHER, now - 10 * MINUTE + k * WINDOW_MS, 100) for k in range(3)),
        *((MODEL, now + k * WINDOW_MS, 100) for k in range(3)),
    ]
    assert await dead_letters(kafka_bootstrap, env, 0) == []


@pytest.mark.timeout(240)
async def test_one_event_dated_2099_is_dead_lettered_and_the_partition_keeps_counting(
    driftline: DriftlineCLI, env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    prepare(driftline, env, tmp_path, train_rows=5000)
    worker = start(driftline, env, tmp_path)
    base = aligned(int(time.time() * 1000)) - 3 * WINDOW_MS
    values = traffic(MODEL, base, 300, WINDOW_MS / 100, seed=8)
    future = orjson.loads(values[0])
    future["timestamp"] = "2099-12-31T00:00:00Z"
    mixed = [*values[:50], orjson.dumps(future), *values[50:]]
    await produce(kafka_bootstrap, env["DRIFTLINE_TOPIC_PREDICTIONS"], mixed,
                  partitions=[0] * len(mixed))  # fmt: skip
    results = await windows_of(kafka_bootstrap, env, 3)
    [letter] = await dead_letters(kafka_bootstrap, env, 1)
    stop(worker)
    assert [(r["window"]["start_ms"] - base, r["n_events"]) for r in results] == [
        (k * WINDOW_MS, 100) for k in range(3)
    ]
    assert (letter["reason"], letter["model_id"], letter["source"]["offset"]) == (
        "timestamp_in_future",
        MODEL,
        50,
    )
    assert re.fullmatch(
        r"\$\.timestamp: 2099-12-31T00:00:00Z is [0-9.]+ s ahead of the wall clock "
        r"\([0-9T:.Z-]+\); the limit is 300 s \(DRIFTLINE_MAX_FUTURE_SECONDS\)",
        letter["error"],
    ), letter["error"]
    assert "window_id" not in letter


@pytest.mark.timeout(240)
async def test_late_events_go_to_the_side_output_with_their_own_window_ids(
    driftline: DriftlineCLI, env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    prepare(driftline, env, tmp_path, train_rows=5000)
    worker = start(driftline, env, tmp_path)
    base = aligned(int(time.time() * 1000)) - 3 * WINDOW_MS
    values = traffic(MODEL, base, 300, WINDOW_MS / 100, seed=9)  # 3 windows of 100
    late = [orjson.loads(values[i]) for i in (3, 4, 150)]  # two of window 0, one of window 1
    late[2]["timestamp"] = base + WINDOW_MS + 500
    # After window 2 is 3 s old on this partition's clock, windows 0 and 1 are closed.
    cut = 230  # events are 100 ms apart: the first at base + 23 s
    mixed = [*values[:cut], *(orjson.dumps(e) for e in late), *values[cut:]]
    await produce(kafka_bootstrap, env["DRIFTLINE_TOPIC_PREDICTIONS"], mixed,
                  partitions=[0] * len(mixed))  # fmt: skip
    results = await windows_of(kafka_bootstrap, env, 3)
    letters = await dead_letters(kafka_bootstrap, env, 3)
    body = http_get(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/metrics")[1]
    stop(worker)
    # Not added to any window; no result counts another window's late events.
    assert [(r["window"]["start_ms"] - base, r["n_events"], r["late_events"]) for r in results] == [
        (0, 100, 0),
        (WINDOW_MS, 100, 0),
        (2 * WINDOW_MS, 100, 0),
    ]
    ids = [r["window_id"] for r in results]
    assert [
        (d["reason"], d["model_id"], d["window_id"], d["source"]["offset"]) for d in letters
    ] == [
        ("late", MODEL, ids[0], cut),
        ("late", MODEL, ids[0], cut + 1),
        ("late", MODEL, ids[1], cut + 2),
    ]
    assert [orjson.loads(base64.b64decode(d["original_base64"])) for d in letters] == late
    assert metric(body, "driftline_events_late_total", model=MODEL) == 3
