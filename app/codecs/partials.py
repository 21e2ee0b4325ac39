"""Stage-1 outputs on the partials topic: a partial window, a model's progress on a source
partition, or a source's backlog status, one JSON object each, the same for live workers
and replay: ``{"type": "partial", ...}``, ``{"type": "wm", "source": p, "model_id": m,
"closed_upto_ms": t}`` and ``{"type": "ready", "source": p, "ready": b}`` (a new owner
has, or has not yet, read the backlog it started with), and ``{"type": "position", "source":
p, "offset": o}`` (p has been read up to offset o; a worker that predates it ignores it, as
any message of a type it does not know).

Versions: a progress message without ``model_id`` was written before per-model clocks
(one watermark per partition); it is still read, as progress of every model the source
carries (``WatermarkAdvanced.model_id`` None). A partial's ``late_events`` is 0 from then
on (late events go to the side output) and is ignored when read.

A partial's histogram travels in its compact form (``WindowHistogram.to_dict``). Read
back, it stays in that form (``ReceivedCounts``) until its window closes: only then is the
window's baseline chosen (the majority's, see ``app.pipeline.close``), and the counts are
checked against it and decoded once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from app.windows.binner import Output, SourcePosition, SourceReady, WatermarkAdvanced
from app.windows.partial import Partial


@dataclass(frozen=True)
class ReceivedCounts:
    """A partial's counts as read from a message, not yet checked against a baseline."""

    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.data


def partial_document(partial: Partial) -> dict[str, Any]:
    """A partial as a JSON object (embedded in snapshots and stage 2's state too)."""
    return {
        "model_id": partial.model_id,
        "window_start_ms": partial.window_start_ms,
        "source_partition": partial.source_partition,
        "baseline_id": partial.baseline_id,
        "hist": partial.hist.to_dict(),
        "n_events": partial.n_events,
        "late_events": partial.late_events,
        "first_offset": partial.first_offset,
        "last_offset": partial.last_offset,
    }


def partial_from_document(d: dict[str, Any]) -> Partial:
    """The inverse of ``partial_document``; the counts as ``ReceivedCounts``."""
    return Partial(
        model_id=str(d["model_id"]),
        window_start_ms=int(d["window_start_ms"]),
        source_partition=int(d["source_partition"]),
        baseline_id=str(d["baseline_id"]),
        hist=ReceivedCounts(dict(d["hist"])),
        n_events=int(d["n_events"]),
        late_events=int(d["late_events"]),
        first_offset=None if d["first_offset"] is None else int(d["first_offset"]),
        last_offset=None if d["last_offset"] is None else int(d["last_offset"]),
    )


def output_document(out: Output) -> dict[str, Any]:
    """The partials-topic message of one stage-1 output."""
    if isinstance(out, Partial):
        return {"type": "partial", **partial_document(out)}
    if isinstance(out, SourceReady):
        return {"type": "ready", "source": out.source_partition, "ready": out.ready}
    if isinstance(out, SourcePosition):
        return {"type": "position", "source": out.source_partition, "offset": out.offset}
    return {
        "type": "wm",
        "source": out.source_partition,
        "model_id": out.model_id,
        "closed_upto_ms": out.closed_upto_ms,
    }


def output_from_document(d: dict[str, Any]) -> Output | None:
    """The inverse of ``output_document``; None for a message of any other type."""
    if d.get("type") == "partial":
        return partial_from_document(d)
    if d.get("type") == "wm":
        model = d.get("model_id")
        return WatermarkAdvanced(
            int(d["source"]), None if model is None else str(model), int(d["closed_upto_ms"])
        )
    if d.get("type") == "ready":
        return SourceReady(int(d["source"]), bool(d["ready"]))
    if d.get("type") == "position":
        return SourcePosition(int(d["source"]), int(d["offset"]))
    return None


def encode_output(out: Output) -> bytes:
    return orjson.dumps(output_document(out))


def decode_output(raw: bytes) -> Output | None:
    return output_from_document(orjson.loads(raw))
