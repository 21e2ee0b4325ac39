"""Seeded simulation of windows as histograms, for calibrating the decision rule.

The true distributions are known. The baseline is a finite training sample drawn from
them (100k rows), binned with its own quantile edges; each window is a multinomial draw
over the *true* cell probabilities at those edges (not the baseline's empirical ones), so
the sampling noise of the baseline is part of what the rule must tolerate. Numeric
features carry the builder's default KS grid, and windows are drawn over its cells.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats as ss

from app.baseline.build import DEFAULT_KS_CELLS
from app.baseline.model import Baseline, FeatureBaseline, FeatureType
from app.binning.histogram import WindowHistogram
from tests.factories import categorical_from_values, make_baseline, numeric_from_values

TRAIN_ROWS = 100_000


@dataclass(frozen=True)
class TrueFeature:
    """A feature's true distribution: a frozen scipy distribution or category shares."""

    name: str
    null_rate: float
    n_bins: int = 10
    dist: Any = None  # a scipy.stats frozen distribution (numeric); scipy is untyped
    shares: dict[str, float] | None = None  # categorical

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.dist is not None:
            return np.asarray(self.dist.rvs(size=n, random_state=rng), dtype=float)
        assert self.shares is not None
        cats = list(self.shares)
        return rng.choice(cats, size=n, p=list(self.shares.values()))


def _numeric(name: str, dist: Any, bins: int = 10, null_rate: float = 0.0) -> TrueFeature:
    return TrueFeature(name, null_rate, bins, dist=dist)


def _shares(k: int, first: float | None = None) -> dict[str, float]:
    weights = np.linspace(2.0, 1.0, k)
    p = weights / weights.sum()
    if first is not None:
        rest = p[1:] / p[1:].sum() * (1.0 - first)
        p = np.concatenate([[first], rest])
    return {f"c{i:02d}": float(v) for i, v in enumerate(p)}


def standard_features() -> list[TrueFeature]:
    """14 numeric + 6 categorical features of varied shapes, bin counts and null rates."""
    return [
        _numeric("n_normal_10", ss.norm(0, 1)),
        _numeric("n_normal_5", ss.norm(10, 3), bins=5),
        _numeric("n_normal_20", ss.norm(-5, 0.5), bins=20),
        _numeric("n_normal_nulls", ss.norm(0, 1), null_rate=0.01),
        _numeric("n_lognormal", ss.lognorm(0.8)),
        _numeric("n_lognormal_20", ss.lognorm(1.5), bins=20),
        _numeric("n_expon", ss.expon()),
        _numeric("n_expon_nulls", ss.expon(scale=5), null_rate=0.05),
        _numeric("n_uniform", ss.uniform(0, 1)),
        _numeric("n_uniform_20", ss.uniform(-1, 2), bins=20),
        _numeric("n_gamma", ss.gamma(2.0)),
        _numeric("n_t3", ss.t(3)),
        _numeric("n_poisson", ss.poisson(3)),
        _numeric("n_poisson_big", ss.poisson(40), bins=20),
        TrueFeature("c_binary", 0.0, shares={"false": 0.7, "true": 0.3}),
        TrueFeature("c_3", 0.0, shares=_shares(3)),
        TrueFeature("c_8_first10", 0.0, shares=_shares(8, first=0.10)),
        TrueFeature("c_12_nulls", 0.02, shares=_shares(12)),
        TrueFeature("c_20", 0.0, shares=_shares(20)),
        TrueFeature("c_40_topk20", 0.0, shares=_shares(40)),  # incomplete vocabulary
    ]


def sampled_baseline(
    features: list[TrueFeature], seed: int, ks_cells: int = DEFAULT_KS_CELLS
) -> Baseline:
    """The baseline profiled from a TRAIN_ROWS training sample of the true distributions."""
    rng = np.random.default_rng(seed)
    out: list[FeatureBaseline] = []
    for f in features:
        nulls = int(rng.binomial(TRAIN_ROWS, f.null_rate))
        values = f.sample(rng, TRAIN_ROWS - nulls)
        if f.dist is not None:
            out.append(numeric_from_values(f.name, values, f.n_bins, nulls, ks_cells=ks_cells))
        else:
            kind: FeatureType = "boolean" if f.name == "c_binary" else "categorical"
            out.append(categorical_from_values(f.name, list(values), 20, nulls, kind))
    return make_baseline(*out)


def cell_probabilities(f: TrueFeature, fb: FeatureBaseline) -> tuple[np.ndarray, float]:
    """True probabilities of the cells a window counts (a numeric feature's KS grid when
    it has one), and the unseen probability."""
    if fb.numeric is not None:
        edges = np.asarray(fb.numeric.cell_edges)
        dist = f.dist
        assert dist is not None
        if hasattr(dist, "pmf"):  # discrete: weight each support point by its cell
            support = np.arange(0, int(dist.ppf(1 - 1e-12)) + 2, dtype=float)
            cells = np.searchsorted(edges, support, side="right")
            cells[support == edges[-1]] = len(edges) - 1
            probs = np.bincount(cells, dist.pmf(support), minlength=len(edges) + 1)
        else:
            cdf = dist.cdf(edges)
            probs = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
        return probs / probs.sum(), 0.0
    cat = fb.categorical
    assert cat is not None and f.shares is not None
    known = [f.shares.get(c, 0.0) for c in cat.categories]
    outside = 1.0 - sum(known)
    if cat.counts[-1] == 0:
        return np.asarray([*known, 0.0]), max(outside, 0.0)
    return np.asarray([*known, max(outside, 0.0)]), 0.0


def simulate_windows(
    baseline: Baseline,
    truths: list[TrueFeature],
    n_windows: int,
    n_events: int,
    seed: int,
) -> list[WindowHistogram]:
    """n_windows histograms of n_events each, drawn from the true distributions."""
    rng = np.random.default_rng(seed)
    hists = [WindowHistogram.empty(baseline) for _ in range(n_windows)]
    for h in hists:
        h.n_events = n_events
    by_name = {f.name: f for f in truths}
    for i, fb in enumerate(baseline.features):
        truth = by_name[fb.name]
        probs, unseen_p = cell_probabilities(truth, fb)
        nulls = rng.binomial(n_events, truth.null_rate, size=n_windows)
        values = n_events - nulls
        full = np.concatenate([probs * (1.0 - unseen_p), [unseen_p]])
        draws = rng.multinomial(values, full / full.sum())
        for h, null, row in zip(hists, nulls.tolist(), draws.tolist(), strict=True):
            h.cells[i][:] = row[:-1]
            h.unseen[i] = row[-1]
            h.nulls[i] = null
    return hists


def shifted(truths: list[TrueFeature], name: str, **change: Any) -> list[TrueFeature]:
    """The same features with one of them changed (dist, shares or null_rate)."""
    return [replace(f, **change) if f.name == name else f for f in truths]
