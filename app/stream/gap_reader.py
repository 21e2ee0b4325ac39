"""Re-reading partials that Faust's stream dropped (see MergeStage.on_partials_event)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from app.config import Settings
from app.stream import kafka


class GapReader:
    """Reads offset ranges of one topic with a fresh plain consumer per read (no group, no
    commits): gaps are rare, and a consumer of its own cannot inherit another read's
    assignment or prefetched records."""

    def __init__(self, settings: Settings, topic: str, timeout_s: float = 60.0) -> None:
        self.settings = settings
        self.topic = topic
        self.timeout_s = timeout_s

    def _consumer(self) -> AIOKafkaConsumer:
        return kafka.consumer(self.settings)

    async def beginning(self, partition: int) -> int:
        """The first offset still in the log of ``partition`` (retention may have removed
        earlier ones)."""
        async with kafka.started(self._consumer(), self.settings) as consumer:
            tp = TopicPartition(self.topic, partition)
            offsets = await consumer.beginning_offsets([tp])
            return int(offsets[tp])

    async def read(
        self, partition: int, start: int, stop: int
    ) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
        """Records with start <= offset < stop, in order. Raises TimeoutError when the
        range cannot be read within the timeout, rather than stalling the stream."""
        async with kafka.started(self._consumer(), self.settings) as consumer:
            tp = TopicPartition(self.topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, start)
            deadline = time.monotonic() + self.timeout_s
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{self.topic}[{partition}]: offsets {start}..{stop - 1} not readable "
                        f"within {self.timeout_s:.0f}s"
                    )
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=2000)
                for msg in batch.get(tp, []):
                    if msg.offset >= stop:
                        return
                    yield msg
                    if msg.offset >= stop - 1:
                        return
                if await consumer.position(tp) >= stop:
                    return  # the rest of the range holds no records
