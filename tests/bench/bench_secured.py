"""Throughput with SASL_SSL (SCRAM-SHA-512 over TLS) against PLAINTEXT, same events.

Starts its own broker (tests/securekit.py; authorizer off, so only TLS and SASL differ)
with a SASL_SSL and a PLAINTEXT listener, puts one backlog of events on one topic, then
measures over each listener: a bare consumer built by Driftline's client factory (the
ceiling) and one Driftline worker on the whole backlog (its own app id each time).
Environment: DRIFTLINE_BENCH_SECURED_EVENTS (default 200000).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import TopicPartition

from app.stream import kafka
from app.stream.admin import create_topics
from app.stream.publish import produce_events
from tests.bench.bench_stream import (
    BASE_MS,
    MODEL,
    N_CAT,
    N_NUM,
    PARTITIONS,
    _cli,
    _env,
    _events,
    _run_workers,
    _settings,
    _training_csv,
)
from tests.securekit import SecureBroker


async def _consumer_rate(env: dict[str, str], total: int) -> float:
    settings = _settings(env)
    consumer = kafka.consumer(settings, max_partition_fetch_bytes=8 * 1024 * 1024)
    async with kafka.started(consumer, settings):
        tps = [TopicPartition(settings.topic_predictions, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen, t0 = 0, time.perf_counter()
        while seen < total:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            seen += sum(len(v) for v in batch.values())
        return total / (time.perf_counter() - t0)


def run() -> None:
    total = int(os.environ.get("DRIFTLINE_BENCH_SECURED_EVENTS", "200000"))
    prefix = f"bench-sec-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = SecureBroker(work / "broker", authorizer=False)
        broker.start()
        try:
            plain = _env(
                prefix, f"{prefix}-plain", DRIFTLINE_KAFKA_BOOTSTRAP=broker.plain_bootstrap
            )
            secured = _env(prefix, f"{prefix}-sasl", **broker.sasl_env("worker"))
            settings = _settings(plain)
            asyncio.run(create_topics(settings))
            _training_csv(work / "train.csv", 20_000)
            baseline = work / "baseline.json"
            _cli(["baseline", "build", "--input", str(work / "train.csv"), "--model-id", MODEL,
                  "--prediction-column", "score", "--out", str(baseline), "--no-progress"],
                 plain)  # fmt: skip
            _cli(["baseline", "publish", str(baseline)], plain)
            values = _events(total, BASE_MS, 20 * 60_000 / total)
            size = sum(len(v) for v in values) / len(values)
            asyncio.run(produce_events(settings, settings.topic_predictions,
                                       ((None, v) for v in values),
                                       partition_of=lambda i: i % PARTITIONS))  # fmt: skip
            del values
            print(f"conditions: {total:,} events, {N_NUM} numeric + {N_CAT} categorical "
                  f"features, {size:.0f} B/event, {PARTITIONS} partitions, one local Kafka "
                  f"3.9.2 broker (authorizer off) with a PLAINTEXT and a SASL_SSL listener "
                  f"(SCRAM-SHA-512, TLS with an EC P-256 certificate), {os.cpu_count()} cores "
                  "shared by the broker, the clients and anything else running")  # fmt: skip
            rates: dict[str, tuple[float, float]] = {}
            for name, env in (("PLAINTEXT", plain), ("SASL_SSL", secured)):
                bare = asyncio.run(_consumer_rate(env, total))
                worker, rss = _run_workers(1, env, work, total)
                rates[name] = (bare, worker)
                print(f"{name}: consumer {bare:,.0f} events/s; 1 Driftline worker "
                      f"{worker:,.0f} events/s, peak RSS {rss:.0f} MiB")  # fmt: skip
            (pb, pw), (sb, sw) = rates["PLAINTEXT"], rates["SASL_SSL"]
            print(f"SASL_SSL cost: consumer {1 - sb / pb:+.0%}, worker {1 - sw / pw:+.0%} "
                  "(positive = slower than PLAINTEXT)")  # fmt: skip
        finally:
            broker.stop()
