"""A window result as its document (schemas/window-result.schema.json) and bytes.

Versions: 2 adds each baseline feature's ``histogram`` (null for unknown features); the
drift event, whose shared fields this module writes, adds each drifted feature's
``findings`` and ``summary`` in the same version. Version-1 documents (on a topic written
by an older worker) lack only those fields, so readers use them when present.
"""

from __future__ import annotations

from typing import Any, Final

from app.codecs import to_json
from app.codecs.findings import histogram_document
from app.contracts.timestamps import format_rfc3339_ms
from app.pipeline.results import SourceOffsets, WindowResult
from app.stats.decision import DatasetSummary, Effect, FeatureResult
from app.windows.spec import WindowSpan

SCHEMA_VERSION: Final = 2


def span_document(span: WindowSpan) -> dict[str, Any]:
    return {
        "start": format_rfc3339_ms(span.start_ms),
        "end": format_rfc3339_ms(span.end_ms),
        "start_ms": span.start_ms,
        "end_ms": span.end_ms,
        "size_seconds": span.size_seconds,
    }


def dataset_document(ds: DatasetSummary) -> dict[str, Any]:
    return {
        "n_features": ds.n_features,
        "n_tested": ds.n_tested,
        "n_drifted": ds.n_drifted,
        "drifted_share": ds.drifted_share,
        "prediction_drift": ds.prediction_drift,
        "drifted": ds.drifted,
    }


def effect_document(effect: Effect | None) -> dict[str, Any] | None:
    if effect is None:
        return None
    return {"name": effect.name, "value": effect.value, "threshold": effect.threshold}


def offsets_document(offsets: tuple[SourceOffsets, ...]) -> list[dict[str, Any]]:
    return [
        {"topic": o.topic, "partition": o.partition, "first": o.first, "last": o.last}
        for o in offsets
    ]


def _feature(f: FeatureResult, result: WindowResult) -> dict[str, Any]:
    return {
        "name": f.name,
        "role": f.role,
        "type": f.type,
        "status": f.status,
        "n": f.n,
        "null_count": f.null_count,
        "test": f.test,
        "p_value": f.p_value,
        "p_value_adjusted": f.p_value_adjusted,
        "effect": effect_document(f.effect),
        "stats": f.stats.as_dict(),
        "drifted": f.drifted,
        "histogram": histogram_document(result.histogram(f.name)),
    }


def window_result_document(result: WindowResult) -> dict[str, Any]:
    """The window-result document."""
    evaluation = result.evaluation
    c = evaluation.contract
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "window_result",
        "window_id": result.window_id,
        "model_id": result.model_id,
        "model_version": result.model_version,
        "baseline_id": result.baseline_id,
        "window": span_document(result.span),
        "partial": result.partial,
        "n_events": evaluation.n_events,
        "late_events": result.late_events,
        "status": evaluation.status,
        "severity": evaluation.severity,
        "dataset": dataset_document(evaluation.dataset),
        "features": [_feature(f, result) for f in evaluation.features],
        "contract": {
            "unavailable": list(c.unavailable),
            "unknown": list(c.unknown),
            "unknown_truncated": c.unknown_truncated,
            "type_changed": list(c.type_changed),
        },
        "smoothing": {"method": "additive", "epsilon": evaluation.smoothing_epsilon},
        "source_offsets": offsets_document(result.source_offsets),
        "emitted_at": result.emitted_at,
    }


def encode_window_result(result: WindowResult) -> bytes:
    return to_json(window_result_document(result))
