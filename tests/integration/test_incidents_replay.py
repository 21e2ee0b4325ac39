"""Drift incidents on the real broker: ``driftline replay`` over a drift lasting two
windows sends one incident, opened ... resolved, on its alerts topic next to the drift
events, the same as ``analyze`` gives for the same records and a live worker sends."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import orjson

from app.contracts.schemas import validate
from app.demo.traffic import Drift, events
from tests.integration.conftest import DriftlineCLI
from tests.integration.stream_scenario import MODEL, WINDOW_S, comparable, window_start
from tests.integration.streamkit import docs, produce, read_topic, wait_http
from tests.integration.test_stream_e2e import prepare

WINDOWS = 6
PER_WINDOW = 1500
DRIFTED = (1, 2)  # windows with planted drift
RESOLVE_AFTER = 2  # so windows 3 and 4 resolve it; window 5 changes nothing


async def test_replay_of_a_drift_lasting_two_windows_is_one_incident_opened_then_resolved(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    env = {**stream_env, "DRIFTLINE_RESOLVE_AFTER_WINDOWS": str(RESOLVE_AFTER)}
    baseline = prepare(driftline, env, tmp_path)
    drift = Drift(start_ms=window_start(DRIFTED[0]), end_ms=window_start(DRIFTED[-1] + 1))
    spacing = WINDOW_S * 1000 / PER_WINDOW
    values = [
        orjson.dumps(e)
        for e in events(MODEL, window_start(0), WINDOWS * PER_WINDOW, spacing, seed=5, drift=drift)
    ]
    await produce(
        kafka_bootstrap,
        env["DRIFTLINE_TOPIC_PREDICTIONS"],
        values,
        partitions=[i % 4 for i in range(len(values))],
    )
    suffix = ".incidents"
    done = driftline.run(
        ["replay", "--from", "earliest", "--output-suffix", suffix, "--no-progress"], env
    )
    assert done.returncode == 0, done.stderr
    results = docs(await read_topic(kafka_bootstrap, env["DRIFTLINE_TOPIC_WINDOWS"] + suffix))
    on_alerts = docs(await read_topic(kafka_bootstrap, env["DRIFTLINE_TOPIC_ALERTS"] + suffix))

    results.sort(key=lambda r: r["window"]["start_ms"])
    statuses = [r["status"] for r in results]
    assert statuses == ["drift" if i in DRIFTED else "ok" for i in range(WINDOWS)], statuses
    drift_events = [d for d in on_alerts if d["kind"] == "drift_event"]
    assert [d["window_id"] for d in drift_events] == [results[i]["window_id"] for i in DRIFTED]

    incidents = [d for d in on_alerts if d["kind"] == "incident"]
    for d in incidents:
        validate("incident-event", d)
    kinds = [d["event"] for d in incidents]
    assert kinds in (["opened", "resolved"], ["opened", "updated", "resolved"]), kinds
    assert f"{len(incidents)} incident events" in done.stderr, done.stderr
    assert [d["sequence"] for d in incidents] == list(range(len(incidents)))
    assert {d["incident_id"] for d in incidents} == {incidents[0]["incident_id"]}
    assert incidents[0]["window_id"] == results[DRIFTED[0]]["window_id"]
    resolved = incidents[-1]
    assert resolved["window_id"] == results[DRIFTED[-1] + RESOLVE_AFTER]["window_id"]
    assert resolved["last_drift_window_id"] == results[DRIFTED[-1]]["window_id"]
    assert (resolved["drifted_windows"], resolved["ok_windows"]) == (2, RESOLVE_AFTER)
    # Each lifecycle event follows its window's drift event (one producer, one key).
    order = [(d["kind"], d["window_id"]) for d in on_alerts]
    opened = ("incident", incidents[0]["window_id"])
    assert order.index(("drift_event", incidents[0]["window_id"])) < order.index(opened)

    # The same records through analyze: the same lifecycle (all but emitted_at).
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(v + b"\n" for v in values))
    run = driftline.run(
        ["analyze", "--input", str(path), "--baseline", str(baseline),
         "--resolve-after-windows", str(RESOLVE_AFTER), "--no-progress"],
        stream_env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    analyzed = [orjson.loads(line) for line in run.stdout.splitlines()]
    ours = [d for d in analyzed if d["kind"] == "incident"]
    assert comparable(ours) == comparable(incidents)

    # A live worker over the same records: the same lifecycle (ids, events, sequences), the
    # windows closed on four stage-2 partitions and put back in order by stage 3.
    worker = driftline.start(["worker"], tmp_path / "worker", env)
    wait_http(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/ready", timeout_s=90)
    expected = len(drift_events) + len(incidents)
    live = docs(
        await read_topic(
            kafka_bootstrap,
            env["DRIFTLINE_TOPIC_ALERTS"],
            until=lambda r: len(r) >= expected,
            timeout_s=150,
        )
    )
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    live_incidents = [d for d in live if d["kind"] == "incident"]
    for d in live_incidents:
        validate("incident-event", d)
    assert lifecycle(live_incidents) == lifecycle(incidents)
    assert comparable(live_incidents) == comparable(incidents)


def lifecycle(events: list[dict[str, Any]]) -> list[tuple[str, int, str, str]]:
    return [(d["incident_id"], d["sequence"], d["event"], d["window_id"]) for d in events]
