"""Each feature's window histogram next to its baseline's, as a window result carries it,
so that any consumer can plot baseline against current without the baseline file.

Aligned with the baseline's cells (``app.baseline.model``), with bounded size:

* numeric: the baseline's edges, the window's and the baseline's counts per cell
  (underflow, inner bins, overflow). A baseline of more than ``MAX_INNER_BINS`` inner
  bins is shown coarser: runs of ``ceil(k / MAX_INNER_BINS)`` adjacent bins are added up
  (the edges between them dropped), so at most ``MAX_INNER_BINS + 2`` cells;
* categorical and boolean: at most ``MAX_CATEGORIES`` of the baseline's categories, the
  ones with the largest share in the baseline or in the window (so a rare category that
  surged is shown), listed in baseline order, then one "other" cell: the baseline's other
  bucket plus the categories not shown (``other_categories`` says how many). Unseen
  values (never in training) are not a cell: ``unseen`` counts them and
  ``unseen_values`` names the ``TOP_UNSEEN`` most frequent (count descending, then text),
  from the texts the window histogram kept (``app.binning.histogram``: at most 32
  distinct texts of at most 64 characters each; ``unseen_values_complete`` is false when
  some unseen values were not kept, so the named ones may not be the most frequent).

Both sides are integer counts: a consumer divides by their sum (or by ``n`` for the window
plus its unseen values) to get proportions, and the baseline's size is visible too.
Where a window's events without a usable value went: ``nulls`` (null or NaN),
``missing`` (no key), ``mismatched`` (wrong JSON type); their sum is the feature's
``null_count``. ``baseline_nulls`` is the training rows without a usable value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from typing import Final, Literal

from app.baseline.model import Baseline, FeatureBaseline
from app.binning.histogram import WindowHistogram

MAX_INNER_BINS: Final = 64
MAX_CATEGORIES: Final = 20
TOP_UNSEEN: Final = 5

HistogramKind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class UnseenValue:
    text: str  # the value's category text, at most 64 characters (then an ellipsis)
    count: int


@dataclass(frozen=True)
class FeatureHistogram:
    """One feature of one window, next to its baseline (see the module docstring)."""

    name: str
    kind: HistogramKind
    edges: tuple[float, ...]  # numeric: e_0..e_k of the cells shown; categorical: ()
    categories: tuple[str, ...]  # categorical: the categories shown; numeric: ()
    counts: tuple[int, ...]  # numeric: under, inner..., over; categorical: ..., other
    baseline_counts: tuple[int, ...]  # the same cells, in training
    nulls: int
    missing: int
    mismatched: int
    baseline_nulls: int
    other_categories: int = 0  # baseline categories counted in the other cell
    unseen: int = 0
    unseen_values: tuple[UnseenValue, ...] = ()
    unseen_values_complete: bool = True

    @property
    def n(self) -> int:
        """The window's usable values (cells and unseen)."""
        return sum(self.counts) + self.unseen

    @property
    def baseline_n(self) -> int:
        return sum(self.baseline_counts)


def feature_histogram(f: FeatureBaseline, hist: WindowHistogram, index: int) -> FeatureHistogram:
    """Feature ``index`` (of the baseline ``f`` belongs to) of a window histogram."""
    cells = hist.coarse_cells(index)  # a KS grid is not published
    nulls = hist.nulls[index]
    mismatched = hist.mismatched[index]
    missing = hist.missing(index)
    if f.numeric is not None:
        edges, counts, base = _coarse(f.numeric.edges, cells, f.numeric.counts)
        return FeatureHistogram(
            f.name,
            "numeric",
            edges,
            (),
            counts,
            base,
            nulls,
            missing,
            mismatched,
            f.numeric.null_count,
        )
    cat = f.categorical
    assert cat is not None
    shown = _shown_categories(cat.counts[:-1], cells[:-1])
    counts = _shown_and_other(cells, shown)
    base = _shown_and_other(cat.counts, shown)
    unseen = hist.unseen[index]
    kept = hist.unseen_values[index]
    top = sorted(kept.items(), key=lambda item: (-item[1], item[0]))[:TOP_UNSEEN]
    return FeatureHistogram(
        f.name,
        "categorical",
        (),
        tuple(cat.categories[i] for i in shown),
        counts,
        base,
        nulls,
        missing,
        mismatched,
        cat.null_count,
        other_categories=len(cat.categories) - len(shown),
        unseen=unseen,
        unseen_values=tuple(UnseenValue(t, c) for t, c in top),
        unseen_values_complete=sum(kept.values()) == unseen,
    )


def window_histograms(
    baseline: Baseline, hist: WindowHistogram, names: Sequence[str]
) -> tuple[FeatureHistogram, ...]:
    """The histograms of the baseline features among ``names``, in the order of ``names``."""
    index = {f.name: i for i, f in enumerate(baseline.features)}
    return tuple(
        feature_histogram(baseline.features[index[name]], hist, index[name])
        for name in names
        if name in index
    )


def _coarse(
    edges: Sequence[float], win: Sequence[int], base: Sequence[int]
) -> tuple[tuple[float, ...], tuple[int, ...], tuple[int, ...]]:
    k = len(edges) - 1
    if k <= MAX_INNER_BINS:
        return tuple(edges), tuple(win), tuple(base)
    g = ceil(k / MAX_INNER_BINS)
    starts = range(1, k + 1, g)

    def runs(c: Sequence[int]) -> tuple[int, ...]:
        return (c[0], *(sum(c[s : min(s + g, k + 1)]) for s in starts), c[k + 1])

    return (edges[0], *(edges[min(s - 1 + g, k)] for s in starts)), runs(win), runs(base)


def _shown_and_other(cells: Sequence[int], shown: Sequence[int]) -> tuple[int, ...]:
    """The shown categories' counts, then everything else (the other cell included)."""
    kept = [cells[i] for i in shown]
    return (*kept, sum(cells) - sum(kept))


def _shown_categories(base: Sequence[int], win: Sequence[int]) -> list[int]:
    """Indices of the categories to show, in baseline order."""
    if len(base) <= MAX_CATEGORIES:
        return list(range(len(base)))
    base_total = sum(base) or 1
    win_total = sum(win) or 1

    def weight(i: int) -> tuple[float, int]:
        return (-max(base[i] / base_total, win[i] / win_total), i)

    return sorted(sorted(range(len(base)), key=weight)[:MAX_CATEGORIES])
