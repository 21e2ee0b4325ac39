"""One model's incident state (``app.pipeline.incidents.IncidentState``) as bytes; a live
worker's stage 3 keeps it inside each model's lifecycle state (app.codecs.lifecycle).

Version 1: ``{"v": 1, "open": incident | null, "last_window_start_ms": t | null,
"recent": [incident-event document, ...]}`` (the last events, oldest first), where an
open incident is stored as the incident fields of an incident-event document
(``incident_id``, ``sequence``, ``opened_window_id``, ``opened_window``,
``last_drift_window_id``, ``severity``, ``peak_severity``, ``drifted_features``,
``drifted_windows``, ``ok_windows``).
A state of a newer version raises ``ValueError`` (never guessed at).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from app.codecs.incident import (
    incident_document,
    incident_event_from_document,
    open_incident_from_document,
)
from app.codecs.window_result import span_document
from app.pipeline.incidents import IncidentState, OpenIncident

STATE_VERSION: Final = 1


def _open_document(inc: OpenIncident) -> dict[str, Any]:
    return {
        "incident_id": inc.incident_id,
        "sequence": inc.sequence,
        "opened_window_id": inc.opened_window_id,
        "opened_window": span_document(inc.opened_span),
        "last_drift_window_id": inc.last_drift_window_id,
        "severity": inc.severity,
        "peak_severity": inc.peak_severity,
        "drifted_features": [{"name": f.name, "summary": f.summary} for f in inc.features],
        "drifted_windows": inc.drifted_windows,
        "ok_windows": inc.ok_windows,
    }


def incident_state_document(state: IncidentState) -> dict[str, Any]:
    return {
        "v": STATE_VERSION,
        "open": None if state.incident is None else _open_document(state.incident),
        "last_window_start_ms": state.last_window_start_ms,
        "recent": [incident_document(e) for e in state.recent],
    }


def incident_state_to_bytes(state: IncidentState) -> bytes:
    return orjson.dumps(incident_state_document(state))


def incident_state_from_bytes(raw: bytes) -> IncidentState:
    return incident_state_from_document(orjson.loads(raw))


def incident_state_from_document(doc: dict[str, Any]) -> IncidentState:
    if doc.get("v") != STATE_VERSION:
        raise ValueError(f"incident state of version {doc.get('v')!r}, expected {STATE_VERSION}")
    open_doc = doc["open"]
    return IncidentState(
        incident=None if open_doc is None else open_incident_from_document(open_doc),
        last_window_start_ms=doc["last_window_start_ms"],
        recent=tuple(incident_event_from_document(d) for d in doc["recent"]),
    )
