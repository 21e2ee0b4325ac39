"""A drift event as its document (schemas/drift-event.schema.json) and bytes.

Each drifted feature carries its findings (``app.pipeline.findings``: what fired, with
the numbers) and a one-sentence ``summary`` (version 2; see app.codecs.window_result).

Its window, dataset, effects and offsets are written by the window result's codec, so
an alert and the result it came from never disagree on a shared field.
"""

from __future__ import annotations

from typing import Any

from app.codecs import to_json
from app.codecs.findings import finding_document
from app.codecs.window_result import (
    SCHEMA_VERSION,
    dataset_document,
    effect_document,
    offsets_document,
    span_document,
)
from app.pipeline.results import DriftEvent


def drift_event_document(event: DriftEvent) -> dict[str, Any]:
    """The drift-event document."""
    r = event.result
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "drift_event",
        "alert_id": event.alert_id,
        "window_id": r.window_id,
        "model_id": r.model_id,
        "model_version": r.model_version,
        "baseline_id": r.baseline_id,
        "window": span_document(r.span),
        "severity": r.severity,
        "n_events": r.n_events,
        "dataset": dataset_document(r.evaluation.dataset),
        "drifted_features": [
            {
                "name": f.name,
                "role": f.role,
                "type": f.type,
                "test": f.test,
                "p_value_adjusted": f.p_value_adjusted,
                "effect": effect_document(f.effect),
                "findings": [finding_document(x) for x in why.findings],
                "summary": why.summary,
            }
            for f, why in zip(event.drifted_features, event.findings, strict=True)
        ],
        "source_offsets": offsets_document(r.source_offsets),
        "emitted_at": r.emitted_at,
    }


def encode_drift_event(event: DriftEvent) -> bytes:
    return to_json(drift_event_document(event))
