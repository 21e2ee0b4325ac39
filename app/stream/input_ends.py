"""The input topic's end offsets, for stage 2 (a live merger releases a window of a model
a partition has not shown once that partition has read what it held when the model's
carriers passed the window; app.windows.merger)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from app.config import Settings
from app.stream import kafka

log = logging.getLogger(__name__)


class InputEnds:
    """One plain consumer (no group, nothing assigned), started at the first read and kept:
    a read happens about once per window close, and a new connection each time would cost a
    handshake. Dropped after an error, so the next read starts a fresh one."""

    def __init__(self, settings: Settings, timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.topic = settings.topic_predictions
        self.partitions = settings.partitions
        self.timeout_s = timeout_s
        self._consumer: AIOKafkaConsumer | None = None

    async def read(self) -> dict[int, int]:
        """Each input partition's end offset (its high watermark), as the broker has it now."""
        tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        try:
            if self._consumer is None:
                self._consumer = kafka.consumer(
                    self.settings, client_id=f"{self.settings.app_id}-ends"
                )
                await asyncio.wait_for(kafka.start(self._consumer, self.settings), self.timeout_s)
            ends = await asyncio.wait_for(self._consumer.end_offsets(tps), self.timeout_s)
        except BaseException:
            await self.close()
            raise
        return {tp.partition: int(ends[tp]) for tp in tps}

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                await consumer.stop()
            except Exception as err:  # closing a broken client: nothing more to do
                log.debug("stage 2: closing the end-offsets consumer: %r", err)
