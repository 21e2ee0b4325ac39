"""Event time that loses nothing (issue 9), without a broker: per-model clocks, idleness
that never jumps to the wall clock, the future bound and late data on a side output,
through fold_record, the binners and the mergers (tests/unit/pipeline/eventtime_sim.py).

Window 60 s, allowed lateness 5 s, idle 5 s, as in the issue's reproduction.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from app.pipeline.fold import Folded, Rejected
from app.windows.spec import WindowSpec
from tests.unit.pipeline.eventtime_sim import Sim

T0 = 1_795_762_800_000  # a window start (2026-11-27T07:00:00Z)
S = 1_000
MIN = 60 * S
SPEC = WindowSpec(size_ms=MIN, lateness_ms=5 * S, max_future_ms=300 * S)


def test_idle_then_traffic_30_minutes_behind_is_counted_in_its_own_windows() -> None:
    sim = Sim(1, ("m",), SPEC)
    wall = T0
    for _ in range(15):  # 15 s with no input at all: nothing to close, no clock invented
        wall += S
        sim.idle(wall)
    assert sim.closed == [] and sim.binners[0].clocks() == {}
    # 4 full windows (8,000 events), 30 minutes behind, read over 8 s of wall time.
    behind = wall - 30 * MIN
    start = SPEC.start_of(behind) + MIN
    for i in range(8000):
        result = sim.read(0, "m", start + i * 30, wall + i)  # 2,000 per minute of event time
        assert isinstance(result, Folded)
    wall += 8000
    # The stream stops: its last window closes on idleness, after window + lateness + idle.
    last = start + 7999 * 30
    for _ in range(80):
        wall += S
        sim.idle(wall)
    assert sim.counts() == {("m", start + k * MIN): 2000 for k in range(4)}
    assert sim.rejected == []
    # Idleness advanced the clock by the wall time since the last event, not to the wall clock.
    clock = sim.binners[0].clocks()["m"]
    assert clock == last + (wall - (T0 + 15 * S + 7999))
    assert clock < wall - 25 * MIN  # still about as far behind as its traffic


def test_a_stream_that_stops_closes_its_last_window_after_window_lateness_and_idle() -> None:
    sim = Sim(1, ("m",), SPEC)
    sim.read(0, "m", T0 + 1 * S, T0 + 1 * S)  # the window [T0, T0 + 60 s)
    wall = T0 + S
    closed_at = None
    while closed_at is None:
        wall += S
        sim.idle(wall)
        if sim.closed:
            closed_at = wall
    # Quiet for 5 s before idleness counts, then 64 s of event time (59 s + 5 s lateness).
    assert closed_at - (T0 + S) == 64 * S
    assert sim.counts() == {("m", T0): 1}


def test_idle_needs_the_model_quiet_for_idle_seconds_on_that_partition() -> None:
    sim = Sim(1, ("a", "b"), SPEC)
    sim.read(0, "a", T0 + 50 * S, T0 + 50 * S)
    sim.read(0, "b", T0 + 10 * S, T0 + 50 * S)
    for k in range(1, 30):  # a keeps coming every second; b is quiet
        sim.read(0, "a", T0 + (50 + k) * S, T0 + (50 + k) * S)
        sim.idle(T0 + (50 + k) * S)
    clocks = sim.binners[0].clocks()
    assert clocks["a"] == T0 + 79 * S
    # b advanced only by the 29 s since its last event was read (from 10 s), not to a's time.
    assert clocks["b"] == T0 + 39 * S
    assert sim.counts() == {("a", T0): 10}  # a's [T0, +60 s) closed at a's 65 s


def test_two_models_with_skewed_producers_on_one_partition() -> None:
    sim = Sim(1, ("a", "b"), SPEC)
    for i in range(600):  # 10 minutes of both; b's producer runs 10 minutes behind a's
        wall = T0 + 10 * MIN + i * S
        assert isinstance(sim.read(0, "a", wall, wall), Folded)
        assert isinstance(sim.read(0, "b", wall - 10 * MIN, wall), Folded)
    sim.end()
    assert sim.rejected == []
    assert sim.counts() == {
        **{("a", T0 + 10 * MIN + k * MIN): 60 for k in range(10)},
        **{("b", T0 + k * MIN): 60 for k in range(10)},
    }


def test_skewed_models_across_partitions_close_on_their_own_carriers() -> None:
    sim = Sim(2, ("a", "b"), SPEC)
    # a on both partitions, now; b only on partition 1, 10 minutes behind.
    for i in range(130):
        wall = T0 + 10 * MIN + i * S
        sim.read(0, "a", wall, wall)
        sim.read(1, "a", wall, wall)
        sim.read(1, "b", wall - 10 * MIN, wall)
    # Partition 0 never carried b: b's first two windows closed on partition 1's b clock.
    assert sim.counts() == {
        ("a", T0 + 10 * MIN): 120,
        ("a", T0 + 11 * MIN): 120,
        ("b", T0): 60,
        ("b", T0 + MIN): 60,
    }
    assert sim.rejected == []


def test_a_partition_that_carries_the_model_and_is_behind_holds_its_windows() -> None:
    sim = Sim(2, ("a",), SPEC)
    sim.read(1, "a", T0 + 1 * S, T0 + 1 * S)  # partition 1 showed a, then has a backlog
    for i in range(200):  # partition 0 runs 200 s ahead
        sim.read(0, "a", T0 + i * S, T0 + i * S)
    assert sim.counts() == {}  # partition 1's a clock is still at T0 + 1 s
    for i in range(2, 200):  # partition 1's backlog is read
        sim.read(1, "a", T0 + i * S, T0 + 200 * S)
    assert sim.counts() == {("a", T0): 119, ("a", T0 + MIN): 120, ("a", T0 + 2 * MIN): 120}
    assert sim.rejected == []


def test_a_partition_with_a_backlog_holds_the_windows_of_models_it_has_not_shown() -> None:
    sim = Sim(2, ("a", "b"), SPEC, all_ready=False)  # a live start: both have backlogs
    for i in range(130):  # partition 0 reads its whole backlog of a first
        sim.read(0, "a", T0 + i * S, T0)
    assert sim.counts() == {}  # partition 1 has not read its backlog: it may hold a's events
    for i in range(130):
        sim.read(1, "a", T0 + i * S, T0)
    assert sim.counts() == {("a", T0): 120, ("a", T0 + MIN): 120}
    for i in range(130):  # b only on partition 0
        sim.read(0, "b", T0 + i * S, T0)
    assert ("b", T0) not in sim.counts()
    sim.ready(0)
    sim.ready(1)  # partition 1's backlog is read: it never showed b, b closes on 0 alone
    assert sim.counts() == {
        ("a", T0): 120,
        ("a", T0 + MIN): 120,
        ("b", T0): 60,
        ("b", T0 + MIN): 60,
    }
    assert sim.late_partials == [] and sim.rejected == []


def test_one_event_dated_2099_is_dead_lettered_and_moves_no_clock() -> None:
    sim = Sim(1, ("m",), SPEC)
    sim.read(0, "m", T0 + 1 * S, T0 + 1 * S)
    future = sim.read(0, "m", 4_102_358_400_000, T0 + 2 * S)  # 2099-12-31T00:00:00Z
    assert isinstance(future, Rejected)
    assert (future.reason, future.model_id, future.window_id) == ("timestamp_in_future", "m", None)
    assert str(future.error) == (
        "$.timestamp: 2099-12-31T00:00:00Z is 2306595598 s ahead of the wall clock "
        "(2026-11-27T07:00:02Z); the limit is 300 s (DRIFTLINE_MAX_FUTURE_SECONDS)"
    )
    assert sim.binners[0].clocks() == {"m": T0 + 1 * S}
    for i in range(3, 130):  # the partition keeps counting
        assert isinstance(sim.read(0, "m", T0 + i * S, T0 + i * S), Folded)
    # Up to the bound ahead is fine (a producer clock a little fast): 300 s exactly.
    assert isinstance(sim.read(0, "m", T0 + 430 * S, T0 + 130 * S), Folded)
    assert isinstance(sim.read(0, "m", T0 + 430 * S + 1, T0 + 130 * S), Rejected)
    sim.end()
    assert sim.counts() == {
        ("m", T0): 58,
        ("m", T0 + MIN): 60,
        ("m", T0 + 2 * MIN): 10,
        ("m", T0 + 7 * MIN): 1,
    }
    assert sim.reasons() == Counter({"timestamp_in_future": 2})


def test_late_events_go_to_the_side_output_with_their_own_window_id() -> None:
    sim = Sim(1, ("a", "b"), SPEC)
    sim.read(0, "a", T0 + 10 * S, T0)
    sim.read(0, "b", T0 + 10 * S, T0)
    sim.read(0, "a", T0 + MIN + 6 * S, T0)  # a's [T0, +1 min) closes on a's clock
    late = sim.read(0, "a", T0 + 20 * S, T0)
    assert isinstance(late, Rejected)
    assert (late.reason, late.model_id, late.window_id) == ("late", "a", sim.window_id("a", T0))
    assert str(late.error) == (
        "event time 2026-11-27T07:00:20Z is in window 2026-11-27T07:00:00Z+60s, closed on "
        "this partition for model 'a' at 2026-11-27T07:01:00Z (allowed lateness 5 s)"
    )
    # b's clock is its own: b's event of the same minute is on time.
    assert isinstance(sim.read(0, "b", T0 + 20 * S, T0), Folded)
    sim.end()
    assert sim.counts() == {("a", T0): 1, ("a", T0 + MIN): 1, ("b", T0): 2}
    assert sim.binners[0].late_total == 1


def test_late_events_are_charged_to_no_window_even_one_still_open() -> None:
    sim = Sim(2, ("a",), SPEC)
    sim.read(1, "a", T0 + 1 * S, T0)  # partition 1 holds a's first window open
    sim.read(0, "a", T0 + 10 * S, T0)
    sim.read(0, "a", T0 + 2 * MIN + 5 * S, T0)  # partition 0 closes a's first two windows
    for ts in (T0 + 20 * S, T0 + 30 * S, T0 + MIN + 5 * S):
        late = sim.read(0, "a", ts, T0)
        assert isinstance(late, Rejected) and late.reason == "late"
    sim.read(1, "a", T0 + 3 * MIN, T0)  # partition 1 catches up: both windows close
    # Window [T0, +1 min) was still open (partition 1) when two of its late events came:
    # still not added (whether they came in time would depend on how partitions interleave).
    assert [(w.window_start_ms, w.n_events) for w in sim.closed] == [(T0, 2)]
    # [T0 + 1 min, +2 min) had no on-time event: no result; its late event is in the side
    # output only (with its window id), never charged to another window.
    assert sim.late_ids() == Counter(
        {("a", sim.window_id("a", T0)): 2, ("a", sim.window_id("a", T0 + MIN)): 1}
    )


def test_a_partition_first_showing_a_model_for_a_closed_window_reports_it_late() -> None:
    sim = Sim(2, ("a",), SPEC)
    for i in range(130):  # only partition 0 carries a: its windows close on its clock
        sim.read(0, "a", T0 + i * S, T0 + i * S)
    assert sim.counts() == {("a", T0): 60, ("a", T0 + MIN): 60}
    # Partition 1 now shows a for the first time, with events of the first window.
    for i in range(3):
        sim.read(1, "a", T0 + i * S, T0 + 130 * S)
    sim.read(1, "a", T0 + 3 * MIN, T0 + 130 * S)
    sim.end()
    # Not added to the emitted window (its result stands), not lost: reported late.
    assert sim.counts() == {
        ("a", T0): 60,
        ("a", T0 + MIN): 60,
        ("a", T0 + 2 * MIN): 10,
        ("a", T0 + 3 * MIN): 1,
    }
    assert [(p.source_partition, p.window_start_ms, p.n_events) for p in sim.late_partials] == [
        (1, T0, 3)
    ]


def test_clocks_survive_a_restart_exactly() -> None:
    a, b = Sim(2, ("a", "b"), SPEC), Sim(2, ("a", "b"), SPEC)
    steps = [
        (i % 2, "ab"[i % 3 % 2], T0 + i * 7 * S - (i % 5) * S, T0 + i * 7 * S) for i in range(60)
    ]
    for n, (p, m, ts, wall) in enumerate(steps):
        for sim in (a, b):
            sim.read(p, m, ts, wall)
            sim.idle(wall + 3 * S)
        if n % 17 == 5:
            b.restart(wall + 3 * S)
    a.end()
    b.end()
    assert b.counts() == a.counts() and b.late_ids() == a.late_ids()


# -- the property: random interleavings -------------------------------------------------


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[int, list[tuple[int, str, int]], list[tuple[str, int, int, int]]]:
    """(partitions, producers (partition, model, delay ms), steps (kind, producer, jitter, gap))."""
    partitions = draw(st.integers(1, 3))
    producers = draw(
        st.lists(
            st.tuples(st.integers(0, partitions - 1), st.sampled_from("abc"), st.integers(0, 40)),
            min_size=1,
            max_size=5,
            unique_by=lambda t: (t[0], t[1]),
        )
    )
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["event"] * 6 + ["late", "idle"]),
                st.integers(0, len(producers) - 1),
                st.integers(0, 5_000),  # jitter within the allowed lateness
                st.integers(0, 40_000),  # wall time before the step
            ),
            max_size=80,
        )
    )
    return partitions, [(p, m, d * 15 * S) for p, m, d in producers], steps


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.booleans())
def test_windows_equal_a_simple_reference_and_late_events_carry_their_window(
    scenario: tuple[int, list[tuple[int, str, int]], list[tuple[str, int, int, int]]],
    restart: bool,
) -> None:
    """Per-producer delays (up to 10 minutes), jitter within the lateness, idle gaps and
    late events, several models over several partitions. Every on-time event is counted in
    its window, every late one is reported with its own window id, nothing else."""
    partitions, producers, steps = scenario
    sim = Sim(partitions, ("a", "b", "c"), SPEC)
    wall = T0 + 20 * MIN
    on_time: Counter[tuple[str, int]] = Counter()
    late: Counter[tuple[str, str]] = Counter()
    newest: dict[int, int] = {}
    # Every producer speaks first (a partition that has not shown a model yet could only be
    # a late joiner, a separate case: test_a_partition_first_showing_...).
    first = [("event", i, 0, 0) for i in range(len(producers))]
    for n, (kind, i, jitter, gap) in enumerate(first + steps):
        p, model, delay = producers[i]
        wall += gap
        if kind == "idle":
            sim.idle(wall)
            continue
        if kind == "late":
            if i not in newest:
                continue
            # Older than the producer's own clock by more than lateness plus a window.
            ts = newest[i] - SPEC.lateness_ms - SPEC.size_ms - jitter
            late[(model, sim.window_id(model, ts))] += 1
        else:
            ts = wall - delay - jitter
            newest[i] = max(newest.get(i, ts), ts)
            on_time[(model, SPEC.start_of(ts))] += 1
        sim.read(p, model, ts, wall)
        if restart and n % 7 == 3:
            sim.restart(wall)
    sim.end()
    assert sim.counts() == dict(on_time)
    assert sim.late_ids() == late
    assert sim.reasons() == Counter({"late": sum(late.values())} if late else {})
    assert sim.late_partials == []
