"""Window results and drift events as the documents of schemas/window-result.schema.json and
schemas/drift-event.schema.json.

Determinism: every field but ``emitted_at`` (passed in) is a function of the baseline,
the window's counts and the rules. Features are sorted by name, dict keys are written in
a fixed order, and all numbers are plain Python ints and floats, which orjson writes in
their shortest round-trip form: equal inputs give byte-identical ``to_json`` output.
Floats are not rounded (rounding would lose nothing useful but hide real differences).

Ids: ``win-`` / ``alert-`` and the first 16 hex digits of
sha256("model_id|baseline_id|window_start_ms|size_seconds") and of
sha256("alert|model_id|baseline_id|window_start_ms|size_seconds").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from app.baseline.model import Baseline
from app.contracts.timestamps import format_rfc3339_ms
from app.stats.decision import FeatureResult, WindowEvaluation

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class WindowSpan:
    """An event-time window [start_ms, start_ms + 1000 * size_seconds)."""

    start_ms: int
    size_seconds: int

    def __post_init__(self) -> None:
        if self.start_ms < 0 or self.size_seconds < 1:
            raise ValueError(f"bad window: start_ms={self.start_ms}, size={self.size_seconds}s")

    @property
    def end_ms(self) -> int:
        return self.start_ms + 1000 * self.size_seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": format_rfc3339_ms(self.start_ms),
            "end": format_rfc3339_ms(self.end_ms),
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "size_seconds": self.size_seconds,
        }


@dataclass(frozen=True)
class SourceOffsets:
    """Offsets of the events counted from one source partition."""

    topic: str
    partition: int
    first: int
    last: int


def _hex16(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def window_id(model_id: str, baseline_id: str, span: WindowSpan) -> str:
    return "win-" + _hex16(f"{model_id}|{baseline_id}|{span.start_ms}|{span.size_seconds}")


def alert_id(model_id: str, baseline_id: str, span: WindowSpan) -> str:
    return "alert-" + _hex16(f"alert|{model_id}|{baseline_id}|{span.start_ms}|{span.size_seconds}")


def _effect(f: FeatureResult) -> dict[str, Any] | None:
    if f.effect is None:
        return None
    return {"name": f.effect.name, "value": f.effect.value, "threshold": f.effect.threshold}


def _feature(f: FeatureResult) -> dict[str, Any]:
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
        "effect": _effect(f),
        "stats": f.stats.as_dict(),
        "drifted": f.drifted,
    }


def window_result(
    baseline: Baseline,
    evaluation: WindowEvaluation,
    span: WindowSpan,
    *,
    emitted_at: str,
    late_events: int = 0,
    partial: bool = False,
    source_offsets: Sequence[SourceOffsets] = (),
) -> dict[str, Any]:
    """The window-result document of one evaluated window."""
    ds = evaluation.dataset
    c = evaluation.contract
    offsets = sorted(source_offsets, key=lambda o: (o.topic, o.partition))
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "window_result",
        "window_id": window_id(baseline.model_id, baseline.baseline_id, span),
        "model_id": baseline.model_id,
        "model_version": baseline.model_version,
        "baseline_id": baseline.baseline_id,
        "window": span.to_dict(),
        "partial": partial,
        "n_events": evaluation.n_events,
        "late_events": late_events,
        "status": evaluation.status,
        "severity": evaluation.severity,
        "dataset": {
            "n_features": ds.n_features,
            "n_tested": ds.n_tested,
            "n_drifted": ds.n_drifted,
            "drifted_share": ds.drifted_share,
            "prediction_drift": ds.prediction_drift,
            "drifted": ds.drifted,
        },
        "features": [_feature(f) for f in evaluation.features],
        "contract": {
            "unavailable": list(c.unavailable),
            "unknown": list(c.unknown),
            "unknown_truncated": c.unknown_truncated,
            "type_changed": list(c.type_changed),
        },
        "smoothing": {"method": "additive", "epsilon": evaluation.smoothing_epsilon},
        "source_offsets": [
            {"topic": o.topic, "partition": o.partition, "first": o.first, "last": o.last}
            for o in offsets
        ],
        "emitted_at": emitted_at,
    }


def drift_event(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The drift event of a window-result document, or None unless its status is drift.

    Built from the window result itself so the two can never disagree.
    """
    if result["status"] != "drift":
        return None
    window = result["window"]
    span = WindowSpan(window["start_ms"], window["size_seconds"])
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "drift_event",
        "alert_id": alert_id(result["model_id"], result["baseline_id"], span),
        "window_id": result["window_id"],
        "model_id": result["model_id"],
        "model_version": result["model_version"],
        "baseline_id": result["baseline_id"],
        "window": dict(window),
        "severity": result["severity"],
        "n_events": result["n_events"],
        "dataset": dict(result["dataset"]),
        "drifted_features": [
            {
                "name": f["name"],
                "role": f["role"],
                "type": f["type"],
                "test": f["test"],
                "p_value_adjusted": f["p_value_adjusted"],
                "effect": f["effect"],
            }
            for f in result["features"]
            if f["drifted"]
        ],
        "source_offsets": list(result["source_offsets"]),
        "emitted_at": result["emitted_at"],
    }


def to_json(doc: Mapping[str, Any]) -> bytes:
    """The document's bytes (deterministic: keys in construction order, shortest floats)."""
    return orjson.dumps(doc)
