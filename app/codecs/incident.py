"""A drift incident's lifecycle event as its document (schemas/incident-event.schema.json)
and bytes, and back (the stage-2 state keeps the last event to send it again)."""

from __future__ import annotations

from typing import Any, Final

from app.codecs import to_json
from app.codecs.window_result import span_document
from app.pipeline.incidents import DriftedFeature, IncidentEvent, OpenIncident
from app.windows.spec import WindowSpan

SCHEMA_VERSION: Final = 1


def _span(doc: dict[str, Any]) -> WindowSpan:
    return WindowSpan(int(doc["start_ms"]), int(doc["size_seconds"]))


def incident_document(event: IncidentEvent) -> dict[str, Any]:
    inc = event.incident
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "incident",
        "event": event.event,
        "incident_id": inc.incident_id,
        "sequence": inc.sequence,
        "model_id": event.model_id,
        "model_version": event.model_version,
        "baseline_id": event.baseline_id,
        "opened_window_id": inc.opened_window_id,
        "opened_window": span_document(inc.opened_span),
        "window_id": event.window_id,
        "window": span_document(event.span),
        "last_drift_window_id": inc.last_drift_window_id,
        "severity": inc.severity,
        "peak_severity": inc.peak_severity,
        "drifted_features": [{"name": f.name, "summary": f.summary} for f in inc.features],
        "drifted_windows": inc.drifted_windows,
        "ok_windows": inc.ok_windows,
        "emitted_at": event.emitted_at,
    }


def encode_incident_event(event: IncidentEvent) -> bytes:
    return to_json(incident_document(event))


def open_incident_from_document(doc: dict[str, Any]) -> OpenIncident:
    """The incident an incident-event document describes (as it stood after the event)."""
    return OpenIncident(
        incident_id=doc["incident_id"],
        opened_window_id=doc["opened_window_id"],
        opened_span=_span(doc["opened_window"]),
        last_drift_window_id=doc["last_drift_window_id"],
        severity=doc["severity"],
        peak_severity=doc["peak_severity"],
        features=tuple(DriftedFeature(f["name"], f["summary"]) for f in doc["drifted_features"]),
        drifted_windows=int(doc["drifted_windows"]),
        ok_windows=int(doc["ok_windows"]),
        sequence=int(doc["sequence"]),
    )


def incident_event_from_document(doc: dict[str, Any]) -> IncidentEvent:
    if doc.get("schema_version") != SCHEMA_VERSION or doc.get("kind") != "incident":
        raise ValueError(
            f"not an incident event of version {SCHEMA_VERSION}: "
            f"kind {doc.get('kind')!r}, schema_version {doc.get('schema_version')!r}"
        )
    return IncidentEvent(
        event=doc["event"],
        model_id=doc["model_id"],
        model_version=doc["model_version"],
        baseline_id=doc["baseline_id"],
        window_id=doc["window_id"],
        span=_span(doc["window"]),
        emitted_at=doc["emitted_at"],
        incident=open_incident_from_document(doc),
    )
