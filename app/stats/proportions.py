"""Rates: two-proportion z test (null rate, unseen share) and plain shares.

Two-proportion test of H0: both samples share one rate. With x_1/n_1 and x_2/n_2 and the
pooled rate p = (x_1 + x_2)/(n_1 + n_2),

    z^2 = (x_1 n_2 - x_2 n_1)^2 (n_1 + n_2) / (n_1 n_2 (x_1 + x_2)(n_1 + n_2 - x_1 - x_2)),

two-sided p = erfc(|z| / sqrt 2), identical to the chi-square test of the 2 x 2 table
without continuity correction. Integer numerator: symmetric and exactly p = 1 for equal
rates. When the pooled rate is 0 or 1 (no variation) or a sample is empty, p = 1.
"""

from __future__ import annotations

from math import erfc, sqrt


def two_proportion_pvalue(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value that x1/n1 and x2/n2 come from one rate; 1 when undefined."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    hits = x1 + x2
    total = n1 + n2
    if hits <= 0 or hits >= total:
        return 1.0
    z2 = (x1 * n2 - x2 * n1) ** 2 * total / (n1 * n2 * hits * (total - hits))
    return min(1.0, erfc(sqrt(z2 / 2)))


def share(part: int, total: int) -> float:
    """part / total, 0 when total is 0."""
    return part / total if total > 0 else 0.0
