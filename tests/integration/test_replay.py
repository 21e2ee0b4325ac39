"""Replay against the real broker: the same answers as live, independent of --workers,
partial windows flagged, what-if runs confined to the replay topics."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from app.contracts.schemas import validate
from tests.integration.conftest import DriftlineCLI
from tests.integration.stream_scenario import (
    DRIFT_WINDOW,
    MODEL,
    PER_WINDOW,
    PREDICTION,
    WINDOWS,
    comparable,
    scenario_events,
    window_start,
)
from tests.integration.streamkit import docs, produce, read_topic, wait_http
from tests.integration.test_stream_e2e import prepare


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[str, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        out = {}
        for topic in topics:
            tps = [TopicPartition(topic, p) for p in range(4)]
            ends = await consumer.end_offsets(tps)
            out[topic] = sum(ends.values())
        return out
    finally:
        await consumer.stop()


async def replay_results(
    driftline: DriftlineCLI, env: dict[str, str], bootstrap: str, args: list[str], suffix: str
) -> tuple[dict[str, bytes], list[dict[str, Any]], str]:
    done = driftline.run(["replay", *args, "--output-suffix", suffix, "--no-progress"], env)
    assert done.returncode == 0, done.stderr
    results = docs(await read_topic(bootstrap, env["DRIFTLINE_TOPIC_WINDOWS"] + suffix))
    alerts = docs(await read_topic(bootstrap, env["DRIFTLINE_TOPIC_ALERTS"] + suffix))
    for doc in results:
        validate("window-result", doc)
    for alert in alerts:  # drift events and the incident lifecycle, on one topic
        validate("drift-event" if alert["kind"] == "drift_event" else "incident-event", alert)
    return comparable(results), alerts, done.stderr


async def test_replay_equals_live_and_does_not_depend_on_workers_and_flags_partial_windows(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    env = stream_env
    baseline = prepare(driftline, env, tmp_path)
    values = scenario_events()
    stamps = [int(orjson.loads(v)["event_id"].rsplit("-", 1)[1]) for v in values]
    spacing_ms = 60_000 // PER_WINDOW
    await produce(
        kafka_bootstrap,
        env["DRIFTLINE_TOPIC_PREDICTIONS"],
        values,
        partitions=[i % 4 for i in range(len(values))],
        # Model services produce when they predict: record time = event time.
        timestamps_ms=[window_start(0) + i * spacing_ms for i in stamps],
    )
    worker = driftline.start(["worker"], tmp_path / "worker", env)
    wait_http(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/ready", timeout_s=90)
    live_records = await read_topic(
        kafka_bootstrap, env["DRIFTLINE_TOPIC_WINDOWS"], until=lambda r: len(r) >= WINDOWS
    )
    live_alerts = docs(
        await read_topic(
            kafka_bootstrap,
            env["DRIFTLINE_TOPIC_ALERTS"],
            until=lambda r: len(r) >= 2,  # the drift event and the incident it opened
        )
    )
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    live = comparable(docs(live_records))
    assert len(live) == WINDOWS

    live_topics = [env[f"DRIFTLINE_TOPIC_{t}"] for t in ("WINDOWS", "ALERTS", "DEADLETTER")]
    before = await end_offsets(kafka_bootstrap, live_topics)

    one, alerts_one, stderr = await replay_results(
        driftline, env, kafka_bootstrap, ["--from", "earliest"], ".replay"
    )
    assert one == live, stderr  # byte-identical apart from emitted_at
    strip = [{k: v for k, v in a.items() if k != "emitted_at"} for a in alerts_one]
    # The drift event and the incident it opened, as live sent them (same incident id,
    # event and sequence; only emitted_at differs).
    assert [a["kind"] for a in alerts_one] == ["drift_event", "incident"]
    for alert in live_alerts:
        validate("drift-event" if alert["kind"] == "drift_event" else "incident-event", alert)
    assert sorted(strip, key=lambda a: a["kind"]) == sorted(
        ({k: v for k, v in a.items() if k != "emitted_at"} for a in live_alerts),
        key=lambda a: a["kind"],
    )
    assert f"{WINDOWS * PER_WINDOW:,} events" in stderr and f"{WINDOWS} windows" in stderr

    two, _, _ = await replay_results(
        driftline, env, kafka_bootstrap, ["--from", "earliest", "--workers", "2"], ".replay2"
    )
    assert two == one

    # From the middle of window 1: window 1 is flagged partial and raises no alert;
    # windows 2 and 3 are exactly the live ones; window 0 is not replayed.
    middle = window_start(1) + 30_000
    part, part_alerts, mid_err = await replay_results(
        driftline, env, kafka_bootstrap, ["--from", str(middle)], ".mid"
    )
    by_start = {orjson.loads(b)["window"]["start_ms"]: orjson.loads(b) for b in part.values()}
    assert sorted(by_start) == [window_start(i) for i in (1, 2, 3)], mid_err
    assert by_start[window_start(1)]["partial"] is True
    assert by_start[window_start(1)]["n_events"] == PER_WINDOW // 2
    for i in (2, 3):
        doc = by_start[window_start(i)]
        assert doc["partial"] is False
        assert live[doc["window_id"]] == part[doc["window_id"]]
    assert [(a["kind"], a["window"]["start_ms"]) for a in part_alerts] == [
        ("drift_event", window_start(DRIFT_WINDOW)),
        ("incident", window_start(DRIFT_WINDOW)),
    ]

    # What-if: another baseline (coarser bins) on its own topics; live topics untouched.
    coarse = tmp_path / "coarse.json"
    built = driftline.run(
        ["baseline", "build", "--input", str(tmp_path / "train.csv"), "--model-id", MODEL,
         "--prediction-column", PREDICTION, "--bins", "5", "--out", str(coarse), "--no-progress"],
        env,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    whatif, _, _ = await replay_results(
        driftline, env, kafka_bootstrap,
        ["--from", "earliest", "--baseline", str(coarse)], ".whatif",
    )  # fmt: skip
    coarse_id = orjson.loads(coarse.read_bytes())["baseline_id"]
    assert coarse_id != orjson.loads(baseline.read_bytes())["baseline_id"]
    assert {orjson.loads(b)["baseline_id"] for b in whatif.values()} == {coarse_id}
    assert sorted(orjson.loads(b)["n_events"] for b in whatif.values()) == [PER_WINDOW] * WINDOWS
    assert await end_offsets(kafka_bootstrap, live_topics) == before


async def test_replay_window_seconds_sets_the_windows_and_its_documents_validate(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    env = stream_env  # one-minute windows (DRIFTLINE_WINDOW_SECONDS=60)
    prepare(driftline, env, tmp_path, train_rows=5000)
    per_window = 1000
    values = [*scenario_events(windows=3, per_window=per_window), b"{not json"]
    await produce(kafka_bootstrap, env["DRIFTLINE_TOPIC_PREDICTIONS"], values,
                  partitions=[i % 4 for i in range(len(values))])  # fmt: skip

    suffix = ".w120"
    results, alerts, stderr = await replay_results(
        driftline, env, kafka_bootstrap,
        ["--from", "earliest", "--window-seconds", "120"], suffix,
    )  # fmt: skip
    windows = sorted(
        (doc["window"]["start_ms"], doc["window"]["end_ms"], doc["n_events"])
        for doc in map(orjson.loads, results.values())
    )
    # Two-minute windows: minutes 0-1 in the first, minute 2 (the drifted one) in the second.
    assert windows == [
        (window_start(0), window_start(2), 2 * per_window),
        (window_start(2), window_start(4), per_window),
    ]
    drift_events = [a for a in alerts if a["kind"] == "drift_event"]
    assert [a["window"]["start_ms"] for a in drift_events] == [window_start(2)]
    assert "1 dead letters (invalid_json 1)" in stderr, stderr
    [letter] = docs(await read_topic(kafka_bootstrap, env["DRIFTLINE_TOPIC_DEADLETTER"] + suffix))
    validate("dead-letter", letter)
    assert letter["reason"] == "invalid_json"


async def test_a_replay_range_without_records_creates_no_topics(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    tmp_path: Path,
) -> None:
    env = stream_env
    prepare(driftline, env, tmp_path, train_rows=2000)
    values = scenario_events(windows=1, per_window=40)
    await produce(kafka_bootstrap, env["DRIFTLINE_TOPIC_PREDICTIONS"], values,
                  timestamps_ms=[window_start(0)] * len(values))  # fmt: skip

    later = "2030-01-01T00:00:00Z"  # after every record's timestamp
    done = driftline.run(
        ["replay", "--from", later, "--output-suffix", ".empty", "--no-progress"], env
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        f"replay {env['DRIFTLINE_TOPIC_PREDICTIONS']} from {later} to end: no records in this "
        "range; nothing written, no topics created\n"
    )
    outputs = {env[f"DRIFTLINE_TOPIC_{t}"] + ".empty" for t in ("WINDOWS", "ALERTS", "DEADLETTER")}
    assert outputs & set(await kafka_admin.list_topics()) == set()
