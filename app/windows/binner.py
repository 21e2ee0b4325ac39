"""Stage 1: one source partition's open windows, its per-model event-time clocks and its
applied offset.

Event time is per model (design "Data flow", point 4). Each model seen on this partition
has its own clock: the largest event time read for it (or advanced by idleness, below).
Its windows close on that clock minus the allowed lateness, so another model's traffic,
faster or slower, never makes this model's events late. The partition tells stage 2 each
model's progress (``WatermarkAdvanced`` with the model), in order after the partials it
completes; stage 2 closes a model's window once every partition carrying that model has
passed its end (``app.windows.merger``).

Idleness never invents a clock: when the partition is caught up (the caller checks) and a
model has been quiet on it for the idle time, that model's clock may advance by the wall
time elapsed since its last event was read, never to the wall clock itself. So traffic 30
minutes or 3 days behind the clock is counted in its own windows, and the last window of a
stream that stops still closes.

Late events (in a window this partition already closed for the model) are not added to
any window: ``on_event`` returns a ``LateEvent`` naming the window it belongs to, and the
caller sends the event to the side output (dead-letter reason ``late``, with that window's
id). They are not counted in any result: whether a late event of a window reached stage 2
before the window closed there depends on timing (how partitions interleave, how many
workers), and results must not (a result's ``late_events`` is 0).

Exactness. The whole state of a source partition is one snapshot (its bytes:
``app.codecs.stage1_snapshot``) that the stream layer writes to the stage-1 snapshot topic
before it commits the events folded into it. After a crash or rebalance the snapshot comes
back with ``applied_offset``; redelivered events at or below it are skipped, so nothing is
counted twice, and nothing whose offset was committed is lost, because commits never pass
the last snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.baseline.model import Baseline
from app.windows.partial import Accumulator, AccumulatorOps, Partial
from app.windows.spec import END_OF_TIME_MS, WindowSpec

BaselineChooser = Callable[[str, int], Baseline | None]


@dataclass(frozen=True)
class WatermarkAdvanced:
    """Every window of ``model_id`` ending at or before ``closed_upto_ms`` is complete for
    this partition. ``model_id`` None: a message of the format before per-model clocks,
    meaning every model the partition carries (read, never written now)."""

    source_partition: int
    model_id: str | None
    closed_upto_ms: int


@dataclass(frozen=True)
class LateEvent:
    """An event at ``offset`` of ``model_id`` later than the allowed lateness of its window
    (``window_start_ms``) on this partition: never added, sent to the side output."""

    source_partition: int
    model_id: str
    window_start_ms: int
    offset: int


@dataclass(frozen=True)
class SourceReady:
    """Whether a source partition has read the backlog it had when its owner took it over
    (live stage 1 says so; ``ready`` False when a new owner starts). Until then it may
    hold events of any model, so it holds the windows of every model it has not shown yet
    (app.windows.merger)."""

    source_partition: int
    ready: bool


@dataclass(frozen=True)
class SourcePosition:
    """A source partition has been read up to ``offset`` (exclusive): every record below
    it was folded and its outputs were sent before this message (live stage 1 says so as
    its position moves). A live merger releases a window of a model the partition has not
    shown once the partition has read what it held when the carriers passed the window
    (app.windows.merger)."""

    source_partition: int
    offset: int


# What stage 1 sends to stage 2 (the partials topic), in order.
Output = Partial | WatermarkAdvanced | SourceReady | SourcePosition
NO_OUTPUT: tuple[Output, ...] = ()  # the common case, returned without allocating


class ModelClock:
    """One model's event time on one partition."""

    __slots__ = ("closed_upto_ms", "max_ts_ms", "read_at_ms", "read_ts_ms")

    def __init__(
        self, max_ts_ms: int, closed_upto_ms: int | None, read_at_ms: int, read_ts_ms: int
    ) -> None:
        self.max_ts_ms = max_ts_ms  # largest event time read (or reached by idleness)
        self.closed_upto_ms = closed_upto_ms  # windows ending at or before: closed here
        self.read_at_ms = read_at_ms  # wall time the model's last event was read
        self.read_ts_ms = read_ts_ms  # max_ts_ms then: idleness advances from here

    def as_tuple(self) -> tuple[int, int | None, int, int]:
        return (self.max_ts_ms, self.closed_upto_ms, self.read_at_ms, self.read_ts_ms)


class PartitionBinner:
    """Folds one source partition's events into per-(model, window) partials."""

    def __init__(
        self,
        partition: int,
        spec: WindowSpec,
        ops: AccumulatorOps,
        choose_baseline: BaselineChooser,
    ) -> None:
        self.partition = partition
        self.spec = spec
        self.ops = ops
        self.choose_baseline = choose_baseline
        self.applied_offset: int | None = None
        self.late_total = 0
        # From a snapshot of the format before per-model clocks: the partition's shared
        # watermark, where every model's clock starts (windows it closed stay closed).
        self.floor_ms: int | None = None
        self._clocks: dict[str, ModelClock] = {}
        self._open: dict[tuple[str, int], tuple[Partial, Accumulator, Baseline]] = {}

    # -- input -------------------------------------------------------------------------
    def already_applied(self, offset: int) -> bool:
        return self.applied_offset is not None and offset <= self.applied_offset

    def skip(self, offset: int) -> None:
        """Mark an event as handled without folding it in (it went to the dead-letter topic)."""
        self.applied_offset = offset

    def on_event(
        self,
        offset: int,
        model_id: str,
        ts_ms: int,
        features: dict[str, Any],
        prediction: Any,
        now_ms: int,
    ) -> Sequence[Output] | LateEvent:
        """Fold one valid event in, read at wall time ``now_ms``. Returns the partials and
        progress it completes, or a ``LateEvent`` (then nothing was added).

        The caller checks ``already_applied`` first, dead-letters events whose model has
        no baseline (``choose_baseline`` returns None) and those too far in the future
        (``app.pipeline.fold``), so all three are preconditions here.
        """
        self.applied_offset = offset
        size = self.spec.size_ms
        start = ts_ms - ts_ms % size
        clock = self._clocks.get(model_id)
        if clock is None:
            clock = self._clocks[model_id] = ModelClock(ts_ms, self.floor_ms, now_ms, ts_ms)
            new_clock = True
        else:
            new_clock = False
            clock.read_at_ms = now_ms
        closed = clock.closed_upto_ms
        if closed is not None and start + size <= closed:
            # Later than the allowed lateness: never reopen a window stage 2 may have
            # closed, never count it in another one. The side output names its window.
            clock.read_ts_ms = clock.max_ts_ms
            self.late_total += 1
            return LateEvent(self.partition, model_id, start, offset)
        key = (model_id, start)
        entry = self._open.get(key)
        if entry is None:
            entry = self._new_window(model_id, start)
        partial = entry[0]
        entry[1].add_event(features, prediction)
        partial.n_events += 1
        if partial.first_offset is None:
            partial.first_offset = offset
        partial.last_offset = offset
        if ts_ms > clock.max_ts_ms:
            clock.max_ts_ms = clock.read_ts_ms = ts_ms
            return self._advance(model_id, clock, announce=False)
        clock.read_ts_ms = clock.max_ts_ms
        if new_clock:  # stage 2 learns at once that this partition carries the model
            return self._advance(model_id, clock, announce=True)
        return NO_OUTPUT

    def on_idle(self, now_ms: int, idle_ms: int) -> list[Output]:
        """The partition is caught up (live mode; the caller checks): each model quiet
        here for ``idle_ms`` advances by the wall time since its last event was read."""
        out: list[Output] = []
        for model_id, clock in self._clocks.items():
            quiet = now_ms - clock.read_at_ms
            if quiet < idle_ms:
                continue
            target = clock.read_ts_ms + quiet
            if target > clock.max_ts_ms:
                clock.max_ts_ms = target
                out.extend(self._advance(model_id, clock, announce=False))
        return out

    def on_end(self) -> list[Output]:
        """End of input (replay, analyze): every open window is complete."""
        out: list[Output] = []
        for model_id, clock in self._clocks.items():
            clock.max_ts_ms = END_OF_TIME_MS + self.spec.lateness_ms
            out.extend(self._advance(model_id, clock, announce=False))
        return out

    def progress(self) -> list[WatermarkAdvanced]:
        """Every model's progress as it stands (sent when a partition is taken over, so
        stage 2 learns its models before their next window closes)."""
        return [
            WatermarkAdvanced(self.partition, m, c.closed_upto_ms)
            for m, c in self._clocks.items()
            if c.closed_upto_ms is not None
        ]

    def closed_upto(self, model_id: str) -> int:
        """Where the model's windows are closed on this partition (after a late event)."""
        clock = self._clocks[model_id]
        assert clock.closed_upto_ms is not None
        return clock.closed_upto_ms

    def clocks(self) -> dict[str, int]:
        """Each model's event time on this partition (largest read or reached by idleness)."""
        return {m: c.max_ts_ms for m, c in self._clocks.items()}

    # -- the compiled path (app.native) ------------------------------------------------
    def model_clocks(self) -> list[tuple[str, int, int | None]]:
        """(model, max_ts_ms, closed_upto_ms) of every model with a clock here."""
        return [(m, c.max_ts_ms, c.closed_upto_ms) for m, c in self._clocks.items()]

    def open_entries(self) -> list[tuple[str, int, Accumulator]]:
        """(model, window start, accumulator) of every open window."""
        return [(m, start, entry[1]) for (m, start), entry in self._open.items()]

    def add_folded(
        self,
        windows: Sequence[tuple[str, int, int, int, int]],
        clocks: Sequence[tuple[str, int, int]],
        applied_offset: int,
    ) -> None:
        """Record events folded elsewhere (``app.native``) into open windows whose
        accumulators already hold their counts, exactly as ``on_event`` would have for
        events that close nothing: ``windows`` (model, start, events, first offset, last
        offset); ``clocks`` (model, max_ts_ms, wall time its last event was read) of each
        model with such events; ``applied_offset`` the last record handled."""
        for model_id, start, n, first, last in windows:
            partial = self._open[(model_id, start)][0]
            partial.n_events += n
            if partial.first_offset is None:
                partial.first_offset = first
            partial.last_offset = last
        for model_id, max_ts_ms, read_at_ms in clocks:
            clock = self._clocks[model_id]
            clock.max_ts_ms = clock.read_ts_ms = max_ts_ms
            clock.read_at_ms = read_at_ms
        self.applied_offset = applied_offset

    # -- internals ---------------------------------------------------------------------
    def _new_window(self, model_id: str, start: int) -> tuple[Partial, Accumulator, Baseline]:
        baseline = self.choose_baseline(model_id, start)
        if baseline is None:
            raise KeyError(f"no baseline for model {model_id!r}")
        acc = self.ops.new(baseline)
        entry = (Partial(model_id, start, self.partition, baseline.baseline_id, acc), acc, baseline)
        self._open[(model_id, start)] = entry
        return entry

    def _advance(self, model_id: str, clock: ModelClock, *, announce: bool) -> Sequence[Output]:
        closed = self.spec.closed_upto(clock.max_ts_ms - self.spec.lateness_ms)
        before = clock.closed_upto_ms
        if closed is None or (before is not None and closed <= before):
            if announce and before is not None:
                return (WatermarkAdvanced(self.partition, model_id, before),)
            return NO_OUTPUT
        clock.closed_upto_ms = closed
        out: list[Output] = []
        end = self.spec.size_ms
        for key in sorted(k for k in self._open if k[0] == model_id and k[1] + end <= closed):
            partial, acc, _ = self._open.pop(key)
            acc.flush()  # handed on as it is (its hist), never added to again
            out.append(partial)
        out.append(WatermarkAdvanced(self.partition, model_id, closed))
        return out

    # -- persistence (the bytes: app.codecs.stage1_snapshot) ----------------------------
    def open_partials(self) -> list[Partial]:
        """The open windows' partials, in the order they opened (their hist: the accumulator)."""
        return [partial for partial, _, _ in self._open.values()]

    def clock_states(self) -> list[tuple[str, tuple[int, int | None, int, int]]]:
        """(model, (max_ts_ms, closed_upto_ms, read_at_ms, read_ts_ms)) in the order the
        models were first seen (idleness and the end visit them in this order)."""
        return [(m, c.as_tuple()) for m, c in self._clocks.items()]

    def resume(
        self,
        *,
        applied_offset: int | None,
        late_total: int,
        floor_ms: int | None,
        clocks: list[tuple[str, tuple[int, int | None, int, int]]],
        open_windows: list[tuple[Partial, Accumulator, Baseline]],
    ) -> None:
        """Continue from a snapshot: the clocks and the open windows it holds, each with its
        accumulator restored (which the partial carries as its hist)."""
        self.applied_offset = applied_offset
        self.late_total = late_total
        self.floor_ms = floor_ms
        self._clocks = {m: ModelClock(*state) for m, state in clocks}
        self._open = {}
        for partial, acc, baseline in open_windows:
            partial.hist = acc
            self._open[(partial.model_id, partial.window_start_ms)] = (partial, acc, baseline)

    @property
    def open_windows(self) -> int:
        return len(self._open)
