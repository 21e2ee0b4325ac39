"""Keeps every worker's baseline registry in step with the compacted baselines topic.

A plain aiokafka consumer (no group: every worker needs every baseline) reads the topic
from the beginning. ``ready`` is set once it has caught up with the end offsets seen at
start, so no event is dead-lettered as "unknown model" merely because the worker has not
read its baseline yet.

Every version on the topic is registered, whatever its key (one key per version, or the
bare ``model_id`` of messages published before: ``app.baseline.topic_key``); the registry
picks the version in force per window. A message that is not a valid baseline is logged
with reason ``invalid_baseline``, where it is and why, and changes nothing: the model keeps
the versions already known. A tombstone changes nothing either (compaction later removes
the one version its key names from the topic; workers that read it keep it until restart).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from app.baseline.codec import baseline_from_dict
from app.baseline.model import Baseline
from app.baseline.registry import BaselineRegistry
from app.baseline.topic_key import decode_key
from app.config import Settings
from app.errors import DriftlineError
from app.stream import kafka

log = logging.getLogger(__name__)


def parse_publication(raw: bytes) -> tuple[Baseline, int]:
    """A baselines-topic value: a baseline document plus ``effective_from_ms`` (default 0)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise DriftlineError(f"malformed JSON: {err.msg} (column {err.colno})") from None
    if not isinstance(doc, dict):
        raise DriftlineError("baseline message is not a JSON object")
    effective = doc.pop("effective_from_ms", 0)
    if not isinstance(effective, int) or isinstance(effective, bool):
        raise DriftlineError("effective_from_ms must be an integer (epoch ms)")
    return baseline_from_dict(doc), effective


class BaselineListener(Protocol):
    """Told of every baseline read and every model withdrawn (the worker's metrics)."""

    def baseline_added(self, baseline: Baseline) -> None: ...

    def baseline_withdrawn(self, model: str) -> None: ...


class BaselineFeed:
    def __init__(
        self,
        settings: Settings,
        registry: BaselineRegistry,
        listener: BaselineListener | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.listener = listener
        self.ready = asyncio.Event()
        self.rejected = 0

    async def run(self) -> None:
        """Follow the topic until cancelled (the Faust app cancels its tasks at stop)."""
        topic = self.settings.topic_baselines
        # Subscribed without a group: aiokafka assigns every partition of the topic.
        async with kafka.started(kafka.consumer(self.settings, topic), self.settings) as consumer:
            tps = await self._assignment(consumer, topic)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            if all(v == 0 for v in end.values()):
                self.ready.set()
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for rec in records:
                        self._apply(rec.key, rec.value, rec.topic, rec.partition, rec.offset)
                if not self.ready.is_set():
                    positions = {tp: await consumer.position(tp) for tp in tps}
                    if all(positions[tp] >= end[tp] for tp in tps):
                        log.info("baselines loaded: %d versions", len(self.registry))
                        self.ready.set()

    @staticmethod
    async def _assignment(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
        for _ in range(120):
            tps = sorted(consumer.assignment())
            if tps:
                return tps
            await asyncio.sleep(0.25)
        raise DriftlineError(
            f"baselines topic {topic!r} does not exist; run `driftline topics create`"
        )

    def _apply(
        self, key: bytes | None, raw: bytes | None, topic: str, partition: int, offset: int
    ) -> None:
        if raw is None:  # tombstone: keep what was loaded (versions are never tombstoned)
            if key and decode_key(key) is None and self.listener is not None:
                # A tombstone under a bare model id (not a version key) withdraws the model
                # from /metrics: its series go (app.stream.metrics). Its versions stay
                # loaded, for replay's sake and because a bad message must not erase them.
                self.listener.baseline_withdrawn(key.decode("utf-8", "replace"))
            return
        try:
            baseline, effective = parse_publication(raw)
        except Exception as err:  # a bad publication must not stop the feed
            self.rejected += 1
            log.error(
                "invalid_baseline: rejected baseline at %s[%d]@%d (key %s): %s; the model "
                "keeps the versions already loaded",
                topic,
                partition,
                offset,
                _key_text(key),
                err,
            )
            return
        if self.listener is not None:
            self.listener.baseline_added(baseline)
        if self.registry.add(baseline, effective):
            log.info(
                "baseline %s for model %s effective from %d",
                baseline.baseline_id,
                baseline.model_id,
                effective,
            )


def _key_text(key: bytes | None) -> str:
    """A key for a log line: as text, shortened, never more than one line."""
    if key is None:
        return "none"
    text = key[:200].decode("utf-8", errors="replace")
    return repr(text + ("..." if len(key) > 200 else ""))
