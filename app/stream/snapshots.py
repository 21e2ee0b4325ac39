"""Stage 1's snapshot log: one compacted topic, partition p holds source partition p's state.

Only one key lives in each partition (the source partition number), so the last record of
partition p is p's latest snapshot. Compaction keeps it; older ones are garbage.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import TopicPartition

from app.config import Settings
from app.stream import kafka

log = logging.getLogger(__name__)

# Big enough for many models' open windows in one snapshot; the topic's max.message.bytes
# (app.stream.admin) and the producer's max_request_size are set to match.
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024


def snapshot_key(partition: int) -> bytes:
    return str(partition).encode()


async def read_latest(
    settings: Settings, topic: str, partitions: list[int], timeout_s: float = 60.0
) -> dict[int, bytes]:
    """The last snapshot of each partition that has one. A fresh plain consumer (no group,
    no commits) so that nothing is inherited from another read. Raises TimeoutError when a
    snapshot known to exist cannot be read in time: stage 1 must never run without it."""
    if not partitions:
        return {}
    big = kafka.consumer(
        settings,
        max_partition_fetch_bytes=MAX_SNAPSHOT_BYTES,
        fetch_max_bytes=MAX_SNAPSHOT_BYTES * 4,
    )
    async with kafka.started(big, settings) as consumer:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        wanted: dict[TopicPartition, int] = {}
        for tp in tps:
            if end[tp] > begin[tp]:
                wanted[tp] = end[tp] - 1
                consumer.seek(tp, end[tp] - 1)
            else:
                consumer.pause(tp)
        found: dict[int, bytes] = {}
        deadline = time.monotonic() + timeout_s
        while wanted:
            if time.monotonic() > deadline:
                missing = sorted(tp.partition for tp in wanted)
                raise TimeoutError(f"{topic}: snapshots of partitions {missing} not readable")
            batch = await consumer.getmany(*wanted, timeout_ms=500)
            for tp, msgs in batch.items():
                for msg in msgs:
                    if msg.value is not None:
                        found[tp.partition] = msg.value
                    if msg.offset >= wanted.get(tp, -1):
                        wanted.pop(tp, None)
                        consumer.pause(tp)
            for tp in list(wanted):
                # The last offset can be a gap after compaction or a control record.
                if await consumer.position(tp) >= end[tp]:
                    wanted.pop(tp)
                    consumer.pause(tp)
        return found


async def read_latest_retrying(
    settings: Settings, topic: str, partitions: list[int]
) -> dict[int, bytes]:
    """read_latest until it succeeds: a partition is never processed without its state."""
    delay = 1.0
    while True:
        try:
            return await read_latest(settings, topic, partitions)
        except Exception as err:  # broker trouble or timeout: wait and retry
            log.error("stage 1: reading snapshots of %s failed (%r); retrying", partitions, err)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
