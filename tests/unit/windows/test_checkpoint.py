"""Stage 1's checkpoint decisions (app.windows.checkpoint), without a broker."""

from __future__ import annotations

import itertools

import orjson
import pytest

from app.baseline.registry import BaselineRegistry
from app.codecs.stage1_snapshot import restore_snapshot, snapshot_to_bytes
from app.contracts.decode import DecodeLimits
from app.pipeline.fold import Folded, Rejected, fold_record
from app.windows.binner import PartitionBinner
from app.windows.checkpoint import (
    TORN,
    caught_up,
    checkpoint_due,
    checkpoint_refusal,
    idle_tick_due,
    input_lag,
    next_offset,
)
from app.windows.spec import WindowSpec
from tests.factories import make_baseline
from tests.unit.windows.fakes import CountingOps

FLUSH_EVENTS = 100
FLUSH_SECONDS = 1.0


def due(pending: int, closed: bool, since: float, due_only: bool) -> bool:
    return checkpoint_due(
        pending=pending,
        closed=closed,
        since_checkpoint_s=since,
        due_only=due_only,
        flush_events=FLUSH_EVENTS,
        flush_seconds=FLUSH_SECONDS,
    )


# -- when a checkpoint is due ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pending", "closed", "since", "due_only", "expected"),
    [
        # Nothing new since the last snapshot: never written, not even when forced.
        (0, False, 0.0, True, False),
        (0, False, 0.0, False, False),
        (0, False, 3600.0, True, False),
        (0, False, 3600.0, False, False),
        # Forced (revoke, shutdown): anything new is written at once.
        (1, False, 0.0, False, True),
        (0, True, 0.0, False, True),
        # Routine: outputs went out, so the snapshot covering them is due at once.
        (0, True, 0.0, True, True),
        (1, True, 0.0, True, True),
        # Routine: records alone wait for the event or time threshold.
        (1, False, 0.0, True, False),
        (FLUSH_EVENTS - 1, False, FLUSH_SECONDS - 0.001, True, False),
        (FLUSH_EVENTS, False, 0.0, True, True),
        (FLUSH_EVENTS + 1, False, 0.0, True, True),
        (1, False, FLUSH_SECONDS, True, True),
        (1, False, FLUSH_SECONDS + 5, True, True),
    ],
)
def test_checkpoint_due(
    pending: int, closed: bool, since: float, due_only: bool, expected: bool
) -> None:
    assert due(pending, closed, since, due_only) is expected


def test_checkpoint_due_over_every_combination() -> None:
    pendings = [0, 1, FLUSH_EVENTS - 1, FLUSH_EVENTS, FLUSH_EVENTS + 1]
    sinces = [0.0, FLUSH_SECONDS - 0.001, FLUSH_SECONDS, FLUSH_SECONDS * 10]
    table = {
        (p, c, s, d): due(p, c, s, d)
        for p, c, s, d in itertools.product(pendings, [False, True], sinces, [False, True])
    }
    assert len(table) == 80
    for (pending, closed, since, due_only), result in table.items():
        nothing_new = pending == 0 and not closed
        threshold = pending >= FLUSH_EVENTS or since >= FLUSH_SECONDS
        if nothing_new:
            assert not result
        elif not due_only or closed:
            assert result
        else:
            assert result is threshold, (pending, closed, since, due_only)
    # Combinations that write: forced ones with something new (40 minus the 4 with pending 0
    # and no outputs), routine ones with outputs (20), and routine ones without outputs over
    # a threshold (pending >= 100: 2 x 4 sinces; pending 1 or 99 at since >= 1 s: 2 x 2).
    assert sum(table.values()) == 36 + 20 + 8 + 4


# -- whether a due checkpoint may be written -------------------------------------------------


@pytest.mark.parametrize(
    ("torn", "joined", "current", "expected"),
    [
        (False, 5, 5, None),
        (False, None, None, None),  # no generation known on either side: nothing changed
        (True, 5, 5, TORN),
        (True, 5, 6, TORN),  # the torn batch is the first reason given
        (False, 5, 6, "no longer in group generation 5"),
        (False, 5, None, "no longer in group generation 5"),  # reset on an unknown member
        (False, None, 3, "no longer in group generation None"),
    ],
)
def test_checkpoint_refusal(
    torn: bool, joined: int | None, current: int | None, expected: str | None
) -> None:
    assert checkpoint_refusal(torn=torn, joined=joined, current=current) == expected


def test_torn_reason_text() -> None:
    # stage 1 logs "stage 1: <reason>; [partitions] not checkpointed".
    assert TORN == "last batch was cut short"


# -- what a snapshot covers, and where a restored partition resumes --------------------------


@pytest.mark.parametrize(
    ("applied", "expected"), [(None, None), (0, 1), (41, 42), (2**40, 2**40 + 1)]
)
def test_next_offset(applied: int | None, expected: int | None) -> None:
    assert next_offset(applied) == expected


SPEC = WindowSpec(size_ms=60_000, lateness_ms=0)
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _registry() -> BaselineRegistry:
    registry = BaselineRegistry()
    registry.add(make_baseline(model_id="m"))
    return registry


def _event(ts_ms: int, model: str = "m") -> bytes:
    return orjson.dumps(
        {"model_id": model, "timestamp": ts_ms, "features": {"x": 0.5}, "prediction": 1}
    )


def test_snapshot_records_the_last_record_folded_whatever_its_outcome() -> None:
    registry = _registry()
    binner = PartitionBinner(3, SPEC, CountingOps(), registry.choose)
    assert next_offset(binner.applied_offset) is None  # nothing applied: no seek, no commit
    records = [
        (10, _event(T0)),
        (11, _event(T0 + 1)),
        (12, _event(T0 + 2, model="other")),  # unknown model: dead letter
        (13, b"{not json"),  # dead letter
    ]
    outcomes = [
        fold_record(binner, registry, DecodeLimits(), off, v, now_ms=T0) for off, v in records
    ]
    assert [type(o) for o in outcomes] == [Folded, Folded, Rejected, Rejected]
    snapshot = orjson.loads(snapshot_to_bytes(binner))
    # The dead letters are applied too: a new owner must not send them again.
    assert snapshot["applied_offset"] == 13
    assert next_offset(snapshot["applied_offset"]) == 14

    restored = PartitionBinner(3, SPEC, CountingOps(), registry.choose)
    restore_snapshot(restored, snapshot_to_bytes(binner), registry.by_id, now_ms=T0)
    assert next_offset(restored.applied_offset) == 14
    # What the seek skips is exactly what the snapshot holds: redeliveries are recognised.
    assert [restored.already_applied(off) for off in (10, 13, 14)] == [True, True, False]
    assert snapshot_to_bytes(restored) == snapshot_to_bytes(binner)


def test_a_filtered_record_is_applied_too() -> None:
    registry = _registry()
    binner = PartitionBinner(0, SPEC, CountingOps(), registry.choose)
    models = frozenset({"m"})
    assert (
        fold_record(binner, registry, DecodeLimits(), 7, _event(T0), models, now_ms=T0) is not None
    )
    assert (
        fold_record(binner, registry, DecodeLimits(), 8, _event(T0, "x"), models, now_ms=T0) is None
    )
    assert next_offset(binner.applied_offset) == 9


# -- idle partitions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("idle_for", "idle_seconds", "expected"),
    [(0.0, 5.0, False), (4.999, 5.0, False), (5.0, 5.0, True), (60.0, 5.0, True), (0.0, 0.0, True)],
)
def test_idle_tick_due(idle_for: float, idle_seconds: float, expected: bool) -> None:
    assert idle_tick_due(idle_for_s=idle_for, idle_seconds=idle_seconds) is expected


@pytest.mark.parametrize(
    ("position", "high_watermark", "expected"),
    [
        (None, None, False),  # no fetch yet: the end is unknown
        (None, 10, False),
        (10, None, False),
        (9, 10, False),  # a backlog: the wall clock must not overtake it
        (0, 10, False),
        (10, 10, True),
        (11, 10, True),  # a stale high watermark behind the position
        (0, 0, True),  # an empty partition
    ],
)
def test_caught_up(position: int | None, high_watermark: int | None, expected: bool) -> None:
    assert caught_up(position, high_watermark) is expected


@pytest.mark.parametrize(
    ("position", "high_watermark", "expected"), [(0, 0, 0), (3, 10, 7), (10, 10, 0), (12, 10, 0)]
)
def test_input_lag(position: int, high_watermark: int, expected: int) -> None:
    assert input_lag(position, high_watermark) == expected
