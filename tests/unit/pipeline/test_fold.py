"""The fold step (app.pipeline.fold): one input record into stage 1, without a broker."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import orjson
import pytest

from app.baseline.registry import BaselineRegistry
from app.binning.histogram import HistogramOps
from app.codecs.stage1_snapshot import snapshot_to_bytes
from app.contracts.decode import DecodeLimits
from app.pipeline.fold import Folded, Rejected, fold_record
from app.pipeline.fold import SourceRecord as Record
from app.pipeline.results import window_id
from app.windows.binner import Output, PartitionBinner, WatermarkAdvanced
from app.windows.partial import Partial
from app.windows.spec import WindowSpec
from tests.factories import bin_index, make_baseline, numeric_from_values
from tests.unit.windows.fakes import CountingOps

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a window start
MINUTE = 60_000
SPEC = WindowSpec(size_ms=MINUTE, lateness_ms=0)
LIMITS = DecodeLimits(max_bytes=300, max_features=3)
PARTITION = 2
NOW = T0 + 60 * MINUTE  # the wall clock when records are read


def event(model: str, ts_ms: int | str, x: Any = 0.5) -> bytes:
    return orjson.dumps(
        {"model_id": model, "timestamp": ts_ms, "features": {"x": x}, "prediction": 1}
    )


def counting_setup(*models: str) -> tuple[PartitionBinner, BaselineRegistry]:
    """A binner whose histograms count feature occurrences (tests.unit.windows.fakes)."""
    registry = BaselineRegistry()
    for i, model in enumerate(models):
        registry.add(make_baseline(model_id=model, baseline_id=f"bl-{i:016x}"))
    return PartitionBinner(PARTITION, SPEC, CountingOps(), registry.choose), registry


def fold(
    binner: PartitionBinner,
    registry: BaselineRegistry,
    offset: int,
    value: bytes | None,
    models: frozenset[str] = frozenset(),
) -> Folded | Rejected | None:
    return fold_record(binner, registry, LIMITS, offset, value, models, now_ms=NOW)


# -- valid events ----------------------------------------------------------------------------


def test_valid_events_are_folded_into_their_model_and_window_with_exact_bin_counts() -> None:
    baseline = make_baseline(numeric_from_values("x", np.array([0.0, 1.0, 2.0]), n_bins=2))
    profile = baseline.features[0].numeric
    assert profile is not None
    edges = profile.edges
    assert edges == (0.0, 1.0, 2.0)
    registry = BaselineRegistry()
    registry.add(baseline)
    binner = PartitionBinner(PARTITION, SPEC, HistogramOps(), registry.choose)

    xs = [0.5, 1.5, 5.0, 0.25]
    results = [
        fold(binner, registry, 100 + i, event("m", T0 + 1000 * (i + 1), x))
        for i, x in enumerate(xs)
    ]
    # The first event says where the partition stands; the others stay in the open window.
    assert results == [
        Folded("m", T0 + 1000, [WatermarkAdvanced(PARTITION, "m", T0)]),
        Folded("m", T0 + 2000, ()),
        Folded("m", T0 + 3000, ()),
        Folded("m", T0 + 4000, ()),
    ]
    # An event of the next window closes [T0, T0 + 1 min) for this partition.
    closing = fold(binner, registry, 104, event("m", T0 + MINUTE, 1.0))
    assert isinstance(closing, Folded)
    assert (closing.model_id, closing.timestamp_ms) == ("m", T0 + MINUTE)
    partial, watermark = closing.outputs
    assert watermark == WatermarkAdvanced(PARTITION, "m", T0 + MINUTE)
    # Cells: below the first edge, [0, 1), [1, 2], above the last edge.
    expected_cells = [0, 0, 0, 0]
    for x in xs:
        expected_cells[bin_index(edges, x)] += 1
    assert expected_cells == [0, 2, 1, 1]
    assert isinstance(partial, Partial)
    assert partial.hist.to_dict() == {
        "v": 2,
        "baseline_id": "bl-00000000000000aa",
        "n_events": 4,
        "features": {"x": [0, 0, 0, *expected_cells]},  # nulls, unseen, mismatched, cells
        "unseen_values": {},
        "unknown": {},
        "unknown_truncated": False,
    }
    assert partial == Partial(
        model_id="m",
        window_start_ms=T0,
        source_partition=PARTITION,
        baseline_id="bl-00000000000000aa",
        hist=partial.hist,
        n_events=4,
        late_events=0,
        first_offset=100,
        last_offset=103,
    )
    assert binner.applied_offset == 104
    assert binner.open_windows == 1  # [T0 + 1 min, T0 + 2 min) holds the closing event


def test_events_of_several_models_on_one_stream_get_their_own_partials() -> None:
    binner, registry = counting_setup("a", "b")
    stream = [
        ("a", T0 + 1000),
        ("b", T0 + 2000),
        ("a", T0 + 3000),
        ("a", T0 + MINUTE + 1),  # closes [T0, T0 + 1 min) for both models
        ("b", T0 + MINUTE + 2),
        ("b", T0 + MINUTE + 3),
        ("b", T0 + MINUTE + 4),
    ]
    outputs: list[Output] = []
    for offset, (model, ts) in enumerate(stream):
        result = fold(binner, registry, offset, event(model, ts))
        assert isinstance(result, Folded) and result.model_id == model
        outputs += result.outputs
    outputs += binner.on_end()
    partials = [o for o in outputs if isinstance(o, Partial)]
    assert [
        (
            p.model_id,
            p.window_start_ms,
            p.baseline_id,
            p.n_events,
            p.hist.to_dict(),
            p.first_offset,
            p.last_offset,
        )
        for p in partials
    ] == [
        ("a", T0, "bl-0000000000000000", 2, {"x": 2}, 0, 2),
        ("b", T0, "bl-0000000000000001", 1, {"x": 1}, 1, 1),
        ("a", T0 + MINUTE, "bl-0000000000000000", 1, {"x": 1}, 3, 3),
        ("b", T0 + MINUTE, "bl-0000000000000001", 3, {"x": 3}, 4, 6),
    ]


def test_a_model_outside_the_selection_is_skipped_but_applied() -> None:
    binner, registry = counting_setup("a", "b")
    only_a = frozenset({"a"})
    assert fold(binner, registry, 0, event("a", T0), only_a) == Folded(
        "a", T0, [WatermarkAdvanced(PARTITION, "a", T0)]
    )
    assert fold(binner, registry, 1, event("b", T0), only_a) is None
    assert binner.applied_offset == 1
    [partial] = [o for o in binner.on_end() if isinstance(o, Partial)]
    assert (partial.model_id, partial.n_events, partial.hist.to_dict()) == ("a", 1, {"x": 1})


# -- late events -----------------------------------------------------------------------------


def test_a_late_event_goes_to_the_side_output_with_its_own_window_id() -> None:
    binner, registry = counting_setup("a", "b")
    fold(binner, registry, 0, event("a", T0 + 1000))
    fold(binner, registry, 1, event("b", T0 + 1000))
    closing = fold(binner, registry, 2, event("a", T0 + MINUTE + 1000))
    assert isinstance(closing, Folded) and len(closing.outputs) == 2  # a's [T0, +1 min) closed

    late = fold(binner, registry, 3, event("a", T0 + 2000))
    assert late == Rejected(
        "late",
        "event time 2026-01-01T00:00:02Z is in window 2026-01-01T00:00:00Z+60s, closed on "
        "this partition for model 'a' at 2026-01-01T00:01:00Z (allowed lateness 0 s)",
        "a",
        window_id("a", "bl-0000000000000000", SPEC.span(T0)),
    )
    # b's clock is its own: the same minute is on time for b.
    assert fold(binner, registry, 4, event("b", T0 + 5000)) == Folded("b", T0 + 5000, ())
    assert binner.late_total == 1
    assert binner.applied_offset == 4
    record = Record("predictions", PARTITION, 3, T0 + 2000, None, event("a", T0 + 2000))
    assert isinstance(late, Rejected)
    letter = late.letter(record, received_at_ms=NOW)
    assert (letter["reason"], letter["model_id"], letter["window_id"]) == (
        "late",
        "a",
        "win-" + window_id("a", "bl-0000000000000000", SPEC.span(T0))[4:],
    )

    partials = [o for o in binner.on_end() if isinstance(o, Partial)]
    assert [
        (p.model_id, p.window_start_ms, p.n_events, p.late_events, p.hist.to_dict())
        for p in partials
    ] == [
        ("a", T0 + MINUTE, 1, 0, {"x": 1}),
        ("b", T0, 2, 0, {"x": 2}),
    ]


# -- dead letters ----------------------------------------------------------------------------

OVERSIZED = event("m", T0, "v" * 300)
BAD_CASES: list[tuple[str, bytes | None, str, str, str | None]] = [
    (
        "malformed JSON",
        b"{not json",
        "invalid_json",
        "not UTF-8 JSON: unexpected character, expected a string key: line 1 column 2 (char 1)",
        None,
    ),
    ("not an object", b"[1,2]", "invalid_json", "expected a JSON object, got array [1,2]", None),
    (
        "tombstone",
        None,
        "invalid_json",
        "not UTF-8 JSON: Input is a zero-length, empty document: line 1 column 1 (char 0)",
        None,
    ),
    (
        "feature of a wrong type",
        event("m", T0, [1]),
        "schema_violation",
        "$.features.x: expected a number, string, boolean or null, got array [1]",
        "m",
    ),
    (
        "missing prediction",
        orjson.dumps({"model_id": "m", "timestamp": T0, "features": {"x": 1}}),
        "schema_violation",
        "$.prediction: required field is missing",
        "m",
    ),
    (
        "timestamp before 2000",
        event("m", 0),
        "timestamp_out_of_bounds",
        "$.timestamp: number 0 is outside [2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z]",
        "m",
    ),
    (
        "timestamp after 2100",
        event("m", "2100-01-01T00:00:00.001Z"),
        "timestamp_out_of_bounds",
        '$.timestamp: string "2100-01-01T00:00:00.001Z" is outside '
        "[2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z]",
        "m",
    ),
    (
        "too many features",
        orjson.dumps(
            {
                "model_id": "m",
                "timestamp": T0,
                "features": dict.fromkeys("abcd", 1),
                "prediction": 1,
            }
        ),
        "too_many_features",
        "$.features: 4 features, the limit is 3",
        "m",
    ),
    # Not parsed at all, so the model id it holds is not read.
    (
        "oversized",
        OVERSIZED,
        "oversized",
        f"message is {len(OVERSIZED)} bytes, the limit is 300",
        None,
    ),
    ("unknown model", event("zz", T0), "unknown_model", "no baseline for model 'zz'", "zz"),
    (
        "dated beyond the future bound",
        event("m", NOW + 300_001),
        "timestamp_in_future",
        "$.timestamp: 2026-01-01T01:05:00.001Z is 300.001 s ahead of the wall clock "
        "(2026-01-01T01:00:00Z); the limit is 300 s (DRIFTLINE_MAX_FUTURE_SECONDS)",
        "m",
    ),
]


@pytest.mark.parametrize(
    ("value", "reason", "error", "model_id"),
    [case[1:] for case in BAD_CASES],
    ids=[case[0] for case in BAD_CASES],
)
def test_a_bad_record_becomes_its_exact_dead_letter_and_touches_no_partial(
    value: bytes | None, reason: str, error: str, model_id: str | None
) -> None:
    binner, registry = counting_setup("m")
    fold(binner, registry, 4, event("m", T0 + 1000))
    before = orjson.loads(snapshot_to_bytes(binner))
    record = Record("predictions", PARTITION, 5, T0 + 7, b"key-1", value)

    result = fold(binner, registry, record.offset, record.value)

    assert isinstance(result, Rejected)
    assert result.letter(record, received_at_ms=T0 + 9_250) == {
        "schema_version": 1,
        "kind": "dead_letter",
        "reason": reason,
        "error": error,
        "source": {"topic": "predictions", "partition": 2, "offset": 5, "timestamp_ms": T0 + 7},
        "original_base64": base64.b64encode(value or b"").decode(),
        "original_key_base64": "a2V5LTE=",
        "model_id": model_id,
        "received_at": "2026-01-01T00:00:09.250Z",
    }
    # Applied (a redelivery is recognised), and nothing else changed.
    after = orjson.loads(snapshot_to_bytes(binner))
    assert after["applied_offset"] == 5
    assert {**after, "applied_offset": 4} == before
    assert before["open"][0]["n_events"] == 1


def test_dead_letter_of_a_record_without_key_or_timestamp() -> None:
    binner, registry = counting_setup("m")
    result = fold(binner, registry, 0, b"[1,2]")
    assert isinstance(result, Rejected)
    record = Record("in", 0, 0, -1, None, b"[1,2]")  # Kafka's -1: no timestamp
    assert result.letter(record, received_at_ms=T0) == {
        "schema_version": 1,
        "kind": "dead_letter",
        "reason": "invalid_json",
        "error": "expected a JSON object, got array [1,2]",
        "source": {"topic": "in", "partition": 0, "offset": 0, "timestamp_ms": None},
        "original_base64": "WzEsMl0=",
        "original_key_base64": None,
        "model_id": None,
        "received_at": "2026-01-01T00:00:00Z",
    }
    assert binner.open_windows == 0
    assert binner.clocks() == {}  # a rejected record moves no clock
