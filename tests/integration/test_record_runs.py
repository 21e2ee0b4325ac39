"""Stage 1's and replay's batch reader against the real broker: a consumer with
``record_runs.install`` reads exactly the records a plain aiokafka consumer reads
(offsets, timestamps, keys, values), over plain, compressed and transactional batches,
an aborted transaction, a seek into the middle of a batch and a rebalance-free reassign."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.stream import record_runs
from app.stream.record_runs import RecordRun

Row = tuple[int, int, bytes | None, bytes | None]


async def _read(
    bootstrap: str, tp: TopicPartition, start: int, end: int, *, install: bool, **options: Any
) -> tuple[list[Row], set[str]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **options)
    await consumer.start()
    try:
        if install:
            assert record_runs.install(consumer)
        consumer.assign([tp])
        consumer.seek(tp, start)
        rows: list[Row] = []
        kinds: set[str] = set()
        while not rows or rows[-1][0] < end - 1:
            batch = await consumer.getmany(tp, timeout_ms=2_000)
            assert batch, f"nothing more after {rows[-1:] or start}"
            items = batch[tp]
            kinds.update(type(i).__name__ for i in items)
            run = record_runs.runs(tp, items)
            rows += zip(run.offsets, run.timestamps, run.keys, run.values, strict=True)
        return [r for r in rows if r[0] < end], kinds
    finally:
        await consumer.stop()


async def test_batches_read_as_aiokafka_reads_them(
    kafka_bootstrap: str, kafka_admin: AIOKafkaAdminClient, unique_prefix: str
) -> None:
    topic = f"{unique_prefix}-runs"
    await kafka_admin.create_topics([NewTopic(topic, 1, 1)])
    tp = TopicPartition(topic, 0)
    plain = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=50)
    gzip = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, compression_type="gzip")
    txn = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"{unique_prefix}-txn"
    )
    for p in (plain, gzip, txn):
        await p.start()
    try:
        futures = []
        for i in range(500):  # several batches, with keys, nulls, headers and timestamps
            futures.append(
                await plain.send(
                    topic,
                    None if i % 97 == 0 else b'{"i":%d}' % i,
                    key=None if i % 3 and i % 97 else b"k%d" % i,
                    headers=[("h", b"v")] if i % 5 == 0 else [],
                    timestamp_ms=1_700_000_000_000 + i,
                    partition=0,
                )
            )
        for f in futures:
            await f
        for i in range(50):
            await gzip.send_and_wait(topic, b'{"z":%d}' % i, partition=0)
        async with txn.transaction():
            await txn.send_and_wait(topic, b"committed", partition=0)
        await txn.begin_transaction()
        await txn.send_and_wait(topic, b"aborted", partition=0)
        await txn.abort_transaction()
        tail = [await plain.send_and_wait(topic, b"after %d" % i, partition=0) for i in range(20)]
    finally:
        for p in (plain, gzip, txn):
            await p.stop()
    end = tail[-1].offset + 1

    for options in ({}, {"isolation_level": "read_committed"}):
        expected, plain_kinds = await _read(kafka_bootstrap, tp, 0, end, install=False, **options)
        got, kinds = await _read(kafka_bootstrap, tp, 0, end, install=True, **options)
        assert plain_kinds == {"ConsumerRecord"}
        assert got == expected
        # Plain fetches came as runs; the compressed and transactional ones through aiokafka.
        assert RecordRun.__name__ in kinds and "ConsumerRecord" in kinds
        values = [v for _, _, _, v in got]
        assert values.count(b"committed") == 1
        assert values.count(b"aborted") == (1 if not options else 0)
        assert len([v for v in values if v and v.startswith(b'{"i":')]) == 500 - 6
        assert values.count(None) == 6  # i = 0, 97, ..., 485

    # A seek into the middle of a batch: the run starts at the sought offset.
    mid, mid_kinds = await _read(
        kafka_bootstrap, tp, 123, 300, install=True, max_partition_fetch_bytes=4096
    )
    ref, _ = await _read(
        kafka_bootstrap, tp, 123, 300, install=False, max_partition_fetch_bytes=4096
    )
    assert mid[0][0] == 123 and mid == ref
    assert mid_kinds == {RecordRun.__name__}  # plain batches only: every fetch split
