"""Following one topic without a consumer group: partitions assigned by hand, no commits,
so tailing never moves anyone's offsets and never joins a group."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable

from aiokafka import ConsumerRecord, TopicPartition

from app.config import Settings
from app.errors import DriftlineError
from app.stream import kafka
from app.stream.admin import describe_topics


class TopicMissing(DriftlineError):
    """The topic asked for is not on the broker."""


async def topic_partitions(settings: Settings, topic: str) -> list[TopicPartition]:
    described = await describe_topics(settings, [topic], timeout_s=0)
    if topic not in described:
        raise TopicMissing(f"topic {topic!r} does not exist; run `driftline topics create`")
    return [TopicPartition(topic, p) for p in range(described[topic][0])]


async def follow(
    settings: Settings,
    topic: str,
    *,
    from_beginning: bool = False,
    limit: int | None = None,
    idle_s: float | None = None,
) -> AsyncGenerator[ConsumerRecord[bytes, bytes], None]:
    """Records of ``topic`` as they arrive, from its end (or beginning), partition by
    partition within each fetch. Stops after ``limit`` records or ``idle_s`` seconds
    without one; otherwise runs until cancelled."""
    tps = await topic_partitions(settings, topic)
    if limit is not None and limit <= 0:
        return
    seen = 0
    async with kafka.started(kafka.consumer(settings), settings) as consumer:
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        last = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for tp in sorted(batch):
                for rec in batch[tp]:
                    yield rec
                    seen += 1
                    if limit is not None and seen >= limit:
                        return
            if batch:
                last = time.monotonic()
            elif idle_s is not None and time.monotonic() - last >= idle_s:
                return


async def read_to_end(
    settings: Settings,
    topic: str,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` up to the end offsets seen at the start (records written
    later are not read, so a busy topic cannot keep this going). ``on_progress(read,
    total)`` after each fetch: offsets passed so far and in all."""
    tps = await topic_partitions(settings, topic)
    records: list[ConsumerRecord[bytes, bytes]] = []
    async with kafka.started(kafka.consumer(settings), settings) as consumer:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        total = sum(end[tp] - begin[tp] for tp in tps)
        wanted = {tp for tp in tps if end[tp] > begin[tp]}
        if on_progress is not None:
            on_progress(0, total)
        while wanted:
            batch = await consumer.getmany(*wanted, timeout_ms=200)
            for tp, recs in batch.items():
                records.extend(r for r in recs if r.offset < end[tp])
            done = 0
            for tp in tps:
                # Position, not the last record's offset: compaction leaves gaps at the end.
                position = min(await consumer.position(tp), end[tp]) if tp in wanted else end[tp]
                done += position - begin[tp]
                if tp in wanted and position >= end[tp]:
                    wanted.discard(tp)
            if on_progress is not None:
                on_progress(done, total)
    return records
