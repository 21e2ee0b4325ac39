"""Statistics and the decision rule. The two-sample statistics (one module each) are pure
functions over histogram counts, microseconds per call; ``feature`` runs them for one
feature, ``decision`` applies the rule (n_min, Benjamini-Hochberg, effect size) to a window,
and ``rules`` holds the thresholds and their per-model, per-feature overrides (drift.toml).

Every function takes the baseline's counts and the window's counts over the same cells
(plain sequences of non-negative ints) and returns finite floats, whatever the counts:
empty samples, single cells and all-zero vectors give documented sentinels (0 for a
distance, 1 for a p-value), never NaN or infinity.
"""

from app.stats.chi2 import Chi2Result, chi2_homogeneity
from app.stats.divergence import js_distance, kl_divergence, psi, smoothed_proportions
from app.stats.ks import ks_binning_error_bound, ks_pvalue, ks_statistic, ks_test
from app.stats.proportions import share, two_proportion_pvalue
from app.stats.wasserstein import wasserstein_binned

__all__ = [
    "Chi2Result",
    "chi2_homogeneity",
    "js_distance",
    "kl_divergence",
    "ks_binning_error_bound",
    "ks_pvalue",
    "ks_statistic",
    "ks_test",
    "psi",
    "share",
    "smoothed_proportions",
    "two_proportion_pvalue",
    "wasserstein_binned",
]
