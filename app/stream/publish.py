"""Producing to Driftline's topics from the CLI (baselines) and from tools (events)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from app.config import Settings
from app.stream import kafka


async def publish_baseline(
    settings: Settings, document: dict[str, Any], effective_from_ms: int
) -> tuple[int, int]:
    """Put a baseline on the compacted baselines topic, key = model_id.

    Returns the (partition, offset) it was written at.
    """
    value = orjson.dumps({**document, "effective_from_ms": effective_from_ms})
    big = kafka.producer(settings, max_request_size=16 * 1024 * 1024)
    async with kafka.started(big, settings) as producer:
        meta = await producer.send_and_wait(
            settings.topic_baselines, value=value, key=str(document["model_id"]).encode()
        )
        return meta.partition, meta.offset


async def produce_events(
    settings: Settings,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes]],
    *,
    partition_of: Any = None,
) -> int:
    """Produce (key, value) pairs; returns how many were sent. Waits for every ack."""
    batching = kafka.producer(settings, linger_ms=20, max_batch_size=256 * 1024)
    sent = 0
    async with kafka.started(batching, settings) as producer:
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
    return sent
