"""The training baseline: per-feature fixed bins and reference counts.

This module holds the data model only. Building a baseline from training data lives in
``app.baseline.build``; (de)serialisation and validation in ``app.baseline.codec``.

Numeric bins. ``edges`` e_0 < e_1 < ... < e_k (k >= 1 inner bins, deduplicated quantiles).
``counts`` has k + 2 entries:
  [0]       underflow  x <  e_0
  [i], 1..k inner bin  e_{i-1} <= x < e_i   (the last inner bin also takes x == e_k)
  [k + 1]   overflow   x >  e_k
A single-valued training column has edges [v, v]: one inner bin holding exactly v.

KS grid (baseline format 2). A numeric profile may also carry ``ks_edges`` and
``ks_counts``: a finer grid (about 1,000 training-quantile cells) laid out like ``edges``
and ``counts``, of which ``edges`` are a subset with the same first and last edge, so
every fine cell lies inside one coarse cell (``coarse_index``) and the fine counts add up
to the coarse ones. Windows then count the fine cells; the KS test is computed on them
(its binning error shrinks like the square root of the cell mass, docs/statistics.md)
and everything else (PSI, JS, KL, Wasserstein, the effect bar, the published histograms)
on the coarse cells they add up to. Without a KS grid a window counts the coarse cells.

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
# Written when some numeric profile has a KS grid; format-1 documents keep their bytes (and
# with them their ids).
BASELINE_SCHEMA_VERSION_KS_GRID = 2


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
    ks_edges: tuple[float, ...] | None = None  # the KS grid (module docstring), or None
    ks_counts: tuple[int, ...] | None = None  # len(ks_edges) + 1, like counts

    @property
    def cell_edges(self) -> tuple[float, ...]:
        """The edges a window bins with: the KS grid's when there is one."""
        return self.ks_edges if self.ks_edges is not None else self.edges

    def coarse_index(self) -> tuple[int, ...] | None:
        """For each KS-grid cell the coarse cell it lies in; None without a KS grid."""
        if self.ks_edges is None:
            return None
        return coarse_index(self.edges, self.ks_edges)


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
        """Number of coarse cells of this feature (excl. null, unseen)."""
        if self.numeric is not None:
            return len(self.numeric.counts)
        assert self.categorical is not None
        return len(self.categorical.counts)

    @property
    def n_cells(self) -> int:
        """Number of cells a window counts for this feature: the KS grid's if it has one."""
        if self.numeric is not None and self.numeric.ks_counts is not None:
            return len(self.numeric.ks_counts)
        return self.n_bins


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


def coarse_index(edges: tuple[float, ...], fine: tuple[float, ...]) -> tuple[int, ...]:
    """The coarse cell of every fine cell (``edges`` a subset of ``fine``, same ends):
    underflow to underflow, the inner fine cell [f_(j-1), f_j) to the coarse cell its lower
    edge falls in, overflow to overflow."""
    k = len(edges) - 1
    out = [0]
    c = 1
    for lower in fine[:-1]:
        while c < k and lower >= edges[c]:
            c += 1
        out.append(c)
    out.append(k + 1)
    return tuple(out)
