"""Stage 1 and stage 2 as pure state machines, including crash/redelivery exactness."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from app.codecs.stage1_snapshot import restore_snapshot, snapshot_to_bytes
from app.codecs.stage2_state import (
    pending_to_bytes,
    restore_pending,
    restore_watermarks,
    watermarks_to_bytes,
)
from app.windows.binner import LateEvent, Output, PartitionBinner, WatermarkAdvanced
from app.windows.merger import CompleteWindow, WindowMerger
from app.windows.partial import Partial
from app.windows.spec import WindowSpec, route
from tests.factories import make_baseline
from tests.unit.windows.fakes import CountingAccumulator, CountingOps, outputs_of

SPEC = WindowSpec(size_ms=1000, lateness_ms=200)
BASELINES = {m: make_baseline(model_id=m) for m in ("a", "b")}


def hist(data: dict[str, int]) -> CountingAccumulator:
    return CountingAccumulator(data)


def binner(p: int = 0) -> PartitionBinner:
    return PartitionBinner(p, SPEC, CountingOps(), lambda m, _w: BASELINES.get(m))


def test_window_closes_when_watermark_passes_its_end() -> None:
    b = binner()
    # The first event tells stage 2 where this partition stands.
    assert b.on_event(0, "a", 100, {"x": 1}, 0, 0) == [WatermarkAdvanced(0, "a", -1000)]
    assert b.on_event(1, "a", 900, {"x": 1}, 0, 0) == [WatermarkAdvanced(0, "a", 0)]
    assert b.on_event(2, "a", 1100, {"x": 1}, 0, 0) == ()  # wm = 900: window [0,1000) still open
    out = outputs_of(b.on_event(3, "a", 1200, {"x": 1}, 0, 0))  # wm = 1000: closes [0, 1000)
    assert len(out) == 2
    partial, wm = out
    assert isinstance(partial, Partial) and isinstance(wm, WatermarkAdvanced)
    assert (partial.model_id, partial.window_start_ms, partial.n_events) == ("a", 0, 2)
    assert (partial.first_offset, partial.last_offset) == (0, 1)
    assert partial.hist == CountingAccumulator({"x": 2})
    assert isinstance(partial.hist, CountingAccumulator) and partial.hist.flushed
    assert wm == WatermarkAdvanced(0, "a", 1000)
    assert b.open_windows == 1


def test_late_event_is_reported_with_its_window_not_added() -> None:
    b = binner()
    for off, ts in enumerate([100, 1300, 1400]):
        b.on_event(off, "a", ts, {"x": 1}, 0, 0)
    assert b.closed_upto("a") == 1000
    # Window [0,1000) is closed for a: late, reported, added nowhere.
    assert b.on_event(3, "a", 500, {"x": 1}, 0, 0) == LateEvent(0, "a", 0, 3)
    out = b.on_end()
    parts = [o for o in out if isinstance(o, Partial)]
    assert [(p.window_start_ms, p.n_events, p.late_events) for p in parts] == [(1000, 2, 0)]
    assert b.late_total == 1


def test_event_within_lateness_still_lands_in_its_window() -> None:
    b = binner()
    b.on_event(0, "a", 900, {"x": 1}, 0, 0)
    b.on_event(1, "a", 1150, {"x": 1}, 0, 0)  # wm = 950
    b.on_event(2, "a", 950, {"x": 1}, 0, 0)  # on time: [0,1000) still open
    parts = [o for o in b.on_end() if isinstance(o, Partial)]
    assert [(p.window_start_ms, p.n_events, p.late_events) for p in parts] == [
        (0, 2, 0),
        (1000, 1, 0),
    ]


def test_snapshot_restore_continues_identically() -> None:
    a, b = binner(), binner()
    events = [(i, "ab"[i % 2], 137 * i, {"x": i}) for i in range(40)]
    out_a: list[Output] = []
    for off, m, ts, f in events:
        out_a += outputs_of(a.on_event(off, m, ts, f, 0, 0))
    out_b: list[Output] = []
    for off, m, ts, f in events[:17]:
        out_b += outputs_of(b.on_event(off, m, ts, f, 0, 0))
    restored = binner()
    restore_snapshot(restored, snapshot_to_bytes(b), lambda _id: BASELINES["a"], now_ms=0)
    for off, m, ts, f in events[10:]:  # redelivery from an older commit point
        if not restored.already_applied(off):
            out_b += outputs_of(restored.on_event(off, m, ts, f, 0, 0))
    assert out_b == out_a
    assert snapshot_to_bytes(restored) == snapshot_to_bytes(a)


def test_merger_waits_for_every_source_and_ignores_duplicates() -> None:
    m = WindowMerger(sources=2, spec=SPEC)
    m.expect(1, "a")  # partition 1 carries a too (it has shown it)
    p0 = Partial(
        "a", 0, 0, "bl", CountingAccumulator({"x": 3}), n_events=3, first_offset=0, last_offset=2
    )
    p1 = Partial(
        "a", 0, 1, "bl", CountingAccumulator({"x": 2}), n_events=2, first_offset=5, last_offset=6
    )
    assert m.on_partial(p0)
    assert m.on_partial(p0)  # redelivered: replaces, does not add
    assert m.on_watermark(0, "a", 1000) == []
    assert m.on_partial(p1)
    [done] = m.on_watermark(1, "a", 2000)
    assert done == CompleteWindow("a", 0, (p0, p1))
    assert done.n_events == 5
    assert m.on_partial(p1) == "duplicate"  # window already complete
    assert m.duplicates_ignored == 1


def test_merger_persistence_round_trip() -> None:
    m = WindowMerger(sources=2, spec=SPEC)
    m.expect(1, "a")  # partition 1 carries a too (it has shown it)
    p0 = Partial(
        "a", 0, 0, "bl", CountingAccumulator({"x": 3}), n_events=3, first_offset=0, last_offset=2
    )
    m.on_partial(p0)
    m.on_watermark(0, "a", 1000)
    r = WindowMerger(sources=2, spec=SPEC)
    restore_watermarks(r, watermarks_to_bytes(m))
    restore_pending(r, pending_to_bytes(m, ("a", 0)))
    assert pending_to_bytes(r, ("a", 0)) == pending_to_bytes(m, ("a", 0))
    [restored] = r.on_watermark(1, "a", 1000)
    [kept] = m.on_watermark(1, "a", 1000)
    # The restored copy carries its counts as read (decoded when the window closes).
    assert [p.hist.to_dict() for p in restored.partials] == [{"x": 3}]
    assert replace(restored, partials=kept.partials) == kept
    assert [replace(p, hist=kept.partials[0].hist) for p in restored.partials] == [p0]


def run_pipeline(
    events: list[tuple[int, str, int]], partitions: int, crash_every: int | None, seed: int
) -> tuple[list[tuple[str, int, int, int]], int]:
    """Route events to source partitions, run both stages, optionally crash stage 1 often:
    restore from the last snapshot and redeliver from the last commit (<= snapshot)."""
    rng = random.Random(seed)
    late: set[tuple[int, int]] = set()  # (source partition, offset) of late events
    logs: list[list[tuple[int, str, int]]] = [[] for _ in range(partitions)]
    for i, (key, model, ts) in enumerate(events):
        logs[key % partitions].append((i, model, ts))
    mergers = [WindowMerger(partitions, SPEC) for _ in range(partitions)]
    # Partitions run one after the other here; live they run side by side, each showing
    # its models early. Each model's carriers are made known up front (as replay does).
    for p, log in enumerate(logs):
        for _, model, _ in log:
            for merger in mergers:
                merger.expect(p, model)
    results: list[tuple[str, int, int, int]] = []

    def deliver(outputs: Sequence[Output]) -> None:
        for o in outputs:
            if isinstance(o, Partial):
                mergers[route(o.model_id, o.window_start_ms, partitions)].on_partial(o)
            elif isinstance(o, WatermarkAdvanced):
                for merger in mergers:
                    for w in merger.on_watermark(o.source_partition, o.model_id, o.closed_upto_ms):
                        results.append((w.model_id, w.window_start_ms, w.n_events, 0))

    for p, log in enumerate(logs):
        b = binner(p)
        snapshot, committed = snapshot_to_bytes(b), 0
        pos = 0
        while pos < len(log):
            offset = pos
            _, model, ts = log[pos]
            if not b.already_applied(offset):
                result = b.on_event(offset, model, ts, {"x": 1}, 0, 0)
                if isinstance(result, LateEvent):
                    late.add((result.source_partition, result.offset))
                deliver(outputs_of(result))
            pos += 1
            if crash_every and rng.random() < 1 / crash_every:
                snapshot, committed = snapshot_to_bytes(b), pos  # flush, then commit
            if crash_every and rng.random() < 1 / crash_every:
                b = binner(p)
                restore_snapshot(b, snapshot, lambda _id: BASELINES["a"], now_ms=0)
                pos = rng.randint(0, committed)  # commits never pass the snapshot
        deliver(b.on_end())
    return sorted(results), len(late)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1000), st.sampled_from("ab"), st.integers(0, 6000)),
        min_size=1,
        max_size=120,
    ),
    st.integers(1, 4),
    st.integers(0, 10**6),
)
def test_pipeline_counts_are_exact_across_crashes_and_partitionings(
    events: list[tuple[int, str, int]], partitions: int, seed: int
) -> None:
    uninterrupted, late = run_pipeline(events, partitions, None, seed)
    assert run_pipeline(events, partitions, 5, seed) == (uninterrupted, late)
    # Every event is either counted in its window or reported late, exactly once.
    assert sum(n for _, _, n, _ in uninterrupted) + late == len(events)
    if late == 0:
        truth = Counter((m, SPEC.start_of(ts)) for _, m, ts in events)
        assert {(m, w): n for m, w, n, _ in uninterrupted} == truth
