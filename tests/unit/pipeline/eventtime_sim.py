"""A broker-free Driftline: source partitions folded by ``fold_record`` into binners, their
outputs routed to one merger per partials partition, as the live stream routes them.

Used by the event-time scenarios and the property test (test_event_time.py). Histograms
are the counting fakes of tests.unit.windows.fakes, so a window's counts are exact ints.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from app.baseline.registry import BaselineRegistry
from app.codecs.stage1_snapshot import restore_snapshot, snapshot_to_bytes
from app.codecs.stage2_state import (
    pending_to_bytes,
    restore_pending,
    restore_watermarks,
    watermarks_to_bytes,
)
from app.contracts.decode import DecodeLimits
from app.pipeline.fold import Folded, Rejected, fold_record
from app.pipeline.results import window_id
from app.windows.binner import (
    Output,
    PartitionBinner,
    SourceReady,
    WatermarkAdvanced,
)
from app.windows.merger import CompleteWindow, WindowMerger
from app.windows.partial import Partial
from app.windows.spec import WindowSpec, route
from tests.factories import make_baseline
from tests.unit.windows.fakes import CountingOps

LIMITS = DecodeLimits()


def event(model: str, ts_ms: int) -> bytes:
    return orjson.dumps(
        {"model_id": model, "timestamp": ts_ms, "features": {"x": 1}, "prediction": 1}
    )


@dataclass
class Sim:
    partitions: int
    models: tuple[str, ...]
    spec: WindowSpec
    idle_ms: int = 5_000
    all_ready: bool = True  # False: every partition starts with a backlog (a live start)
    registry: BaselineRegistry = field(default_factory=BaselineRegistry)
    closed: list[CompleteWindow] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    late_partials: list[Partial] = field(default_factory=list)

    def __post_init__(self) -> None:
        for i, model in enumerate(self.models):
            self.registry.add(make_baseline(model_id=model, baseline_id=f"bl-{i:016x}"))
        self.binners = [self._binner(p) for p in range(self.partitions)]
        self.mergers = [
            WindowMerger(self.partitions, self.spec, all_ready=self.all_ready)
            for _ in range(self.partitions)
        ]
        self.offsets = [0] * self.partitions

    def _binner(self, p: int) -> PartitionBinner:
        return PartitionBinner(p, self.spec, CountingOps(), self.registry.choose)

    # -- input ---------------------------------------------------------------------------
    def read(
        self, partition: int, model: str, ts_ms: int, wall_ms: int
    ) -> Folded | Rejected | None:
        """One record appended to ``partition`` and read at wall time ``wall_ms``."""
        offset = self.offsets[partition]
        self.offsets[partition] += 1
        binner = self.binners[partition]
        result = fold_record(
            binner, self.registry, LIMITS, offset, event(model, ts_ms), now_ms=wall_ms
        )
        if isinstance(result, Folded):
            self.deliver(result.outputs)
        elif isinstance(result, Rejected):
            self.rejected.append(result)
        return result

    def idle(self, wall_ms: int) -> None:
        """Every partition is caught up (the simulation reads records as they come)."""
        for binner in self.binners:
            self.deliver(binner.on_idle(wall_ms, self.idle_ms))

    def ready(self, partition: int) -> None:
        """``partition`` has read the backlog it started with (live stage 1 says so)."""
        self.deliver([SourceReady(partition, True)])

    def end(self) -> None:
        for binner in self.binners:
            self.deliver(binner.on_end())

    def restart(self, wall_ms: int) -> None:
        """Every stage restored from its persisted bytes (a clean restart)."""
        for p, binner in enumerate(self.binners):
            fresh = self._binner(p)
            restore_snapshot(fresh, snapshot_to_bytes(binner), self.registry.by_id, now_ms=wall_ms)
            self.binners[p] = fresh
        for q, merger in enumerate(self.mergers):
            fresh_merger = WindowMerger(self.partitions, self.spec)
            restore_watermarks(fresh_merger, watermarks_to_bytes(merger))
            for key in merger.pending_keys():
                restore_pending(fresh_merger, pending_to_bytes(merger, key))
            self.mergers[q] = fresh_merger

    def deliver(self, outputs: Sequence[Output]) -> None:
        for out in outputs:
            if isinstance(out, Partial):
                q = route(out.model_id, out.window_start_ms, self.partitions)
                if self.mergers[q].on_partial(out) == "late":
                    self.late_partials.append(out)
            elif isinstance(out, SourceReady):
                for merger in self.mergers:
                    self.closed += merger.on_ready(out.source_partition, out.ready)
            else:
                assert isinstance(out, WatermarkAdvanced)
                for merger in self.mergers:
                    self.closed += merger.on_watermark(
                        out.source_partition, out.model_id, out.closed_upto_ms
                    )

    # -- what came out -------------------------------------------------------------------
    def counts(self) -> dict[tuple[str, int], int]:
        return {(w.model_id, w.window_start_ms): w.n_events for w in self.closed}

    def late_ids(self) -> Counter[tuple[str | None, str | None]]:
        return Counter((r.model_id, r.window_id) for r in self.rejected if r.reason == "late")

    def reasons(self) -> Counter[str]:
        return Counter(r.reason for r in self.rejected)

    def window_id(self, model: str, ts_ms: int) -> str:
        start = self.spec.start_of(ts_ms)
        baseline = self.registry.choose(model, start)
        assert baseline is not None
        return window_id(model, baseline.baseline_id, self.spec.span(start))
