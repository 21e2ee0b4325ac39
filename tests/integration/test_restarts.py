"""Restarts with static group membership, against the real broker: workers SIGKILLed and
restarted at once (same web port and state directory, so the same default instance id)
while traffic flows give exactly what ``driftline analyze`` gives for the same events; a
second worker started with a running worker's instance id stops one of them in one line,
and the other goes on counting exactly."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.factories import write_jsonl
from tests.integration.conftest import DriftlineCLI, _free_port
from tests.integration.stream_scenario import (
    DRIFT_WINDOW,
    closing_events,
    comparable,
    scenario_events,
)
from tests.integration.streamkit import docs, produce, read_topic, wait_http
from tests.integration.test_stream_e2e import prepare

DIFFERS = ("emitted_at", "source_offsets")
EMITTED = "2026-11-27T09:00:00Z"
# Historical events: a worker's pause while the other restarts must not let the wall clock
# close their windows, so idle ticks are off and closing_events close the last window.
NO_IDLE = {"DRIFTLINE_IDLE_SECONDS": "3600"}


class Worker:
    """A worker that keeps its web port and state directory across restarts."""

    def __init__(self, driftline: DriftlineCLI, env: dict[str, str], tmp_path: Path, name: str):
        self.driftline = driftline
        self.port = _free_port()
        self.env = {**env, "DRIFTLINE_WEB_PORT": str(self.port),
                    "DRIFTLINE_DATA_DIR": str(tmp_path / name)}  # fmt: skip
        self.logs = tmp_path / f"log-{name}"
        self.name = name
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.starts += 1
        self.proc = self.driftline.start(["worker"], self.logs / str(self.starts), self.env)

    def ready(self, timeout_s: float = 60) -> None:
        wait_http(f"http://127.0.0.1:{self.port}/ready", timeout_s=timeout_s)

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, f"{self.name} is not running"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=60) == 0

    def stderr(self) -> str:
        return (self.logs / str(self.starts) / "stderr.log").read_text(errors="replace")


def analyze(
    driftline: DriftlineCLI, env: dict[str, str], tmp_path: Path, values: list[bytes]
) -> list[dict[str, Any]]:
    events = write_jsonl(tmp_path / "events.jsonl", values)
    run = driftline.run(
        ["analyze", "--input", str(events), "--baseline", str(tmp_path / "baseline.json"),
         "--emitted-at", EMITTED, "--no-progress"],
        env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return [orjson.loads(line) for line in run.stdout.splitlines()]


def lifecycle(events: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """Incident events by (incident_id, sequence), which identifies one: copies of an event
    (at-least-once) are byte-identical, emitted_at included, or this raises."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for doc in events:
        if doc.get("kind") != "incident":
            continue
        key = (doc["incident_id"], doc["sequence"])
        if out.setdefault(key, doc) != doc:
            raise AssertionError(f"two different events {key}: {out[key]} and {doc}")
    return out


def without_time(events: dict[tuple[str, int], dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in d.items() if k != "emitted_at"} for _, d in sorted(events.items())]


async def incidents_of(
    bootstrap: str, env: dict[str, str], count: int
) -> dict[tuple[str, int], dict[str, Any]]:
    """Read the alerts topic until ``count`` distinct incident events are there."""
    records = await read_topic(
        bootstrap, env["DRIFTLINE_TOPIC_ALERTS"],
        until=lambda r: len(lifecycle(docs(r))) >= count, timeout_s=90,
    )  # fmt: skip
    return lifecycle(docs(records))


async def windows_of(bootstrap: str, env: dict[str, str], count: int) -> list[dict[str, Any]]:
    records = await read_topic(
        bootstrap, env["DRIFTLINE_TOPIC_WINDOWS"], until=lambda r: len(
            {orjson.loads(x.value)["window_id"] for x in r}
        ) >= count, timeout_s=90,
    )  # fmt: skip
    return docs(records)


@pytest.mark.timeout(240)
async def test_sigkills_and_restarts_of_either_worker_while_traffic_flows_change_nothing(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    env = {**stream_env, **NO_IDLE}
    prepare(driftline, env, tmp_path, train_rows=5000)
    windows, per_window = 6, 3000
    values = scenario_events(windows=windows, per_window=per_window)
    parts = [(i * 7919) % 4 for i in range(len(values))]
    topic = env["DRIFTLINE_TOPIC_PREDICTIONS"]
    workers = [Worker(driftline, env, tmp_path, "a"), Worker(driftline, env, tmp_path, "b")]
    for w in workers:
        w.start()
    for w in workers:
        w.ready(timeout_s=90)

    # Traffic: 36 chunks of 500 events, one every 1.2 s while workers die and come back
    # (four kills with their restarts take 30-40 s on a busy machine), then the rest at once.
    chunk = 500
    kills_done = asyncio.Event()

    async def traffic() -> None:
        for at in range(0, len(values), chunk):
            await produce(kafka_bootstrap, topic, values[at : at + chunk], parts[at : at + chunk])
            await asyncio.sleep(0.05 if kills_done.is_set() else 1.2)

    flowing = asyncio.create_task(traffic())
    kills = 0
    started = time.monotonic()
    for victim in (workers[0], workers[1], workers[0], workers[1]):
        await asyncio.sleep(2)
        if flowing.done():
            break
        victim.kill()
        victim.start()
        kills += 1
        await asyncio.to_thread(victim.ready)
    kills_done.set()
    await flowing
    assert kills >= 3, f"only {kills} kills landed while traffic flowed"
    await produce(kafka_bootstrap, topic, closing_events(values, windows), [0, 1, 2, 3])
    results = await windows_of(kafka_bootstrap, env, windows)
    flowed_s = time.monotonic() - started
    analyzed = analyze(driftline, env, tmp_path, values)
    expected = lifecycle(analyzed)
    assert [(d["event"], d["sequence"]) for d in expected.values()] == [
        ("opened", 0),
        ("resolved", 1),
    ]
    live_incidents = await incidents_of(kafka_bootstrap, env, len(expected))
    for w in workers:
        w.stop()

    # The incident lifecycle, SIGKILLs and all: the same events as analyze's, each
    # (incident_id, sequence) one event however often it was sent.
    assert without_time(live_incidents) == without_time(expected)
    ours = [d for d in analyzed if d["kind"] == "window_result"]
    # Repeated copies of one window_id (at-least-once) are identical, or comparable raises.
    stream = comparable(results, DIFFERS)
    assert len(stream) == windows
    assert stream == comparable(ours, DIFFERS)
    counts = sorted(orjson.loads(body)["n_events"] for body in stream.values())
    assert counts == [per_window] * windows
    statuses = [d["status"] for d in sorted(ours, key=lambda d: d["window"]["start_ms"])]
    assert statuses == ["drift" if i == DRIFT_WINDOW else "ok" for i in range(windows)]
    # Not a test of speed, but of restarts that do not wait for the session timeout (30 s)
    # each: four of those alone would take two minutes.
    assert flowed_s < 100, flowed_s


async def test_a_second_worker_with_a_running_workers_instance_id_stops_one_in_one_line(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    env = {**stream_env, **NO_IDLE, "DRIFTLINE_INSTANCE_ID": "the-same-id"}
    prepare(driftline, env, tmp_path, train_rows=5000)
    windows, per_window = 4, 2000
    values = scenario_events(windows=windows, per_window=per_window)
    parts = [i % 4 for i in range(len(values))]
    topic = env["DRIFTLINE_TOPIC_PREDICTIONS"]
    half = len(values) // 2
    first = Worker(driftline, env, tmp_path, "first")
    first.start()
    first.ready(timeout_s=90)
    await produce(kafka_bootstrap, topic, values[:half], parts[:half])

    second = Worker(driftline, env, tmp_path, "second")
    second.start()
    second.ready(timeout_s=90)
    # The broker gives the id to the newcomer; the worker that had it finds out at its
    # next heartbeat (0.25 s) and stops: exit code 2, one line, no traceback.
    assert first.proc is not None
    code = await asyncio.to_thread(first.proc.wait, 30)
    stderr = first.stderr()
    group = f"{env['DRIFTLINE_APP_ID']}-stage1"
    assert code == 2
    assert stderr.splitlines()[-1] == (
        f"driftline: error: another worker joined group {group} with this worker's instance "
        "id 'the-same-id', so this one stopped; give each worker its own DRIFTLINE_INSTANCE_ID "
        "(the default, <host name>-<web port>, is unique per host and port)"
    )
    assert "Traceback" not in stderr

    # The other goes on alone, and counts every event exactly once.
    await produce(kafka_bootstrap, topic, values[half:], parts[half:])
    await produce(kafka_bootstrap, topic, closing_events(values, windows), [0, 1, 2, 3])
    results = await windows_of(kafka_bootstrap, env, windows)
    assert second.proc is not None and second.proc.poll() is None  # no crash loop
    second.stop()
    assert "another worker joined" not in second.stderr()
    stream = comparable(results, DIFFERS)
    assert sorted(orjson.loads(b)["n_events"] for b in stream.values()) == [per_window] * windows
    analyzed = [
        d for d in analyze(driftline, env, tmp_path, values) if d["kind"] == "window_result"
    ]
    assert stream == comparable(analyzed, DIFFERS)


async def test_a_sigkill_after_an_incident_opened_neither_repeats_nor_loses_its_lifecycle(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    env = {**stream_env, **NO_IDLE, "DRIFTLINE_RESOLVE_AFTER_WINDOWS": "2"}
    prepare(driftline, env, tmp_path, train_rows=5000)
    windows, per_window = 6, 2000
    values = scenario_events(windows=windows, per_window=per_window)
    parts = [i % 4 for i in range(len(values))]
    topic = env["DRIFTLINE_TOPIC_PREDICTIONS"]
    # Through the drifted window and 12 s into the next: its end plus the lateness (5 s)
    # is passed on every partition, so it closes by event time and opens the incident.
    cut = (DRIFT_WINDOW + 1) * per_window + per_window // 5
    worker = Worker(driftline, env, tmp_path, "w")
    worker.start()
    worker.ready(timeout_s=90)
    await produce(kafka_bootstrap, topic, values[:cut], parts[:cut])
    opened = await incidents_of(kafka_bootstrap, env, 1)
    assert [(d["event"], d["sequence"]) for d in opened.values()] == [("opened", 0)]

    worker.kill()
    worker.start()
    worker.ready(timeout_s=90)
    await produce(kafka_bootstrap, topic, values[cut:], parts[cut:])
    await produce(kafka_bootstrap, topic, closing_events(values, windows), [0, 1, 2, 3])
    live = await incidents_of(kafka_bootstrap, env, 2)
    worker.stop()

    run = driftline.run(
        ["analyze", "--input", str(write_jsonl(tmp_path / "events.jsonl", values)),
         "--baseline", str(tmp_path / "baseline.json"), "--resolve-after-windows", "2",
         "--no-progress"],
        env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    expected = lifecycle([orjson.loads(line) for line in run.stdout.splitlines()])
    # Windows 3 and 4 are ok: resolved by window 4, one incident, sequences 0 and 1.
    assert [(d["event"], d["sequence"]) for d in expected.values()] == [
        ("opened", 0),
        ("resolved", 1),
    ]
    # The opened event the killed worker sent is the only one (a copy would be identical).
    assert live[next(iter(opened))] == next(iter(opened.values()))
    assert without_time(live) == without_time(expected)
