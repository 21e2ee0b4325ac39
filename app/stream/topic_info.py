"""What is on Driftline's topics: existence, partitions, cleanup policy and offsets."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import TopicPartition

from app.config import Settings
from app.stream import kafka
from app.stream.admin import describe_topics


@dataclass(frozen=True)
class PartitionOffsets:
    partition: int
    beginning: int  # first offset still on the broker
    end: int  # the offset the next record will get


@dataclass(frozen=True)
class TopicInfo:
    name: str
    exists: bool
    partitions: int | None  # None when the topic does not exist
    cleanup_policy: str | None
    offsets: list[PartitionOffsets]

    @property
    def messages(self) -> int | None:
        """Records between the beginning and end offsets (an upper bound on a compacted
        topic, where compaction leaves gaps)."""
        if not self.exists:
            return None
        return sum(o.end - o.beginning for o in self.offsets)


async def partition_offsets(
    settings: Settings, partitions: dict[str, int]
) -> dict[str, list[PartitionOffsets]]:
    """Beginning and end offsets of every partition of these topics (name -> count)."""
    tps = [TopicPartition(t, p) for t, n in partitions.items() for p in range(n)]
    if not tps:
        return {}
    async with kafka.started(kafka.consumer(settings), settings) as consumer:
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
    out: dict[str, list[PartitionOffsets]] = {t: [] for t in partitions}
    for tp in tps:
        out[tp.topic].append(PartitionOffsets(tp.partition, begin[tp], end[tp]))
    return out


async def list_topics(settings: Settings) -> list[TopicInfo]:
    """Driftline's topics (from settings), in settings order, whether they exist or not."""
    names = settings.topic_names()
    described = await describe_topics(settings, names, timeout_s=0)
    offsets = await partition_offsets(settings, {n: p for n, (p, _) in described.items()})
    return [
        TopicInfo(name, True, described[name][0], described[name][1], offsets[name])
        if name in described
        else TopicInfo(name, False, None, None, [])
        for name in names
    ]
