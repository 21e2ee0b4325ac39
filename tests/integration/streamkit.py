"""Helpers for stream tests: produce, read a topic back, poll a worker's web endpoints."""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from prometheus_client.parser import text_string_to_metric_families


async def produce(
    bootstrap: str,
    topic: str,
    values: Sequence[bytes],
    partitions: Sequence[int] | None = None,
    keys: Sequence[bytes | None] | None = None,
    timestamps_ms: Sequence[int] | None = None,
) -> None:
    """Produce every value (to the given partitions, in order) and wait for all acks."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=10)
    await producer.start()
    try:
        futures = []
        for i, value in enumerate(values):
            futures.append(
                await producer.send(
                    topic,
                    value=value,
                    key=keys[i] if keys else None,
                    partition=partitions[i] if partitions else None,
                    timestamp_ms=timestamps_ms[i] if timestamps_ms else None,
                )
            )
        for fut in futures:
            await fut
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool] | None = None,
    timeout_s: float = 60.0,
    idle_s: float = 2.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read a topic from the beginning until ``until(records)`` holds (then ``idle_s`` more,
    to catch unexpected extras) or, without ``until``, until the end offsets seen now."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # also after a metadata-driven reassignment
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout_s
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} does not exist")
            await asyncio.sleep(0.2)
        tps = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        satisfied_at: float | None = None
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            now = time.monotonic()
            if until is None:
                positions = [await consumer.position(tp) for tp in tps]
                if all(pos >= end[tp] for pos, tp in zip(positions, tps, strict=True)):
                    return records
            elif satisfied_at is None and until(records):
                satisfied_at = now
            if satisfied_at is not None and now - satisfied_at >= idle_s:
                return records
            if now > deadline:
                return records
    finally:
        await consumer.stop()


def docs(records: list[ConsumerRecord[bytes, bytes]]) -> list[dict[str, Any]]:
    """The records' values as JSON documents (Any: tests index into them freely)."""
    return [orjson.loads(r.value) for r in records if r.value is not None]


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def wait_http(url: str, timeout_s: float = 60.0, status: int = 200) -> str:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            code, body = http_get(url)
            if code == status:
                return body
            last = (code, body)
        except OSError as err:
            last = err
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer {status} within {timeout_s}s (last: {last!r})")


def metric(body: str, name: str, **labels: str) -> float:
    """Value of one Prometheus series in a /metrics body (0 when absent); the labels must
    match exactly, in any order."""
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


PROMTOOL = Path(__file__).resolve().parents[2] / ".tools" / "promtool"


def promtool_check(body: str) -> tuple[int, str]:
    """``promtool check metrics`` on an exposition: (exit code, its output); (0, "") is
    clean, with no lint warnings. The binary is fetched by `make setup`."""
    if not PROMTOOL.exists():
        raise AssertionError(f"{PROMTOOL} is missing: run `make setup`")
    done = subprocess.run(
        [str(PROMTOOL), "check", "metrics"],
        input=body.encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.returncode, (done.stdout + done.stderr).decode()


# Driftline's topics (by setting, in settings order) and the cleanup policy each must have:
# the baselines topic is compacted (one key per baseline version), and so is stage 1's
# snapshot topic (named after the app id, so not listed here).
TOPIC_POLICIES = {
    "DRIFTLINE_TOPIC_PREDICTIONS": "delete",
    "DRIFTLINE_TOPIC_BASELINES": "compact",
    "DRIFTLINE_TOPIC_WINDOWS": "delete",
    "DRIFTLINE_TOPIC_ALERTS": "delete",
    "DRIFTLINE_TOPIC_DEADLETTER": "delete",
    "DRIFTLINE_TOPIC_PARTIALS": "delete",
}
