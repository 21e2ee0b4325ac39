"""One input record into stage 1: decode, check the model has a baseline, check the event
is not dated too far ahead, bin (or find it late).

Shared by the live pipeline and replay, so both treat every record the same way. The wall
clock is passed in (``now_ms``), read once per batch by the caller: tests control it, and
the per-event path reads no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from app.baseline.registry import BaselineRegistry
from app.contracts import DeadLetterReason
from app.contracts.deadletter import dead_letter
from app.contracts.decode import DecodeError, DecodeLimits, decode_event, format_rfc3339_ms
from app.pipeline.results import window_id
from app.windows.binner import LateEvent, Output, PartitionBinner


@dataclass(slots=True)
class SourceRecord:
    """What a dead letter names of an input record (``RecordRun.record`` gives one)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Rejected:
    """The record goes to the dead-letter topic (a late event: its side output, with the
    id of the window it belongs to)."""

    reason: DeadLetterReason
    error: str | BaseException
    model_id: str | None
    window_id: str | None = None

    def letter(self, rec: SourceRecord, received_at_ms: int) -> dict[str, Any]:
        """The dead-letter document for ``rec`` (the live stream and replay write the same)."""
        return dead_letter(
            self.reason,
            self.error,
            topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            timestamp_ms=rec.timestamp if rec.timestamp > 0 else None,
            key=rec.key,
            value=rec.value if rec.value is not None else b"",
            model_id=self.model_id,
            received_at_ms=received_at_ms,
            window_id=self.window_id,
        )


class Folded(NamedTuple):
    """One per valid event added to its window: a tuple, since a frozen dataclass's
    __init__ cost ~6% of a worker's time in a profile."""

    model_id: str
    timestamp_ms: int
    outputs: Sequence[Output]


def fold_record(
    binner: PartitionBinner,
    registry: BaselineRegistry,
    limits: DecodeLimits,
    offset: int,
    value: bytes | None,
    models: frozenset[str] = frozenset(),
    *,
    now_ms: int,
) -> Folded | Rejected | None:
    """Fold one record at ``offset``, read at wall time ``now_ms``, into the binner (which
    must not have applied it yet).

    Returns None for a valid event of a model outside ``models`` (when given): skipped.
    Every outcome marks the offset applied, so a redelivery is recognised.
    """
    try:
        # A null value (tombstone) decodes as b"" and is dead-lettered as invalid_json.
        ev = decode_event(value or b"", limits=limits)
    except DecodeError as err:
        binner.skip(offset)
        return Rejected(err.reason, err, err.model_id)
    model_id = ev.model_id
    if models and model_id not in models:
        binner.skip(offset)
        return None
    ts_ms = ev.timestamp_ms
    spec = binner.spec
    if ts_ms - now_ms > spec.max_future_ms:
        # A producer with a broken clock: it would drag the model's clock ahead and make
        # every later event late. Rejected before it touches any clock.
        binner.skip(offset)
        return Rejected(
            "timestamp_in_future", future_error(ts_ms, now_ms, spec.max_future_ms), model_id
        )
    start = ts_ms - ts_ms % spec.size_ms
    baseline = registry.choose(model_id, start)
    if baseline is None:
        binner.skip(offset)
        return Rejected("unknown_model", f"no baseline for model {model_id!r}", model_id)
    # ev.features is the decoded object itself and the binner only reads it: no copy.
    outputs = binner.on_event(offset, model_id, ts_ms, ev.features, ev.prediction, now_ms)
    if isinstance(outputs, LateEvent):
        span = spec.span(start)
        closed = binner.closed_upto(model_id)
        return Rejected(
            "late",
            f"event time {format_rfc3339_ms(ts_ms)} is in window "
            f"{format_rfc3339_ms(start)}+{span.size_seconds}s, closed on this partition for "
            f"model {model_id!r} at {format_rfc3339_ms(closed)} "
            f"(allowed lateness {_seconds(spec.lateness_ms)} s)",
            model_id,
            window_id(model_id, baseline.baseline_id, span),
        )
    return Folded(model_id, ts_ms, outputs)


def future_error(ts_ms: int, now_ms: int, max_future_ms: int) -> str:
    return (
        f"$.timestamp: {format_rfc3339_ms(ts_ms)} is {_seconds(ts_ms - now_ms)} s ahead of "
        f"the wall clock ({format_rfc3339_ms(now_ms)}); the limit is {_seconds(max_future_ms)} s "
        "(DRIFTLINE_MAX_FUTURE_SECONDS)"
    )


def _seconds(ms: int) -> str:
    """Milliseconds as seconds, without a fraction when whole: 300000 -> "300"."""
    whole, frac = divmod(ms, 1000)
    return f"{whole}.{frac:03d}".rstrip("0") if frac else str(whole)
