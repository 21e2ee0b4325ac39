"""Fetched records a batch at a time: stage 1 and replay read a fetch's offsets and values
as lists, without aiokafka making a ``ConsumerRecord`` per record.

Why: measured on the bench (README "Benchmarks"), aiokafka's per-record unpacking
(``PartitionRecords._unpack_records`` and ``_consumer_record``) took as much of a worker
as the native fold itself, about 18% each. Everything else about consuming stays
aiokafka's: the fetch requests, the group, positions, rebalances, seeks and commits.

How: ``install`` gives one consumer's fetcher its own copy of
``Fetcher._proc_fetch_request`` whose ``MemoryRecords`` keeps the fetched bytes and whose
``PartitionRecords`` asks the extension to split them (``app/native/src/records.rs``).
A fetch whose batches are all plain (format v2, uncompressed, not transactional, not
control, CRC good) becomes one ``RecordRun`` whose values are spans of the fetched bytes
(``SpanValues``: no object per value unless Python asks for one): aiokafka's ``getmany``
returns it as one item and moves the position past it, exactly as past its records. Any other
fetch goes to aiokafka's own ``PartitionRecords`` and comes back as ``ConsumerRecord``
items, which ``runs`` turns into a run the same way. Other consumers in the process
(Faust's) are untouched: only the given fetcher's method is replaced.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer import fetcher as aiokafka_fetcher

from app.native import load
from app.native.spans import SpanValues
from app.pipeline.fold import SourceRecord

log = logging.getLogger(__name__)

_OFFSET = attrgetter("offset")
_TIMESTAMP = attrgetter("timestamp")
_KEY = attrgetter("key")
_VALUE = attrgetter("value")


@dataclass(slots=True)
class RecordRun:
    """Consecutive records of one partition, as parallel lists (offsets rise)."""

    topic: str
    partition: int
    offsets: list[int]
    timestamps: list[int]
    keys: list[bytes | None]
    values: Sequence[bytes | None]  # a list, or SpanValues over a split fetch's bytes

    def __len__(self) -> int:
        return len(self.offsets)

    def record(self, i: int) -> SourceRecord:
        """Record ``i`` as a dead letter names it."""
        return SourceRecord(
            self.topic,
            self.partition,
            self.offsets[i],
            self.timestamps[i],
            self.keys[i],
            self.values[i],
        )

    def sliced(self, begin: int, end: int | None = None) -> RecordRun:
        """Records [begin, end) of this run."""
        return RecordRun(
            self.topic,
            self.partition,
            self.offsets[begin:end],
            self.timestamps[begin:end],
            self.keys[begin:end],
            self.values[begin:end],
        )


def runs(tp: TopicPartition, items: Sequence[Any]) -> RecordRun:
    """A partition's ``getmany`` items (runs from ``install``ed fetches and aiokafka's
    ``ConsumerRecord``s, in order) as one run."""
    if len(items) == 1 and isinstance(items[0], RecordRun):
        return items[0]
    out = RecordRun(tp.topic, tp.partition, [], [], [], [])
    values: list[bytes | None] = []
    for group in _grouped(items):
        if isinstance(group, RecordRun):
            out.offsets += group.offsets
            out.timestamps += group.timestamps
            out.keys += group.keys
            values += group.values
        else:
            out.offsets += map(_OFFSET, group)
            out.timestamps += map(_TIMESTAMP, group)
            out.keys += map(_KEY, group)
            values += map(_VALUE, group)
    out.values = values
    return out


def _grouped(items: Sequence[Any]) -> Iterator[RecordRun | Sequence[Any]]:
    start = 0
    for i, item in enumerate(items):
        if isinstance(item, RecordRun):
            if start < i:
                yield items[start:i]
            yield item
            start = i + 1
    if start < len(items):
        yield items[start:]


class _KeptRecords:
    """aiokafka's ``MemoryRecords`` that keeps the fetched bytes for the split."""

    __slots__ = ("inner", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.inner = aiokafka_fetcher.MemoryRecords(raw)

    def has_next(self) -> bool:
        return bool(self.inner.has_next())

    def size_in_bytes(self) -> int:
        return int(self.inner.size_in_bytes())

    def next_batch(self) -> Any:
        return self.inner.next_batch()


class _SplitRecords:
    """Stands in for aiokafka's ``PartitionRecords`` over a fetch the extension split: one
    run, then the position past the fetch's last batch."""

    __slots__ = ("_next", "_run", "next_fetch_offset")

    def __init__(self, run: RecordRun | None, fetch_offset: int, next_offset: int) -> None:
        # Until iterated, the position is the fetch's: aiokafka compares it with the
        # partition's position to see whether a seek or rebalance made the fetch stale.
        self.next_fetch_offset = fetch_offset
        self._run = run
        self._next = next_offset

    def __iter__(self) -> _SplitRecords:
        return self

    def __next__(self) -> RecordRun:
        run, self._run = self._run, None
        self.next_fetch_offset = self._next
        if run is None:
            raise StopIteration
        return run


def _partition_records(
    tp: TopicPartition,
    records: _KeptRecords,
    aborted_transactions: Any,
    fetch_offset: int,
    key_deserializer: Any,
    value_deserializer: Any,
    check_crcs: bool,
    isolation_level: Any,
) -> Any:
    module = load()
    split = None if module is None else module.split_records(records.raw, fetch_offset, check_crcs)
    if split is None:
        return aiokafka_fetcher.PartitionRecords(
            tp,
            records.inner,
            aborted_transactions,
            fetch_offset,
            key_deserializer,
            value_deserializer,
            check_crcs,
            isolation_level,
        )
    next_offset, offsets, timestamps, keys, spans = split
    values = SpanValues(records.raw, spans)
    run = RecordRun(tp.topic, tp.partition, offsets, timestamps, keys, values) if offsets else None
    return _SplitRecords(run, fetch_offset, next_offset)


def install(consumer: AIOKafkaConsumer) -> bool:
    """Make this started consumer's ``getmany`` return ``RecordRun`` items for plain
    fetches (see the module doc). False, and nothing changed, when the extension is off
    or this aiokafka's fetcher is not the shape this was written against."""
    if load() is None:
        return False
    fetcher = getattr(consumer, "_fetcher", None)
    method = getattr(type(fetcher), "_proc_fetch_request", None)
    code = getattr(method, "__code__", None)
    if (
        fetcher is None
        or not isinstance(method, types.FunctionType)
        or code is None
        or not {"MemoryRecords", "PartitionRecords"} <= set(code.co_names)
        or getattr(fetcher, "_key_deserializer", None) is not None
        or getattr(fetcher, "_value_deserializer", None) is not None
    ):
        log.warning(
            "record batches: aiokafka's fetcher is not the expected shape; "
            "reading records one by one"
        )
        return False
    scope = dict(method.__globals__)
    scope["MemoryRecords"] = _KeptRecords
    scope["PartitionRecords"] = _partition_records
    own = types.FunctionType(code, scope, method.__name__, method.__defaults__, method.__closure__)
    own.__kwdefaults__ = method.__kwdefaults__
    fetcher._proc_fetch_request = types.MethodType(own, fetcher)
    return True
