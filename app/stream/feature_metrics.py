"""Per-feature drift statistics of each model's latest window, as Prometheus gauges.

The window result's ``stats`` object mixes quantities of different units: p-values, test
statistics, divergences, a Wasserstein distance in the feature's own units, and shares of
events. One metric per unit keeps every series' value comparable with its neighbours (a
sum or a threshold over ``driftline_feature_divergence`` means something; over a metric
mixing p-values and PSI it did not). Within a family the ``statistic`` label is the
window result's key, so a series maps back to the contract by name.

The latest statistics live in a plain dict (one entry per model, replaced at each close)
and a custom collector turns them into metric families at scrape time: a close costs one
dict assignment instead of hundreds of labelled-child look-ups, and dropping a model
(its baseline withdrawn) is one ``pop``. The collector runs in a scrape thread while the
event loop replaces entries, hence the lock around the dict (held only to copy it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# statistic key of the window result -> the metric family it is exported in.
PVALUE = "driftline_feature_pvalue"
TEST_STATISTIC = "driftline_feature_test_statistic"
DIVERGENCE = "driftline_feature_divergence"
WASSERSTEIN = "driftline_feature_wasserstein_distance"
RATIO = "driftline_feature_ratio"
DRIFTED = "driftline_feature_drifted"

FAMILY_OF: Mapping[str, str] = {
    "ks_pvalue": PVALUE,
    "chi2_pvalue": PVALUE,
    "null_rate_pvalue": PVALUE,
    "ks": TEST_STATISTIC,
    "chi2": TEST_STATISTIC,
    "psi": DIVERGENCE,
    "js": DIVERGENCE,
    "kl": DIVERGENCE,
    "wasserstein": WASSERSTEIN,
    "null_rate": RATIO,
    "baseline_null_rate": RATIO,
    "null_rate_change": RATIO,
    "out_of_range_share": RATIO,
    "unseen_share": RATIO,
}
# In the window result, not exported: the chi-square test's degrees of freedom are fixed by
# the baseline's categories (a parameter of the test, not a measurement of the window).
NOT_EXPORTED = frozenset({"chi2_dof"})

_HELP: Mapping[str, str] = {
    PVALUE: "P-value (probability, 0 to 1) of a drift test on the feature in the model's "
    "latest window; statistic is the test (ks_pvalue, chi2_pvalue, null_rate_pvalue).",
    TEST_STATISTIC: "Test statistic (dimensionless) of the feature in the model's latest "
    "window: ks is the Kolmogorov-Smirnov distance (0 to 1), chi2 the chi-square statistic.",
    DIVERGENCE: "Divergence (dimensionless) of the feature's window histogram from its "
    "baseline in the model's latest window: psi and kl in nats, js the Jensen-Shannon "
    "distance (base 2, 0 to 1).",
    WASSERSTEIN: "Wasserstein-1 distance between the feature's window and baseline "
    "histograms in the model's latest window, in the feature's own units (numeric features).",
    RATIO: "Shares of the feature's events (ratio, 0 to 1; null_rate_change is a signed "
    "difference of two ratios) in the model's latest window: null_rate, baseline_null_rate, "
    "null_rate_change, out_of_range_share, unseen_share.",
    DRIFTED: "1 if the feature drifted in the model's latest window, else 0.",
}
_WITH_STATISTIC = (PVALUE, TEST_STATISTIC, DIVERGENCE, RATIO)


@dataclass(frozen=True)
class FeatureRow:
    """One feature of a model's latest window: its exported statistics and verdict."""

    feature: str
    stats: tuple[tuple[str, float], ...]  # (window-result key, value), exported keys only
    drifted: bool


class FeatureStatistics(Collector):
    """The latest window's statistics per model and feature (see the module docstring)."""

    def __init__(self) -> None:
        self._latest: dict[str, tuple[FeatureRow, ...]] = {}
        self._lock = threading.Lock()

    def set_model(self, model: str, rows: tuple[FeatureRow, ...]) -> None:
        with self._lock:
            self._latest[model] = rows

    def drop_model(self, model: str) -> None:
        with self._lock:
            self._latest.pop(model, None)

    def rows(self, model: str) -> tuple[FeatureRow, ...]:
        with self._lock:
            return self._latest.get(model, ())

    def describe(self) -> list[Metric]:
        return list(self._families().values())

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            latest = sorted(self._latest.items())
        families = self._families()
        for model, rows in latest:
            for row in rows:
                for key, value in row.stats:
                    family = families[FAMILY_OF[key]]
                    if family.name == WASSERSTEIN:
                        family.add_metric([model, row.feature], value)
                    else:
                        family.add_metric([model, row.feature, key], value)
                families[DRIFTED].add_metric([model, row.feature], 1.0 if row.drifted else 0.0)
        yield from families.values()

    @staticmethod
    def _families() -> dict[str, GaugeMetricFamily]:
        out: dict[str, GaugeMetricFamily] = {}
        for name in (PVALUE, TEST_STATISTIC, DIVERGENCE, WASSERSTEIN, RATIO, DRIFTED):
            labels = ["model", "feature", "statistic"] if name in _WITH_STATISTIC else None
            out[name] = GaugeMetricFamily(name, _HELP[name], labels=labels or ["model", "feature"])
        return out
