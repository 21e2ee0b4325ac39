"""The worker's metrics: values of a closed window, bounded labels, withdrawal, the format."""

from __future__ import annotations

import dataclasses
import random
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.baseline.model import Baseline, CategoricalProfile, FeatureBaseline, NumericProfile
from app.binning.histogram import WindowHistogram
from app.pipeline.results import WindowResult
from app.stats.decision import evaluate_window
from app.stats.feature import FeatureStats
from app.stats.rules import DriftConfig
from app.stream.feature_families import FAMILY_OF, NOT_EXPORTED
from app.stream.metrics import DriftlineMetrics
from app.windows.spec import WindowSpan
from tests.factories import make_baseline

MODEL = "fraud-scorer"
PROMTOOL = Path(__file__).resolve().parents[3] / ".tools" / "promtool"


def _baseline(model: str = MODEL) -> Baseline:
    edges = tuple(float(e) for e in range(11))
    num = NumericProfile(edges, (0,) + (1000,) * 10 + (0,), 0, 10_000, 0.0, 10.0, 5.0, 2.9)
    cat = CategoricalProfile(("DE", "FR"), (5000, 5000, 0), 0, 10_000)
    return make_baseline(
        FeatureBaseline("age", "numeric", "feature", numeric=num),
        FeatureBaseline("country", "categorical", "feature", categorical=cat),
        model_id=model,
    )


def _result(baseline: Baseline) -> WindowResult:
    rng = random.Random(4)
    hist = WindowHistogram.empty(baseline)
    for _ in range(3000):
        hist.add_event({"age": rng.uniform(3, 13), "country": rng.choice(["DE", "FR"])}, None)
    evaluation = evaluate_window(baseline, hist, DriftConfig().for_model(baseline.model_id))
    return WindowResult.of(
        baseline, evaluation, WindowSpan(0, 60), hist=hist, emitted_at="1970-01-01T00:01:00Z"
    )


def _value(metrics: DriftlineMetrics, name: str, **labels: str) -> float | None:
    """The sample's value in the rendered text (parsed back), None when absent."""
    text = metrics.render().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def _series(metrics: DriftlineMetrics) -> list[tuple[str, dict[str, str]]]:
    """Every sample of the rendered text (parsed back), as (name, labels)."""
    text = metrics.render().decode()
    return [(s.name, s.labels) for f in text_string_to_metric_families(text) for s in f.samples]


def test_a_closed_window_sets_its_status_latency_and_per_feature_series() -> None:
    baseline = _baseline()
    result = _result(baseline)
    assert result.status == "drift"
    metrics = DriftlineMetrics(statistics=FAMILY_OF)  # DRIFTLINE_..._STATISTICS=all
    metrics.baseline_added(baseline)
    metrics.window_closed(result, 2.5)
    assert _value(metrics, "driftline_windows_closed_total", model=MODEL, status="drift") == 1
    latency = "driftline_window_close_latency_seconds"
    assert _value(metrics, f"{latency}_count", model=MODEL) == 1
    assert _value(metrics, f"{latency}_sum", model=MODEL) == 2.5
    assert _value(metrics, f"{latency}_bucket", model=MODEL, le="1.0") == 0
    assert _value(metrics, f"{latency}_bucket", model=MODEL, le="2.5") == 1
    drifted = "driftline_feature_drifted"
    assert _value(metrics, drifted, model=MODEL, feature="age") == 1.0
    assert _value(metrics, drifted, model=MODEL, feature="country") == 0.0
    age = next(f for f in result.features if f.name == "age")
    assert age.stats.ks is not None and age.stats.ks_pvalue is not None
    assert age.stats.psi is not None and age.stats.wasserstein is not None
    feature = {"model": MODEL, "feature": "age"}
    assert _value(metrics, "driftline_feature_test_statistic", **feature, statistic="ks") == (
        age.stats.ks
    )
    assert _value(metrics, "driftline_feature_pvalue", **feature, statistic="ks_pvalue") == (
        age.stats.ks_pvalue
    )
    assert _value(metrics, "driftline_feature_divergence", **feature, statistic="psi") == (
        age.stats.psi
    )
    assert _value(metrics, "driftline_feature_wasserstein_distance", **feature) == (
        age.stats.wasserstein
    )
    # Each statistic of the window result is in exactly the family of its unit.
    exported = {
        (name, labels.get("statistic", "wasserstein"))
        for name, labels in _series(metrics)
        if labels.get("feature") == "age" and name != drifted
    }
    want = {(FAMILY_OF[k], k) for k in age.stats.as_dict() if k not in NOT_EXPORTED}
    assert exported == want


def test_by_default_a_feature_has_its_test_pvalue_psi_wasserstein_null_rate_and_verdict() -> None:
    baseline = _baseline()
    metrics = DriftlineMetrics()
    metrics.baseline_added(baseline)
    metrics.window_closed(_result(baseline), 2.5)
    per_feature = sorted(
        (labels["feature"], name, labels.get("statistic", ""))
        for name, labels in _series(metrics)
        if "feature" in labels
    )
    assert per_feature == [
        ("age", "driftline_feature_divergence", "psi"),
        ("age", "driftline_feature_drifted", ""),
        ("age", "driftline_feature_pvalue", "ks_pvalue"),
        ("age", "driftline_feature_ratio", "null_rate"),
        ("age", "driftline_feature_wasserstein_distance", ""),
        ("country", "driftline_feature_divergence", "psi"),
        ("country", "driftline_feature_drifted", ""),
        ("country", "driftline_feature_pvalue", "chi2_pvalue"),
        ("country", "driftline_feature_ratio", "null_rate"),
    ]


def test_every_statistic_of_the_window_result_has_a_family_or_is_listed_as_not_exported() -> None:
    contract = {f.name for f in dataclasses.fields(FeatureStats)} - {"unseen_pvalue"}
    assert set(FAMILY_OF) | NOT_EXPORTED == contract
    assert not set(FAMILY_OF) & NOT_EXPORTED


def test_models_without_a_baseline_share_one_unknown_series() -> None:
    metrics = DriftlineMetrics()
    metrics.baseline_added(_baseline())
    rng = random.Random(1)
    for _ in range(50):  # 50 batches of 200 random model ids, as a flood of bad input gives
        batch = {f"m-{rng.getrandbits(64):x}": 1 for _ in range(200)}
        metrics.count(metrics.events_in, {**batch, MODEL: 3})
    assert _value(metrics, "driftline_events_in_total", model="unknown") == 10_000
    assert _value(metrics, "driftline_events_in_total", model=MODEL) == 150
    models = {labels["model"] for name, labels in _series(metrics) if "model" in labels}
    assert models == {"unknown", MODEL}


def test_features_not_in_the_models_baselines_make_no_series() -> None:
    full = _baseline()
    metrics = DriftlineMetrics()
    # Only the baseline with "age" is known here; the window's "country" must not appear.
    metrics.baseline_added(make_baseline(full.features[0], model_id=MODEL))
    metrics.window_closed(_result(full), 1.0)
    features = {labels["feature"] for _, labels in _series(metrics) if "feature" in labels}
    assert features == {"age"}


def test_a_window_of_a_model_without_a_baseline_counts_under_unknown_without_features() -> None:
    metrics = DriftlineMetrics()
    metrics.window_closed(_result(_baseline()), 1.0)
    assert _value(metrics, "driftline_windows_closed_total", model="unknown", status="drift") == 1
    assert not [labels for _, labels in _series(metrics) if "feature" in labels]


def test_a_withdrawn_baseline_removes_every_series_of_its_model_and_only_those() -> None:
    metrics = DriftlineMetrics()
    other = _baseline("other-model")
    for b in (_baseline(), other):
        metrics.baseline_added(b)
        metrics.count(metrics.events_in, {b.model_id: 5})
        metrics.count(metrics.events_valid, {b.model_id: 4})
        metrics.model_event(metrics.alerts, b.model_id)
        metrics.set_watermark(0, b.model_id, 60.0)
        metrics.window_closed(_result(b), 2.0)
    before = [labels for _, labels in _series(metrics) if labels.get("model") == MODEL]
    assert len(before) > 20

    metrics.baseline_withdrawn(MODEL)

    assert [labels for _, labels in _series(metrics) if labels.get("model") == MODEL] == []
    others = [labels for _, labels in _series(metrics) if labels.get("model") == "other-model"]
    assert len(others) == len(before)
    metrics.count(metrics.events_in, {MODEL: 7})  # its later events are not labelled by it
    assert _value(metrics, "driftline_events_in_total", model="unknown") == 7
    assert _value(metrics, "driftline_events_in_total", model=MODEL) is None


def test_the_exposition_has_build_info_process_metrics_and_no_created_series() -> None:
    metrics = DriftlineMetrics(version="9.8.7")
    metrics.count(metrics.events_in, {"x": 1})
    text = metrics.render().decode()
    assert 'driftline_build_info{version="9.8.7"} 1.0\n' in text
    assert "# TYPE process_resident_memory_bytes gauge\n" in text
    assert "_created" not in text


def test_a_released_partition_loses_its_input_lag_series() -> None:
    metrics = DriftlineMetrics()
    metrics.input_lag.labels("0").set(5)
    metrics.input_lag.labels("1").set(7)
    metrics.forget_partition(0)
    lags = {labels["partition"] for name, labels in _series(metrics) if "lag" in name}
    assert lags == {"1"}


def realistic_metrics() -> DriftlineMetrics:
    """Every kind of series a busy worker has: two models, unknown input, dead letters,
    every statistic exported."""
    metrics = DriftlineMetrics(statistics=FAMILY_OF)
    for b in (_baseline(), _baseline("other-model")):
        metrics.baseline_added(b)
        metrics.count(metrics.events_in, {b.model_id: 3000, "no-such-model": 2})
        metrics.count(metrics.events_valid, {b.model_id: 3000})
        metrics.count(metrics.late, {b.model_id: 1})
        metrics.model_event(metrics.alerts, b.model_id)
        metrics.set_watermark(3, b.model_id, 1_700_000_060.0)
        metrics.window_closed(_result(b), 4.2)
    metrics.invalid.labels("unknown_model").inc(2)
    metrics.invalid.labels("late").inc()
    metrics.duplicates.inc()
    metrics.input_lag.labels("3").set(0)
    return metrics


def test_promtool_accepts_the_exposition_without_warnings(tmp_path: Path) -> None:
    if not PROMTOOL.exists():
        pytest.fail(f"{PROMTOOL} is missing: run `make setup` (deploy/prometheus/promtool.sh)")
    text = realistic_metrics().render()
    assert b"driftline_feature_pvalue{" in text and b"process_cpu_seconds_total" in text
    check = subprocess.run(
        [str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, timeout=30
    )
    assert (check.returncode, check.stdout, check.stderr) == (0, b"", b"")
