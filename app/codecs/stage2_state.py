"""A partials partition's stage-2 state (its ``WindowMerger``) in the ``stage2`` table:
the per-model source progress with the partials offset applied last under one key, and
each pending window's partials (and late-event reports) under its own key, so a new
partial rewrites one window.

Versions. Progress, 3 (written now): ``{"v": 3, "clocks": {model: [[source, t], ...]},
"emitted": {model: t}, "joined_late": [[model, source, t], ...], "legacy_floor": t,
"ready": [source, ...], "applied_offset": o, "positions": [[source, offset], ...],
"confirmed": {model: t}, "barriers": [[model, t, [[source, end], ...]], ...]}`` (the
sources' input positions and what they confirmed, app.windows.merger). 2: without the last
three; restored with no position known and nothing confirmed, so a window of a model some
ready source has not shown waits for that source's next position. 1 (before per-model progress):
``closed_upto``, one value per source for every model; restored with every source ready,
as a floor (windows ending at or before the slowest source's value were closed for every
model), and the sources with partials of a pending window as that model's carriers at
their old value. A pending window, 2: ``{"v": 2, "model_id": m, "window_start_ms": w,
"partials": [...]}``; 1: the list of partials.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.codecs.partials import partial_document, partial_from_document
from app.windows.merger import WindowMerger

STATE_VERSION = 3  # the progress
PENDING_VERSION = 2  # a pending window


def watermarks_to_bytes(merger: WindowMerger) -> bytes:
    return orjson.dumps(
        {
            "v": STATE_VERSION,
            "clocks": {m: [[s, t] for s, t in c.items()] for m, c in merger.clocks.items()},
            "emitted": merger.emitted_upto,
            "joined_late": [[m, s, t] for (m, s), t in merger.joined_late.items()],
            "legacy_floor": merger.legacy_floor,
            "ready": sorted(merger.ready),
            "applied_offset": merger.applied_offset,
            "positions": [[s, o] for s, o in sorted(merger.positions.items())],
            "confirmed": merger.confirmed,
            "barriers": [
                [m, t, [[s, e] for s, e in sorted(ends.items())]]
                for m, (t, ends) in sorted(merger.barriers.items())
            ],
        }
    )


def restore_watermarks(merger: WindowMerger, raw: bytes) -> None:
    """Restore the progress; call before ``restore_pending`` (a version-1 state names its
    models' carriers through the pending windows)."""
    doc = orjson.loads(raw)
    merger.applied_offset = doc.get("applied_offset")
    if doc.get("v", 1) == 1:
        values = doc["closed_upto"]
        if len(values) != merger.sources:
            raise ValueError(
                f"stored watermarks for {len(values)} sources, expected {merger.sources}"
            )
        merger.legacy_sources = list(values)
        merger.legacy_floor = None if any(v is None for v in values) else min(values)
        merger.ready = set(range(merger.sources))
        return
    merger.clocks = {m: {int(s): t for s, t in c} for m, c in doc["clocks"].items()}
    merger.emitted_upto = {m: int(t) for m, t in doc["emitted"].items()}
    merger.joined_late = {(m, int(s)): int(t) for m, s, t in doc["joined_late"]}
    merger.legacy_floor = doc["legacy_floor"]
    merger.ready = {int(s) for s in doc["ready"]}
    merger.positions = {int(s): int(o) for s, o in doc.get("positions", [])}
    merger.confirmed = {m: int(t) for m, t in doc.get("confirmed", {}).items()}
    merger.barriers = {
        m: (int(t), {int(s): int(e) for s, e in ends}) for m, t, ends in doc.get("barriers", [])
    }


def pending_to_bytes(merger: WindowMerger, key: tuple[str, int]) -> bytes:
    """The partials kept for window ``key`` (model, start), by source partition."""
    return orjson.dumps(
        {
            "v": PENDING_VERSION,
            "model_id": key[0],
            "window_start_ms": key[1],
            "partials": [
                partial_document(p) for _, p in sorted(merger.pending.get(key, {}).items())
            ],
        }
    )


def restore_pending(merger: WindowMerger, raw: bytes) -> None:
    doc: Any = orjson.loads(raw)
    docs = doc if isinstance(doc, list) else doc["partials"]  # version 1: the list alone
    for d in docs:
        partial = partial_from_document(d)
        key = (partial.model_id, partial.window_start_ms)
        merger.pending.setdefault(key, {})[partial.source_partition] = partial
        legacy = merger.legacy_sources
        if legacy is not None and legacy[partial.source_partition] is not None:
            carriers = merger.clocks.setdefault(partial.model_id, {})
            carriers.setdefault(partial.source_partition, legacy[partial.source_partition])
