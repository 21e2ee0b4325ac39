"""The decision rule: which features of a window drifted, and what that means for the window.

The family of tests of a window (Benjamini-Hochberg across all of them):

* per feature with >= ``feature_n_min`` usable values: its distribution test (KS for
  numeric, chi-square for categorical and boolean);
* per feature: its null-rate two-proportion test (null = no usable value, see
  app/stats/feature.py);
* per categorical feature with a complete baseline vocabulary and enough values: the
  unseen-share test against the baseline's zero unseen;

less the tests that cannot reject given the pooled data (``can_reject``: no null in
either sample, no unseen value, a single occupied cell): their p-value is 1 whatever
happens, and counting them would only multiply every other p-value.

A feature's ``test``, ``p_value``, ``p_value_adjusted`` and ``effect`` describe its
distribution test (None when it did not run); ``reasons`` names every test that fired,
so a feature flagged only by its null rate is drifted with a distribution p-value that
may be large. ``tests`` holds every test of the feature in the family with its numbers
(p, adjusted p, alpha, effect and bar, fired or not): what an alert's findings quote.

Every test has an effect size next to its p-value, and a test *fires* when its
BH-adjusted p-value is below the feature's alpha AND its effect passes its threshold
(distribution: PSI or JS >= the size-adjusted bar of ``effect_threshold``; null rate:
|change| >= null_rate_change; unseen: share >= unseen_share). Putting the rate tests in
the same BH family (rather than separate ad-hoc thresholds) keeps one false-discovery
guarantee for everything a window can flag. A feature drifts when any of its tests
fires. Nothing is tested, and nothing drifts, when the window holds fewer than ``n_min``
events: the window is ``insufficient_data``, never an alarm.

Feature status (most specific wins): ``unavailable`` (absent or null in every event of
a non-empty window; baseline features only), ``type_changed`` (at least
``type_change_share`` of its non-null values had the wrong JSON type), ``drift``,
``insufficient_data`` (window below n_min, or too few usable values and no rate test
fired), ``ok``. Features the baseline does not know are listed as ``unknown``, never
tested. The contract labels are facts, reported whatever the window size; whether such
a feature also *drifted* is decided by its null-rate test like any other.

Window: ``insufficient_data`` below n_min; ``drift`` when any feature (prediction
included) drifted; else ``ok``. Dataset: ``drifted_share`` = drifted / tested
features (the prediction counts as one, as in the features list); ``drifted`` when that
share >= ``drift_share`` or the prediction drifted.
Severity of a drifted window: ``high`` when both the share and the prediction say so
(inputs and outputs moved), ``medium`` when one does (dataset drifted), ``low`` when
only some input features drifted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import sqrt
from typing import Literal

from app.baseline.model import Baseline, FeatureBaseline, FeatureType
from app.binning.histogram import KIND_BOOLEAN, KIND_NUMBER, WindowHistogram
from app.stats.divergence import sampling_noise
from app.stats.feature import FeatureCounts, FeatureStats, feature_stats
from app.stats.rules import EffectName, FeatureRules, ModelRules

FeatureStatus = Literal[
    "ok", "drift", "insufficient_data", "unavailable", "unknown", "type_changed"
]
WindowStatus = Literal["ok", "drift", "insufficient_data"]
Severity = Literal["none", "low", "medium", "high"]
TestName = Literal["ks", "chi2"]
Reason = Literal["distribution", "null_rate", "unseen"]


@dataclass(frozen=True)
class Effect:
    name: EffectName
    value: float
    threshold: float


@dataclass(frozen=True)
class TestOutcome:
    """One test of a feature in the window's family, with the numbers that decided it.

    ``effect`` is what the rule compares with ``threshold``: the distribution effect
    (PSI or JS, against the size-adjusted bar), ``|null_rate_change|`` against the
    ``null_rate_change`` setting, or ``unseen_share`` against the ``unseen_share`` setting.
    The test fired when ``p_value_adjusted < alpha`` and ``effect >= threshold``.
    """

    __test__ = False  # not a pytest class, despite the name

    reason: Reason
    p_value: float
    p_value_adjusted: float
    alpha: float
    effect: float
    threshold: float
    fired: bool


@dataclass(frozen=True)
class FeatureResult:
    name: str
    role: Literal["feature", "prediction"]
    type: FeatureType | None  # None: an unknown feature that only had nulls
    status: FeatureStatus
    n: int  # usable values
    null_count: int  # n_events - n: null, absent or wrong type
    test: TestName | None  # the distribution test; None when it did not run
    p_value: float | None
    p_value_adjusted: float | None
    effect: Effect | None  # None when the distribution test did not run
    stats: FeatureStats
    drifted: bool
    reasons: tuple[Reason, ...]  # the tests that fired
    tests: tuple[TestOutcome, ...] = ()  # every test of the feature in the family


@dataclass(frozen=True)
class DatasetSummary:
    n_features: int  # entries of the features list: baseline (prediction too) and unknown
    n_tested: int  # features with at least one test in the family
    n_drifted: int
    drifted_share: float
    prediction_drift: bool
    drifted: bool


@dataclass(frozen=True)
class ContractFindings:
    unavailable: tuple[str, ...]
    unknown: tuple[str, ...]
    type_changed: tuple[str, ...]
    unknown_truncated: bool  # more unknown names existed than a histogram keeps


@dataclass(frozen=True)
class WindowEvaluation:
    status: WindowStatus
    severity: Severity
    n_events: int
    dataset: DatasetSummary
    features: tuple[FeatureResult, ...]  # sorted by name
    contract: ContractFindings
    smoothing_epsilon: float


@dataclass(frozen=True)
class _Test:
    feature: int
    reason: Reason
    p: float
    effect: float
    threshold: float
    # False when the pooled data leave the test nothing to reject (see ``can_reject``):
    # its p-value is 1 by construction, so it stays out of the BH family.
    can_reject: bool = True

    @property
    def effect_passes(self) -> bool:
        return self.effect >= self.threshold


def benjamini_hochberg(pvalues: list[float]) -> list[float]:
    """BH step-up adjusted p-values, in input order: min_{j >= i} m p_(j) / j, capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: (pvalues[i], i))
    adjusted = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        adjusted[i] = min(1.0, running)
    return adjusted


def evaluate_window(
    baseline: Baseline, hist: WindowHistogram, rules: ModelRules
) -> WindowEvaluation:
    """Test every feature of a window against its baseline and apply the decision rule."""
    if hist.layout.baseline_id != baseline.baseline_id:
        raise ValueError(
            f"histogram of baseline {hist.layout.baseline_id}, not {baseline.baseline_id}"
        )
    eps = rules.smoothing_epsilon
    enough = hist.n_events >= rules.n_min
    evaluated: list[tuple[int, FeatureRules, FeatureStats, FeatureCounts]] = []
    bars: list[float] = []  # effect threshold per evaluated feature
    family: list[_Test] = []
    for i, f in enumerate(baseline.features):
        fr = rules.for_feature(f.name, f.numeric is not None)
        if not fr.enabled:
            continue
        grid = hist.layout.coarse_starts[i] is not None
        counts = FeatureCounts(
            hist.n_events,
            hist.coarse_cells(i),
            hist.nulls[i],
            hist.unseen[i],
            hist.mismatched[i],
            hist.cells[i] if grid else None,
        )
        st = feature_stats(f, counts, eps)
        k = len(evaluated)
        evaluated.append((i, fr, st, counts))
        bars.append(effect_threshold(fr, _base_counts(f), counts.cells, rules.size_adjusted))
        if not enough:
            continue
        able = can_reject(f, counts, st)
        if counts.n >= fr.feature_n_min:
            family.append(
                _Test(
                    k,
                    "distribution",
                    _test_p(st),
                    _effect_value(st, fr),
                    bars[k],
                    able["distribution"],
                )
            )
            if st.unseen_share is not None and st.unseen_pvalue is not None:
                family.append(
                    _Test(
                        k,
                        "unseen",
                        st.unseen_pvalue,
                        st.unseen_share,
                        fr.unseen_share,
                        able["unseen"],
                    )
                )
        if st.null_rate_pvalue is not None and st.null_rate_change is not None:
            family.append(
                _Test(
                    k,
                    "null_rate",
                    st.null_rate_pvalue,
                    abs(st.null_rate_change),
                    fr.null_rate_change,
                    able["null_rate"],
                )
            )

    # Only the tests that can reject are adjusted together; the others keep p = 1.
    live = [t for t in family if t.can_reject]
    live_adjusted = iter(benjamini_hochberg([t.p for t in live]))
    fired: dict[int, list[Reason]] = {}
    dist_adj: dict[int, float] = {}
    outcomes: dict[int, list[TestOutcome]] = {}
    tested: set[int] = set()  # features with a test run, able to reject or not
    for t in family:
        p_adj = next(live_adjusted) if t.can_reject else 1.0
        tested.add(t.feature)
        if t.reason == "distribution":
            dist_adj[t.feature] = p_adj
        alpha = evaluated[t.feature][1].alpha
        fires = p_adj < alpha and t.effect_passes
        if fires:
            fired.setdefault(t.feature, []).append(t.reason)
        outcomes.setdefault(t.feature, []).append(
            TestOutcome(t.reason, t.p, p_adj, alpha, t.effect, t.threshold, fires)
        )

    results: list[FeatureResult] = []
    unavailable: list[str] = []
    type_changed: list[str] = []
    for k, (i, fr, st, counts) in enumerate(evaluated):
        f = baseline.features[i]
        reasons = tuple(fired.get(k, ()))
        status = _status(counts, fr, enough, bool(reasons), k in dist_adj)
        if status == "unavailable":
            unavailable.append(f.name)
        elif status == "type_changed":
            type_changed.append(f.name)
        ran = k in dist_adj
        results.append(
            FeatureResult(
                name=f.name,
                role=f.role,
                type=f.type,
                status=status,
                n=counts.n,
                null_count=counts.null_count,
                test=("ks" if f.numeric is not None else "chi2") if ran else None,
                p_value=_test_p(st) if ran else None,
                p_value_adjusted=dist_adj.get(k),
                effect=Effect(fr.effect, _effect_value(st, fr), bars[k]) if ran else None,
                stats=st,
                drifted=bool(reasons),
                reasons=reasons,
                tests=tuple(outcomes.get(k, ())),
            )
        )
    n_tested = len(tested)
    n_drifted = sum(1 for r in results if r.drifted)
    results.extend(_unknown_results(hist))
    results.sort(key=lambda r: r.name)

    share = n_drifted / n_tested if n_tested else 0.0
    prediction_drift = any(r.drifted for r in results if r.role == "prediction")
    broad = n_tested > 0 and share >= rules.drift_share
    dataset = DatasetSummary(
        n_features=len(results),
        n_tested=n_tested,
        n_drifted=n_drifted,
        drifted_share=share,
        prediction_drift=prediction_drift,
        drifted=broad or prediction_drift,
    )
    window_status: WindowStatus
    if not enough:
        window_status = "insufficient_data"
    elif any(r.drifted for r in results):
        window_status = "drift"
    else:
        window_status = "ok"
    severity: Severity = "none"
    if window_status == "drift":
        severity = "high" if broad and prediction_drift else "medium" if dataset.drifted else "low"
    contract = ContractFindings(
        unavailable=tuple(sorted(unavailable)),
        unknown=tuple(sorted(hist.unknown)),
        type_changed=tuple(sorted(type_changed)),
        unknown_truncated=hist.unknown_truncated,
    )
    return WindowEvaluation(
        window_status, severity, hist.n_events, dataset, tuple(results), contract, eps
    )


def can_reject(f: FeatureBaseline, counts: FeatureCounts, st: FeatureStats) -> dict[Reason, bool]:
    """Per test of a feature: can it reject at all, given the pooled data?

    A test whose null distribution, conditional on what both samples hold together, is
    a point mass at p = 1 can never be a discovery, true or false. Counting it in the
    Benjamini-Hochberg family only multiplies every other p-value (m grows), so it is
    left out (Tarone's argument for discrete tests; the conditioning statistic, the
    pooled counts, is the same whatever the drift):

    * null rate: neither the baseline nor the window has a null (or both are all null);
    * unseen share: the window has no unseen value (the baseline has none by
      definition);
    * chi-square: fewer than two cells left after pooling sparse ones (dof 0);
    * KS: both samples together occupy a single cell (D is 0 whatever the split).
    """
    prof = f.numeric or f.categorical
    assert prof is not None
    base_rows = prof.null_count + prof.count
    nulls = prof.null_count + counts.null_count
    null_able = counts.n_events > 0 and 0 < nulls < base_rows + counts.n_events
    if f.numeric is not None:
        # D > 0 needs two occupied cells; only a zero D is worth the count (rare).
        dist_able = (
            bool(st.ks)
            or sum(1 for b, w in zip(prof.counts, counts.cells, strict=True) if b or w) >= 2
        )
    else:
        dist_able = (st.chi2_dof or 0) > 0
    return {"distribution": dist_able, "unseen": counts.unseen > 0, "null_rate": null_able}


def effect_threshold(
    fr: FeatureRules, base: Sequence[int], win: Sequence[int], size_adjusted: bool
) -> float:
    """The bar a feature's effect must reach in this window.

    Size-adjusted (the default): the configured threshold plus what sampling noise alone
    adds to the statistic at these sample sizes (``sampling_noise``): tau + E0[PSI] for
    PSI, sqrt(tau^2 + E0[JS^2]) for the JS distance. The configured value then reads as
    "excess over noise", so a 1,000-event window of a 20-cell feature (noise PSI ~0.02)
    cannot pass on noise, while at large n the bar converges to tau. NannyML calibrates
    thresholds on reference chunks for the same reason; this is the closed form at the
    window's actual n. The bar is what the result reports as ``effect.threshold``.
    """
    if not size_adjusted:
        return fr.threshold
    noise = sampling_noise(fr.effect, base, win)
    if fr.effect == "psi":
        return fr.threshold + noise
    return sqrt(fr.threshold * fr.threshold + noise)


def _base_counts(f: FeatureBaseline) -> Sequence[int]:
    prof = f.numeric or f.categorical
    assert prof is not None
    return prof.counts


def _test_p(st: FeatureStats) -> float:
    p = st.ks_pvalue if st.ks_pvalue is not None else st.chi2_pvalue
    return 1.0 if p is None else p


def _effect_value(st: FeatureStats, fr: FeatureRules) -> float:
    value = st.psi if fr.effect == "psi" else st.js
    return 0.0 if value is None else value


def _status(
    counts: FeatureCounts, fr: FeatureRules, enough: bool, drifted: bool, tested: bool
) -> FeatureStatus:
    if counts.n_events > 0 and counts.n == 0 and counts.mismatched == 0:
        return "unavailable"
    non_null = counts.n + counts.mismatched
    if counts.mismatched > 0 and counts.mismatched >= fr.type_change_share * non_null:
        return "type_changed"
    if drifted:
        return "drift"
    if not enough or not tested:
        return "insufficient_data"
    return "ok"


def _unknown_type(kinds: int) -> FeatureType | None:
    if kinds == 0:
        return None
    if kinds == KIND_NUMBER:
        return "numeric"
    if kinds == KIND_BOOLEAN:
        return "boolean"
    return "categorical"  # strings, mixtures and objects


def _unknown_results(hist: WindowHistogram) -> list[FeatureResult]:
    out = []
    for name in sorted(hist.unknown):
        n, _nulls, kinds = hist.unknown[name]
        out.append(
            FeatureResult(
                name=name,
                role="feature",
                type=_unknown_type(kinds),
                status="unknown",
                n=n,
                null_count=hist.n_events - n,
                test=None,
                p_value=None,
                p_value_adjusted=None,
                effect=None,
                stats=FeatureStats(),
                drifted=False,
                reasons=(),
            )
        )
    return out
