"""The main job end to end against the real broker: events in, window results and alerts out."""

from __future__ import annotations

import signal
from pathlib import Path

from app.contracts import PREDICTION_FEATURE
from app.contracts.schemas import validate
from app.demo.traffic import write_training_csv
from app.pipeline.incidents import incident_id
from tests.integration.conftest import DriftlineCLI
from tests.integration.stream_scenario import (
    DRIFT_WINDOW,
    MODEL,
    PER_WINDOW,
    PLANTED,
    PREDICTION,
    WINDOWS,
    scenario_events,
    window_start,
)
from tests.integration.streamkit import (
    docs,
    http_get,
    metric,
    produce,
    promtool_check,
    read_topic,
    wait_http,
)


def prepare(
    driftline: DriftlineCLI, env: dict[str, str], tmp_path: Path, train_rows: int = 20_000
) -> Path:
    """Topics, a baseline built from training data, and its publication."""
    created = driftline.run(["topics", "create"], env)
    assert created.returncode == 0, created.stderr
    train = write_training_csv(tmp_path / "train.csv", train_rows)
    baseline = tmp_path / "baseline.json"
    built = driftline.run(
        [
            "baseline", "build", "--input", str(train), "--model-id", MODEL,
            "--prediction-column", PREDICTION, "--out", str(baseline), "--no-progress",
        ],
        env,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    published = driftline.run(["baseline", "publish", str(baseline)], env)
    assert published.returncode == 0, published.stderr
    return baseline


async def test_events_become_window_results_and_alerts_exactly_where_drift_was_planted(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    env = stream_env
    prepare(driftline, env, tmp_path)
    values = scenario_events()
    await produce(
        kafka_bootstrap,
        env["DRIFTLINE_TOPIC_PREDICTIONS"],
        values,
        partitions=[i % 4 for i in range(len(values))],
    )
    worker = driftline.start(["worker"], tmp_path / "worker", env)
    wait_http(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/ready", timeout_s=90)

    results = docs(
        await read_topic(
            kafka_bootstrap,
            env["DRIFTLINE_TOPIC_WINDOWS"],
            until=lambda recs: len(recs) >= WINDOWS,
            timeout_s=150,
        )
    )
    on_alerts = docs(
        await read_topic(
            kafka_bootstrap,
            env["DRIFTLINE_TOPIC_ALERTS"],
            until=lambda r: len(r) >= 2,  # the drift event and the incident it opened
            timeout_s=30,
        )
    )
    alerts = [d for d in on_alerts if d["kind"] == "drift_event"]
    incidents = [d for d in on_alerts if d["kind"] == "incident"]
    code, body = http_get(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/metrics")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0

    assert len(results) == WINDOWS, [r["window"] for r in results]
    results.sort(key=lambda r: r["window"]["start_ms"])
    assert [r["window"]["start_ms"] for r in results] == [window_start(i) for i in range(WINDOWS)]
    for i, result in enumerate(results):
        validate("window-result", result)
        assert result["model_id"] == MODEL
        assert result["n_events"] == PER_WINDOW
        assert result["late_events"] == 0
        assert result["partial"] is False
        covered = sum(o["last"] - o["first"] + 1 for o in result["source_offsets"])
        assert covered == PER_WINDOW
        assert result["status"] == ("drift" if i == DRIFT_WINDOW else "ok"), result["dataset"]
    assert len({r["window_id"] for r in results}) == WINDOWS

    assert len(alerts) == 1
    alert = alerts[0]
    validate("drift-event", alert)
    assert alert["window"]["start_ms"] == window_start(DRIFT_WINDOW)
    assert alert["window_id"] == results[DRIFT_WINDOW]["window_id"]
    drifted = {f["name"] for f in alert["drifted_features"]}
    assert drifted - {PREDICTION_FEATURE} == PLANTED
    # The drift opens an incident (stage 3); three ok windows would resolve it, one follows.
    assert [(d["event"], d["sequence"], d["window_id"]) for d in incidents] == [
        ("opened", 0, alert["window_id"])
    ]
    validate("incident-event", incidents[0])
    assert incidents[0]["incident_id"] == incident_id(MODEL, alert["window_id"])

    assert code == 200
    assert metric(body, "driftline_events_valid_total", model=MODEL) == WINDOWS * PER_WINDOW
    assert metric(body, "driftline_alerts_total", model=MODEL) == 1
    assert metric(body, "driftline_incident_events_total", model=MODEL, event="opened") == 1
    assert metric(body, "driftline_windows_closed_total", model=MODEL, status="drift") == 1
    # Everything read, and the gauge is there for each of the four partitions it owns.
    lags = sorted(s for s in body.splitlines() if s.startswith("driftline_input_lag_records{"))
    assert lags == [f'driftline_input_lag_records{{partition="{p}"}} 0.0' for p in range(4)]
    # A real worker's exposition, checked by Prometheus's own linter.
    assert promtool_check(body) == (0, "")
