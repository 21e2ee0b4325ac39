"""Stage 1: one source partition's open windows, its watermark and its applied offset.

Exactness. The whole state of a source partition is one snapshot (its bytes:
``app.codecs.stage1_snapshot``) that the stream layer writes to the stage-1 snapshot topic
before it commits the events folded into it. After a crash or rebalance the snapshot comes
back with ``applied_offset``; redelivered events at or below it are skipped, so nothing is
counted twice, and nothing whose offset was committed is lost, because commits never pass
the last snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.baseline.model import Baseline
from app.windows.partial import Accumulator, AccumulatorOps, Partial
from app.windows.spec import END_OF_TIME_MS, WindowSpec

BaselineChooser = Callable[[str, int], Baseline | None]


@dataclass(frozen=True)
class WatermarkAdvanced:
    """Every window ending at or before ``closed_upto_ms`` is complete for this partition."""

    source_partition: int
    closed_upto_ms: int


Output = Partial | WatermarkAdvanced


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
        self.max_ts_ms: int | None = None
        self.applied_offset: int | None = None
        self.closed_upto_ms: int | None = None
        self.late_total = 0
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
    ) -> list[Partial | WatermarkAdvanced]:
        """Fold one valid event in. Returns the partials and watermark it completes.

        The caller checks ``already_applied`` first and dead-letters events whose model has
        no baseline (``choose_baseline`` returns None), so both are preconditions here.
        """
        self.applied_offset = offset
        start = self.spec.start_of(ts_ms)
        if self.closed_upto_ms is not None and self.spec.end_of(start) <= self.closed_upto_ms:
            # Later than the allowed lateness: never reopen a window stage 2 may have closed.
            # Count it in the model's current window so the next result reports it.
            self.late_total += 1
            current = self.spec.start_of(self.max_ts_ms if self.max_ts_ms is not None else ts_ms)
            partial, _, _ = self._get_open(model_id, current)
            partial.late_events += 1
            return []
        partial, acc, _ = self._get_open(model_id, start)
        acc.add_event(features, prediction)
        partial.n_events += 1
        if partial.first_offset is None:
            partial.first_offset = offset
        partial.last_offset = offset
        return self._advance(ts_ms)

    def on_tick(self, wall_ms: int) -> list[Partial | WatermarkAdvanced]:
        """Idle partition (live mode): let the wall clock stand in for event time."""
        return self._advance(wall_ms)

    def on_end(self) -> list[Partial | WatermarkAdvanced]:
        """End of input (replay): every open window is complete."""
        return self._advance(END_OF_TIME_MS + self.spec.lateness_ms)

    # -- internals ---------------------------------------------------------------------
    def _get_open(self, model_id: str, start: int) -> tuple[Partial, Accumulator, Baseline]:
        key = (model_id, start)
        found = self._open.get(key)
        if found is not None:
            return found
        baseline = self.choose_baseline(model_id, start)
        if baseline is None:
            raise KeyError(f"no baseline for model {model_id!r}")
        acc = self.ops.new(baseline)
        entry = (Partial(model_id, start, self.partition, baseline.baseline_id, acc), acc, baseline)
        self._open[key] = entry
        return entry

    def _advance(self, ts_ms: int) -> list[Partial | WatermarkAdvanced]:
        if self.max_ts_ms is not None and ts_ms <= self.max_ts_ms:
            return []  # the watermark moves only with a new maximum (the common case)
        self.max_ts_ms = ts_ms
        closed = self.spec.closed_upto(self.max_ts_ms - self.spec.lateness_ms)
        if closed is None or (self.closed_upto_ms is not None and closed <= self.closed_upto_ms):
            return []
        self.closed_upto_ms = closed
        out: list[Partial | WatermarkAdvanced] = []
        for key in sorted(k for k in self._open if self.spec.end_of(k[1]) <= closed):
            partial, acc, _ = self._open.pop(key)
            acc.flush()  # handed on as it is (its hist), never added to again
            out.append(partial)
        out.append(WatermarkAdvanced(self.partition, closed))
        return out

    # -- persistence (the bytes: app.codecs.stage1_snapshot) ----------------------------
    def open_partials(self) -> list[Partial]:
        """The open windows' partials, in the order they opened (their hist: the accumulator)."""
        return [partial for partial, _, _ in self._open.values()]

    def resume(
        self,
        *,
        max_ts_ms: int | None,
        applied_offset: int | None,
        closed_upto_ms: int | None,
        late_total: int,
        open_windows: list[tuple[Partial, Accumulator, Baseline]],
    ) -> None:
        """Continue from a snapshot: the clocks and the open windows it holds, each with its
        accumulator restored (which the partial carries as its hist)."""
        self.max_ts_ms = max_ts_ms
        self.applied_offset = applied_offset
        self.closed_upto_ms = closed_upto_ms
        self.late_total = late_total
        self._open = {}
        for partial, acc, baseline in open_windows:
            partial.hist = acc
            self._open[(partial.model_id, partial.window_start_ms)] = (partial, acc, baseline)

    @property
    def open_windows(self) -> int:
        return len(self._open)
