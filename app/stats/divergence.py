"""PSI, KL and Jensen-Shannon over histogram cells.

Smoothing (PSI and KL only). Both divide by cell probabilities, so an empty cell would
give infinity. Cells empty in *both* samples are dropped first: they carry no evidence,
and keeping them would make the value depend on how many empty cells a baseline has.
Then each remaining count gets an additive epsilon (default 0.5, the Jeffreys /
Krichevsky-Trofimov prior):

    p_i = (c_i + eps) / (n + eps k),   k = cells kept.

Why 0.5 and not the peers' 1e-4 (Evidently), 1e-5 (popmon), 1e-10 (Scouter) or
float_info.min (Frouros): those floors are on probabilities, so a single empty cell adds
about ln(1/floor) (7 to 700) times its mass, a value set by the constant, not the data.
An additive prior on *counts* scales with the sample: an empty cell of a 5,000-event
window is read as "about half an event", and the smoothing vanishes as n grows. The
choice is reported in every window result ("smoothing").

Jensen-Shannon needs no smoothing (the mixture m is never 0 where p or q is not).

All values are 0 when either sample is empty (nothing to compare).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import log, log2, sqrt


def smoothed_proportions(
    base: Sequence[int], win: Sequence[int], epsilon: float
) -> tuple[list[float], list[float]]:
    """Additively smoothed proportions over the cells not empty in both samples."""
    kept = [(b, w) for b, w in zip(base, win, strict=True) if b or w]
    k = len(kept)
    nb = sum(b for b, _ in kept) + epsilon * k
    nw = sum(w for _, w in kept) + epsilon * k
    return [(b + epsilon) / nb for b, _ in kept], [(w + epsilon) / nw for _, w in kept]


def psi(base: Sequence[int], win: Sequence[int], epsilon: float) -> float:
    """Population stability index, sum_i (q_i - p_i)(ln q_i - ln p_i), in nats; >= 0.

    p = smoothed baseline, q = smoothed window. Symmetric in the two samples (exactly,
    in floating point). Conventional reading on decile bins: < 0.1 small, > 0.25 large;
    a 0.25-std location shift of a normal feature gives about 0.06.
    """
    if not any(base) or not any(win):
        return 0.0
    p, q = smoothed_proportions(base, win, epsilon)
    return sum((qi - pi) * (log(qi) - log(pi)) for pi, qi in zip(p, q, strict=True))


def kl_divergence(base: Sequence[int], win: Sequence[int], epsilon: float) -> float:
    """KL(window || baseline) = sum_i q_i ln(q_i / p_i) in nats on smoothed proportions; >= 0.

    The direction reads "how surprising the window is under the baseline". Not symmetric.
    """
    if not any(base) or not any(win):
        return 0.0
    p, q = smoothed_proportions(base, win, epsilon)
    return max(0.0, sum(qi * (log(qi) - log(pi)) for pi, qi in zip(p, q, strict=True)))


def js_distance(base: Sequence[int], win: Sequence[int]) -> float:
    """Jensen-Shannon distance, base 2, on raw proportions: in [0, 1], symmetric.

    JS = sqrt( (KL(p || m) + KL(q || m)) / 2 ),  m = (p + q) / 2, logs base 2. 0 for
    identical proportions, 1 for disjoint supports. (SciPy's default base is e, where the
    maximum is sqrt(ln 2) ~ 0.83; Evidently reports that scale, NannyML base 2.)
    """
    nb = sum(base)
    nw = sum(win)
    if nb == 0 or nw == 0:
        return 0.0
    to_m_from_p = 0.0
    to_m_from_q = 0.0
    for b, w in zip(base, win, strict=True):
        if b == 0 and w == 0:
            continue
        pi = b / nb
        qi = w / nw
        mi = (pi + qi) / 2
        if b:
            to_m_from_p += pi * log2(pi / mi)
        if w:
            to_m_from_q += qi * log2(qi / mi)
    div = (to_m_from_p + to_m_from_q) / 2
    return sqrt(min(1.0, max(0.0, div)))


def sampling_noise(effect: str, base: Sequence[int], win: Sequence[int]) -> float:
    """Expected value of the effect's *square-scale* statistic when both samples come from
    one distribution: what pure sampling noise adds at these sample sizes.

    To second order PSI ~ sum (q_i - p_i)^2 / p_i and, with Var(q_i - p_i) ~ p_i (1 - p_i)
    (1/n_b + 1/n_w), E[PSI] ~ (k - 1)(1/n_b + 1/n_w) for k cells (those not empty in both).
    The JS divergence (the squared distance) is ~ 1/8 of that, over ln 2 for bits. 0 when
    a sample is empty.
    """
    nb = sum(base)
    nw = sum(win)
    if nb == 0 or nw == 0:
        return 0.0
    k = sum(1 for b, w in zip(base, win, strict=True) if b or w)
    psi_noise = max(k - 1, 0) * (1.0 / nb + 1.0 / nw)
    return psi_noise if effect == "psi" else psi_noise / (8.0 * log(2.0))
