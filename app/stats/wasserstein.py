"""Wasserstein-1 (earth mover's) distance from binned counts, in baseline standard deviations.

W1 = integral |F_b(x) - F_w(x)| dx. From a histogram the CDFs are known only at the
edges, so each sample's mass is taken as spread uniformly inside its inner bin: the CDFs
are linear between edges, their difference is linear on each bin, and the integral of
its absolute value is exact per bin (with a sign change handled by splitting the bin).

The open cells. Underflow mass is placed at e_0 and overflow mass at e_k (clamping):
nothing is known about how far out it lies, and the baseline's own edges are its
training min and max. Out-of-range mass therefore adds no transport beyond the edges,
and is reported separately as ``out_of_range_share``.

What binning costs. Inside inner bin i (width h_i) each interpolated CDF is within the
bin's mass of the true one, so

    |W1_binned - W1_raw| <= sum_i h_i (b_i/n_b + w_i/n_w) + T,

where T = E_b[(e_0 - X)+] + E_w[(e_0 - X)+] + E_b[(X - e_k)+] + E_w[(X - e_k)+] is the
mass-weighted distance of the raw samples beyond the edges (0 when nothing falls
outside). Divided by the scale like the value itself.

Normalisation: divided by ``scale`` (the baseline's std), as Evidently does, so 0.25
reads "a quarter of a standard deviation". A single-valued baseline (edges [v, v]) has
zero width, so the distance is 0; a non-positive or non-finite scale gives 0 as well
(sentinel: no scale to express the distance in).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import isfinite


def wasserstein_binned(
    edges: Sequence[float], base: Sequence[int], win: Sequence[int], scale: float
) -> float:
    """Binned W1 between the two samples divided by ``scale``; 0 when either is empty.

    ``base`` and ``win`` have len(edges) + 1 cells: underflow, inner bins, overflow.
    """
    nb = sum(base)
    nw = sum(win)
    if nb == 0 or nw == 0 or not (isfinite(scale) and scale > 0.0):
        return 0.0
    cb = base[0]
    cw = win[0]
    gap0 = cb / nb - cw / nw  # CDF difference at e_0 (underflow clamped there)
    total = 0.0
    for i in range(1, len(edges)):
        cb += base[i]
        cw += win[i]
        gap1 = cb / nb - cw / nw
        width = edges[i] - edges[i - 1]
        if gap0 * gap1 < 0.0:  # the linear difference crosses zero inside the bin
            total += width * (gap0 * gap0 + gap1 * gap1) / (2 * (abs(gap0) + abs(gap1)))
        else:  # (a sign test on the product keeps the value exactly symmetric)
            total += width * (abs(gap0) + abs(gap1)) / 2
        gap0 = gap1
    value = total / scale
    return value if isfinite(value) else 0.0
