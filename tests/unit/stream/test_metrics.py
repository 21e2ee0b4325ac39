"""Metrics of a closed window, read from its typed result."""

from __future__ import annotations

import random

from app.baseline.model import CategoricalProfile, FeatureBaseline, NumericProfile
from app.binning.histogram import WindowHistogram
from app.pipeline.results import WindowResult
from app.stats.decision import evaluate_window
from app.stats.rules import DriftConfig
from app.stream.metrics import DriftlineMetrics
from app.windows.spec import WindowSpan
from tests.factories import make_baseline


def _result() -> WindowResult:
    edges = tuple(float(e) for e in range(11))
    num = NumericProfile(edges, (0,) + (1000,) * 10 + (0,), 0, 10_000, 0.0, 10.0, 5.0, 2.9)
    cat = CategoricalProfile(("DE", "FR"), (5000, 5000, 0), 0, 10_000)
    baseline = make_baseline(
        *[
            FeatureBaseline("age", "numeric", "feature", numeric=num),
            FeatureBaseline("country", "categorical", "feature", categorical=cat),
        ],
        model_id="fraud-scorer",
    )
    rng = random.Random(4)
    hist = WindowHistogram.empty(baseline)
    for _ in range(3000):
        hist.add_event({"age": rng.uniform(3, 13), "country": rng.choice(["DE", "FR"])}, None)
    evaluation = evaluate_window(baseline, hist, DriftConfig().for_model(baseline.model_id))
    return WindowResult.of(
        baseline, evaluation, WindowSpan(0, 60), hist=hist, emitted_at="1970-01-01T00:01:00Z"
    )


def test_a_closed_window_sets_its_status_lag_and_per_feature_series() -> None:
    result = _result()
    assert result.status == "drift"
    metrics = DriftlineMetrics()
    metrics.window_closed(result, 2.5)
    assert metrics.windows_closed.get(model="fraud-scorer", status="drift") == 1
    assert metrics.close_lag.get(model="fraud-scorer") == 2.5
    assert metrics.feature_drifted.get(model="fraud-scorer", feature="age") == 1.0
    assert metrics.feature_drifted.get(model="fraud-scorer", feature="country") == 0.0
    age = next(f for f in result.features if f.name == "age")
    assert age.stats.ks is not None and age.stats.psi is not None
    assert metrics.feature_stat.get(model="fraud-scorer", feature="age", statistic="ks") == (
        age.stats.ks
    )
    # One series per statistic the window-result document reports for the feature.
    series = {
        dict(labels)["statistic"]
        for labels in metrics.feature_stat.values
        if dict(labels)["feature"] == "age"
    }
    assert series == set(age.stats.as_dict())
    assert "ks" in series and "psi" in series
