"""Where a value lands: a baseline's cells and the binning plan of each feature.

A ``HistogramLayout`` is built once per baseline (``layout_for`` caches it); a window
histogram (``app.binning.histogram``) only counts what ``place`` answers.

Numeric features. int and float are binned with the baseline's edges (its KS grid's when
it has one, ``app.baseline.model``) (``bisect`` on a
Python list: for one value that is several times faster than a numpy call). -inf lands
in underflow, +inf in overflow. bool is *not* a number here: ``true`` in a numeric
feature is a type change, so it counts as mismatched, as does any string (a number sent
as text is a contract change, not a value to parse) and any object or array.

Categorical and boolean features. A value's text key is the string itself, "true" /
"false" for booleans, ``str(n)`` for an integer and for an integral float (``3.0`` ->
"3"), ``repr(x)`` for other floats (``category_text``, the rule the baseline builder
uses too). A boolean feature, like the builder, also reads "true" and "false" in any
case and the numbers 0 and 1. Then:

1. a key among the baseline's top-K categories counts in its cell, whatever its JSON
   type (the baseline proves such values legitimate, e.g. an integer-coded category);
2. otherwise a value of a foreign JSON type is mismatched. The native type is str for a
   categorical feature (numbers too when every baseline category reads as a number) and
   bool for a boolean one;
3. otherwise the value is outside the top K. A baseline keeps only the top-K categories,
   so such a value may be a rare training value (in the baseline's "other" bucket) or a
   new one, and the two cannot be told apart. The rule: when the baseline's "other"
   bucket is empty, its vocabulary is complete and the value is provably new: it counts
   as ``unseen`` (not in any cell). When the "other" bucket is not empty, the value goes
   to the "other" cell and ``unseen`` stays 0: its growth still shows in the
   distribution tests (chi-square, JS, PSI over the cells), and the unseen-share statistic
   is reported only for features whose vocabulary is complete.

Null is JSON null or a float NaN (pandas' missing value; JSON cannot carry NaN).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import inf, nextafter
from operator import itemgetter
from typing import Final

import numpy as np
import numpy.typing as npt

from app.baseline.model import Baseline, FeatureBaseline

# What ``place`` answers for a value that lands in no cell.
NULL: Final = -1
UNSEEN: Final = -2
MISMATCHED: Final = -3


@dataclass(frozen=True)
class FeaturePlan:
    """How one feature's values are binned (built once per baseline)."""

    index: int
    numeric: bool
    # Numeric: the edges with the last one nudged up by one ulp, so that ``bisect_right``
    # alone gives the cell (the last inner bin is closed on the right).
    edges: list[float]
    # Categorical: text key -> cell; ``other`` is the last cell.
    lookup: dict[str, int]
    other: int
    complete: bool  # baseline "other" bucket empty: outside the top K means unseen
    numbers_native: bool  # numbers are the categorical feature's own type
    bools_native: bool


def category_text(value: object) -> str | None:
    """The category key of a typed scalar: strings as is, booleans "true"/"false", integers
    and integral floats as integers ("3"), other floats as ``repr``. None for null and for
    objects or arrays."""
    t = type(value)
    if t is str:
        assert isinstance(value, str)
        return value
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    if t is float:
        assert isinstance(value, float)
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def place(plan: FeaturePlan, value: object) -> int:
    """The cell of ``value`` (>= 0), or ``NULL``, ``UNSEEN`` or ``MISMATCHED`` (the rules
    are in the module docstring)."""
    t = type(value)
    if plan.numeric:
        if (t is float and value == value) or t is int:
            return bisect_right(plan.edges, value)  # type: ignore[call-overload,no-any-return]
        return NULL if value is None or t is float else MISMATCHED
    if t is str:
        assert isinstance(value, str)
        cell = plan.lookup.get(value)
        if cell is not None:
            return cell
        if plan.bools_native:
            cell = plan.lookup.get(value.lower())  # "True", "FALSE": booleans in any case
            if cell is not None:
                return cell
        return _outside(plan, native=not plan.bools_native)
    if value is None or (t is float and value != value):
        return NULL
    key = category_text(value)
    if key is None:
        return MISMATCHED
    cell = plan.lookup.get(key)
    if cell is not None:
        return cell
    return _outside(plan, native=plan.bools_native if t is bool else plan.numbers_native)


def _outside(plan: FeaturePlan, *, native: bool) -> int:
    """A categorical value outside the top K (rules 2 and 3)."""
    if not native:
        return MISMATCHED
    return UNSEEN if plan.complete else plan.other


def _reads_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_BOOL_ALIASES = (("0", "false"), ("1", "true"))


def _plan(index: int, f: FeatureBaseline) -> FeaturePlan:
    if f.numeric is not None:
        edges = list(f.numeric.cell_edges)
        edges[-1] = nextafter(edges[-1], inf)
        return FeaturePlan(index, True, edges, {}, 0, False, False, False)
    assert f.categorical is not None
    cats = f.categorical.categories
    lookup = {c: i for i, c in enumerate(cats)}
    if f.type == "boolean":
        # The baseline builder reads 0/1 as booleans too (numbers key as "0"/"1").
        lookup.update({alias: lookup[c] for alias, c in _BOOL_ALIASES if c in lookup})
    return FeaturePlan(
        index=index,
        numeric=False,
        edges=[],
        lookup=lookup,
        other=len(cats),
        complete=f.categorical.counts[-1] == 0,
        numbers_native=f.type == "categorical" and bool(cats) and all(map(_reads_as_number, cats)),
        bools_native=f.type == "boolean",
    )


class HistogramLayout:
    """The cells of every baseline feature, and the binning plan for each (per baseline)."""

    def __init__(self, baseline: Baseline) -> None:
        self.baseline_id = baseline.baseline_id
        self.names: tuple[str, ...] = tuple(f.name for f in baseline.features)
        # Cells a window counts per feature: a numeric feature's KS grid when it has one.
        self.n_cells: tuple[int, ...] = tuple(f.n_cells for f in baseline.features)
        self.n_bins: tuple[int, ...] = tuple(f.n_bins for f in baseline.features)
        # Length of a window's flat counts (``WindowHistogram.native_counts``).
        self.flat_size = sum(3 + k for k in self.n_cells)
        # Per feature with a KS grid: the coarse cell of each of its cells (else None).
        self.coarse_index: tuple[npt.NDArray[np.intp] | None, ...] = tuple(
            None
            if f.numeric is None or (index := f.numeric.coarse_index()) is None
            else np.asarray(index, dtype=np.intp)
            for f in baseline.features
        )
        # Where each coarse cell starts among them (``numpy.add.reduceat``), or None.
        self.coarse_starts: tuple[npt.NDArray[np.intp] | None, ...] = tuple(
            None if c is None else np.searchsorted(c, np.arange(k), side="left")
            for c, k in zip(self.coarse_index, self.n_bins, strict=True)
        )
        self.has_ks_grid = any(c is not None for c in self.coarse_index)
        plans = [_plan(i, f) for i, f in enumerate(baseline.features)]
        self.feature_plans: dict[str, FeaturePlan] = {
            p_name: p
            for p_name, p, f in zip(self.names, plans, baseline.features, strict=True)
            if f.role == "feature"
        }
        pred = [p for p, f in zip(plans, baseline.features, strict=True) if f.role == "prediction"]
        self.prediction_plan: FeaturePlan | None = pred[0] if pred else None
        self.prediction_edges = (
            np.asarray(pred[0].edges, dtype=np.float64) if pred and pred[0].numeric else None
        )
        # Batched path: events whose keys are exactly the baseline's features.
        batch_names = tuple(self.feature_plans)
        self.n_batch = len(batch_names)
        self.batch_plans = tuple(self.feature_plans[n] for n in batch_names)
        self.batch_edges = tuple(
            np.asarray(p.edges, dtype=np.float64) if p.numeric else None for p in self.batch_plans
        )
        self.getter: Callable[[Mapping[str, object]], tuple[object, ...]] | None = None
        if len(batch_names) > 1:
            self.getter = itemgetter(*batch_names)
        elif batch_names:
            only = batch_names[0]
            self.getter = lambda features: (features[only],)


_layouts: dict[int, tuple[Baseline, HistogramLayout]] = {}


def layout_for(baseline: Baseline) -> HistogramLayout:
    """The (cached) layout of a baseline; the cache holds the few baselines in use."""
    hit = _layouts.get(id(baseline))
    if hit is not None and hit[0] is baseline:
        return hit[1]
    if len(_layouts) >= 64:
        _layouts.pop(next(iter(_layouts)))
    layout = HistogramLayout(baseline)
    _layouts[id(baseline)] = (baseline, layout)
    return layout
