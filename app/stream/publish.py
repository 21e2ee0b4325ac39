"""Producing to Driftline's topics from the CLI (baselines) and from tools (events)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from aiokafka.errors import MessageSizeTooLargeError

from app.baseline.topic_key import encode_key
from app.config import Settings
from app.errors import DriftlineError
from app.stream import kafka
from app.stream.admin import MAX_BASELINE_REQUEST_BYTES, topic_config


async def publish_baseline(
    settings: Settings, document: dict[str, Any], effective_from_ms: int
) -> tuple[int, int]:
    """Put a baseline on the compacted baselines topic under its version's own key
    (``app.baseline.topic_key``), so no later publication erases it.

    Returns the (partition, offset) it was written at. A baseline too large for the
    producer or the topic is a ``DriftlineError`` saying both limits and the ways out.
    """
    value = orjson.dumps({**document, "effective_from_ms": effective_from_ms})
    big = kafka.producer(settings, max_request_size=MAX_BASELINE_REQUEST_BYTES)
    try:
        async with kafka.started(big, settings) as producer:
            meta = await producer.send_and_wait(
                settings.topic_baselines,
                value=value,
                key=encode_key(
                    str(document["model_id"]), str(document["baseline_id"]), effective_from_ms
                ),
            )
            return meta.partition, meta.offset
    except MessageSizeTooLargeError:
        pass  # reported below, after the producer is stopped
    except kafka.KafkaNotAuthorized as err:
        # The baselines topic decides what every worker compares with: only the
        # publishing identity may write it (README "Permissions").
        raise kafka.KafkaNotAuthorized(
            settings,
            err,
            f"writing to the baselines topic {settings.topic_baselines}, which only the "
            'publishing identity may write (README "Permissions"); nothing was published',
        ) from None
    topic_limit = await topic_config(settings, settings.topic_baselines, "max.message.bytes")
    raise DriftlineError(
        too_large_message(
            settings,
            str(document["baseline_id"]),
            len(value),
            int(topic_limit) if topic_limit else None,
        )
    )


def too_large_message(
    settings: Settings, baseline_id: str, size: int, topic_limit: int | None
) -> str:
    """One line: the size, both limits, and what to do about it."""
    topic = settings.topic_baselines
    limits = f"the producer's max_request_size is {MAX_BASELINE_REQUEST_BYTES:,} bytes"
    limits += (
        f", topic {topic}'s max.message.bytes is {topic_limit:,} bytes"
        if topic_limit is not None
        else f", topic {topic}'s max.message.bytes is unknown"
    )
    smaller = (
        "build a smaller baseline (fewer features: --exclude or --feature-spec; fewer "
        "categories: --top-k; fewer bins: --bins)"
    )
    if size >= MAX_BASELINE_REQUEST_BYTES:
        way_out = smaller
    else:
        # Room for the record batch's own headers on top of the value.
        needed = size + 64 * 1024
        way_out = (
            f"{smaller}, or raise the topic's limit: kafka-configs.sh --bootstrap-server "
            f"{settings.kafka_bootstrap} --alter --entity-type topics --entity-name {topic} "
            f"--add-config max.message.bytes={needed}"
        )
    return (
        f"baseline {baseline_id} is {size / 1e6:.1f} MB ({size:,} bytes), too large to "
        f"publish: {limits}; {way_out}"
    )


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
