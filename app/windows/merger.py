"""Stage 2: merge the partials of (model, window) from every source partition, and decide
when the window is complete.

Per-model progress. A window of model m is complete when every source partition that
carries m has passed its end on m's clock. A partition carries m from the first progress
message it sends for m (stage 1 sends one with m's first event on it, before any partial
of m), so a partition that never carries m never holds m's windows open for long (below:
only while it lags), and one that carries m and is behind (a backlog not yet read) always
does. Each source partition sends
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

A ready source that has not shown m (live). "Ready" says a source has read the backlog it
started with, not that it has read what was appended a moment ago: a burst of m's traffic
spread over partitions 0-3 may be fetched from 0-2 first, move m's clock past a window and
close it before 3's records of it are read (then 3 would join late and its partial of that
window go to the side output: a race on fetch timing). So in a live merger (``live``) a
ready source that does not carry m holds m's windows until it has read what its partition
held when the carriers had passed them: once the carriers pass a window that holds partials
the merger asks (``wanted``) for the input partitions' end offsets, read from the
broker after that moment (``on_barrier``: model, {source: end}), and closes the window once
every such source's position (``SourcePosition``, every record below it read and its outputs
sent before, one producer in per-partition order) has reached its end. Any record of m that
was on the broker (acknowledged to its producer) when the carriers had passed the window is
then below its partition's end, so its partition's first progress of m reaches this merger
before the position that releases the window: it carries m, and the window waits for its
clock. Clock-free and independent of which worker owns what, so correct across workers;
a source never carrying m still holds m's windows only for as long as it lags (a source
whose owner is gone holds them until its next owner has read its backlog, as before). An
event appended after that moment, into a partition that had never shown m, is late as
before. Replay and analyze know every source's models in advance and do not wait.

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

    def __init__(
        self, sources: int, spec: WindowSpec, *, all_ready: bool = True, live: bool = False
    ) -> None:
        self.sources = sources
        self.spec = spec
        # Live: a ready source that has not shown a model holds its windows until it has
        # read what its partition held when the carriers passed them (module docstring).
        self.live = live
        # source -> the input offset it has read up to (SourcePosition).
        self.positions: dict[int, int] = {}
        # model -> windows ending at or before this: every ready source not carrying it
        # had read what its partition held when the carriers passed them.
        self.confirmed: dict[str, int] = {}
        # model -> (the carriers' horizon, {source not carrying it: the input's end offset
        # read after they passed it}): confirmed up to the horizon once each position is there.
        self.barriers: dict[str, tuple[int, dict[int, int]]] = {}
        # Models whose windows wait for the input's end offsets (on_barrier); not persisted:
        # want_barriers() recomputes it after a restore.
        self.wanted: set[str] = set()
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

    def unseen(self, model_id: str) -> list[int]:
        """Ready sources that have not shown the model."""
        carriers = self.clocks.get(model_id, {})
        return sorted(s for s in self.ready if s not in carriers)

    def limit(self, model_id: str) -> int | None:
        """The model's windows ending at or before this may close: the horizon, and in a
        live merger no later than the sources not carrying the model have confirmed."""
        horizon = self.horizon(model_id)
        if horizon is None or not self.live or not self.unseen(model_id):
            return horizon
        confirmed = self.confirmed.get(model_id)
        return None if confirmed is None else min(confirmed, horizon)

    def closed_through(self, model_id: str) -> int | None:
        """No partial of the model's windows ending at or before this will be merged."""
        best = self.limit(model_id)
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

    def on_position(self, source: int, offset: int) -> list[CompleteWindow]:
        """A source has read its input partition up to ``offset`` (every output of the
        records below it arrived before); return the windows it releases."""
        if not 0 <= source < self.sources:
            raise ValueError(f"position of source partition {source}, expected < {self.sources}")
        if offset <= self.positions.get(source, -1):
            return []
        self.positions[source] = offset
        out: list[CompleteWindow] = []
        for model in sorted(self.barriers):
            if source in self.barriers[model][1]:
                out.extend(self._complete(model))
        return out

    def on_barrier(self, model_id: str, ends: dict[int, int]) -> list[CompleteWindow]:
        """The input partitions' end offsets, read from the broker after the model was
        ``wanted`` (no record of this merger's was applied in between); return the windows
        already released."""
        self.wanted.discard(model_id)
        horizon = self.horizon(model_id)
        unseen = self.unseen(model_id)
        if horizon is None or not unseen:
            return self._complete(model_id)
        missing = [s for s in unseen if s not in ends]
        if missing:
            raise ValueError(f"no end offset for source partitions {missing}")
        self.barriers[model_id] = (horizon, {s: ends[s] for s in unseen})
        return self._complete(model_id)

    def want_barriers(self) -> None:
        """After a restore: want the end offsets of every model whose windows wait for
        them (a barrier wanted before the restore was not persisted)."""
        for model in sorted(self.clocks):
            self._release(model)

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

    def _release(self, model_id: str) -> int | None:
        """Confirm what a met barrier covers, want a new one when the carriers have passed
        what is confirmed; return the model's limit."""
        horizon = self.horizon(model_id)
        if horizon is None:
            self.wanted.discard(model_id)  # asked again once the horizon is back
            return None
        unseen = self.unseen(model_id) if self.live else []
        if not unseen:
            self.wanted.discard(model_id)  # nothing waits for the input's end offsets
            return horizon
        barrier = self.barriers.get(model_id)
        if barrier is not None:
            upto, ends = barrier
            if any(s not in ends for s in unseen):
                del self.barriers[model_id]  # cannot be met (sources changed): ask again
            elif all(self.positions.get(s, -1) >= ends[s] for s in unseen):
                del self.barriers[model_id]
                if upto > self.confirmed.get(model_id, upto - 1):
                    self.confirmed[model_id] = upto
        confirmed = self.confirmed.get(model_id)
        # Wanted whenever the carriers are past what is confirmed, also with no window of
        # the model pending here: closed_through (limited by it) is this partition's
        # progress for the model, which the incident stage waits for from every partition.
        if model_id not in self.barriers and (confirmed is None or horizon > confirmed):
            self.wanted.add(model_id)
        return None if confirmed is None else min(confirmed, horizon)

    def _complete(self, model_id: str) -> list[CompleteWindow]:
        horizon = self._release(model_id)
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
