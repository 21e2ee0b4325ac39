"""A partial window: one source partition's histogram of one model's window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from app.baseline.model import Baseline


class Counts(Protocol):
    """What a partial carries: counts that can be written out (``app.codecs.partials``)."""

    def to_dict(self) -> dict[str, Any]: ...


class Accumulator(Counts, Protocol):
    """What a window needs of a histogram: add events, settle them, serialise compactly."""

    def add_event(self, features: dict[str, Any], prediction: Any) -> None: ...

    def flush(self) -> None:
        """No more events are coming soon: finish any buffered work now, so a closed
        partial holds its counts only (a histogram bins events in batches)."""


class AccumulatorOps(Protocol):
    """How to create and restore accumulators for a baseline (``HistogramOps``)."""

    def new(self, baseline: Baseline) -> Accumulator: ...

    def load(self, baseline: Baseline, data: dict[str, Any]) -> Accumulator: ...


@dataclass
class Partial:
    """Stage-1 state of (model, window, source partition), and the message sent to stage 2.

    ``hist`` is the accumulator itself inside a process (the binner's, handed on as is to
    a merger in the same process); a partial read from Kafka carries its counts as
    received, decoded against the window's baseline when the window closes.
    ``first_offset``/``last_offset`` are the source offsets of the events counted in it
    (None while it only holds late-event counts).
    """

    model_id: str
    window_start_ms: int
    source_partition: int
    baseline_id: str
    hist: Counts
    n_events: int = 0
    late_events: int = 0  # written as 0 since per-model clocks (late events: side output)
    first_offset: int | None = None
    last_offset: int | None = None
