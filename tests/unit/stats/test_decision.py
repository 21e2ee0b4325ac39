"""The decision rule on hand-made windows: every status, the BH family, severities."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from app.baseline.model import Baseline, FeatureBaseline, FeatureRole
from app.binning.histogram import WindowHistogram
from app.stats.decision import (
    FeatureResult,
    WindowEvaluation,
    benjamini_hochberg,
    evaluate_window,
)
from app.stats.rules import DriftConfig, ModelRules, parse_config
from tests.factories import categorical, make_baseline, numeric

DECILES = tuple(float(e) for e in range(11))  # 10 inner bins, equal mass in the baseline


def _num(name: str, nulls: int = 0, role: FeatureRole = "feature") -> FeatureBaseline:
    counts = (0,) + (10_000,) * 10 + (0,)
    return numeric(name, DECILES, counts, nulls=nulls, mean=5.0, std=2.887, role=role)


def _cat(
    name: str, shares: tuple[int, ...], other: int = 0, role: FeatureRole = "feature"
) -> FeatureBaseline:
    cats = tuple(f"k{i}" for i in range(len(shares)))
    return categorical(name, cats, (*shares, other), role=role)


def _window(baseline: Baseline, n_events: int, rows: dict[str, list[int]]) -> WindowHistogram:
    """rows: name -> [nulls, unseen, mismatched, *cells]; unnamed features get the
    baseline's proportions scaled to n_events."""
    h = WindowHistogram.empty(baseline)
    h.n_events = n_events
    for i, f in enumerate(baseline.features):
        row = rows.get(f.name)
        if row is None:
            prof = f.numeric or f.categorical
            assert prof is not None
            total = sum(prof.counts)
            cells = [c * n_events // total for c in prof.counts]
            cells[int(np.argmax(cells))] += n_events - sum(cells)
            row = [0, 0, 0, *cells]
        h.nulls[i], h.unseen[i], h.mismatched[i] = row[:3]
        h.cells[i][:] = row[3:]
    return h


RULES = DriftConfig().for_model("m")


def _feature(result: WindowEvaluation, name: str) -> FeatureResult:
    return next(f for f in result.features if f.name == name)


@pytest.mark.parametrize("seed", range(20))
def test_benjamini_hochberg_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=int(rng.integers(1, 60))) ** rng.uniform(1, 6)
    p[rng.uniform(size=p.size) < 0.2] = p[0]  # ties
    assert benjamini_hochberg(p.tolist()) == pytest.approx(
        false_discovery_control(p).tolist(), rel=1e-12
    )
    assert benjamini_hochberg([]) == []


def test_identical_window_is_ok_with_no_drift() -> None:
    bl = make_baseline(_num("a"), _cat("c", (500, 300, 200)))
    result = evaluate_window(bl, _window(bl, 5000, {}), RULES)
    assert (result.status, result.severity) == ("ok", "none")
    a = _feature(result, "a")
    assert (a.status, a.test, a.drifted, a.stats.ks, a.stats.psi) == ("ok", "ks", False, 0.0, 0.0)
    assert a.p_value == 1.0 and a.p_value_adjusted == 1.0
    c = _feature(result, "c")
    assert (c.test, c.stats.chi2, c.stats.chi2_pvalue, c.stats.unseen_share) == (
        "chi2",
        0.0,
        1.0,
        0.0,
    )
    assert result.dataset.n_features == 2 and result.dataset.n_tested == 2


def test_too_few_events_is_insufficient_data_never_an_alarm() -> None:
    bl = make_baseline(_num("a"))
    everything_moved = [0, 0, 0, 0] + [0] * 9 + [999, 0]
    result = evaluate_window(bl, _window(bl, 999, {"a": everything_moved}), RULES)
    assert (result.status, result.severity) == ("insufficient_data", "none")
    a = _feature(result, "a")
    assert (a.status, a.drifted, a.p_value, a.p_value_adjusted, a.effect, a.test) == (
        "insufficient_data",
        False,
        None,
        None,
        None,
        None,
    )
    assert a.stats.ks == pytest.approx(0.9)  # statistics are still reported
    assert result.dataset.n_tested == 0 and result.dataset.drifted_share == 0.0


def test_a_shift_is_drift_and_the_effect_bar_is_size_adjusted() -> None:
    bl = make_baseline(_num("a"), _num("b"))
    inner = [200, 300, 400, 500, 500, 500, 500, 600, 700, 800]
    result = evaluate_window(bl, _window(bl, 5000, {"a": [0, 0, 0, 0, *inner, 0]}), RULES)
    a = _feature(result, "a")
    assert (result.status, a.status, a.reasons) == ("drift", "drift", ("distribution",))
    assert a.effect is not None and a.effect.name == "psi"
    # 10 non-empty cells: tau + (k - 1)(1/n_b + 1/n_w)
    assert a.effect.threshold == pytest.approx(0.03 + 9 * (1 / 100_000 + 1 / 5000), rel=1e-12)
    assert a.effect.value == a.stats.psi and a.effect.value >= a.effect.threshold
    assert result.dataset.n_drifted == 1 and result.dataset.drifted_share == 0.5
    assert result.dataset.drifted  # 0.5 >= drift_share 0.5, so not "low"
    assert result.severity == "medium"


def test_significant_but_tiny_shifts_in_huge_windows_are_not_drift() -> None:
    bl = make_baseline(_num("a"))
    n = 10_000_000
    cells = [0] + [n // 10] * 10 + [0]
    cells[1] -= 200_000  # 2% of the mass moves from the first to the last decile
    cells[10] += 200_000
    result = evaluate_window(bl, _window(bl, n, {"a": [0, 0, 0, *cells]}), RULES)
    a = _feature(result, "a")
    assert a.p_value_adjusted is not None and a.p_value_adjusted < 1e-10
    assert a.effect is not None and a.effect.value < a.effect.threshold
    assert (a.drifted, result.status) == (False, "ok")


def test_a_vanished_feature_is_unavailable_and_drifts_by_its_null_rate() -> None:
    bl = make_baseline(_num("a"), _num("gone"))
    result = evaluate_window(bl, _window(bl, 5000, {"gone": [0, 0, 0] + [0] * 12}), RULES)
    gone = _feature(result, "gone")
    assert (gone.status, gone.drifted, gone.reasons, gone.n, gone.null_count) == (
        "unavailable",
        True,
        ("null_rate",),
        0,
        5000,
    )
    assert gone.test is None and gone.effect is None
    assert gone.stats.null_rate == 1.0 and gone.stats.null_rate_change == 1.0
    assert result.contract.unavailable == ("gone",)
    assert result.status == "drift"


def test_a_type_change_is_labelled_and_flagged_through_the_null_rate() -> None:
    bl = make_baseline(_num("a"))
    cells = [0] + [200] * 10 + [0]
    result = evaluate_window(bl, _window(bl, 5000, {"a": [0, 0, 3000, *cells]}), RULES)
    a = _feature(result, "a")
    assert (a.status, a.drifted, a.n, a.null_count) == ("type_changed", True, 2000, 3000)
    assert result.contract.type_changed == ("a",)
    assert "null_rate" in a.reasons and "distribution" not in a.reasons
    few = evaluate_window(bl, _window(bl, 5000, {"a": [0, 0, 10, 0] + [499] * 10 + [0]}), RULES)
    assert _feature(few, "a").status == "ok" and few.contract.type_changed == ()


def test_null_rate_jump_needs_significance_and_the_absolute_change() -> None:
    bl = make_baseline(_num("a", nulls=1010))  # ~1% null in training

    def nulls(k: int) -> list[int]:
        per = (5000 - k) // 10
        return [k, 0, 0, 0] + [per] * 9 + [5000 - k - 9 * per, 0]

    jump = _feature(evaluate_window(bl, _window(bl, 5000, {"a": nulls(500)}), RULES), "a")
    assert (jump.drifted, jump.reasons) == (True, ("null_rate",))
    small = _feature(evaluate_window(bl, _window(bl, 5000, {"a": nulls(140)}), RULES), "a")
    assert small.stats.null_rate_pvalue is not None and small.stats.null_rate_pvalue < 1e-6
    assert abs(small.stats.null_rate_change or 0) < 0.02 and not small.drifted


def test_unseen_categories_flag_a_feature_with_a_complete_vocabulary() -> None:
    bl = make_baseline(_cat("c", (500, 300, 200)), _cat("open", (500, 300), other=200))
    rows = {"c": [0, 250, 0, 2375, 1425, 950, 0]}
    result = evaluate_window(bl, _window(bl, 5000, rows), RULES)
    c = _feature(result, "c")
    assert (c.drifted, c.reasons, c.stats.unseen_share) == (True, ("unseen",), 0.05)
    assert c.stats.chi2 == pytest.approx(0.0, abs=1e-9)  # known categories kept their shares
    assert _feature(result, "open").stats.unseen_share is None  # not knowable
    rows = {"c": [0, 20, 0, 2490, 1494, 996, 0]}
    assert not _feature(evaluate_window(bl, _window(bl, 5000, rows), RULES), "c").drifted


def test_unknown_features_are_listed_but_never_tested() -> None:
    bl = make_baseline(_num("a"))
    h = _window(bl, 5000, {})
    h.unknown = {"new_col": [4000, 1000, 1], "only_null": [0, 10, 0]}
    result = evaluate_window(bl, h, RULES)
    new = _feature(result, "new_col")
    assert (new.status, new.type, new.test, new.effect, new.drifted, new.n, new.null_count) == (
        "unknown",
        "numeric",
        None,
        None,
        False,
        4000,
        1000,
    )
    assert _feature(result, "only_null").type is None
    assert result.contract.unknown == ("new_col", "only_null")
    assert [f.name for f in result.features] == ["a", "new_col", "only_null"]
    assert result.dataset.n_features == 3 and result.dataset.n_tested == 1


def test_prediction_drift_and_severity_levels() -> None:
    bl = make_baseline(_num("a"), _num("b"), _num("__prediction__", role="prediction"))
    moved = [0, 0, 0, 0] + [0] * 9 + [5000, 0]
    only_pred = evaluate_window(bl, _window(bl, 5000, {"__prediction__": moved}), RULES)
    assert only_pred.dataset.prediction_drift and only_pred.dataset.drifted
    assert only_pred.dataset.drifted_share == pytest.approx(1 / 3)
    assert only_pred.severity == "medium"
    everything = evaluate_window(
        bl, _window(bl, 5000, dict.fromkeys(("a", "b", "__prediction__"), moved)), RULES
    )
    assert everything.severity == "high"
    one = evaluate_window(
        bl,
        _window(bl, 5000, {"a": moved}),
        parse_config({"defaults": {"drift_share": 0.6}}).for_model("m"),
    )
    assert (one.severity, one.dataset.drifted) == ("low", False)


def test_per_feature_overrides_and_disabled_features() -> None:
    bl = make_baseline(_num("a"), _num("b"))
    moved = [0, 0, 0, 0] + [0] * 9 + [5000, 0]
    cfg = parse_config(
        {"models": {"m": {"features": {"a": {"enabled": False}, "b": {"threshold": 50.0}}}}}
    )
    result = evaluate_window(bl, _window(bl, 5000, {"a": moved, "b": moved}), cfg.for_model("m"))
    assert [f.name for f in result.features] == ["b"]
    b = _feature(result, "b")
    assert b.effect is not None and b.effect.threshold > 50.0 and not b.drifted


def test_histogram_of_another_baseline_is_refused() -> None:
    bl = make_baseline(_num("a"))
    other = make_baseline(_num("a"), baseline_id="bl-00000000000000bb")
    with pytest.raises(ValueError, match="baseline"):
        evaluate_window(bl, WindowHistogram.empty(other), ModelRules())


def test_tests_that_cannot_reject_stay_out_of_the_bh_family() -> None:
    """No nulls anywhere and no unseen value: only the 3 distribution tests are adjusted
    together (m = 3, not 7 with the 3 null-rate and the unseen test that cannot reject)."""
    bl = make_baseline(_num("a"), _num("b"), _cat("c", (500, 300, 200)))
    shifted = [0, 0, 0, 0, *[430, 460, 480, 500, 500, 500, 510, 520, 540, 560], 0]
    result = evaluate_window(bl, _window(bl, 5000, {"a": shifted}), RULES)
    a = _feature(result, "a")
    assert a.p_value is not None and 0.0 < a.p_value * 7 < 1.0
    assert a.p_value_adjusted == pytest.approx(a.p_value * 3, rel=1e-12)
    assert _feature(result, "b").p_value_adjusted == 1.0
    assert result.dataset.n_tested == 3  # features whose tests cannot reject still count

    # A null in the window makes b's null-rate test able to reject, an unseen value c's
    # unseen test: both join the family (m = 5).
    rows = {
        "a": shifted,
        "b": [1, 0, 0, 0, *[500] * 9, 499, 0],
        "c": [0, 1, 0, 2500, 1500, 999, 0],
    }
    joined = evaluate_window(bl, _window(bl, 5000, rows), RULES)
    b, c = _feature(joined, "b").stats, _feature(joined, "c").stats
    assert b.null_rate_pvalue is not None and c.unseen_pvalue is not None
    assert c.chi2_pvalue is not None and _feature(joined, "a").p_value == a.p_value
    family = [a.p_value, 1.0, c.chi2_pvalue, b.null_rate_pvalue, c.unseen_pvalue]
    assert _feature(joined, "a").p_value_adjusted == benjamini_hochberg(family)[0]
    assert benjamini_hochberg(family)[0] != benjamini_hochberg(family[:3])[0]


def test_a_baseline_with_nulls_keeps_the_null_rate_test_in_the_family() -> None:
    """The baseline's own nulls make a null-free window's null rate testable (a drop)."""
    bl = make_baseline(_num("a"), _num("b", nulls=1000))
    shifted = [0, 0, 0, 0, *[430, 460, 480, 500, 500, 500, 510, 520, 540, 560], 0]
    result = evaluate_window(bl, _window(bl, 5000, {"a": shifted}), RULES)
    a, b = _feature(result, "a"), _feature(result, "b")
    assert a.p_value is not None and b.stats.null_rate_pvalue is not None
    assert b.stats.null_rate_change == pytest.approx(-1000 / 101_000)  # none in the window
    family = [a.p_value, 1.0, b.stats.null_rate_pvalue]  # a's and b's null-rate tests: out
    assert a.p_value_adjusted == benjamini_hochberg(family)[0]


def test_a_feature_in_one_cell_or_one_category_cannot_reject() -> None:
    one = numeric("one", (7.0, 7.0), (0, 100_000, 0), mean=7.0, std=0.0)
    bl = make_baseline(_num("a"), one, _cat("k", (1000,)))
    shifted = [0, 0, 0, 0, *[430, 460, 480, 500, 500, 500, 510, 520, 540, 560], 0]
    result = evaluate_window(bl, _window(bl, 5000, {"a": shifted}), RULES)
    a = _feature(result, "a")
    assert a.p_value is not None
    assert a.p_value_adjusted == pytest.approx(a.p_value, rel=1e-12)  # m = 1
    assert _feature(result, "one").p_value_adjusted == 1.0
    assert _feature(result, "k").stats.chi2_dof == 0
    # A value beyond the single training value makes the KS test able to reject.
    rows = {"a": shifted, "one": [0, 0, 0, 0, 4990, 10]}
    moved = evaluate_window(bl, _window(bl, 5000, rows), RULES)
    assert _feature(moved, "a").p_value_adjusted == pytest.approx(a.p_value * 2, rel=1e-12)
