"""Replay's merge (app.pipeline.replay): per-partition outputs in, complete windows out."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.pipeline.replay import PartitionRun, merge_runs, partial_windows
from app.windows.binner import LateEvent, Output, PartitionBinner, WatermarkAdvanced
from app.windows.merger import CompleteWindow, WindowMerger
from app.windows.partial import Partial
from app.windows.spec import WindowSpec, route
from tests.factories import make_baseline
from tests.unit.windows.fakes import CountingAccumulator, CountingOps, outputs_of

SIZE = 1000
SPEC = WindowSpec(size_ms=SIZE, lateness_ms=200)
BASELINES = {m: make_baseline(model_id=m, baseline_id=f"bl-{i:016x}") for i, m in enumerate("ab")}

Event = tuple[int, str, int]  # (source partition, model, event time)
LATE: dict[int, list[LateEvent]] = {}  # per partition: the late events of the last binning


def bin_partition(p: int, events: list[Event]) -> PartitionRun:
    """What one replay process yields for source partition p (as app.stream.replay does)."""
    binner = PartitionBinner(p, SPEC, CountingOps(), lambda m, _w: BASELINES[m])
    run = PartitionRun(p, [], truncated_start=False, truncated_end=False)
    LATE[p] = []
    for offset, (_, model, ts) in enumerate(e for e in events if e[0] == p):
        result = binner.on_event(offset, model, ts, {"x": 1.0}, 0, ts)
        if isinstance(result, LateEvent):
            LATE[p].append(result)
        run.outputs += outputs_of(result)
    run.outputs += binner.on_end()
    return run


def live_windows(runs: list[PartitionRun], partitions: int, seed: int) -> list[CompleteWindow]:
    """Stage 2 as a live worker runs it: partials routed to their partials partition,
    progress to every one, the source partitions' outputs interleaved in arrival order
    (each partition's own order kept). Every partition has shown its models before the
    others pass their windows (live workers read all partitions from the start; a later
    joiner is tests/unit/pipeline/test_event_time.py's case)."""
    mergers = [WindowMerger(partitions, SPEC) for _ in range(partitions)]
    for r in runs:
        for out in r.outputs:
            if isinstance(out, WatermarkAdvanced) and out.model_id is not None:
                for merger in mergers:
                    merger.expect(out.source_partition, out.model_id)
    queues = [list(r.outputs) for r in runs]
    rng = random.Random(seed)
    done: list[CompleteWindow] = []
    while any(queues):
        out = rng.choice([q for q in queues if q]).pop(0)
        if isinstance(out, Partial):
            mergers[route(out.model_id, out.window_start_ms, partitions)].on_partial(out)
        elif isinstance(out, WatermarkAdvanced):
            for merger in mergers:
                done += merger.on_watermark(out.source_partition, out.model_id, out.closed_upto_ms)
    return done


def by_window(windows: list[CompleteWindow]) -> list[CompleteWindow]:
    return sorted(windows, key=lambda w: (w.window_start_ms, w.model_id))


# -- the merge gives the live result ---------------------------------------------------------


def test_partials_of_several_partitions_merge_into_the_live_result() -> None:
    events: list[Event] = [
        (0, "a", 100),
        (1, "a", 200),
        (2, "b", 300),
        (0, "b", 900),
        (1, "a", 1100),
        (2, "a", 1500),
        (0, "a", 1999),
        (1, "b", 2500),
        (2, "a", 2600),
        (0, "a", 3100),
    ]
    runs = [bin_partition(p, events) for p in range(3)]

    windows, flagged = merge_runs(runs, 3, SPEC)

    assert flagged == set()
    assert [(w.model_id, w.window_start_ms, w.n_events) for w in windows] == [
        ("a", 0, 2),
        ("b", 0, 2),
        ("a", 1000, 3),
        ("a", 2000, 1),
        ("b", 2000, 1),
        ("a", 3000, 1),
    ]
    a0 = windows[0]
    assert [(p.source_partition, p.n_events, p.hist.to_dict()) for p in a0.partials] == [
        (0, 1, {"x": 1}),
        (1, 1, {"x": 1}),
    ]
    assert windows == by_window(live_windows(runs, 3, seed=1))
    # Which process binned which partition (the order of the runs) does not matter.
    assert merge_runs(runs[::-1], 3, SPEC) == (windows, set())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from("ab"), st.integers(0, 8000)),
        min_size=1,
        max_size=80,
    ),
    st.integers(0, 10**6),
)
def test_merge_equals_live_for_any_events(events: list[Event], seed: int) -> None:
    runs = [bin_partition(p, events) for p in range(4)]
    windows, flagged = merge_runs(runs, 4, SPEC)
    assert flagged == set()
    assert windows == by_window(live_windows(runs, 4, seed))
    # Every event is counted once: in its own window, or late (its side output) with it.
    late = [o for r in runs for o in LATE[r.partition]]
    assert sum(w.n_events for w in windows) + len(late) == len(events)
    late_windows = Counter((o.model_id, o.window_start_ms) for o in late)
    truth = Counter((m, SPEC.start_of(ts)) for _, m, ts in events) - late_windows
    assert {(w.model_id, w.window_start_ms): w.n_events for w in windows} == +truth


# -- watermarks ------------------------------------------------------------------------------


def partial(model: str, start: int, source: int, n: int) -> Partial:
    return Partial(
        model,
        start,
        source,
        "bl",
        CountingAccumulator({"x": n}),
        n_events=n,
        first_offset=0,
        last_offset=n,
    )


def run(p: int, *outputs: Output) -> PartitionRun:
    return PartitionRun(p, list(outputs), truncated_start=False, truncated_end=False)


def test_a_window_completes_only_when_every_source_partition_passed_its_end() -> None:
    p0 = run(0, partial("a", 0, 0, 3), partial("a", 1000, 0, 4), WatermarkAdvanced(0, "a", 3000))
    # Partition 1 stands before the end of [0, 1000): nothing is complete.
    behind = run(1, partial("a", 0, 1, 2), WatermarkAdvanced(1, "a", 0))
    assert merge_runs([p0, behind], 2, SPEC) == ([], set())
    # At exactly the end of [0, 1000): that window, and only that one, is complete.
    at_end = run(1, partial("a", 0, 1, 2), WatermarkAdvanced(1, "a", 1000))
    windows, _ = merge_runs([p0, at_end], 2, SPEC)
    assert windows == [CompleteWindow("a", 0, (partial("a", 0, 0, 3), partial("a", 0, 1, 2)))]
    # Past both ends: both, oldest first; [1000, 2000) holds partition 0's partial alone.
    past = run(
        1, partial("a", 0, 1, 2), WatermarkAdvanced(1, "a", 1000), WatermarkAdvanced(1, "a", 2000)
    )
    windows, _ = merge_runs([p0, past], 2, SPEC)
    assert [(w.window_start_ms, w.n_events, len(w.partials)) for w in windows] == [
        (0, 5, 2),
        (1000, 4, 1),
    ]


def test_every_source_partition_needs_a_run() -> None:
    with pytest.raises(ValueError, match=r"^no replay output for partition 1$"):
        merge_runs([run(0, WatermarkAdvanced(0, "a", 1000))], 2, SPEC)


# -- partial windows -------------------------------------------------------------------------


def truncated(
    p: int, start: bool, end: bool, first: int | None, last: int | None, *outputs: Partial
) -> PartitionRun:
    ends = [WatermarkAdvanced(p, m, 10_000) for m in sorted({o.model_id for o in outputs})]
    return PartitionRun(p, [*outputs, *ends], start, end, first, last)


def test_windows_cut_by_the_range_are_flagged() -> None:
    starts = (0, 1000, 2000, 3000, 4000)
    p0 = truncated(0, True, False, 1500, 4200, *(partial("a", s, 0, 1) for s in starts))
    p1 = truncated(1, False, True, 800, 3000, partial("b", 2000, 1, 1), partial("b", 3000, 1, 1))
    windows, flagged = merge_runs([p0, p1], 2, SPEC)
    assert [(w.model_id, w.window_start_ms) for w in windows] == [
        ("a", 0),
        ("a", 1000),
        ("a", 2000),
        ("b", 2000),
        ("a", 3000),
        ("b", 3000),
        ("a", 4000),
    ]
    # Before partition 0's first replayed event (1500): [0, 1000) and [1000, 2000) may miss
    # its earlier events. From partition 1's last replayed event (3000) on: windows ending
    # after it may miss its later ones. [2000, 3000) is whole.
    assert flagged == {("a", 0), ("a", 1000), ("a", 3000), ("b", 3000), ("a", 4000)}


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        # Nothing truncated: nothing partial, whatever the event times.
        ([(False, False, 100, 900), (False, False, 50, 950)], (None, None)),
        # The latest first event of a partition cut at the start; the earliest last event of
        # one cut at the end.
        ([(True, False, 100, 900), (True, False, 300, 950)], (300, None)),
        ([(False, True, 100, 900), (False, True, 50, 700)], (None, 700)),
        ([(True, True, 100, 900), (False, False, 5000, 50)], (100, 900)),
        # A truncated partition that replayed no valid event has no time to cut at.
        ([(True, True, None, None), (False, False, 100, 900)], (None, None)),
    ],
)
def test_partial_window_bounds(
    runs: list[tuple[bool, bool, int | None, int | None]],
    expected: tuple[int | None, int | None],
) -> None:
    parts = [PartitionRun(p, [], s, e, first, last) for p, (s, e, first, last) in enumerate(runs)]
    assert partial_windows(parts) == expected
