"""The stream's guarantees under failure, against the real broker: bad input, SIGKILL,
scale-out and rebalance, idle partitions."""

from __future__ import annotations

import asyncio
import base64
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from app.contracts.schemas import validate
from tests.integration.conftest import DriftlineCLI, _free_port
from tests.integration.stream_scenario import (
    BASE_MS,
    MODEL,
    closing_events,
    comparable,
    scenario_events,
)
from tests.integration.streamkit import docs, http_get, metric, produce, read_topic, wait_http
from tests.integration.test_stream_e2e import prepare


def run_env(base: dict[str, str], run: str, tmp_path: Path) -> dict[str, str]:
    """A second app on the same input: its own group, state and output topics."""
    env = dict(base)
    env["DRIFTLINE_APP_ID"] = f"{base['DRIFTLINE_APP_ID']}-{run}"
    env["DRIFTLINE_DATA_DIR"] = str(tmp_path / f"state-{run}")
    for topic in ("WINDOWS", "ALERTS", "DEADLETTER", "PARTIALS"):
        env[f"DRIFTLINE_TOPIC_{topic}"] = f"{base[f'DRIFTLINE_TOPIC_{topic}']}-{run}"
    return env


def start_worker(
    driftline: DriftlineCLI, env: dict[str, str], tmp_path: Path, name: str
) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**env, "DRIFTLINE_WEB_PORT": str(port), "DRIFTLINE_DATA_DIR": str(tmp_path / name)}
    return driftline.start(["worker"], tmp_path / f"log-{name}", env), port


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0


async def results_of(bootstrap: str, env: dict[str, str], count: int) -> dict[str, bytes]:
    records = await read_topic(
        bootstrap, env["DRIFTLINE_TOPIC_WINDOWS"], until=lambda r: len(
            {orjson.loads(x.value)["window_id"] for x in r}
        ) >= count, timeout_s=170,
    )  # fmt: skip
    return comparable(docs(records))


async def test_bad_input_goes_to_the_dead_letter_topic_and_valid_events_count_exactly(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    env = stream_env
    prepare(driftline, env, tmp_path, train_rows=5000)
    valid = scenario_events(windows=2, per_window=600)
    bad: list[tuple[bytes, str]] = [
        (b"\x00\xff garbage", "invalid_json"),
        (b'{"model_id": "fraud-scorer", ', "invalid_json"),
        (b"[1, 2, 3]", "invalid_json"),
        (orjson.dumps({"timestamp": 1767225600000, "features": {}, "prediction": 1}),
         "schema_violation"),
        (orjson.dumps({"model_id": MODEL, "timestamp": "01/01/2026 00:00",
                       "features": {"amount": 1.0}, "prediction": 0.1}), "schema_violation"),
        (orjson.dumps({"model_id": MODEL, "timestamp": 1767225600000,
                       "features": [1, 2], "prediction": 0.1}), "schema_violation"),
        (orjson.dumps({"model_id": MODEL, "timestamp": 10, "features": {}, "prediction": 0.1}),
         "timestamp_out_of_bounds"),
        (orjson.dumps({"model_id": "no-such-model", "timestamp": 1767225600000,
                       "features": {"amount": 1.0}, "prediction": 0.1}), "unknown_model"),
        (orjson.dumps({"model_id": MODEL, "timestamp": 1767225600000,
                       "features": {f"f{i}": i for i in range(1001)}, "prediction": 0.1}),
         "too_many_features"),
    ]  # fmt: skip
    # Interleave: every 100th message is bad, all on partition 1.
    values: list[bytes] = []
    expected: dict[bytes, str] = {}
    for i, v in enumerate(valid):
        values.append(v)
        if i % 100 == 0 and bad:
            raw, reason = bad.pop()
            values.append(raw)
            expected[raw] = reason
    assert not bad
    await produce(kafka_bootstrap, env["DRIFTLINE_TOPIC_PREDICTIONS"], values,
                  partitions=[1] * len(values))  # fmt: skip
    worker = driftline.start(["worker"], tmp_path / "worker", env)
    letters = docs(
        await read_topic(kafka_bootstrap, env["DRIFTLINE_TOPIC_DEADLETTER"],
                         until=lambda r: len(r) >= len(expected), timeout_s=120)
    )  # fmt: skip
    results = docs(
        await read_topic(kafka_bootstrap, env["DRIFTLINE_TOPIC_WINDOWS"],
                         until=lambda r: len(r) >= 2, timeout_s=120)
    )  # fmt: skip
    _, body = http_get(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/metrics")
    stop(worker)

    assert len(letters) == len(expected)
    for letter in letters:
        validate("dead-letter", letter)
        original = base64.b64decode(str(letter["original_base64"]))
        assert letter["reason"] == expected[original], letter
        source = letter["source"]
        assert isinstance(source, dict)
        assert source["topic"] == env["DRIFTLINE_TOPIC_PREDICTIONS"] and source["partition"] == 1
        assert letter["error"]
    assert sorted(r["n_events"] for r in results) == [600, 600]
    assert metric(body, "driftline_events_valid_total", model=MODEL) == 1200
    assert metric(body, "driftline_events_invalid_total", reason="unknown_model") == 1


async def test_an_oversized_message_goes_to_the_dead_letter_topic_whole(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    tmp_path: Path,
) -> None:
    env = stream_env
    prepare(driftline, env, tmp_path, train_rows=5000)
    topic = env["DRIFTLINE_TOPIC_PREDICTIONS"]
    # With the broker's default limit (1 MB) such a message never reaches Driftline; an
    # operator may raise it for the input topic, and then the decoder's 1 MiB limit acts.
    await kafka_admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": str(4 << 20)})]
    )
    big = orjson.dumps({"model_id": MODEL, "timestamp": BASE_MS, "prediction": 0.1,
                        "features": {"amount": 1.0, "note": "x" * (1536 * 1024)}})  # fmt: skip
    valid = scenario_events(windows=1, per_window=500)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all",
                                max_request_size=8 << 20)  # fmt: skip
    await producer.start()
    try:
        for value in [*valid[:250], big, *valid[250:]]:
            await (await producer.send(topic, value, partition=1))
    finally:
        await producer.stop()

    worker = driftline.start(["worker"], tmp_path / "worker", env)
    [letter] = docs(
        await read_topic(kafka_bootstrap, env["DRIFTLINE_TOPIC_DEADLETTER"],
                         until=lambda r: len(r) >= 1, timeout_s=120)
    )  # fmt: skip
    [result] = docs(
        await read_topic(kafka_bootstrap, env["DRIFTLINE_TOPIC_WINDOWS"],
                         until=lambda r: len(r) >= 1, timeout_s=120)
    )  # fmt: skip
    stop(worker)

    validate("dead-letter", letter)
    assert letter["reason"] == "oversized"
    assert base64.b64decode(str(letter["original_base64"])) == big
    source = letter["source"]
    assert isinstance(source, dict)
    assert (source["topic"], source["partition"], source["offset"]) == (topic, 1, 250)
    assert result["n_events"] == 500


async def test_sigkill_mid_window_then_restart_gives_identical_results(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    env = stream_env
    prepare(driftline, env, tmp_path, train_rows=5000)
    windows, per_window = 6, 8000
    values = scenario_events(windows=windows, per_window=per_window)
    parts = [i % 4 for i in range(len(values))]
    # Idle ticks off and closing events instead (as the rebalance test below): the wall
    # time between the kill and the restart must not move any clock.
    values += closing_events(values, windows)
    parts += [0, 1, 2, 3]
    no_idle = {"DRIFTLINE_IDLE_SECONDS": "3600"}
    # Only the records up to inside window 3 are there before the kill, so it lands
    # mid-window however fast the worker folds (the native path folds all 48,000 events
    # in well under a second); the rest is produced while the worker is down.
    cut = 3 * per_window + per_window // 3
    topic = env["DRIFTLINE_TOPIC_PREDICTIONS"]
    await produce(kafka_bootstrap, topic, values[:cut], partitions=parts[:cut])

    crashed_env = {**run_env(env, "crash", tmp_path), **no_idle}
    worker, port = start_worker(driftline, crashed_env, tmp_path, "crash")
    wait_http(f"http://127.0.0.1:{port}/ready", timeout_s=90)
    deadline = time.monotonic() + 120
    done = 0.0
    while time.monotonic() < deadline:
        _, body = http_get(f"http://127.0.0.1:{port}/metrics")
        done = metric(body, "driftline_events_valid_total", model=MODEL)
        if done >= cut * 0.5:
            break
        await asyncio.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    assert 0 < done <= cut, f"kill did not land mid-stream ({done} events processed)"
    await produce(kafka_bootstrap, topic, values[cut:], partitions=parts[cut:])
    worker, port = start_worker(driftline, crashed_env, tmp_path, "crash")  # same state dir
    crashed = await results_of(kafka_bootstrap, crashed_env, windows)
    stop(worker)

    clean_env = {**run_env(env, "clean", tmp_path), **no_idle}
    worker, _ = start_worker(driftline, clean_env, tmp_path, "clean")
    clean = await results_of(kafka_bootstrap, clean_env, windows)
    stop(worker)

    assert len(clean) == windows
    assert crashed == clean
    counts = sorted(orjson.loads(b)["n_events"] for b in clean.values())
    assert counts == [per_window] * windows


async def test_two_workers_and_a_rebalance_give_the_same_results_as_one(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    env = stream_env
    prepare(driftline, env, tmp_path, train_rows=5000)
    windows, per_window = 6, 6000
    values = scenario_events(windows=windows, per_window=per_window)
    parts = [(i * 7919) % 4 for i in range(len(values))]
    # The workers run with idle ticks off (the events are historical: the pause while the
    # third worker joins must not let the wall clock close their windows; the idle test
    # covers ticks), so these close the last window by event time.
    values += closing_events(values, windows)
    parts += [0, 1, 2, 3]
    no_idle = {"DRIFTLINE_IDLE_SECONDS": "3600"}
    # The third worker joins after the first part is folded in, which ends inside a window:
    # every partition then has an open window whose state must move with it.
    cut = 3 * per_window + per_window // 3
    topic = env["DRIFTLINE_TOPIC_PREDICTIONS"]
    await produce(kafka_bootstrap, topic, values[:cut], partitions=parts[:cut])

    two_env = {**run_env(env, "two", tmp_path), **no_idle}
    w1, p1 = start_worker(driftline, two_env, tmp_path, "two-a")
    w2, p2 = start_worker(driftline, two_env, tmp_path, "two-b")
    wait_http(f"http://127.0.0.1:{p1}/ready", timeout_s=90)
    deadline = time.monotonic() + 120
    folded = 0.0
    while time.monotonic() < deadline and folded < cut:
        folded = sum(
            metric(http_get(f"http://127.0.0.1:{p}/metrics")[1], "driftline_events_valid_total",
                   model=MODEL)
            for p in (p1, p2)
        )  # fmt: skip
        await asyncio.sleep(0.1)
    assert folded == cut
    w3, p3 = start_worker(driftline, two_env, tmp_path, "two-c")
    wait_http(f"http://127.0.0.1:{p3}/ready", timeout_s=90)  # joined: the rebalance is done
    await produce(kafka_bootstrap, topic, values[cut:], partitions=parts[cut:])
    two = await results_of(kafka_bootstrap, two_env, windows)
    _, third = http_get(f"http://127.0.0.1:{p3}/metrics")
    for w in (w1, w2, w3):
        stop(w)

    one_env = {**run_env(env, "one", tmp_path), **no_idle}
    worker, _ = start_worker(driftline, one_env, tmp_path, "one")
    one = await results_of(kafka_bootstrap, one_env, windows)
    stop(worker)

    assert len(one) == windows
    assert two == one
    assert sorted(orjson.loads(b)["n_events"] for b in one.values()) == [per_window] * windows
    # The third worker took partitions over mid-window and folded events of its own.
    assert metric(third, "driftline_events_valid_total", model=MODEL) > 0


@pytest.mark.timeout(120)
async def test_a_model_that_stops_sending_gets_its_last_window_closed(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    window_s, lateness_s, idle_s = 10, 2, 3
    env = {
        **stream_env,
        "DRIFTLINE_WINDOW_SECONDS": str(window_s),
        "DRIFTLINE_ALLOWED_LATENESS_SECONDS": str(lateness_s),
        "DRIFTLINE_IDLE_SECONDS": str(idle_s),
    }
    prepare(driftline, env, tmp_path, train_rows=5000)
    worker = driftline.start(["worker"], tmp_path / "worker", env)
    wait_http(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/ready", timeout_s=90)
    now_ms = int(time.time() * 1000)
    start = now_ms - now_ms % (window_s * 1000)
    if now_ms - start > window_s * 1000 // 2:  # leave room to send within the window
        start += window_s * 1000
        await asyncio.sleep((start - now_ms) / 1000)
    sent = [
        orjson.dumps({"model_id": MODEL, "timestamp": start + i * 10,
                      "features": {"amount": 20.0 + i}, "prediction": 0.1})
        for i in range(50)
    ]  # fmt: skip
    await produce(kafka_bootstrap, env["DRIFTLINE_TOPIC_PREDICTIONS"], sent,
                  partitions=[i % 4 for i in range(len(sent))])  # fmt: skip
    records = await read_topic(kafka_bootstrap, env["DRIFTLINE_TOPIC_WINDOWS"],
                               until=lambda r: len(r) >= 1, timeout_s=60, idle_s=0)  # fmt: skip
    closed_at_ms = int(time.time() * 1000)
    stop(worker)
    [result] = docs(records)
    assert result["window"]["start_ms"] == start
    assert result["n_events"] == 50
    bound_ms = start + (window_s + lateness_s + idle_s) * 1000
    # +1 s timer period, +2 s for produce/consume round trips on this 2-core machine.
    assert closed_at_ms <= bound_ms + 3000, closed_at_ms - bound_ms
