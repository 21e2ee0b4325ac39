"""Stage 2: merge the partials of (model, window) from every source partition, and decide
when the window is complete.

A window is complete when every source partition's watermark has passed its end. Each
source partition sends its watermark to every partials partition *after* the partials it
completes (one producer, per-partition order), so when the watermark of partition p
arrives here, p's partials for the windows it covers have arrived too.

Replacing, not adding: a redelivered partial (at-least-once) replaces the copy kept for its
source partition, so duplicates cannot double-count. A partial for a window that is
already complete is a duplicate of one that was merged, and is ignored.

The stream layer keeps the state in its ``stage2`` table (bytes: app.codecs.stage2_state).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.windows.partial import Partial
from app.windows.spec import WindowSpec


@dataclass(frozen=True)
class CompleteWindow:
    model_id: str
    window_start_ms: int
    partials: tuple[Partial, ...]  # sorted by source partition

    @property
    def n_events(self) -> int:
        return sum(p.n_events for p in self.partials)

    @property
    def late_events(self) -> int:
        return sum(p.late_events for p in self.partials)


class WindowMerger:
    """Pending windows and source watermarks of one partials partition."""

    def __init__(self, sources: int, spec: WindowSpec) -> None:
        self.sources = sources
        self.spec = spec
        self.closed_upto: list[int | None] = [None] * sources
        self.pending: dict[tuple[str, int], dict[int, Partial]] = {}
        self.duplicates_ignored = 0
        # Last partials-topic offset folded in (persisted with the watermarks): the stream
        # layer uses it to notice records its transport skipped.
        self.applied_offset: int | None = None

    def horizon(self) -> int | None:
        """Every window ending at or before this is complete (None until all sources spoke)."""
        if any(c is None for c in self.closed_upto):
            return None
        return min(c for c in self.closed_upto if c is not None)

    def on_partial(self, partial: Partial) -> bool:
        """Keep a partial. Returns False when it was a duplicate of an already merged one."""
        horizon = self.horizon()
        if horizon is not None and self.spec.end_of(partial.window_start_ms) <= horizon:
            self.duplicates_ignored += 1
            return False
        key = (partial.model_id, partial.window_start_ms)
        self.pending.setdefault(key, {})[partial.source_partition] = partial
        return True

    def on_watermark(self, source: int, closed_upto_ms: int) -> list[CompleteWindow]:
        """Record a source's watermark; return the windows it completes, oldest first."""
        if not 0 <= source < self.sources:
            raise ValueError(f"watermark from source partition {source}, expected < {self.sources}")
        current = self.closed_upto[source]
        if current is not None and closed_upto_ms <= current:
            return []
        self.closed_upto[source] = closed_upto_ms
        horizon = self.horizon()
        if horizon is None:
            return []
        done = sorted(
            (k for k in self.pending if self.spec.end_of(k[1]) <= horizon),
            key=lambda k: (k[1], k[0]),
        )
        out = []
        for key in done:
            parts = self.pending.pop(key)
            out.append(CompleteWindow(key[0], key[1], tuple(parts[p] for p in sorted(parts))))
        return out
