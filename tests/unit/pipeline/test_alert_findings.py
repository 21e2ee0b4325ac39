"""Alerts that say why, and results a person can plot: seeded windows of the example
baseline (schemas/examples/baseline.fraud.json) through the real pipeline.

The window-result and drift-event examples in schemas/examples/ are this code's output
for these scenarios (rewrite them with ``DRIFTLINE_WRITE_GOLDEN=1``), so the examples a
consumer reads are real messages, and the sentences and numbers below are exact.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.baseline.codec import baseline_to_dict, compute_baseline_id, load_baseline
from app.baseline.model import Baseline, CategoricalProfile, FeatureBaseline
from app.binning.histogram import UNSEEN_VALUES_CAP, WindowHistogram, merge
from app.codecs.drift_event import drift_event_document
from app.codecs.window_result import window_result_document
from app.contracts.schemas import validate
from app.pipeline.feature_histograms import MAX_CATEGORIES, MAX_INNER_BINS, feature_histogram
from app.pipeline.findings import (
    DistributionFinding,
    NullRateFinding,
    OutOfRangeFinding,
    Quantile,
    UnseenFinding,
    binned_median,
)
from app.pipeline.results import SourceOffsets, WindowResult
from app.stats.decision import evaluate_window
from app.stats.rules import DriftConfig
from app.windows.spec import WindowSpan
from tests.factories import categorical, make_baseline, numeric

EXAMPLES = Path(__file__).resolve().parents[3] / "schemas" / "examples"
FRAUD = load_baseline(EXAMPLES / "baseline.fraud.json")
SPAN = WindowSpan(1_795_762_800_000, 300)  # 2026-11-27T07:00:00Z, 5 minutes
EMITTED = "2026-11-27T07:06:00.412Z"
OFFSETS = (
    SourceOffsets("predictions", 0, 1201877, 1203130),
    SourceOffsets("predictions", 1, 1198410, 1199668),
    SourceOffsets("predictions", 2, 1200933, 1202181),
    SourceOffsets("predictions", 3, 1199002, 1200237),
)


def _complete_country(b: Baseline) -> Baseline:
    """The fraud baseline with a complete country vocabulary (NL instead of "other"), so
    a value outside it is provably new."""
    cat = CategoricalProfile(("DE", "FR", "US", "NL"), (50000, 30000, 15000, 5000, 0), 0, 100000)
    features = tuple(
        FeatureBaseline("country", "categorical", "feature", categorical=cat)
        if f.name == "country"
        else f
        for f in b.features
    )
    out = replace(b, features=features)
    return replace(out, baseline_id=compute_baseline_id(baseline_to_dict(out)))


COMPLETE = _complete_country(FRAUD)


def _draw(rng: random.Random, f: FeatureBaseline, scale: float = 1.0) -> float | str:
    """A value drawn from the baseline's own histogram (uniform inside a bin)."""
    if f.numeric is not None:
        edges, counts = f.numeric.edges, f.numeric.counts[1:-1]
        i = rng.choices(range(len(counts)), weights=counts)[0]
        return rng.uniform(edges[i], edges[i + 1]) * scale
    assert f.categorical is not None
    cats = [*f.categorical.categories, "IT"]  # "IT" stands for the other bucket
    return rng.choices(cats, weights=f.categorical.counts)[0]


def _window(
    baseline: Baseline,
    n: int,
    *,
    seed: int,
    amount_scale: float = 1.0,
    stopped: bool = False,
    unseen: tuple[tuple[str, int], ...] = (),
    replay_edge: bool = False,
) -> tuple[WindowResult, WindowHistogram]:
    """n events drawn from the baseline; ``replay_edge``: the next window, cut by a replay's
    start (partial, no offsets, no unknown feature)."""
    rng = random.Random(seed)
    news: list[str | None] = [text for text, count in unseen for _ in range(count)]
    news += [None] * (n - len(news))
    rng.shuffle(news)
    hist = WindowHistogram.empty(baseline)
    by = {f.name: f for f in baseline.features}
    for new in news:
        features: dict[str, object] = {
            "amount": _draw(rng, by["amount"], amount_scale),
            "age": _draw(rng, by["age"]),
            "country": new if new is not None else _draw(rng, by["country"]),
        }
        if not replay_edge:
            features["device_os"] = rng.choice(["ios", "android"])
        if not stopped:
            features["is_new_customer"] = rng.random() < 0.3
        hist.add_event(features, _draw(rng, by["__prediction__"]))
    evaluation = evaluate_window(baseline, hist, DriftConfig().for_model(baseline.model_id))
    offsets: tuple[SourceOffsets, ...]
    span, emitted, offsets = SPAN, EMITTED, OFFSETS
    if replay_edge:
        span, emitted, offsets = WindowSpan(SPAN.end_ms, 300), "2026-11-27T09:14:22Z", ()
    result = WindowResult.of(
        baseline,
        evaluation,
        span,
        hist=hist,
        emitted_at=emitted,
        partial=replay_edge,
        source_offsets=offsets,
    )
    return result, hist


AMOUNT_SHIFT, _ = _window(FRAUD, 5000, seed=1, amount_scale=1.6)
STOPPED, _ = _window(FRAUD, 5000, seed=1, amount_scale=1.6, stopped=True)
SMALL, _ = _window(FRAUD, 12, seed=2, replay_edge=True)
# The story: 2.5% of events with a country never seen in training.
UNSEEN, UNSEEN_HIST = _window(COMPLETE, 5000, seed=3, unseen=(("BR", 105), ("XX", 20)))


def _alert(result: WindowResult) -> dict[str, Any]:
    event = result.drift_event()
    assert event is not None
    return drift_event_document(event)


def _check_example(name: str, doc: dict[str, Any]) -> None:
    text = json.dumps(doc, indent=2) + "\n"
    path = EXAMPLES / name
    if os.environ.get("DRIFTLINE_WRITE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), name


# -- the reasons, exactly --------------------------------------------------------------


def test_an_alert_names_the_unseen_values_and_says_why() -> None:
    """Before: country was flagged with its chi-square p 1.0 and effect under the bar,
    and the new values were named nowhere. Now the alert says what fired and names them."""
    alert = _alert(UNSEEN)
    [country] = alert["drifted_features"]
    assert country["summary"] == (
        "country: 2.5% of values are categories never seen in training (BR 2.1%, XX 0.4%)"
    )
    [finding] = country["findings"]
    assert finding["kind"] == "unseen"
    assert (finding["share"], finding["threshold"], finding["count"]) == (0.025, 0.01, 125)
    assert finding["values"] == [
        {"value": "BR", "count": 105, "share": 0.021},
        {"value": "XX", "count": 20, "share": 0.004},
    ]
    assert finding["values_complete"] is True
    assert finding["p_value_adjusted"] < finding["alpha"] == 0.05
    # The distribution test did not fire; its numbers stay where they were.
    assert country["effect"]["value"] < country["effect"]["threshold"]
    assert [f["name"] for f in alert["drifted_features"]] == ["country"]


def test_every_flagged_feature_has_its_reason_and_numbers() -> None:
    alert = _alert(STOPPED)
    summaries = {f["name"]: f["summary"] for f in alert["drifted_features"]}
    assert summaries == {
        "amount": "amount: distribution shifted, PSI 0.54 > 0.032; median 75.5 -> 123; "
        "5.1% of values outside the training range [0.5, 9,800] (5.1% above)",
        "is_new_customer": "is_new_customer: no usable value in any event (null rate 0% -> 100%)",
    }
    findings = {f.name: f.findings for f in STOPPED.findings()}
    shift, beyond = findings["amount"]
    assert isinstance(shift, DistributionFinding)
    # 253 of 5,000 values x 1.6 passed the training max: the top bin [420, 9800] holds
    # 12.5%, of which (9800 - 9800 / 1.6) / 9380 = 39% go beyond, about 4.9% expected.
    assert beyond == OutOfRangeFinding(0.0506, 0, 253, 0.0, 0.0506, 0.5, 9800.0)
    amount = next(f for f in STOPPED.features if f.name == "amount")
    assert amount.effect is not None
    assert (shift.test, shift.effect, shift.threshold) == (
        "ks",
        amount.effect.value,
        amount.effect.threshold,
    )
    assert shift.p_value_adjusted == amount.p_value_adjusted
    # Training: 49,999 values below 75.5, so the median is 1/12,501 into the next bin.
    assert shift.baseline_median == Quantile(75.5 + 1 / 12501 * (118.0 - 75.5))
    assert shift.median == Quantile(122.88955223880598)  # about 75.5 x 1.6
    [stop] = findings["is_new_customer"]
    assert isinstance(stop, NullRateFinding)
    assert (stop.baseline_null_rate, stop.null_rate, stop.change, stop.threshold) == (
        0.0,
        1.0,
        1.0,
        0.02,
    )
    assert (stop.nulls, stop.missing, stop.mismatched) == (0, 5000, 0)


def test_values_beyond_the_training_range_are_a_finding_of_a_drifted_numeric_feature() -> None:
    baseline = make_baseline(numeric("x", (0.0, 5.0, 10.0), (0, 5000, 5000, 0)))
    hist = WindowHistogram.empty(baseline)
    for i in range(2000):
        hist.add_event({"x": -1.0 if i < 20 else 12.0 if i < 300 else (i % 100) / 10}, None)
    ev = evaluate_window(baseline, hist, DriftConfig().for_model(baseline.model_id))
    result = WindowResult.of(baseline, ev, SPAN, hist=hist, emitted_at=EMITTED)
    [x] = result.findings()
    assert x.kinds == ("distribution", "out_of_range")
    oor = x.findings[1]
    assert oor == OutOfRangeFinding(0.15, 20, 280, 0.01, 0.14, 0.0, 10.0)
    assert x.summary.endswith(
        "; 15% of values outside the training range [0, 10] (1.0% below, 14% above)"
    )


def test_a_type_change_reads_as_such() -> None:
    baseline = make_baseline(numeric("x", (0.0, 5.0, 10.0), (0, 5000, 5000, 0)))
    hist = WindowHistogram.empty(baseline)
    for i in range(2000):
        hist.add_event({"x": str(i % 10) if i % 4 == 0 else float(i % 10)}, None)
    ev = evaluate_window(baseline, hist, DriftConfig().for_model(baseline.model_id))
    result = WindowResult.of(baseline, ev, SPAN, hist=hist, emitted_at=EMITTED)
    [x] = result.findings()
    assert x.summary == "x: null rate 0% -> 25%, mostly of the wrong type"


def test_binned_median_is_linear_inside_its_bin_and_names_the_side_outside() -> None:
    edges = (0.0, 10.0, 20.0)
    assert binned_median(edges, (0, 1, 3, 0)) == Quantile(10.0 + 1 / 3 * 10.0)
    assert binned_median(edges, (3, 1, 0, 0)) == Quantile(0.0, "below")
    assert binned_median(edges, (0, 1, 0, 3)) == Quantile(20.0, "above")
    assert binned_median(edges, (0, 0, 0, 0)) is None


# -- histograms a person can plot ---------------------------------------------------------


def test_each_feature_carries_its_histogram_next_to_the_baselines() -> None:
    doc = window_result_document(STOPPED)
    by = {f["name"]: f["histogram"] for f in doc["features"]}
    assert by["device_os"] is None  # unknown to the baseline
    amount = by["amount"]
    assert amount["edges"] == list(FRAUD.features[0].numeric.edges)  # type: ignore[union-attr]
    assert amount["baseline_counts"] == [0, 12498, 12502, 12500, 12499, 12501, 12500, 12500,
                                         12500, 0]  # fmt: skip
    assert sum(amount["counts"]) == 5000 and len(amount["counts"]) == 10
    country = by["country"]
    assert (country["categories"], country["baseline_counts"]) == (
        ["DE", "FR", "US"],
        [50000, 30000, 15000, 5000],
    )
    assert (country["unseen"], country["unseen_values"]) == (0, [])  # vocabulary incomplete
    stopped = by["is_new_customer"]
    assert (stopped["counts"], stopped["missing"], stopped["nulls"]) == ([0, 0, 0], 5000, 0)
    unseen = window_result_document(UNSEEN)["features"]
    [country] = [f["histogram"] for f in unseen if f["name"] == "country"]
    assert country["unseen"] == 125 and sum(country["counts"]) == 4875
    assert country["unseen_values"] == [{"value": "BR", "count": 105}, {"value": "XX", "count": 20}]


def test_wide_baselines_are_shown_bounded() -> None:
    k = 200
    edges = tuple(float(e) for e in range(k + 1))
    cats = tuple(f"c{i:03d}" for i in range(50))
    base_cats = (*range(1000, 950, -1), 0)
    baseline = make_baseline(
        numeric("x", edges, (0, *([10] * k), 0)), categorical("c", cats, base_cats)
    )
    hist = WindowHistogram.empty(baseline)
    for i in range(1000):
        hist.add_event({"x": float(i % 250), "c": "c049" if i % 2 else cats[i % 50]}, None)
    x = feature_histogram(baseline.features[0], hist, 0)
    assert len(x.edges) == 51 and len(x.counts) == 52  # 200 bins in runs of 4: 50 + 2
    assert len(x.edges) - 1 <= MAX_INNER_BINS
    assert x.edges[:3] == (0.0, 4.0, 8.0) and x.edges[-1] == 200.0
    assert sum(x.counts) == 1000 and x.counts[-1] == 196  # 201..249 (200 closes the last bin)
    assert sum(x.baseline_counts) == 2000
    c = feature_histogram(baseline.features[1], hist, 1)
    assert len(c.categories) == MAX_CATEGORIES and c.other_categories == 30
    assert "c049" in c.categories  # surged in the window: shown although rare in training
    assert c.categories == tuple(sorted(c.categories))  # baseline order
    assert sum(c.counts) == 1000 and sum(c.baseline_counts) == sum(base_cats)


def test_unseen_texts_are_bounded_exact_and_independent_of_merging() -> None:
    baseline = COMPLETE
    values = [f"v{i:03d}" for i in range(60) for _ in range(i % 3 + 1)]
    values.append("x" * 100)
    random.Random(5).shuffle(values)
    whole = WindowHistogram.empty(baseline)
    parts = [WindowHistogram.empty(baseline) for _ in range(3)]
    for i, v in enumerate(values):
        whole.add_event({"country": v}, None)
        parts[i % 3].add_event({"country": v}, None)
    merged = merge(merge(parts[2], parts[0]), parts[1])
    index = [f.name for f in baseline.features].index("country")
    assert merged.unseen_values[index] == whole.unseen_values[index]
    kept = whole.unseen_values[index]
    assert len(kept) == UNSEEN_VALUES_CAP
    assert kept == {f"v{i:03d}": i % 3 + 1 for i in range(UNSEEN_VALUES_CAP)}
    assert whole.unseen[index] == len(values)
    h = feature_histogram(baseline.features[index], whole, index)
    assert h.unseen_values_complete is False
    one = WindowHistogram.empty(baseline)
    one.add_event({"country": "x" * 100}, None)
    assert one.unseen_values[index] == {"x" * 64 + "\u2026": 1}
    assert WindowHistogram.from_dict(baseline, orjson.loads(orjson.dumps(one.to_dict()))) == one


# -- the examples are this code's output ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "doc"),
    [
        ("window-result.drift.json", lambda: window_result_document(STOPPED)),
        ("window-result.insufficient.json", lambda: window_result_document(SMALL)),
        ("drift-event.json", lambda: _alert(AMOUNT_SHIFT)),
        ("drift-event.stopped-feature.json", lambda: _alert(STOPPED)),
        ("drift-event.unseen-categories.json", lambda: _alert(UNSEEN)),
    ],
)
def test_examples_are_real_output_and_valid(name: str, doc: Any) -> None:
    document = doc()
    validate(name.split(".")[0], document)
    _check_example(name, document)


def test_every_example_alert_gives_a_reason_for_every_feature() -> None:
    for path in EXAMPLES.glob("drift-event*.json"):
        alert = orjson.loads(path.read_bytes())
        if alert["schema_version"] == 1:  # drift-event.version-1.json: before findings
            continue
        for f in alert["drifted_features"]:
            assert f["findings"], (path.name, f["name"])
            assert f["summary"].startswith(f["name"] + ": "), path.name


def test_findings_are_those_of_the_tests_that_fired() -> None:
    for result in (AMOUNT_SHIFT, STOPPED, UNSEEN):
        for f, why in zip(
            [f for f in result.features if f.drifted], result.findings(), strict=True
        ):
            assert why.name == f.name
            tests = [k for k in why.kinds if k != "out_of_range"]
            assert tests == [t.reason for t in f.tests if t.fired] == list(f.reasons)
    assert isinstance(UNSEEN.findings()[0].findings[0], UnseenFinding)
    assert UNSEEN_HIST.n_events == 5000
