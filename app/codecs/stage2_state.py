"""A partials partition's stage-2 state (its ``WindowMerger``) in the ``stage2`` table:
the per-model source progress with the partials offset applied last under one key, and
each pending window's partials (and late-event reports) under its own key, so a new
partial rewrites one window.

Versions. Progress, 2 (written now): ``{"v": 2, "clocks": {model: [[source, t], ...]},
"emitted": {model: t}, "joined_late": [[model, source, t], ...], "legacy_floor": t,
"ready": [source, ...], "applied_offset": o}``. 1 (before per-model progress):
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

STATE_VERSION = 2


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


def pending_to_bytes(merger: WindowMerger, key: tuple[str, int]) -> bytes:
    """The partials kept for window ``key`` (model, start), by source partition."""
    return orjson.dumps(
        {
            "v": STATE_VERSION,
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
