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
    cannot reject, uncorrected binned KS). Measured with this seed, of 300 windows:
    significant after BH 0.81 binned and 0.81 exact, flagged by the rule (effect bar
    too) 0.81; before this change the binned share was ~0.55 in the same world.
    """
    judged = exactsim.run(world, exactsim.features(1.5), 1000, windows=300, seed=1001)
    binned, exact, rule = exactsim.detected(judged, exactsim.CHANGED)
    assert exact > 0.4  # the scenario is neither hopeless nor trivial
    assert binned >= exact
    assert rule >= 0.5


@pytest.mark.parametrize(("n", "windows"), [(1000, 200), (5000, 100)])
def test_no_false_alarm_and_an_unbiased_ks_pvalue_on_raw_no_drift_windows(
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
    # The worst single gap stays large at 20 bins (docs/statistics.md: the window's
    # arrangement inside a 5% cell is unknown); measured 0.39 (1,000) and 0.40 (5,000).
    assert max(abs(g) for g in signed) < 0.5
