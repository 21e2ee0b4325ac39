"""The binned decision against SciPy's exact tests on the same raw windows (issue 11):
power where the exact tests have it, no false alarms, and how far the binned KS p-value
is from the raw one. The world and both judges are in tests/unit/stats/exactsim.py."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.stats import exactsim


@pytest.fixture(scope="module")
def world() -> exactsim.World:
    return exactsim.world(seed=1)


def test_variance_x1_5_at_1000_events_is_found_as_often_as_by_exact_tests(
    world: exactsim.World,
) -> None:
    """The issue measured 38% binned against 58% exact (BH family counting tests that
    cannot reject, uncorrected binned KS). Measured with this seed, of 300 windows, KS on
    the 2,000-cell grid: significant after BH 0.817 binned and 0.81 exact, flagged by the
    rule (effect bar too) 0.817 (KS on the 20 bins: 0.825 binned; a 1,000-cell grid: 0.79,
    below the exact tests); before the grid correction the binned share was ~0.55.
    """
    judged = exactsim.run(world, exactsim.features(1.5), 1000, windows=300, seed=1001)
    binned, exact, rule = exactsim.detected(judged, exactsim.CHANGED)
    assert exact > 0.4  # the scenario is neither hopeless nor trivial
    assert binned >= exact
    assert rule >= 0.5


@pytest.mark.parametrize(("n", "windows"), [(1000, 200), (5000, 100), (50_000, 20)])
def test_no_false_alarm_and_a_ks_pvalue_within_0_05_of_scipys_on_raw_no_drift_windows(
    world: exactsim.World, n: int, windows: int
) -> None:
    judged = exactsim.run(world, world.truths, n, windows, seed=n)
    assert exactsim.false_alarms(judged) <= 0.01
    signed = [
        f.p_value - j.ks_exact[f.name]
        for j in judged
        for f in j.binned.features
        if f.name in j.ks_exact and f.p_value is not None
    ]
    assert abs(float(np.mean(signed))) < 0.02  # the uncorrected p was ~0.15 too high
    # The goal of issue 11. On the 20 bins alone the worst gap was 0.39 (1,000) and 0.40
    # (5,000): the window's arrangement inside a 5% cell is unknown. On the KS grid
    # (docs/statistics.md) measured 0.014, 0.032 and 0.038 (400, 200, 100 windows).
    assert max(abs(g) for g in signed) <= 0.05


def test_without_a_grid_the_ks_pvalue_is_still_unbiased_but_far_from_scipys() -> None:
    """Baselines built before the grid (or with --ks-cells 0) test KS on the bins."""
    coarse = exactsim.world(seed=1, ks_cells=0)
    judged = exactsim.run(coarse, coarse.truths, 1000, 100, seed=1000)
    assert exactsim.false_alarms(judged) <= 0.01
    gaps = exactsim.ks_gaps(judged)
    assert 0.1 < max(gaps) < 0.5
