"""Producing to Driftline's topics from the CLI (baselines) and from tools (events)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from app.config import Settings
from app.errors import DriftlineError


def _producer(settings: Settings, **kwargs: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        **kwargs,
    )


async def publish_baseline(
    settings: Settings, document: dict[str, Any], effective_from_ms: int
) -> tuple[int, int]:
    """Put a baseline on the compacted baselines topic, key = model_id.

    Returns the (partition, offset) it was written at.
    """
    value = orjson.dumps({**document, "effective_from_ms": effective_from_ms})
    producer = _producer(settings, max_request_size=16 * 1024 * 1024)
    try:
        await producer.start()
    except KafkaError as err:
        raise DriftlineError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {err}") from None
    try:
        meta = await producer.send_and_wait(
            settings.topic_baselines, value=value, key=str(document["model_id"]).encode()
        )
        return meta.partition, meta.offset
    finally:
        await producer.stop()


async def produce_events(
    settings: Settings,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes]],
    *,
    partition_of: Any = None,
) -> int:
    """Produce (key, value) pairs; returns how many were sent. Waits for every ack."""
    producer = _producer(settings, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    sent = 0
    try:
        batch = []
        for key, value in messages:
            partition = partition_of(sent) if partition_of is not None else None
            batch.append(await producer.send(topic, value=value, key=key, partition=partition))
            sent += 1
            if len(batch) >= 5000:
                for fut in batch:
                    await fut
                batch.clear()
        for fut in batch:
            await fut
    finally:
        await producer.stop()
    return sent
