"""Stage 2: merge the partials of (model, window) from every source partition, and decide
when the window is complete.

Per-model progress. A window of model m is complete when every source partition that
carries m has passed its end on m's clock. A partition carries m from the first progress
message it sends for m (stage 1 sends one with m's first event on it, before any partial
of m), so a partition that never carried m never holds m's windows open, and one that
carries m and is behind (a backlog not yet read) always does. Each source partition sends
its progress to every partials partition *after* the partials it completes (one producer,
per-partition order), so when p's progress for m arrives here, p's partials of m for the
windows it covers have arrived too.

A partition with a backlog may hold any model's events: until its owner has read the
backlog it started with (``SourceReady``), it holds the windows of every model it has not
shown yet. A partition that first shows m for a window already closed here (it joined late: m's
first events on it were read after the other carriers had passed that window) cannot be
added to a result already emitted, and must not be dropped: ``on_partial`` answers
"late" and the stream reports the partial on the side output (dead-letter reason
``late``, with the window id, the partition and its offsets). Never double-counted: the
emitted result stands, and later windows wait for that partition like any carrier.

Replacing, not adding: a redelivered partial (at-least-once) replaces the copy kept for its
source partition, so duplicates cannot double-count. A partial for a window that is
already complete is a duplicate of one that was merged, and is ignored.

The stream layer keeps the state in its ``stage2`` table (bytes: app.codecs.stage2_state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.windows.partial import Partial
from app.windows.spec import WindowSpec

PartialFate = Literal["merged", "duplicate", "late"]


@dataclass(frozen=True)
class CompleteWindow:
    model_id: str
    window_start_ms: int
    partials: tuple[Partial, ...]  # sorted by source partition

    @property
    def n_events(self) -> int:
        return sum(p.n_events for p in self.partials)


class WindowMerger:
    """Pending windows and per-model source progress of one partials partition."""

    def __init__(self, sources: int, spec: WindowSpec, *, all_ready: bool = True) -> None:
        self.sources = sources
        self.spec = spec
        # Sources that have read the backlog they started with (SourceReady). One that has
        # not may still show any model: it holds the windows of models it does not carry.
        # Replay and analyze know every source's models in advance: all ready.
        self.ready: set[int] = set(range(sources)) if all_ready else set()
        # model -> carrying source -> its closed-up-to time for the model (None: expected
        # to carry it, no progress yet; replay knows its carriers in advance).
        self.clocks: dict[str, dict[int, int | None]] = {}
        # model -> end of the latest window of it whose result went out from here.
        self.emitted_upto: dict[str, int] = {}
        # (model, source) -> the model's emitted_upto when the source first showed the
        # model, if behind it: its partials of windows ending at or before are late.
        self.joined_late: dict[tuple[str, int], int] = {}
        # State of the format before per-model progress: windows ending at or before this
        # were closed for every model.
        self.legacy_floor: int | None = None
        self.legacy_sources: list[int | None] | None = None  # each source's, in that state
        self.pending: dict[tuple[str, int], dict[int, Partial]] = {}
        self.duplicates_ignored = 0
        # Last partials-topic offset folded in (persisted with the progress): the stream
        # layer uses it to notice records its transport skipped.
        self.applied_offset: int | None = None

    def horizon(self, model_id: str) -> int | None:
        """Every carrier of the model has passed windows ending at or before this (None
        while a carrier has not spoken, or none has)."""
        carriers = self.clocks.get(model_id, {})
        if len(self.ready) < self.sources and any(
            s not in self.ready and s not in carriers for s in range(self.sources)
        ):
            return None  # a source with a backlog may still show this model
        horizon: int | None = None
        for value in carriers.values():
            if value is None:
                return None
            if horizon is None or value < horizon:
                horizon = value
        return horizon

    def closed_through(self, model_id: str) -> int | None:
        """No partial of the model's windows ending at or before this will be merged."""
        best = self.horizon(model_id)
        for other in (self.emitted_upto.get(model_id), self.legacy_floor):
            if other is not None and (best is None or other > best):
                best = other
        return best

    def expect(self, source: int, model_id: str) -> None:
        """``source`` carries ``model_id``: hold its windows until the source's progress
        passes them (replay, where each partition's models are known before merging)."""
        self.clocks.setdefault(model_id, {}).setdefault(source, None)

    def pending_keys(self) -> list[tuple[str, int]]:
        """(model, start) of every window holding partials."""
        return sorted(self.pending)

    def on_partial(self, partial: Partial) -> PartialFate:
        """Keep a partial; or say it is a duplicate of a merged one, or late (see above)."""
        model = partial.model_id
        end = partial.window_start_ms + self.spec.size_ms
        done = self.closed_through(model)
        if done is not None and end <= done:
            joined = self.joined_late.get((model, partial.source_partition))
            if joined is not None and end <= joined:
                return "late"
            self.duplicates_ignored += 1
            return "duplicate"
        key = (model, partial.window_start_ms)
        self.pending.setdefault(key, {})[partial.source_partition] = partial
        return "merged"

    def on_watermark(
        self, source: int, model_id: str | None, closed_upto_ms: int
    ) -> list[CompleteWindow]:
        """Record a source's progress for a model; return the windows it completes, oldest
        first. ``model_id`` None (the format before per-model progress): every model the
        source carries."""
        if not 0 <= source < self.sources:
            raise ValueError(f"watermark from source partition {source}, expected < {self.sources}")
        if model_id is None:
            out: list[CompleteWindow] = []
            for model in sorted(m for m, c in self.clocks.items() if source in c):
                out.extend(self.on_watermark(source, model, closed_upto_ms))
            return out
        carriers = self.clocks.get(model_id)
        if carriers is None:
            carriers = self.clocks[model_id] = {}
        if source not in carriers:
            # A window whose result went out without this source cannot take its partial.
            emitted = self.emitted_upto.get(model_id, self.legacy_floor)
            if emitted is not None and closed_upto_ms < emitted:
                self.joined_late[(model_id, source)] = emitted
        else:
            current = carriers[source]
            if current is not None and closed_upto_ms <= current:
                return []
        carriers[source] = closed_upto_ms
        return self._complete(model_id)

    def on_ready(self, source: int, ready: bool) -> list[CompleteWindow]:
        """A source's backlog status; return the windows its readiness completes."""
        if not 0 <= source < self.sources:
            raise ValueError(f"status of source partition {source}, expected < {self.sources}")
        if not ready:
            self.ready.discard(source)
            return []
        if source in self.ready:
            return []
        self.ready.add(source)
        out: list[CompleteWindow] = []
        for model in sorted(self.clocks):
            out.extend(self._complete(model))
        return out

    def _complete(self, model_id: str) -> list[CompleteWindow]:
        horizon = self.horizon(model_id)
        if horizon is None:
            return []
        size = self.spec.size_ms
        keys = [k for k in self.pending_keys() if k[0] == model_id and k[1] + size <= horizon]
        windows = []
        for key in keys:
            parts = self.pending.pop(key)
            windows.append(CompleteWindow(model_id, key[1], tuple(parts[p] for p in sorted(parts))))
            end = key[1] + size
            if end > self.emitted_upto.get(model_id, end - 1):
                self.emitted_upto[model_id] = end
        return windows
