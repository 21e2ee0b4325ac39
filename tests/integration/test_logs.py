"""A worker's log lines as an operator's log collector reads them: with
DRIFTLINE_LOG_FORMAT=json every line is one JSON object and each closed window and alert
has its line; with the default text format no line is a fragment of a box-drawn table."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import orjson

from tests.integration.conftest import DriftlineCLI
from tests.integration.stream_scenario import (
    DRIFT_WINDOW,
    MODEL,
    PER_WINDOW,
    WINDOWS,
    scenario_events,
)
from tests.integration.streamkit import docs, produce, read_topic, wait_http
from tests.integration.test_stream_e2e import prepare

TABLE_CHARS = set("┌┐└┘├┤┬┴┼│─╒╕╘╛╞╡╤╧╪═║")
# Faust's tables when stderr is not a terminal: +-----+-----+ borders, | cell | rows.
ASCII_TABLE = re.compile(r"^\s*(\+[-+]{2,}\+|\|.*\|)\s*$")


async def _run_worker(
    driftline: DriftlineCLI, env: dict[str, str], bootstrap: str, tmp_path: Path
) -> tuple[list[dict[str, Any]], list[str]]:
    """The scenario through one worker until every window closed; (results, log lines of
    stdout and stderr)."""
    prepare(driftline, env, tmp_path)
    values = scenario_events()
    await produce(
        bootstrap,
        env["DRIFTLINE_TOPIC_PREDICTIONS"],
        values,
        partitions=[i % 4 for i in range(len(values))],
    )
    logs = tmp_path / "worker"
    worker = driftline.start(["worker"], logs, env)
    wait_http(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/ready", timeout_s=90)
    results = docs(
        await read_topic(
            bootstrap,
            env["DRIFTLINE_TOPIC_WINDOWS"],
            until=lambda recs: len(recs) >= WINDOWS,
            timeout_s=150,
        )
    )
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    lines = [
        line
        for name in ("stdout.log", "stderr.log")
        for line in (logs / name).read_text().splitlines()
    ]
    return results, lines


async def test_json_logs_are_one_object_per_line_with_a_line_per_window_and_alert(
    driftline: DriftlineCLI, stream_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = {**stream_env, "DRIFTLINE_LOG_FORMAT": "json"}
    results, lines = await _run_worker(driftline, env, kafka_bootstrap, tmp_path)
    assert len(results) == WINDOWS

    records = []
    for line in lines:
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    assert records, "the worker logged nothing"
    for rec in records:
        assert isinstance(rec, dict) and {"ts", "level", "logger", "message"} <= set(rec), rec

    closed = [r for r in records if r["message"] == "window closed"]
    by_id = {r["window_id"]: r for r in results}
    assert len(closed) == WINDOWS
    for rec in closed:
        result = by_id[rec["window_id"]]
        assert rec == {
            "ts": rec["ts"],
            "level": "info",
            "logger": "app.stream.merge_stage",
            "message": "window closed",
            "model": MODEL,
            "window_id": result["window_id"],
            "n_events": PER_WINDOW,
            "status": result["status"],
        }
    drift = sorted(results, key=lambda r: r["window"]["start_ms"])[DRIFT_WINDOW]
    [alert] = [r for r in records if r["message"] == "drift alert"]
    assert (alert["model"], alert["window_id"]) == (MODEL, drift["window_id"])
    assert alert["drifted_features"] == [f["name"] for f in drift["features"] if f["drifted"]]


async def test_default_text_logs_have_no_table_fragments(
    driftline: DriftlineCLI, stream_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    results, lines = await _run_worker(driftline, stream_env, kafka_bootstrap, tmp_path)
    assert len(results) == WINDOWS
    assert [line for line in lines if TABLE_CHARS.intersection(line) or "\x1b(0" in line] == []
    assert [line for line in lines if ASCII_TABLE.match(line)] == []
    closed = [line for line in lines if "app.stream.merge_stage: window closed model=" in line]
    assert len(closed) == WINDOWS
