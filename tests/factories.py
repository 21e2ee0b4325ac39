"""Test data, built one way: baselines (by hand or profiled from sample values) and the CSV
and JSONL files that the readers, the builder, evaluate and analyze read.

Plain functions rather than fixtures, because module constants and hypothesis strategies
call them too; shared by the unit tests (tests/unit/conftest.py adds the fixtures), the
integration tests and the benchmarks. The profiles are computed independently of
``app.baseline.build``, so that tests of the builder and of binning do not check the code with
itself.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson

from app.baseline.model import (
    Baseline,
    CategoricalProfile,
    FeatureBaseline,
    FeatureRole,
    FeatureType,
    NumericProfile,
)

FloatArray = npt.NDArray[np.float64]

MODEL_ID = "m"
BASELINE_ID = "bl-00000000000000aa"
CREATED_AT = "2026-01-01T00:00:00Z"

# The train_baseline fixture (tests/unit/conftest.py): (training file, model id, prediction
# column) -> the baseline the real builder makes of it, and the JSON file it was written to.
TrainBaseline = Callable[[Path, str, str], tuple[Baseline, Path]]

# -- baselines ---------------------------------------------------------------------------------


def make_baseline(
    *features: FeatureBaseline,
    model_id: str = MODEL_ID,
    model_version: str | None = "1.0",
    baseline_id: str = BASELINE_ID,
    created_at: str = CREATED_AT,
    source: dict[str, object] | None = None,
) -> Baseline:
    """A baseline of ``features``; without any, the smallest valid one: numeric ``x`` with
    one inner bin [0, 1] holding its one training value."""
    if not features:
        features = (numeric("x", (0.0, 1.0), (0, 1, 0), mean=0.5, std=0.5),)
    return Baseline(
        model_id=model_id,
        model_version=model_version,
        baseline_id=baseline_id,
        created_at=created_at,
        features=features,
        source={} if source is None else source,
    )


def numeric(
    name: str,
    edges: tuple[float, ...],
    counts: tuple[int, ...],
    *,
    nulls: int = 0,
    count: int | None = None,
    min: float | None = None,
    max: float | None = None,
    mean: float = 0.0,
    std: float = 1.0,
    role: FeatureRole = "feature",
    ks_edges: tuple[float, ...] | None = None,
    ks_counts: tuple[int, ...] | None = None,
) -> FeatureBaseline:
    """A numeric feature with these edges and cell counts (under, inner bins..., over),
    and optionally a KS grid. ``count`` defaults to the sum of the counts, ``min``/``max``
    to the outer edges."""
    profile = NumericProfile(
        edges=edges,
        counts=counts,
        null_count=nulls,
        count=sum(counts) if count is None else count,
        min=edges[0] if min is None else min,
        max=edges[-1] if max is None else max,
        mean=mean,
        std=std,
        ks_edges=ks_edges,
        ks_counts=ks_counts,
    )
    return FeatureBaseline(name, "numeric", role, numeric=profile)


def categorical(
    name: str,
    categories: tuple[str, ...],
    counts: tuple[int, ...],
    *,
    nulls: int = 0,
    count: int | None = None,
    kind: FeatureType = "categorical",
    role: FeatureRole = "feature",
) -> FeatureBaseline:
    """A categorical (or boolean) feature: counts are the categories' then "other"'s."""
    profile = CategoricalProfile(
        categories=categories,
        counts=counts,
        null_count=nulls,
        count=sum(counts) if count is None else count,
    )
    return FeatureBaseline(name, kind, role, categorical=profile)


def numeric_from_values(
    name: str,
    values: FloatArray,
    n_bins: int = 10,
    nulls: int = 0,
    role: FeatureRole = "feature",
    ks_cells: int = 0,
) -> FeatureBaseline:
    """A numeric feature profiled from sample values: numpy quantile edges, cells by the
    documented bin rule; with ``ks_cells`` also a KS grid of that many quantile cells
    merged with the edges."""
    edges = quantile_edges(values, n_bins)
    ks_edges = ks_counts = None
    if ks_cells and edges[0] != edges[-1]:
        fine = np.unique(np.concatenate((edges, quantile_edges(values, ks_cells))))
        ks_edges = tuple(float(e) for e in fine)
        ks_counts = tuple(numpy_cells(ks_edges, values))
    return numeric(
        name,
        edges,
        tuple(numpy_cells(edges, values)),
        nulls=nulls,
        count=len(values),
        min=float(values.min()),
        max=float(values.max()),
        mean=float(values.mean()),
        std=float(values.std()),
        role=role,
        ks_edges=ks_edges,
        ks_counts=ks_counts,
    )


def categorical_from_values(
    name: str,
    values: Sequence[str],
    top_k: int = 20,
    nulls: int = 0,
    kind: FeatureType = "categorical",
) -> FeatureBaseline:
    """A categorical feature profiled from sample values: the top_k most frequent (ties by
    text), sorted, the rest in "other"."""
    counts = Counter(values)
    top = sorted(counts, key=lambda c: (-counts[c], c))[:top_k]
    cats = tuple(sorted(top))
    other = sum(v for c, v in counts.items() if c not in cats)
    return categorical(
        name, cats, (*(counts[c] for c in cats), other), nulls=nulls, count=len(values), kind=kind
    )


# -- the binning rule, written independently of app.binning.histogram ---------------------------


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


def numpy_cells(edges: Sequence[float], values: FloatArray) -> list[int]:
    """Cell counts by numpy: searchsorted implements the same rule independently."""
    e = np.asarray(edges, dtype=float)
    k = len(e) - 1
    idx = np.searchsorted(e, values, side="right")
    idx[values == e[-1]] = k
    return [int(c) for c in np.bincount(idx, minlength=len(e) + 1)]


def quantile_edges(values: FloatArray, n_bins: int) -> tuple[float, ...]:
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)))
    if len(edges) == 1:
        edges = np.array([edges[0], edges[0]])
    return tuple(float(e) for e in edges)


# -- files -------------------------------------------------------------------------------------


def csv_cell(value: object) -> object:
    """How a CSV export writes a value: null as empty, booleans as true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """A CSV file: the header, then one line per row (quoted where needed, LF endings)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows([csv_cell(v) for v in row] for row in rows)
    return path


def write_csv_records(path: Path, records: Sequence[Mapping[str, object]]) -> Path:
    """A CSV file of records that share the first record's keys, in its order."""
    header = list(records[0])
    return write_csv(path, header, ([r[k] for k in header] for r in records))


def write_jsonl(path: Path, lines: Iterable[object]) -> Path:
    """A JSONL file: one JSON document a line; ``bytes`` are written as they are (for lines
    that must not be valid JSON)."""
    with path.open("wb") as f:
        for line in lines:
            f.write((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n")
    return path
