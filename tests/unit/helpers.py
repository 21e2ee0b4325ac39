"""Baselines built in tests, independently of app.baseline.build: quantile edges and top-K."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from app.baseline.model import Baseline, CategoricalProfile, FeatureBaseline, NumericProfile


def bin_index(edges: Sequence[float], x: float) -> int:
    """The documented numeric bin rule, written the slow obvious way."""
    k = len(edges) - 1
    if x < edges[0]:
        return 0
    if x > edges[-1]:
        return k + 1
    for i in range(1, k + 1):
        if edges[i - 1] <= x < edges[i]:
            return i
    return k  # x == e_k: the last inner bin (or the single bin of [v, v])


def numpy_cells(edges: Sequence[float], values: np.ndarray) -> list[int]:
    """Cell counts by numpy: searchsorted implements the same rule independently."""
    e = np.asarray(edges, dtype=float)
    k = len(e) - 1
    idx = np.searchsorted(e, values, side="right")
    idx[values == e[-1]] = k
    return np.bincount(idx, minlength=len(e) + 1).tolist()


def quantile_edges(values: np.ndarray, n_bins: int) -> tuple[float, ...]:
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)))
    if len(edges) == 1:
        edges = np.array([edges[0], edges[0]])
    return tuple(float(e) for e in edges)


def numeric_feature(
    name: str, values: np.ndarray, n_bins: int = 10, nulls: int = 0, role: str = "feature"
) -> FeatureBaseline:
    edges = quantile_edges(values, n_bins)
    return FeatureBaseline(
        name,
        "numeric",
        role,  # type: ignore[arg-type]
        numeric=NumericProfile(
            edges=edges,
            counts=tuple(numpy_cells(edges, values)),
            null_count=nulls,
            count=len(values),
            min=float(values.min()),
            max=float(values.max()),
            mean=float(values.mean()),
            std=float(values.std()),
        ),
    )


def categorical_feature(
    name: str, values: Sequence[str], top_k: int = 20, nulls: int = 0, kind: str = "categorical"
) -> FeatureBaseline:
    counts = Counter(values)
    top = sorted(counts, key=lambda c: (-counts[c], c))[:top_k]
    cats = tuple(sorted(top))
    other = sum(v for c, v in counts.items() if c not in cats)
    return FeatureBaseline(
        name,
        kind,  # type: ignore[arg-type]
        "feature",
        categorical=CategoricalProfile(
            categories=cats,
            counts=(*(counts[c] for c in cats), other),
            null_count=nulls,
            count=len(values),
        ),
    )


def make_baseline(
    features: Sequence[FeatureBaseline],
    model_id: str = "m",
    baseline_id: str = "bl-00000000000000aa",
) -> Baseline:
    return Baseline(
        model_id=model_id,
        model_version="1.0",
        baseline_id=baseline_id,
        created_at="2026-01-01T00:00:00Z",
        features=tuple(features),
    )
