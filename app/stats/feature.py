"""All statistics of one feature in one window, from its baseline profile and window counts.

Counts. ``n`` is the number of usable values (binned in a cell, or unseen categories);
``null_count = n_events - n`` is everything else: nulls, events that lack the key, and
values of the wrong type. So ``null_rate`` is the share of events in which the model did
not get a usable value for the feature; a type change or a vanished feature therefore
shows up as a null-rate jump. The baseline's null rate is null_count / (null_count +
count) of the training rows.

Numeric features get KS (the test, on the baseline's KS grid when it has one), PSI, KL,
JS, Wasserstein and the out-of-range share; categorical and boolean ones get chi-square
(the test), PSI, KL, JS and, when the baseline's vocabulary is complete (empty "other"
bucket), the unseen share with its test against the baseline's 0 unseen. Distribution
statistics need n > 0; rates need n_events > 0. Missing statistics are None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import numpy.typing as npt

from app.baseline.model import FeatureBaseline, NumericProfile
from app.stats.chi2 import chi2_homogeneity
from app.stats.divergence import js_distance, kl_divergence, psi
from app.stats.ks import ks_test, ks_test_grid
from app.stats.proportions import share, two_proportion_pvalue
from app.stats.wasserstein import wasserstein_binned


@dataclass(frozen=True)
class FeatureCounts:
    """One feature's counts in one window (see ``app.binning.histogram``)."""

    n_events: int
    cells: Sequence[int]
    nulls: int
    unseen: int
    mismatched: int
    # A numeric feature's counts in its baseline's KS grid (``cells`` then holds the coarse
    # bins they add up to), None without a grid.
    ks_cells: Sequence[int] | None = None

    @property
    def n(self) -> int:
        return sum(self.cells) + self.unseen

    @property
    def null_count(self) -> int:
        return self.n_events - self.n


# Used by the decision rule but not a key of the window result's "stats" object.
_NOT_IN_CONTRACT = frozenset({"unseen_pvalue"})


@dataclass(frozen=True)
class FeatureStats:
    """Statistics of one feature; field names are the window result's ``stats`` keys."""

    ks: float | None = None
    ks_pvalue: float | None = None
    psi: float | None = None
    js: float | None = None
    kl: float | None = None
    wasserstein: float | None = None
    chi2: float | None = None
    chi2_pvalue: float | None = None
    chi2_dof: int | None = None
    null_rate: float | None = None
    baseline_null_rate: float | None = None
    null_rate_change: float | None = None
    null_rate_pvalue: float | None = None
    out_of_range_share: float | None = None
    unseen_share: float | None = None
    unseen_pvalue: float | None = None

    def as_dict(self) -> dict[str, float | int]:
        """The present statistics the contract names, in declaration order (stable output)."""
        out: dict[str, float | int] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and f.name not in _NOT_IN_CONTRACT:
                out[f.name] = value
        return out


def feature_stats(baseline: FeatureBaseline, counts: FeatureCounts, epsilon: float) -> FeatureStats:
    """Every statistic that applies to this feature (see the module docstring)."""
    n = counts.n
    rates = _rates(baseline, counts)
    if n == 0:
        return rates
    win = counts.cells
    if baseline.numeric is not None:
        prof = baseline.numeric
        base = prof.counts
        if counts.ks_cells is not None and prof.ks_counts is not None:
            d, p = ks_test_grid(_cumulative(prof), prof.ks_counts, counts.ks_cells)
        else:
            d, p = ks_test(base, win)
        return replace(
            rates,
            ks=d,
            ks_pvalue=p,
            psi=psi(base, win, epsilon),
            js=js_distance(base, win),
            kl=kl_divergence(base, win, epsilon),
            wasserstein=wasserstein_binned(prof.edges, base, win, prof.std),
            out_of_range_share=share(win[0] + win[-1], n),
        )
    assert baseline.categorical is not None
    cat = baseline.categorical
    chi = chi2_homogeneity(cat.counts, win)
    if cat.counts[-1] == 0:  # complete vocabulary: unseen values are knowable
        rates = replace(
            rates,
            unseen_share=share(counts.unseen, n),
            unseen_pvalue=two_proportion_pvalue(0, sum(cat.counts), counts.unseen, n),
        )
    return replace(
        rates,
        psi=psi(cat.counts, win, epsilon),
        js=js_distance(cat.counts, win),
        kl=kl_divergence(cat.counts, win, epsilon),
        chi2=chi.statistic,
        chi2_pvalue=chi.pvalue,
        chi2_dof=chi.dof,
    )


_cumulatives: dict[int, tuple[NumericProfile, npt.NDArray[np.int64]]] = {}


def _cumulative(prof: NumericProfile) -> npt.NDArray[np.int64]:
    """The cumulative KS-grid counts of a baseline profile, cached (the few baselines in
    use; a profile is immutable)."""
    hit = _cumulatives.get(id(prof))
    if hit is not None and hit[0] is prof:
        return hit[1]
    if len(_cumulatives) >= 4096:
        _cumulatives.pop(next(iter(_cumulatives)))
    assert prof.ks_counts is not None
    cumulative = np.cumsum(np.asarray(prof.ks_counts, dtype=np.int64))
    _cumulatives[id(prof)] = (prof, cumulative)
    return cumulative


def _rates(baseline: FeatureBaseline, counts: FeatureCounts) -> FeatureStats:
    if counts.n_events <= 0:
        return FeatureStats()
    prof = baseline.numeric or baseline.categorical
    assert prof is not None
    base_rows = prof.null_count + prof.count
    rate = share(counts.null_count, counts.n_events)
    base_rate = share(prof.null_count, base_rows)
    return FeatureStats(
        null_rate=rate,
        baseline_null_rate=base_rate,
        null_rate_change=rate - base_rate,
        null_rate_pvalue=two_proportion_pvalue(
            prof.null_count, base_rows, counts.null_count, counts.n_events
        ),
    )
