"""Re-reading input records that Faust's stream dropped (see Pipeline._fill_gap)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from app.config import Settings


@dataclass(frozen=True)
class Record:
    """The parts of an input message stage 1 uses, whichever consumer read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


class GapReader:
    """A plain consumer (no group, no commits) for reading offset ranges of one topic."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self._consumer: AIOKafkaConsumer | None = None

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def first_offset(self, partition: int) -> int:
        consumer = await self._started()
        tp = TopicPartition(self.topic, partition)
        return int((await consumer.beginning_offsets([tp]))[tp])

    async def read(self, partition: int, start: int, stop: int) -> AsyncIterator[Record]:
        """Records with start <= offset < stop, in order."""
        consumer = await self._started()
        tp = TopicPartition(self.topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        while True:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=2000)
            for msg in batch.get(tp, []):
                if msg.offset >= stop:
                    return
                yield Record(msg.topic, msg.partition, msg.offset, msg.key, msg.value,
                             msg.timestamp)  # fmt: skip
                if msg.offset >= stop - 1:
                    return

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
