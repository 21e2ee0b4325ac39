"""A window histogram and a feature's findings as JSON (the window result's ``histogram``
and the drift event's ``findings``; schemas/window-result.schema.json and
schemas/drift-event.schema.json describe every key). Shared so that every message that
quotes them (results, alerts, later lifecycle events) writes the same document."""

from __future__ import annotations

from typing import Any

from app.pipeline.feature_histograms import FeatureHistogram
from app.pipeline.findings import (
    DistributionFinding,
    Finding,
    NullRateFinding,
    OutOfRangeFinding,
    Quantile,
    UnseenFinding,
)


def histogram_document(h: FeatureHistogram | None) -> dict[str, Any] | None:
    if h is None:
        return None
    if h.kind == "numeric":
        return {
            "kind": "numeric",
            "edges": list(h.edges),
            "counts": list(h.counts),
            "baseline_counts": list(h.baseline_counts),
            "nulls": h.nulls,
            "missing": h.missing,
            "mismatched": h.mismatched,
            "baseline_nulls": h.baseline_nulls,
        }
    return {
        "kind": "categorical",
        "categories": list(h.categories),
        "counts": list(h.counts),
        "baseline_counts": list(h.baseline_counts),
        "other_categories": h.other_categories,
        "unseen": h.unseen,
        "unseen_values": [{"value": v.text, "count": v.count} for v in h.unseen_values],
        "unseen_values_complete": h.unseen_values_complete,
        "nulls": h.nulls,
        "missing": h.missing,
        "mismatched": h.mismatched,
        "baseline_nulls": h.baseline_nulls,
    }


def _quantile(q: Quantile | None) -> dict[str, Any] | None:
    return None if q is None else {"value": q.value, "side": q.side}


def finding_document(f: Finding) -> dict[str, Any]:
    if isinstance(f, DistributionFinding):
        median = None
        if f.baseline_median is not None or f.median is not None:
            median = {"baseline": _quantile(f.baseline_median), "window": _quantile(f.median)}
        category = None
        if f.category is not None:
            category = {"name": f.category, "baseline_share": f.baseline_share, "share": f.share}
        return {
            "kind": f.kind,
            "test": f.test,
            "statistic": f.statistic,
            "p_value": f.p_value,
            "p_value_adjusted": f.p_value_adjusted,
            "alpha": f.alpha,
            "effect": {"name": f.effect_name, "value": f.effect, "threshold": f.threshold},
            "median": median,
            "category": category,
        }
    if isinstance(f, NullRateFinding):
        return {
            "kind": f.kind,
            "baseline_null_rate": f.baseline_null_rate,
            "null_rate": f.null_rate,
            "change": f.change,
            "threshold": f.threshold,
            "p_value_adjusted": f.p_value_adjusted,
            "alpha": f.alpha,
            "nulls": f.nulls,
            "missing": f.missing,
            "mismatched": f.mismatched,
        }
    if isinstance(f, UnseenFinding):
        return {
            "kind": f.kind,
            "share": f.share,
            "threshold": f.threshold,
            "p_value_adjusted": f.p_value_adjusted,
            "alpha": f.alpha,
            "count": f.count,
            "values": [{"value": v.text, "count": v.count, "share": v.share} for v in f.values],
            "values_complete": f.values_complete,
        }
    assert isinstance(f, OutOfRangeFinding)
    return {
        "kind": f.kind,
        "share": f.share,
        "threshold": f.threshold,
        "below": f.below,
        "above": f.above,
        "below_share": f.below_share,
        "above_share": f.above_share,
        "training_min": f.training_min,
        "training_max": f.training_max,
    }
