"""Properties of the statistics over arbitrary counts: finite, zero on identity, symmetric."""

from __future__ import annotations

import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.stats import (
    chi2_homogeneity,
    js_distance,
    kl_divergence,
    ks_pvalue,
    ks_statistic,
    psi,
    two_proportion_pvalue,
    wasserstein_binned,
)

COUNT = st.one_of(st.just(0), st.integers(0, 5), st.integers(0, 10**9))
EPS = st.sampled_from([0.5, 1e-9, 1.0, 10.0])


@st.composite
def pairs(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    k = draw(st.integers(1, 25))
    return draw(st.lists(COUNT, min_size=k, max_size=k)), draw(
        st.lists(COUNT, min_size=k, max_size=k)
    )


@st.composite
def numeric_pairs(draw: st.DrawFn) -> tuple[list[float], list[int], list[int]]:
    inner = draw(st.integers(1, 20))
    steps = draw(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=inner, max_size=inner))
    start = draw(st.floats(-1e6, 1e6))
    edges = [start]
    for s in steps:
        edges.append(edges[-1] + s)
    b = draw(st.lists(COUNT, min_size=inner + 2, max_size=inner + 2))
    w = draw(st.lists(COUNT, min_size=inner + 2, max_size=inner + 2))
    return edges, b, w


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


@settings(max_examples=400, deadline=None)
@given(pairs(), EPS)
def test_never_nan_or_infinite_and_in_range(pair: tuple[list[int], list[int]], eps: float) -> None:
    b, w = pair
    d = ks_statistic(b, w)
    chi = chi2_homogeneity(b, w)
    values = [d, psi(b, w, eps), kl_divergence(b, w, eps), js_distance(b, w), chi.statistic]
    assert _finite(*values)
    assert all(v >= 0.0 for v in values)
    assert 0.0 <= d <= 1.0 and 0.0 <= js_distance(b, w) <= 1.0
    for p in (ks_pvalue(d, sum(b), sum(w)), chi.pvalue):
        assert 0.0 <= p <= 1.0
    assert chi.dof >= 0


@settings(max_examples=300, deadline=None)
@given(numeric_pairs(), st.one_of(st.floats(-1e3, 1e6), st.sampled_from([math.nan, math.inf, 0.0])))
def test_wasserstein_never_nan_or_infinite(
    case: tuple[list[float], list[int], list[int]], scale: float
) -> None:
    edges, b, w = case
    value = wasserstein_binned(edges, b, w, scale)
    assert math.isfinite(value) and value >= 0.0
    assert wasserstein_binned(edges, b, b, scale) == 0.0
    assert value == wasserstein_binned(edges, w, b, scale)


@settings(max_examples=300, deadline=None)
@given(pairs(), EPS, st.integers(1, 50))
def test_identical_proportions_give_zero_distance_and_p_one(
    pair: tuple[list[int], list[int]], eps: float, factor: int
) -> None:
    b, _ = pair
    assume(sum(b) > 0)
    assert ks_statistic(b, b) == 0.0
    assert psi(b, b, eps) == 0.0
    assert kl_divergence(b, b, eps) == 0.0
    assert js_distance(b, b) == 0.0
    assert chi2_homogeneity(b, b).statistic == 0.0 and chi2_homogeneity(b, b).pvalue == 1.0
    assert ks_pvalue(0.0, sum(b), sum(b)) == 1.0
    # Same proportions, other sample size: the exact-integer statistics stay exactly 0.
    scaled = [c * factor for c in b]
    assert ks_statistic(b, scaled) == 0.0
    assert js_distance(b, scaled) == 0.0
    assert chi2_homogeneity(b, scaled).statistic == 0.0


@settings(max_examples=300, deadline=None)
@given(pairs(), EPS)
def test_symmetric_statistics_are_exactly_symmetric(
    pair: tuple[list[int], list[int]], eps: float
) -> None:
    b, w = pair
    assert ks_statistic(b, w) == ks_statistic(w, b)
    assert psi(b, w, eps) == psi(w, b, eps)
    assert js_distance(b, w) == js_distance(w, b)
    assert chi2_homogeneity(b, w) == chi2_homogeneity(w, b)


@settings(max_examples=300, deadline=None)
@given(COUNT, COUNT, COUNT, COUNT)
def test_two_proportion_pvalue_is_a_probability_and_symmetric(
    x1: int, n1: int, x2: int, n2: int
) -> None:
    x1, x2 = min(x1, n1), min(x2, n2)
    p = two_proportion_pvalue(x1, n1, x2, n2)
    assert 0.0 <= p <= 1.0
    assert p == two_proportion_pvalue(x2, n2, x1, n1)
    if n1 and n2 and x1 * n2 == x2 * n1:
        assert p == 1.0
