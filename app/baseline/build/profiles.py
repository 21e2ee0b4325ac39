"""Profiles of decided columns: numeric edges and counts, top-K categories, booleans.

Numeric edges. A column with at most ``bins`` distinct values gets one inner bin per
value, split at the midpoints (a 0/1 column gets [0, 0.5, 1], where quantile edges would
collapse into one bin and hide any drift); otherwise the edges are the ``bins + 1``
training quantiles (``numpy.quantile``, linear) with ties deduplicated. A single-valued
column gets [v, v]. +-inf land in the underflow and overflow cells but stay out of edges,
min, max, mean and std. Categorical: the ``top_k`` most frequent values (ties by text),
then "other". Boolean: the categories ["false", "true"]. std is the population std
(ddof 0).

KS grid. A numeric column with more distinct values than ``bins`` also gets the
``ks_cells + 1`` training quantiles merged with its edges as a KS grid (``ks_edges``,
``ks_counts``, see ``app.baseline.model``), so its KS p-value follows the one of the raw
samples (docs/statistics.md). None when ``ks_cells`` is 0, when the grid would be no finer
than the edges, or for a column that needed the scaled computation below.

Huge numbers. Values near the float64 limit (1e308) overflow numpy's sum and square, and
an interpolated quantile between -1e308 and 1e308 overflows the difference. When the
plain computation is not finite, it is done again on the values scaled by a power of two
(exact: only the exponent changes) to below 1 in magnitude, and the results scaled back.
Plain first, so every column that never overflowed keeps its bits, and with them its
baseline_id. A column whose statistics still do not fit in a float64 is refused.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from app.baseline.build.columns import BOOL, NUM, ColumnAcc, repeat_numbers
from app.baseline.build.inference import Decision
from app.baseline.model import (
    CategoricalProfile,
    FeatureBaseline,
    FeatureRole,
    NumericProfile,
)
from app.errors import InputError
from app.files.readers import FloatArray, text_to_float

# -- profiles of values ------------------------------------------------------------------------


def numeric_edges(sorted_values: FloatArray, bins: int) -> FloatArray:
    """Edges of a non-empty, sorted, finite column (the rule is in the module docstring)."""
    with np.errstate(over="ignore"):  # inf != 0 all the same: a step is a step
        step = np.diff(sorted_values) != 0
    n_distinct = 1 + int(np.count_nonzero(step))
    if n_distinct == 1:
        v = float(sorted_values[0])
        return np.array([v, v], dtype=np.float64) + 0.0
    if n_distinct <= bins:
        distinct = sorted_values[np.concatenate(([True], step))]
        mids = distinct[:-1] / 2 + distinct[1:] / 2
        # The midpoint of two adjacent floats can round onto the lower one.
        mids = np.where(mids > distinct[:-1], mids, distinct[1:])
        edges = np.unique(np.concatenate(([distinct[0]], mids, [distinct[-1]])))
    else:
        edges = np.unique(np.quantile(sorted_values, np.linspace(0.0, 1.0, bins + 1)))
    return np.asarray(edges, dtype=np.float64) + 0.0  # -0.0 -> 0.0: one JSON spelling


def _moments_and_edges(values: FloatArray, bins: int) -> tuple[FloatArray, float, float]:
    """(edges, mean, std) of a non-empty, sorted, finite column, without overflow where the
    results fit in a float64 (see "Huge numbers" in the module docstring)."""
    with np.errstate(over="ignore", invalid="ignore"):
        edges = numeric_edges(values, bins)
        mean, std = float(values.mean()), float(values.std())
    if np.isfinite(edges).all() and math.isfinite(mean) and math.isfinite(std):
        return edges, mean, std
    exponent = math.frexp(max(-float(values[0]), float(values[-1])))[1]
    scaled = np.ldexp(values, -exponent)  # |scaled| < 1: no sum or square overflows
    edges = np.ldexp(numeric_edges(scaled, bins), exponent)
    # The outer edges are the column's min and max, whatever scaling did to tiny values.
    edges[0], edges[-1] = values[0], values[-1]
    edges = np.unique(edges) + 0.0
    if len(edges) == 1:
        edges = np.concatenate((edges, edges))
    mean = math.ldexp(float(scaled.mean()), exponent)
    std = math.ldexp(float(scaled.std()), exponent)
    return edges, mean, std


def _cell_counts(values: FloatArray, edges: FloatArray, neg_inf: int, pos_inf: int) -> list[int]:
    """Counts of sorted finite ``values`` in the cells of ``edges`` (underflow, inner bins,
    the last closed on the right, overflow), -inf and +inf in underflow and overflow."""
    left = np.searchsorted(values, edges, side="left")
    right_last = int(np.searchsorted(values, edges[-1], side="right"))
    inner = np.diff(left).tolist()
    inner[-1] = right_last - int(left[-2])  # the last inner bin is closed on the right
    return [int(left[0]) + neg_inf, *inner, len(values) - right_last + pos_inf]


def ks_grid(values: FloatArray, edges: FloatArray, ks_cells: int) -> FloatArray | None:
    """The KS grid of a sorted finite column with ``edges`` (module docstring), or None."""
    if ks_cells <= 0 or edges[0] == edges[-1]:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        fine = numeric_edges(values, ks_cells)
    if not np.isfinite(fine).all():
        return None
    fine = fine[(fine >= edges[0]) & (fine <= edges[-1])]
    grid = np.unique(np.concatenate((edges, fine))) + 0.0
    return grid if len(grid) > len(edges) else None


def numeric_profile(
    values: FloatArray, neg_inf: int, pos_inf: int, bins: int, ks_cells: int = 0
) -> NumericProfile:
    """Profile of the finite ``values`` (sorted in place) plus the counts of -inf and +inf.
    ``null_count`` is left 0 for the caller, who knows the row count. Raises
    ``InputError`` (without the column: the caller adds it) when the mean, std or edges
    do not fit in a float64."""
    values.sort()
    try:
        edges, mean, std = _moments_and_edges(values, bins)
    except OverflowError:  # math.ldexp of a rounded result just above the float64 limit
        edges, mean, std = np.array([np.inf]), math.inf, math.inf
    if not (np.isfinite(edges).all() and math.isfinite(mean) and math.isfinite(std)):
        raise InputError(
            f"the values (from {float(values[0]):.6g} to {float(values[-1]):.6g}) are too "
            f"large for a float64 mean, std or bin edge; rescale the column or --exclude it"
        )
    counts = _cell_counts(values, edges, neg_inf, pos_inf)
    grid = ks_grid(values, edges, ks_cells)
    return NumericProfile(
        edges=tuple(float(e) for e in edges),
        counts=tuple(int(c) for c in counts),
        null_count=0,
        count=sum(counts),
        min=float(values[0]) + 0.0,
        max=float(values[-1]) + 0.0,
        mean=mean + 0.0,
        std=std,
        ks_edges=None if grid is None else tuple(float(e) for e in grid),
        ks_counts=None if grid is None else tuple(_cell_counts(values, grid, neg_inf, pos_inf)),
    )


def categorical_profile(table: pa.Table, top_k: int) -> CategoricalProfile:
    """Top-K of counts by text ``v`` (count ``c``); ties by text, so row order is moot."""
    cats: list[str] = []
    counts: list[int] = []
    other = 0
    if table.num_rows:
        g = table.group_by("v").aggregate([("c", "sum")])
        g = g.take(pc.sort_indices(g, sort_keys=[("c_sum", "descending"), ("v", "ascending")]))
        cats = [str(c) for c in g["v"].slice(0, top_k).to_pylist()]
        counts = [int(c) for c in g["c_sum"].slice(0, top_k).to_pylist()]
        other = int(pc.sum(g["c_sum"].slice(top_k)).as_py() or 0)
    return CategoricalProfile(tuple(cats), (*counts, other), 0, sum(counts) + other)


# -- profile of a decided column --------------------------------------------------------------

_P = TypeVar("_P", NumericProfile, CategoricalProfile)


def _with_nulls(prof: _P, rows: int) -> _P:
    return replace(prof, null_count=rows - prof.count)


def feature_profile(
    acc: ColumnAcc,
    d: Decision,
    rows: int,
    name: str,
    role: FeatureRole,
    bins: int,
    top_k: int,
    path: str | None = None,
    ks_cells: int = 0,
) -> FeatureBaseline:
    """The baseline entry of a column decided as ``d``. Rows without a usable value (null,
    absent, invalid) are its nulls. Frees the column's float chunks as it joins them.
    ``path``: the input file, named by errors."""
    if d.type == "numeric":
        parts = acc.chunks
        acc.chunks = []  # freed as soon as they are joined
        nums = acc.counts.of_kind(NUM)
        if nums.num_rows:
            parts = [*parts, repeat_numbers(nums)]
        values = np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)
        del parts
        neg = acc.neg_inf + int(np.count_nonzero(values == -np.inf))
        pos = acc.pos_inf + int(np.count_nonzero(values == np.inf))
        values = values[np.isfinite(values)]
        if not len(values):
            raise InputError(
                "the column has no finite numbers; --exclude it", path=path, field=acc.name
            )
        try:
            prof = _with_nulls(numeric_profile(values, neg, pos, bins, ks_cells), rows)
        except InputError as err:  # raised without a location: add it
            raise InputError(str(err), path=path, field=acc.name) from None
        return FeatureBaseline(name, "numeric", role, numeric=prof)
    table = acc.counts.table()
    if d.type == "boolean":
        false, true = _boolean_counts(acc, table)
        cat = CategoricalProfile(("false", "true"), (false, true, 0), 0, false + true)
    else:
        cat = categorical_profile(table, top_k)
    return FeatureBaseline(name, d.type, role, categorical=_with_nulls(cat, rows))


def _boolean_counts(acc: ColumnAcc, table: pa.Table) -> tuple[int, int]:
    false = true = 0
    columns = (table["k"].to_pylist(), table["v"].to_pylist(), table["c"].to_pylist())
    for k, v, c in zip(*columns, strict=True):
        if k == BOOL:
            if v.lower() == "true":
                true += c
            else:
                false += c
        elif k == NUM and acc.declared == "boolean":
            f = text_to_float(v)
            true += c if f == 1.0 else 0
            false += c if f == 0.0 else 0
    return false, true
