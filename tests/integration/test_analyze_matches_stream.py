"""``driftline analyze`` on a file gives the window results and drift events that the live
stream gives for the same events: every field equal except ``emitted_at`` (wall clock) and
``source_offsets`` (Kafka offsets; a file has none)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import orjson

from app.contracts.decode import parse_rfc3339_ms
from tests.factories import write_jsonl
from tests.integration.conftest import DriftlineCLI
from tests.integration.stream_scenario import (
    DRIFT_WINDOW,
    STREAM_ENV,
    WINDOW_S,
    WINDOWS,
    comparable,
    scenario_events,
    window_start,
)
from tests.integration.streamkit import docs, produce, read_topic, wait_http
from tests.integration.test_stream_e2e import prepare

EMITTED = "2026-11-27T09:00:00Z"
DIFFERS = ("emitted_at", "source_offsets")


async def stream_and_analyze(
    driftline: DriftlineCLI,
    env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
    values: list[bytes],
    partitions: list[int],
    windows: int,
    alerts: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(stream results, stream alerts, analyze documents) for the same events."""
    baseline = prepare(driftline, env, tmp_path)
    await produce(kafka_bootstrap, env["DRIFTLINE_TOPIC_PREDICTIONS"], values, partitions)
    worker = driftline.start(["worker"], tmp_path / "worker", env)
    wait_http(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/ready", timeout_s=90)
    results = docs(
        await read_topic(
            kafka_bootstrap,
            env["DRIFTLINE_TOPIC_WINDOWS"],
            until=lambda recs: len(recs) >= windows,
            timeout_s=150,
        )
    )
    found = docs(
        await read_topic(
            kafka_bootstrap,
            env["DRIFTLINE_TOPIC_ALERTS"],
            until=(lambda recs: len(recs) >= alerts) if alerts else None,
            timeout_s=30,
        )
    )
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0

    # The same events as a file, in the order they were produced.
    events = write_jsonl(tmp_path / "events.jsonl", values)
    # Window size and lateness come from the same DRIFTLINE_* settings as the worker's.
    run = driftline.run(
        ["analyze", "--input", str(events), "--baseline", str(baseline),
         "--emitted-at", EMITTED, "--no-progress"],
        env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    analyzed = [orjson.loads(line) for line in run.stdout.splitlines()]
    return results, found, analyzed


async def test_analyze_gives_the_streams_window_results_and_alerts(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    env = stream_env
    values = scenario_events()
    partitions = [i % 4 for i in range(len(values))]  # spread over the 4 input partitions
    results, alerts, analyzed = await stream_and_analyze(
        driftline, env, kafka_bootstrap, tmp_path, values, partitions, WINDOWS, 2
    )

    incidents = [d for d in alerts if d["kind"] == "incident"]
    alerts = [d for d in alerts if d["kind"] == "drift_event"]
    assert len(results) == WINDOWS and len(alerts) == 1
    assert all(r["source_offsets"] for r in results)  # the stream has offsets; a file not
    ours = [d for d in analyzed if d["kind"] == "window_result"]
    our_alerts = [d for d in analyzed if d["kind"] == "drift_event"]
    our_incidents = [d for d in analyzed if d["kind"] == "incident"]
    assert all(d["emitted_at"] == EMITTED for d in analyzed)
    assert all(d["source_offsets"] == [] for d in analyzed if d["kind"] != "incident")
    assert comparable(ours, DIFFERS) == comparable(results, DIFFERS)
    assert comparable(our_alerts, DIFFERS) == comparable(alerts, DIFFERS)
    assert [d["event"] for d in our_incidents] == ["opened"]
    # The live incident (stage 3) is analyze's: same id, event, sequence and content.
    assert comparable(our_incidents, DIFFERS) == comparable(incidents, DIFFERS)
    # Not vacuous: the drift and its place are there in both.
    statuses = [r["status"] for r in sorted(ours, key=lambda r: r["window"]["start_ms"])]
    assert statuses == ["drift" if i == DRIFT_WINDOW else "ok" for i in range(WINDOWS)]
    assert our_alerts[0]["window"]["start_ms"] == window_start(DRIFT_WINDOW)


async def test_late_events_are_reported_alike_by_analyze_and_the_stream(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    """Late events on one input partition (the file's single source): the stream and the
    file agree on which events are late, and the stream names each one's own window."""
    env = stream_env
    lateness_ms = int(STREAM_ENV["DRIFTLINE_ALLOWED_LATENESS_SECONDS"]) * 1000
    values = scenario_events()
    template = orjson.loads(values[0])

    def at(ms: int, i: int) -> bytes:
        return orjson.dumps({**template, "event_id": f"extra-{i}", "timestamp": ms})

    def ts(v: bytes) -> int:
        t = orjson.loads(v)["timestamp"]
        if isinstance(t, int):
            return t
        ms = parse_rfc3339_ms(t)
        assert ms is not None, t
        return ms

    cut1 = next(i for i, v in enumerate(values) if ts(v) >= window_start(1) + lateness_ms // 2)
    cut2 = next(i for i, v in enumerate(values) if ts(v) >= window_start(2) + 2 * lateness_ms)
    window_ms = WINDOW_S * 1000
    mixed = [
        *values[:cut1],
        at(window_start(1) - 1, 0),  # within the lateness: added to window 0
        *values[cut1:cut2],
        at(window_start(0) + 1, 1),  # late: window 0 is closed
        at(window_start(1) + window_ms // 2, 2),  # late: window 1 is closed
        *values[cut2:],
    ]
    results, alerts, analyzed = await stream_and_analyze(
        driftline, env, kafka_bootstrap, tmp_path, mixed, [0] * len(mixed), WINDOWS, 2
    )
    ours = [d for d in analyzed if d["kind"] == "window_result"]
    assert comparable(ours, DIFFERS) == comparable(results, DIFFERS)
    assert comparable([d for d in analyzed if d["kind"] == "drift_event"], DIFFERS) == comparable(
        [d for d in alerts if d["kind"] == "drift_event"], DIFFERS
    )
    assert comparable([d for d in analyzed if d["kind"] == "incident"], DIFFERS) == comparable(
        [d for d in alerts if d["kind"] == "incident"], DIFFERS
    )
    by_start = {r["window"]["start_ms"]: r for r in ours}
    # One source partition: a window closes when its events turn late, so no result counts
    # them; each is on the side output with its own window's id (analyze counts them).
    assert [by_start[window_start(i)]["late_events"] for i in range(WINDOWS)] == [0, 0, 0, 0]
    assert by_start[window_start(0)]["n_events"] == len(values) // WINDOWS + 1
    letters = docs(await read_topic(kafka_bootstrap, env["DRIFTLINE_TOPIC_DEADLETTER"]))
    letters.sort(key=lambda d: d["source"]["offset"])  # spread over the topic's partitions
    assert [(d["reason"], d["window_id"]) for d in letters] == [
        ("late", by_start[window_start(0)]["window_id"]),
        ("late", by_start[window_start(1)]["window_id"]),
    ]
