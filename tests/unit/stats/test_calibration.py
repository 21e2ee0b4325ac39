"""Calibration of the default decision rule by seeded simulation (see tests/unit/stats/sim.py).

20 features (14 numeric of varied shapes and bin counts, 6 categorical incl. a boolean
and an incomplete vocabulary), baselines of 100k training rows from the true
distributions, 1,000 windows per scenario drawn from the true distributions.
"""

from __future__ import annotations

from collections import Counter

import pytest
from scipy import stats as ss

from app.baseline.model import Baseline
from app.stats.decision import WindowEvaluation, evaluate_window
from app.stats.rules import DriftConfig
from tests.unit.stats import sim

WINDOWS = 1000
RULES = DriftConfig().for_model("m")


@pytest.fixture(scope="module")
def world() -> tuple[list[sim.TrueFeature], Baseline]:
    truths = sim.standard_features()
    return truths, sim.sampled_baseline(truths, seed=1)


def _run(
    baseline: Baseline, truths: list[sim.TrueFeature], n_events: int, seed: int
) -> list[WindowEvaluation]:
    hists = sim.simulate_windows(baseline, truths, WINDOWS, n_events, seed)
    return [evaluate_window(baseline, h, RULES) for h in hists]


def _flagged(results: list[WindowEvaluation]) -> int:
    return sum(r.status == "drift" for r in results)


def _by_feature(results: list[WindowEvaluation]) -> Counter[str]:
    return Counter(f.name for r in results for f in r.features if f.drifted)


def test_the_simulated_world_has_the_advertised_shape(
    world: tuple[list[sim.TrueFeature], Baseline],
) -> None:
    _, baseline = world
    kinds = Counter(f.type for f in baseline.features)
    assert kinds == {"numeric": 14, "categorical": 5, "boolean": 1}
    assert all(
        sum(p.counts) + p.null_count == sim.TRAIN_ROWS
        for f in baseline.features
        if (p := f.numeric or f.categorical)
    )


@pytest.mark.parametrize(("n_events", "seed"), [(5000, 11), (1000, 12), (50_000, 13)])
def test_no_drift_windows_are_flagged_at_most_1_percent(
    world: tuple[list[sim.TrueFeature], Baseline], n_events: int, seed: int
) -> None:
    truths, baseline = world
    results = _run(baseline, truths, n_events, seed)
    assert all(r.status == "ok" or r.status == "drift" for r in results)
    # Measured with these seeds: 0 of 1000 at 5,000 and 50,000 events, 6 of 1000 at
    # 1,000 (n_min; 3 before the baselines had a KS grid).
    assert _flagged(results) <= WINDOWS // 100, _by_feature(results)


SCENARIOS = {
    "shift 0.25 std, 10 bins": ("n_normal_10", {"dist": ss.norm(0.25, 1)}),
    "shift 0.25 std, 5 bins": ("n_normal_5", {"dist": ss.norm(10 + 0.25 * 3, 3)}),
    "shift 0.25 std, 20 bins": ("n_normal_20", {"dist": ss.norm(-5 + 0.25 * 0.5, 0.5)}),
    "category share 10% -> 20%": ("c_8_first10", {"shares": sim._shares(8, first=0.20)}),
    "null rate 1% -> 10%": ("n_normal_nulls", {"null_rate": 0.10}),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_drift_is_flagged_in_at_least_95_percent_of_windows(
    world: tuple[list[sim.TrueFeature], Baseline], scenario: str
) -> None:
    truths, baseline = world
    name, change = SCENARIOS[scenario]
    results = _run(baseline, sim.shifted(truths, name, **change), 5000, seed=21)
    counts = _by_feature(results)
    # Measured with this seed: the changed feature in 1000 of 1000 windows, others in 0.
    assert counts[name] >= 0.95 * WINDOWS
    assert _flagged(results) >= 0.95 * WINDOWS
    others = sum(v for k, v in counts.items() if k != name)
    assert others <= WINDOWS // 100
