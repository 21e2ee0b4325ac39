"""The training baseline: per-feature fixed bins and reference counts.

This module holds the data model only. Building a baseline from training data lives in
``app.baseline.build``; (de)serialisation and validation in ``app.baseline.codec``.

Numeric bins. ``edges`` e_0 < e_1 < ... < e_k (k >= 1 inner bins, deduplicated quantiles).
``counts`` has k + 2 entries:
  [0]       underflow  x <  e_0
  [i], 1..k inner bin  e_{i-1} <= x < e_i   (the last inner bin also takes x == e_k)
  [k + 1]   overflow   x >  e_k
A single-valued training column has edges [v, v]: one inner bin holding exactly v.

Categorical (and boolean) bins. ``categories`` are the top-K values as strings (booleans are
"false"/"true"); ``counts`` has len(categories) + 1 entries, the last being the "other"
bucket (training values outside the top K). Values never seen in training are counted as
"unseen" by window histograms, separately from "other".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FeatureType = Literal["numeric", "categorical", "boolean"]
FeatureRole = Literal["feature", "prediction"]

BASELINE_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class NumericProfile:
    edges: tuple[float, ...]
    counts: tuple[int, ...]  # len(edges) + 1: underflow, inner bins, overflow
    null_count: int
    count: int  # non-null values
    min: float
    max: float
    mean: float
    std: float


@dataclass(frozen=True)
class CategoricalProfile:
    categories: tuple[str, ...]
    counts: tuple[int, ...]  # len(categories) + 1: top-K, then "other"
    null_count: int
    count: int  # non-null values


@dataclass(frozen=True)
class FeatureBaseline:
    name: str
    type: FeatureType
    role: FeatureRole
    numeric: NumericProfile | None = None  # set iff type == "numeric"
    categorical: CategoricalProfile | None = None  # set iff type in ("categorical", "boolean")

    @property
    def n_bins(self) -> int:
        """Number of histogram cells a window keeps for this feature (excl. null, unseen)."""
        if self.numeric is not None:
            return len(self.numeric.counts)
        assert self.categorical is not None
        return len(self.categorical.counts)


@dataclass(frozen=True)
class Baseline:
    model_id: str
    model_version: str | None
    baseline_id: str  # deterministic content hash, see codec.compute_baseline_id
    created_at: str  # RFC 3339, informational (not part of the hash)
    features: tuple[FeatureBaseline, ...]
    source: dict[str, object] = field(default_factory=dict)  # informational: input path, rows
    # The training file's column the prediction was read from (``baseline build
    # --prediction-column``), None when it was ``__prediction__`` or there is none. Flat files
    # (CSV, Parquet, flat JSONL) given to evaluate and analyze are read with it by default,
    # since they are shaped like the training file. Not part of the id (baseline_io says why).
    prediction_column: str | None = None

    def feature(self, name: str) -> FeatureBaseline | None:
        for f in self.features:
            if f.name == name:
                return f
        return None
