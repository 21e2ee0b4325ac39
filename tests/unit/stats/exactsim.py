"""Binned decisions against SciPy's exact tests on the raw samples they were binned from.

The world of issue 11's measurement: 13 features (9 continuous numeric at the builder's
default 20 bins, 4 categorical, two features with nulls), a baseline profiled from
100,000 raw training rows, and windows drawn as raw samples, then binned with the
baseline's edges. Each window is judged twice:

* binned: ``evaluate_window`` on the histogram (what Driftline does);
* exact: SciPy on the raw samples (``ks_2samp``'s statistic and its p-value as
  ``ks_2samp`` computes it for these sizes, ``kstwo.sf(D, round(n_e))``; chi-square of
  the full 2 x k table, ``chi2_contingency`` without correction; the same null-rate
  test), adjusted together with Benjamini-Hochberg over the same family.

Numeric features carry the builder's default KS grid (``KS_CELLS`` quantile cells,
``app.baseline.model``) unless ``world(ks_cells=0)``.

``python -m tests.unit.stats.exactsim`` prints the table of docs/statistics.md, without
and with the grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as ss

from app.baseline.build import DEFAULT_KS_CELLS
from app.baseline.model import Baseline, FeatureBaseline
from app.binning.histogram import WindowHistogram
from app.stats.decision import WindowEvaluation, benjamini_hochberg, evaluate_window
from app.stats.proportions import two_proportion_pvalue
from app.stats.rules import DriftConfig
from tests.factories import categorical_from_values, make_baseline, numeric_from_values, numpy_cells

TRAIN_ROWS = 100_000
BINS = 20  # app.baseline.build's default
KS_CELLS = DEFAULT_KS_CELLS  # app.baseline.build's default KS grid
ALPHA = 0.05
RULES = DriftConfig().for_model("m")
CHANGED = "n_normal"


@dataclass(frozen=True)
class Truth:
    name: str
    null_rate: float = 0.0
    dist: Any = None  # a frozen scipy distribution (untyped)
    shares: tuple[float, ...] = ()

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.dist is not None:
            return np.asarray(self.dist.rvs(size=n, random_state=rng), dtype=float)
        cats = np.array([f"c{i:02d}" for i in range(len(self.shares))])
        return cats[rng.choice(len(self.shares), size=n, p=self.shares)]


def _shares(k: int) -> tuple[float, ...]:
    w = np.linspace(2.0, 1.0, k)
    return tuple(float(v) for v in w / w.sum())


def features(variance: float = 1.0) -> list[Truth]:
    """The 13 features; ``variance`` multiplies the variance of ``n_normal``."""
    return [
        Truth(CHANGED, dist=ss.norm(0, np.sqrt(variance))),
        Truth("n_normal_b", dist=ss.norm(10, 3)),
        Truth("n_normal_nulls", 0.01, dist=ss.norm(0, 1)),
        Truth("n_lognormal", dist=ss.lognorm(0.8)),
        Truth("n_lognormal_b", dist=ss.lognorm(1.5)),
        Truth("n_expon", dist=ss.expon()),
        Truth("n_uniform", dist=ss.uniform(0, 1)),
        Truth("n_gamma", dist=ss.gamma(2.0)),
        Truth("n_t3", dist=ss.t(3)),
        Truth("c_binary", shares=(0.7, 0.3)),
        Truth("c_3", shares=_shares(3)),
        Truth("c_8", shares=_shares(8)),
        Truth("c_12_nulls", 0.02, shares=_shares(12)),
    ]


@dataclass
class World:
    truths: list[Truth]
    baseline: Baseline
    raw: dict[str, np.ndarray]  # sorted numeric training values
    nulls: dict[str, int]


def world(seed: int = 1, ks_cells: int = KS_CELLS) -> World:
    rng = np.random.default_rng(seed)
    truths = features()
    out: list[FeatureBaseline] = []
    raw: dict[str, np.ndarray] = {}
    nulls: dict[str, int] = {}
    for t in truths:
        k = int(rng.binomial(TRAIN_ROWS, t.null_rate))
        values = t.sample(rng, TRAIN_ROWS - k)
        nulls[t.name] = k
        if t.dist is not None:
            raw[t.name] = np.sort(values)
            out.append(numeric_from_values(t.name, values, BINS, k, ks_cells=ks_cells))
        else:
            out.append(categorical_from_values(t.name, values.tolist(), 20, k))
    return World(truths, make_baseline(*out), raw, nulls)


@dataclass(frozen=True)
class Judged:
    binned: WindowEvaluation
    exact_adjusted: dict[str, float]  # feature -> exact BH-adjusted distribution p
    ks_exact: dict[str, float]  # numeric feature -> ks_2samp's p on the raw samples


def raw_ks(base_sorted: np.ndarray, win: np.ndarray) -> tuple[float, float]:
    """``ks_2samp(base, win)`` (statistic and p-value, method "auto" = "asymp" here),
    computed from the sorted baseline in O(n log n): between two window values F_w is
    constant, so the supremum is at a window value or just below one."""
    w = np.sort(win)
    nb, nw = base_sorted.size, w.size
    fb_at = np.searchsorted(base_sorted, w, side="right") / nb
    fb_below = np.searchsorted(base_sorted, w, side="left") / nb
    fw_at = np.searchsorted(w, w, side="right") / nw
    fw_below = np.searchsorted(w, w, side="left") / nw
    d = float(max(np.abs(fb_at - fw_at).max(), np.abs(fb_below - fw_below).max()))
    en = round(nb * nw / (nb + nw))
    return d, float(np.clip(ss.kstwo.sf(d, en), 0.0, 1.0))


def judge(w: World, truths: list[Truth], n: int, rng: np.random.Generator) -> Judged:
    """One raw window of ``n`` events, judged binned and exactly."""
    bl = w.baseline
    h = WindowHistogram.empty(bl)
    h.n_events = n
    family: list[tuple[str, float]] = []  # (feature, exact p); rate tests named ""
    ks_exact: dict[str, float] = {}
    by_name = {t.name: t for t in truths}
    for i, fb in enumerate(bl.features):
        t = by_name[fb.name]
        k = int(rng.binomial(n, t.null_rate))
        values = t.sample(rng, n - k)
        h.nulls[i] = k
        if fb.numeric is not None:
            h.cells[i][:] = numpy_cells(fb.numeric.cell_edges, values)
            _, p = raw_ks(w.raw[fb.name], values)
            ks_exact[fb.name] = p
            base_rows = fb.numeric.count + fb.numeric.null_count
        else:
            cat = fb.categorical
            assert cat is not None
            idx = {c: j for j, c in enumerate(cat.categories)}
            cells = [0] * len(cat.counts)
            for v, c in zip(*np.unique(values, return_counts=True), strict=True):
                cells[idx.get(str(v), len(cat.categories))] += int(c)
            h.cells[i][:] = cells
            table = np.array([cat.counts, cells])
            table = table[:, table.sum(axis=0) > 0]
            p = float(ss.chi2_contingency(table, correction=False).pvalue)
            base_rows = cat.count + cat.null_count
        family.append((fb.name, p))
        if w.nulls[fb.name] + k > 0:  # the null-rate test can reject
            family.append(("", two_proportion_pvalue(w.nulls[fb.name], base_rows, k, n)))
    adjusted = benjamini_hochberg([p for _, p in family])
    exact = {name: a for (name, _), a in zip(family, adjusted, strict=True) if name}
    return Judged(evaluate_window(bl, h, RULES), exact, ks_exact)


def run(w: World, truths: list[Truth], n: int, windows: int, seed: int) -> list[Judged]:
    rng = np.random.default_rng(seed)
    return [judge(w, truths, n, rng) for _ in range(windows)]


def ks_gaps(judged: list[Judged]) -> list[float]:
    """|p_binned - p_exact| of every numeric feature's KS test in every window."""
    out = []
    for j in judged:
        for f in j.binned.features:
            if f.name in j.ks_exact and f.p_value is not None:
                out.append(abs(f.p_value - j.ks_exact[f.name]))
    return out


def detected(judged: list[Judged], name: str) -> tuple[float, float, float]:
    """Share of windows where ``name``'s distribution test is significant after BH
    (binned, exact) and where the binned rule flags it (p and effect bar)."""
    binned = exact = rule = 0
    for j in judged:
        f = next(f for f in j.binned.features if f.name == name)
        binned += f.p_value_adjusted is not None and f.p_value_adjusted < ALPHA
        exact += j.exact_adjusted[name] < ALPHA
        rule += f.drifted
    k = len(judged)
    return binned / k, exact / k, rule / k


def false_alarms(judged: list[Judged]) -> float:
    return sum(j.binned.status == "drift" for j in judged) / len(judged)


def main() -> None:
    for ks_cells in (0, KS_CELLS):
        print(f"KS grid of {ks_cells} cells (0: KS on the {BINS} bins)")
        report(world(ks_cells=ks_cells))


def report(w: World) -> None:
    print("n       windows  false alarms  max|p_binned-p_exact| KS  mean (signed gap)")
    for n, windows in ((1000, 400), (5000, 200), (50_000, 100)):
        judged = run(w, w.truths, n, windows, seed=n)
        gaps = ks_gaps(judged)
        signed = [
            f.p_value - j.ks_exact[f.name]
            for j in judged
            for f in j.binned.features
            if f.name in j.ks_exact and f.p_value is not None
        ]
        print(
            f"{n:<7} {windows:<8} {false_alarms(judged):<13.4f} {max(gaps):<26.3f}"
            f" {float(np.mean(signed)):+.3f}"
        )
    for n, windows in ((1000, 400), (5000, 200), (50_000, 100)):
        judged = run(w, features(1.5), n, windows, seed=n + 1)
        b, e, r = detected(judged, CHANGED)
        print(
            f"variance x1.5 n={n}: binned {b:.3f} exact {e:.3f} rule {r:.3f};"
            f" max gap {max(ks_gaps(judged)):.3f}"
        )


if __name__ == "__main__":
    main()
