"""A partials partition's stage-2 state (its ``WindowMerger``) in the ``stage2`` table:
the source watermarks with the partials offset applied last under one key, and each
pending window's partials under its own key (so a new partial rewrites one window)."""

from __future__ import annotations

import orjson

from app.codecs.partials import partial_document, partial_from_document
from app.windows.merger import WindowMerger

STATE_VERSION = 1


def watermarks_to_bytes(merger: WindowMerger) -> bytes:
    return orjson.dumps(
        {
            "v": STATE_VERSION,
            "closed_upto": merger.closed_upto,
            "applied_offset": merger.applied_offset,
        }
    )


def restore_watermarks(merger: WindowMerger, raw: bytes) -> None:
    doc = orjson.loads(raw)
    values = doc["closed_upto"]
    if len(values) != merger.sources:
        raise ValueError(f"stored watermarks for {len(values)} sources, expected {merger.sources}")
    merger.applied_offset = doc.get("applied_offset")
    merger.closed_upto = values


def pending_to_bytes(merger: WindowMerger, key: tuple[str, int]) -> bytes:
    """The partials kept for window ``key`` (model, start), by source partition."""
    return orjson.dumps(
        [partial_document(p) for _, p in sorted(merger.pending.get(key, {}).items())]
    )


def restore_pending(merger: WindowMerger, raw: bytes) -> None:
    for d in orjson.loads(raw):
        partial = partial_from_document(d)
        key = (partial.model_id, partial.window_start_ms)
        merger.pending.setdefault(key, {})[partial.source_partition] = partial
