"""The live page's feed: the windows and alerts topics, read into ``LiveState`` from a
lookback on. No consumer group and no commits (partitions assigned by hand, as ``tail``
does), so the page never moves anyone's offsets."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from app.config import Settings
from app.stream import kafka
from app.stream.tail import TopicMissing, topic_partitions
from app.ui.state import LiveState


@dataclass
class FeedStatus:
    records: int = 0
    caught_up: bool = False  # every partition read up to its end offset at the start
    alerts: bool = True  # False: no alerts topic, windows only


async def _partitions(
    settings: Settings, windows: str, alerts: str, status: FeedStatus
) -> list[TopicPartition]:
    tps = await topic_partitions(settings, windows)  # a missing windows topic: the error
    try:
        tps += await topic_partitions(settings, alerts)
    except TopicMissing:
        status.alerts = False
    return tps


async def open_feed(
    settings: Settings, windows: str, alerts: str, since_ms: int, status: FeedStatus
) -> tuple[AIOKafkaConsumer, dict[TopicPartition, int]]:
    """A started consumer positioned at ``since_ms`` (record time) on every partition,
    and the end offsets now (reaching them is "caught up"). Raises the one-line errors
    (no broker, no windows topic) before the page is served."""
    tps = await _partitions(settings, windows, alerts, status)
    consumer = kafka.consumer(settings)
    await kafka.start(consumer, settings)
    try:
        consumer.assign(tps)
        at = await consumer.offsets_for_times({tp: since_ms for tp in tps})
        end = await consumer.end_offsets(tps)
        for tp in tps:
            found = at.get(tp)
            consumer.seek(tp, found.offset if found is not None else end[tp])
    except BaseException:
        await consumer.stop()
        raise
    return consumer, end


async def run_feed(
    consumer: AIOKafkaConsumer,
    end: dict[TopicPartition, int],
    state: LiveState,
    status: FeedStatus,
) -> None:
    """Read forever (until cancelled) into ``state``; the consumer is stopped at the end."""
    behind = {tp for tp, offset in end.items() if offset > 0}
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                for rec in recs:
                    status.records += 1
                    try:
                        doc = orjson.loads(rec.value) if rec.value is not None else None
                    except orjson.JSONDecodeError:
                        doc = None
                    state.add(doc)
            if behind:
                for tp in list(behind):
                    if await consumer.position(tp) >= end[tp]:
                        behind.discard(tp)
            status.caught_up = not behind
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
