"""Which window-result statistic is exported in which per-feature metric family: data
only, so that settings can check ``DRIFTLINE_METRICS_FEATURE_STATISTICS`` without
importing prometheus_client (``analyze`` and ``replay`` validate settings too)."""

from __future__ import annotations

from collections.abc import Mapping

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
# Exported unless DRIFTLINE_METRICS_FEATURE_STATISTICS says otherwise: five series per
# feature (with driftline_feature_drifted) instead of twelve. The distribution test's
# p-value, one divergence, the shift in feature units and the null rate are what a
# dashboard of many models shows; every statistic stays in each window result.
DEFAULT_STATISTICS = frozenset({"ks_pvalue", "chi2_pvalue", "psi", "wasserstein", "null_rate"})
# In the window result, never exported: the chi-square test's degrees of freedom are fixed by
# the baseline's categories (a parameter of the test, not a measurement of the window).
NOT_EXPORTED = frozenset({"chi2_dof"})
