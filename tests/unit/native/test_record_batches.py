"""The extension's split of fetched record batches against aiokafka's own decoding.

For any bytes, ``split_records`` either defers (None) or yields exactly what aiokafka's
``PartitionRecords`` yields from them (offsets, timestamps, keys, values, the next fetch
offset) without raising: batches are built with aiokafka's own builder, then cut, mixed
with compressed, transactional and control batches, and mutated byte by byte.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.consumer.fetcher import READ_COMMITTED, READ_UNCOMMITTED, PartitionRecords
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.native import load
from app.native.spans import SpanValues

native = load()
pytestmark = pytest.mark.skipif(native is None, reason="the native extension is not built")

TP = TopicPartition("t", 3)

Row = tuple[int, int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]


def batch(
    base: int,
    rows: list[Row],
    *,
    compression: int = 0,
    transactional: bool = False,
    log_append: bool = False,
    gap_at_end: int = 0,
) -> bytes:
    """A v2 batch of rows (offset delta, timestamp, key, value, headers)."""
    b = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=compression,
        is_transactional=int(transactional),
        producer_id=7 if transactional else -1,
        producer_epoch=0 if transactional else -1,
        base_sequence=0 if transactional else -1,
        batch_size=1 << 30,
    )
    for delta, ts, key, value, headers in rows:
        assert b.append(delta, timestamp=ts, key=key, value=value, headers=headers) is not None
    raw = bytearray(b.build())
    raw[0:8] = base.to_bytes(8, "big", signed=True)
    if gap_at_end:  # a compacted-away last record: the batch still ends at its last offset
        last = int.from_bytes(raw[23:27], "big") + gap_at_end
        raw[23:27] = last.to_bytes(4, "big")
    if log_append:
        raw[22] |= 0x08
    if gap_at_end or log_append:
        raw[17:21] = calc_crc32c(bytes(raw[21:])).to_bytes(4, "big")
    return bytes(raw)


def control_batch(base: int) -> bytes:
    b = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=1,
        producer_id=7,
        producer_epoch=0,
        base_sequence=0,
        batch_size=1 << 30,
    )
    b.append(0, timestamp=1, key=b"\x00\x00\x00\x00", value=b"\x00\x00\x00\x00\x00\x00", headers=[])
    raw = bytearray(b.build())
    raw[0:8] = base.to_bytes(8, "big", signed=True)
    raw[22] |= 0x20
    raw[17:21] = calc_crc32c(bytes(raw[21:])).to_bytes(4, "big")
    return bytes(raw)


def aiokafka_reads(data: bytes, fetch_offset: int, check_crc: bool, isolation: int) -> Any:
    """aiokafka's reading: (next fetch offset, rows) or the exception it raises."""
    records = MemoryRecords(data)
    if not records.has_next():
        return "empty"
    pr = PartitionRecords(TP, records, [], fetch_offset, None, None, check_crc, isolation)
    try:
        got = [(r.offset, r.timestamp, r.key, r.value) for r in pr]
    except Exception as err:  # any error: the split must have deferred
        return err
    return pr.next_fetch_offset, got


def split_reads(data: bytes, fetch_offset: int, check_crc: bool) -> Any:
    assert native is not None
    out = native.split_records(data, fetch_offset, check_crc)
    if out is None:
        return None
    next_offset, offsets, timestamps, keys, spans = out
    values = SpanValues(data, spans)
    assert list(values) == [values[i] for i in range(len(values))]
    return next_offset, list(zip(offsets, timestamps, keys, values, strict=True))


def assert_same(data: bytes, fetch_offset: int, check_crc: bool = True) -> Any:
    ours = split_reads(data, fetch_offset, check_crc)
    theirs = aiokafka_reads(data, fetch_offset, check_crc, READ_UNCOMMITTED)
    if ours is not None and theirs != "empty":
        assert not isinstance(theirs, Exception), (theirs, ours)
        assert ours == theirs
    return ours


rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 3),  # offset step
        st.integers(-5, 2**41),
        st.none() | st.binary(max_size=20),
        st.none() | st.binary(max_size=300),
        st.lists(st.tuples(st.text(max_size=8), st.none() | st.binary(max_size=10)), max_size=2),
    ),
    min_size=1,
    max_size=30,
)


def rows_of(spec: list[tuple[int, int, bytes | None, bytes | None, Any]]) -> list[Row]:
    rows, delta = [], 0
    for step, ts, key, value, headers in spec:
        delta += step
        rows.append((delta, ts, key, value, headers))
    return rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(
        st.tuples(rows_strategy, st.booleans(), st.integers(0, 3)), min_size=1, max_size=4
    ),
    fetch_back=st.integers(0, 40),
    cut=st.integers(0, 200),
)
def test_plain_batches_split_as_aiokafka_reads_them(
    batches: list[tuple[Any, bool, int]], fetch_back: int, cut: int
) -> None:
    data, base = b"", 1_000
    for spec, log_append, gap in batches:
        rows = rows_of(spec)
        data += batch(base, rows, log_append=log_append, gap_at_end=gap)
        base += rows[-1][0] + gap + 1 + 5  # batches may leave offsets out (compaction)
    fetch_offset = max(0, 1_000 + fetch_back)
    assert assert_same(data, fetch_offset) is not None
    # A fetch the broker cut inside its last batch: that batch waits for the next fetch.
    truncated = data[: len(data) - 1 - cut] if cut < len(data) - 1 else data[:1]
    assert_same(truncated, fetch_offset)


def test_exact_reading_of_keys_values_headers_and_timestamps() -> None:
    rows: list[Row] = [
        (0, 1_700_000_000_000, None, b'{"a":1}', []),
        (1, 1_700_000_000_005, b"k", None, [("h", b"v"), ("n", None)]),
        (4, 1_699_999_999_000, b"", b"", []),
    ]
    data = batch(41, rows) + batch(50, [(0, 5, None, b"x", [])], log_append=True)
    assert split_reads(data, 42, True) == (
        51,
        [
            (42, 1_700_000_000_005, b"k", None),
            (45, 1_699_999_999_000, b"", b""),
            (50, 5, None, b"x"),  # log-append time: the batch's max timestamp
        ],
    )
    assert_same(data, 42)
    # Like aiokafka, a batch's end sets the next position, whatever the fetch asked for
    # (a broker returns no batch that ends below the fetch offset).
    assert split_reads(data, 51, True) == assert_same(data, 51) == (51, [(50, 5, None, b"x")])


@pytest.mark.parametrize("kind", ["gzip", "transactional", "control"])
def test_fetches_it_does_not_read_go_to_aiokafka(kind: str) -> None:
    plain = batch(0, [(0, 1, None, b"a", [])])
    other = {
        "gzip": batch(1, [(0, 1, None, b"b", [])], compression=1),
        "transactional": batch(1, [(0, 1, None, b"b", [])], transactional=True),
        "control": control_batch(1),
    }[kind]
    for data in (other, plain + other, other + plain):
        assert split_reads(data, 0, True) is None
        theirs = aiokafka_reads(data, 0, True, READ_COMMITTED)
        assert not isinstance(theirs, Exception)


def test_a_bad_crc_defers_so_aiokafka_raises_its_own_error() -> None:
    data = bytearray(batch(0, [(0, 1, None, b"abc", [])]))
    data[-2] ^= 0x01
    assert split_reads(bytes(data), 0, True) is None
    assert isinstance(aiokafka_reads(bytes(data), 0, True, READ_UNCOMMITTED), Exception)
    # Without the CRC check both read the altered byte.
    assert split_reads(bytes(data), 0, False) == aiokafka_reads(bytes(data), 0, False, 0)


def test_mutated_bytes_never_read_differently() -> None:
    rng = random.Random(20261202)
    base = batch(0, [(0, 1, b"k", b'{"x":1}', [("h", b"v")]), (1, 2, None, b"yy", [])])
    base += batch(2, [(0, 3, None, b"z" * 40, [])])
    deferred = 0
    for _ in range(4_000):
        data = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        check = rng.random() < 0.5
        if assert_same(bytes(data), 0, check) is None:
            deferred += 1
    assert deferred > 0  # the mutations reached the checks, not only the payloads


def test_crc32c_is_kafkas() -> None:
    assert native is not None
    rng = random.Random(7)
    for n in (0, 1, 7, 8, 9, 100, 4_099):
        data = rng.randbytes(n)
        assert native.crc32c(data) == calc_crc32c(data)


def test_random_bytes_never_crash() -> None:
    assert native is not None
    rng = random.Random(99)
    for _ in range(3_000):
        native.split_records(
            rng.randbytes(rng.randint(0, 200)), rng.randint(-5, 5), rng.random() < 0.5
        )


def test_span_values_index_and_slice_like_a_list() -> None:
    raw = b"xxabcdeYY"
    spans = struct.pack("<8I", 2, 5, 0xFFFF_FFFF, 0xFFFF_FFFF, 5, 5, 7, 9)
    values = SpanValues(raw, spans)
    expected = [b"abc", None, b"", b"YY"]
    assert list(values) == expected and len(values) == 4
    assert [values[i] for i in range(-4, 4)] == expected + expected
    for a, b in [(0, 4), (1, 3), (2, 2), (3, 1), (-2, None), (None, 10)]:
        assert list(values[a:b]) == expected[a:b]
    with pytest.raises(IndexError):
        values[4]
