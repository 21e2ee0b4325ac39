"""A live merger and the ready sources that have not shown a model: a burst of a model's
traffic spread over partitions is counted in its own windows whatever order its partitions
are read in (app.windows.merger, "A ready source that has not shown m")."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from app.codecs.partials import decode_output, encode_output
from app.codecs.stage2_state import (
    pending_to_bytes,
    restore_pending,
    restore_watermarks,
    watermarks_to_bytes,
)
from app.windows.binner import (
    Output,
    PartitionBinner,
    SourcePosition,
    SourceReady,
    WatermarkAdvanced,
)
from app.windows.merger import CompleteWindow, WindowMerger
from app.windows.partial import Partial
from app.windows.spec import WindowSpec
from tests.factories import make_baseline
from tests.unit.windows.fakes import CountingOps, outputs_of

SPEC = WindowSpec(size_ms=1000, lateness_ms=200)
BASELINE = make_baseline(model_id="m")
T = 1_000_000  # the burst's first window; every window holds 200 events
SOURCES = 4


class Live:
    """Four source partitions, each folded by a binner, and one live merger they all feed;
    every partition ready (idle, nothing read yet), as after a quiet start."""

    def __init__(self) -> None:
        self.merger = WindowMerger(SOURCES, SPEC, all_ready=False, live=True)
        self.binners = [
            PartitionBinner(p, SPEC, CountingOps(), lambda _m, _w: BASELINE) for p in range(SOURCES)
        ]
        self.closed: list[CompleteWindow] = []
        self.fates: list[tuple[int, int, str]] = []  # (source, window start, fate)
        for p in range(SOURCES):
            self.deliver([SourceReady(p, True), SourcePosition(p, 0)])

    def deliver(self, outputs: Sequence[Output]) -> None:
        for out in outputs:
            if isinstance(out, Partial):
                fate = self.merger.on_partial(out)
                self.fates.append((out.source_partition, out.window_start_ms, fate))
            elif isinstance(out, WatermarkAdvanced):
                self.closed += self.merger.on_watermark(
                    out.source_partition, out.model_id, out.closed_upto_ms
                )
            elif isinstance(out, SourceReady):
                self.closed += self.merger.on_ready(out.source_partition, out.ready)
            else:
                self.closed += self.merger.on_position(out.source_partition, out.offset)

    def read(self, *partitions: int) -> None:
        """These partitions read their parts of the burst (4 windows, every 4th event on
        each), interleaved as small fetches of a burst being produced deliver them, then
        say how far they have read."""
        for offset in range(200):
            for p in partitions:
                ts = T + (4 * offset + p) * 5
                result = self.binners[p].on_event(offset, "m", ts, {"x": 1}, 0, 0)
                self.deliver(outputs_of(result))
        self.deliver([SourcePosition(p, 200) for p in partitions])

    def barrier(self, ends: dict[int, int]) -> None:
        """What the merge stage does when the merger wants the input's end offsets."""
        assert self.merger.wanted == {"m"}
        self.closed += self.merger.on_barrier("m", ends)

    def end(self) -> None:
        for binner in self.binners:
            self.deliver(binner.on_end())

    def counts(self) -> list[tuple[int, int]]:
        return [(w.window_start_ms - T, w.n_events) for w in self.closed]


def test_a_burst_read_from_three_partitions_first_waits_for_the_fourth() -> None:
    live = Live()
    live.read(0, 1, 2)  # fetched and folded first: m's clock passes windows 0..2 on them
    assert live.closed == []  # partition 3 is ready but has not shown m yet
    # The input's end offsets, read after the carriers passed those windows: partition 3's
    # 200 records of the burst were already on the broker.
    live.barrier({0: 200, 1: 200, 2: 200, 3: 200})
    assert live.closed == []
    live.read(3)  # read a moment later: it shows m before its position reaches 200
    assert live.counts() == [(0, 200), (1000, 200), (2000, 200)]
    live.end()
    assert live.counts() == [(k * 1000, 200) for k in range(4)]
    assert {fate for _, _, fate in live.fates} == {"merged"}


def test_without_the_barrier_window_0_would_close_on_three_partitions() -> None:
    """The race the barrier prevents: a merger that lets ready sources which have not shown
    the model hold nothing (replay's rule, where carriers are known in advance)."""
    live = Live()
    live.merger.live = False
    live.read(0, 1, 2)
    assert live.counts() == [(0, 150), (1000, 150), (2000, 150)]
    live.read(3)
    assert [f for f in live.fates if f[2] == "late"] == [
        (3, T, "late"),
        (3, T + 1000, "late"),
        (3, T + 2000, "late"),
    ]


def test_a_partition_still_reading_holds_the_window_until_its_position_reaches_the_end() -> None:
    live = Live()
    live.read(0, 1, 2)
    live.barrier({0: 200, 1: 200, 2: 200, 3: 50})  # 3 holds 50 records of other traffic
    live.deliver([SourcePosition(3, 49)])
    assert live.closed == []
    live.deliver([SourcePosition(3, 50)])  # read them: none of m, it never carried m
    assert live.counts() == [(0, 150), (1000, 150), (2000, 150)]


def test_records_appended_after_the_carriers_passed_the_window_are_late_as_before() -> None:
    live = Live()
    live.read(0, 1, 2)
    live.barrier({0: 200, 1: 200, 2: 200, 3: 0})  # partition 3 was empty then
    assert live.counts() == [(0, 150), (1000, 150), (2000, 150)]
    live.read(3)
    assert [f for f in live.fates if f[2] == "late"] == [
        (3, T, "late"),
        (3, T + 1000, "late"),
        (3, T + 2000, "late"),
    ]


def test_a_model_every_source_carries_needs_no_end_offsets() -> None:
    live = Live()
    live.read(0, 1, 2, 3)
    assert live.merger.wanted == set()
    assert live.counts() == [(0, 200), (1000, 200), (2000, 200)]


def test_positions_and_barriers_survive_a_restore() -> None:
    live = Live()
    live.read(0, 1, 2)
    live.barrier({0: 200, 1: 200, 2: 200, 3: 200})
    restored = WindowMerger(SOURCES, SPEC, all_ready=False, live=True)
    restore_watermarks(restored, watermarks_to_bytes(live.merger))
    for key in live.merger.pending_keys():
        restore_pending(restored, pending_to_bytes(live.merger, key))
    assert (restored.positions, restored.barriers, restored.confirmed) == (
        {0: 200, 1: 200, 2: 200, 3: 0},
        {"m": (T + 3000, {3: 200})},
        {},
    )
    restored.want_barriers()
    assert restored.wanted == set()  # the barrier it waits for is already asked
    assert watermarks_to_bytes(restored) == watermarks_to_bytes(live.merger)
    live.merger = restored
    live.read(3)
    assert live.counts() == [(0, 200), (1000, 200), (2000, 200)]


def test_a_wanted_barrier_lost_in_a_restart_is_wanted_again() -> None:
    live = Live()
    live.read(0, 1, 2)
    assert live.merger.wanted == {"m"}
    restored = WindowMerger(SOURCES, SPEC, all_ready=False, live=True)
    restore_watermarks(restored, watermarks_to_bytes(live.merger))
    for key in live.merger.pending_keys():
        restore_pending(restored, pending_to_bytes(live.merger, key))
    assert restored.wanted == set()
    restored.want_barriers()
    assert restored.wanted == {"m"}


def test_progress_of_the_previous_format_restores_with_nothing_confirmed() -> None:
    live = Live()
    live.read(0, 1, 2)
    doc = orjson.loads(watermarks_to_bytes(live.merger))
    assert doc["v"] == 3
    for key in ("positions", "confirmed", "barriers"):
        del doc[key]
    doc["v"] = 2
    restored = WindowMerger(SOURCES, SPEC, all_ready=False, live=True)
    restore_watermarks(restored, orjson.dumps(doc))
    assert (restored.positions, restored.confirmed, restored.barriers) == ({}, {}, {})
    assert restored.closed_through("m") is None


def test_a_position_message_round_trips() -> None:
    out = SourcePosition(3, 12345)
    assert encode_output(out) == b'{"type":"position","source":3,"offset":12345}'
    assert decode_output(encode_output(out)) == out
