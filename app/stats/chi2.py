"""Chi-square test of homogeneity between the baseline's and the window's category counts.

Homogeneity, not goodness of fit: the baseline is a sample too, so both rows of the
2 x k table carry sampling noise (scipy.stats.chi2_contingency without Yates'
correction). With column totals t_i = b_i + w_i and N = n_b + n_w the statistic is

    X^2 = sum_i (b_i n_w - w_i n_b)^2 / (t_i n_b n_w),   dof = k' - 1,

with integer numerators, so identical proportions give exactly 0 and the statistic is
symmetric in the samples.

Sparse cells (the chi-square approximation needs expected counts >= 5). A cell's
smallest expected count is t_i min(n_b, n_w) / N. Cells empty in both rows are dropped;
cells whose smallest expected count is below ``min_expected`` are pooled into one cell;
if that pooled cell is still below it, it is merged into the smallest remaining cell.
Fewer than two cells left: nothing to test, X^2 = 0, p = 1, dof = 0.

p-value: the chi-square survival function (``scipy.special.chdtrc``), in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.stats.special import chdtrc


@dataclass(frozen=True)
class Chi2Result:
    statistic: float
    pvalue: float
    dof: int


NOT_TESTABLE = Chi2Result(0.0, 1.0, 0)


def pooled_cells(
    base: Sequence[int], win: Sequence[int], min_expected: float = 5.0
) -> list[tuple[int, int]]:
    """The (baseline, window) count pairs after the sparse-cell rule."""
    nb = sum(base)
    nw = sum(win)
    total = nb + nw
    if total == 0:
        return []
    small = min(nb, nw)
    dense: list[tuple[int, int]] = []
    pool_b = pool_w = 0
    for b, w in zip(base, win, strict=True):
        if b == 0 and w == 0:
            continue
        if (b + w) * small < min_expected * total:
            pool_b += b
            pool_w += w
        else:
            dense.append((b, w))
    if pool_b or pool_w:
        if (pool_b + pool_w) * small >= min_expected * total or not dense:
            dense.append((pool_b, pool_w))
        else:
            j = min(range(len(dense)), key=lambda i: dense[i][0] + dense[i][1])
            dense[j] = (dense[j][0] + pool_b, dense[j][1] + pool_w)
    return dense


def chi2_homogeneity(
    base: Sequence[int], win: Sequence[int], min_expected: float = 5.0
) -> Chi2Result:
    """Chi-square homogeneity test of two count vectors after pooling sparse cells."""
    nb = sum(base)
    nw = sum(win)
    if nb == 0 or nw == 0:
        return NOT_TESTABLE
    cells = pooled_cells(base, win, min_expected)
    if len(cells) < 2:
        return NOT_TESTABLE
    denom = nb * nw
    stat = sum((b * nw - w * nb) ** 2 / ((b + w) * denom) for b, w in cells)
    dof = len(cells) - 1
    p = float(chdtrc(dof, stat))
    return Chi2Result(stat, min(1.0, max(0.0, p)), dof)
