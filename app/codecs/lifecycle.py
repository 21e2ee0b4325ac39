"""Stage 2 -> stage 3 of a live worker (app.pipeline.live_incidents): the reports on the
``<app id>-closed-windows`` topic (key: the model id), and stage 3's state of one model in
its ``stage3`` table.

A report, version 1:

* ``{"v": 1, "type": "closed", "from": q, "window": closed window}``, where a closed window
  is ``{"model_id", "model_version", "baseline_id", "window_id", "window" (as in a window
  result), "emitted_at", "status", "severity", "drifted_features": [{"name", "summary"}],
  "partial"}``;
* ``{"v": 1, "type": "progress", "from": q, "model_id": m, "closed_through_ms": t}``.

A model's state, version 1: ``{"v": 1, "progress": [[q, t], ...], "pending": [closed
window, ...], "incidents": incident state (app.codecs.incident_state)}``.
Anything of another version raises ``ValueError`` (never guessed at).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from app.codecs.incident_state import incident_state_document, incident_state_from_document
from app.codecs.window_result import span_document
from app.pipeline.incidents import ClosedWindow, DriftedFeature
from app.pipeline.live_incidents import ModelLifecycle
from app.windows.spec import WindowSpan

VERSION: Final = 1


@dataclass(frozen=True)
class ClosedReport:
    source: int  # the stage-2 partition that closed the window
    window: ClosedWindow


@dataclass(frozen=True)
class ProgressReport:
    source: int
    model_id: str
    closed_through_ms: int


def closed_window_document(w: ClosedWindow) -> dict[str, Any]:
    return {
        "model_id": w.model_id,
        "model_version": w.model_version,
        "baseline_id": w.baseline_id,
        "window_id": w.window_id,
        "window": span_document(w.span),
        "emitted_at": w.emitted_at,
        "status": w.status,
        "severity": w.severity,
        "drifted_features": [{"name": f.name, "summary": f.summary} for f in w.drifted_features],
        "partial": w.partial,
    }


def closed_window_from_document(doc: dict[str, Any]) -> ClosedWindow:
    span = doc["window"]
    return ClosedWindow(
        model_id=doc["model_id"],
        model_version=doc["model_version"],
        baseline_id=doc["baseline_id"],
        window_id=doc["window_id"],
        span=WindowSpan(int(span["start_ms"]), int(span["size_seconds"])),
        emitted_at=doc["emitted_at"],
        status=doc["status"],
        severity=doc["severity"],
        drifted_features=tuple(
            DriftedFeature(f["name"], f["summary"]) for f in doc["drifted_features"]
        ),
        partial=bool(doc["partial"]),
    )


def encode_closed(source: int, window: ClosedWindow) -> bytes:
    return orjson.dumps(
        {"v": VERSION, "type": "closed", "from": source, "window": closed_window_document(window)}
    )


def encode_progress(source: int, model_id: str, closed_through_ms: int) -> bytes:
    return orjson.dumps(
        {
            "v": VERSION,
            "type": "progress",
            "from": source,
            "model_id": model_id,
            "closed_through_ms": closed_through_ms,
        }
    )


def decode_report(raw: bytes) -> ClosedReport | ProgressReport:
    doc = orjson.loads(raw)
    if doc.get("v") != VERSION:
        raise ValueError(f"closed-windows report of version {doc.get('v')!r}, expected {VERSION}")
    if doc["type"] == "closed":
        return ClosedReport(int(doc["from"]), closed_window_from_document(doc["window"]))
    if doc["type"] == "progress":
        return ProgressReport(int(doc["from"]), doc["model_id"], int(doc["closed_through_ms"]))
    raise ValueError(f"closed-windows report of unknown type {doc['type']!r}")


def lifecycle_to_bytes(state: ModelLifecycle) -> bytes:
    return orjson.dumps(
        {
            "v": VERSION,
            "progress": [[q, t] for q, t in sorted(state.progress.items())],
            "pending": [closed_window_document(state.pending[s]) for s in sorted(state.pending)],
            "incidents": incident_state_document(state.incidents),
        }
    )


def lifecycle_from_bytes(raw: bytes) -> ModelLifecycle:
    doc = orjson.loads(raw)
    if doc.get("v") != VERSION:
        raise ValueError(f"model lifecycle state of version {doc.get('v')!r}, expected {VERSION}")
    pending = [closed_window_from_document(d) for d in doc["pending"]]
    return ModelLifecycle(
        progress={int(q): int(t) for q, t in doc["progress"]},
        pending={w.span.start_ms: w for w in pending},
        incidents=incident_state_from_document(doc["incidents"]),
    )
