"""A partial window: one source partition's histogram of one model's window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from app.baseline.model import Baseline


class Accumulator(Protocol):
    """What a window needs of a histogram: add one event, serialise compactly."""

    def add_event(self, features: dict[str, Any], prediction: Any) -> None: ...

    def to_dict(self) -> dict[str, Any]: ...


class AccumulatorOps(Protocol):
    """How to create, restore and merge accumulators for a baseline (supplied by app.binning)."""

    def new(self, baseline: Baseline) -> Accumulator: ...

    def load(self, baseline: Baseline, data: dict[str, Any]) -> Accumulator: ...

    def merge(self, baseline: Baseline, parts: list[dict[str, Any]]) -> Accumulator: ...


@dataclass
class Partial:
    """Stage-1 state of (model, window, source partition), and the message sent to stage 2.

    ``first_offset``/``last_offset`` are the source offsets of the events counted in it
    (None while it only holds late-event counts).
    """

    model_id: str
    window_start_ms: int
    source_partition: int
    baseline_id: str
    hist: dict[str, Any]
    n_events: int = 0
    late_events: int = 0
    first_offset: int | None = None
    last_offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "window_start_ms": self.window_start_ms,
            "source_partition": self.source_partition,
            "baseline_id": self.baseline_id,
            "hist": self.hist,
            "n_events": self.n_events,
            "late_events": self.late_events,
            "first_offset": self.first_offset,
            "last_offset": self.last_offset,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Partial:
        return cls(
            model_id=str(d["model_id"]),
            window_start_ms=int(d["window_start_ms"]),
            source_partition=int(d["source_partition"]),
            baseline_id=str(d["baseline_id"]),
            hist=dict(d["hist"]),
            n_events=int(d["n_events"]),
            late_events=int(d["late_events"]),
            first_offset=None if d["first_offset"] is None else int(d["first_offset"]),
            last_offset=None if d["last_offset"] is None else int(d["last_offset"]),
        )
