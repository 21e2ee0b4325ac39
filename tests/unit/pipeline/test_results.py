"""Window results and drift events: the schemas, the ids, byte-identical output."""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.baseline.model import Baseline, FeatureBaseline, FeatureRole
from app.binning.histogram import WindowHistogram, merge
from app.codecs import to_json
from app.codecs.drift_event import drift_event_document
from app.codecs.window_result import span_document, window_result_document
from app.contracts.schemas import validate
from app.contracts.timestamps import format_rfc3339_ms
from app.pipeline.results import (
    DriftEvent,
    SourceOffsets,
    WindowResult,
    alert_id,
    window_id,
)
from app.stats.decision import evaluate_window
from app.stats.rules import DriftConfig, parse_config
from app.windows.spec import WindowSpan
from tests.factories import categorical, make_baseline, numeric

EMITTED = "2026-11-27T08:00:00.125Z"
SPAN = WindowSpan(1_795_762_800_000, 3600)  # 2026-11-27T07:00:00Z


def _baseline() -> Baseline:
    edges = tuple(float(e) for e in range(11))
    counts = (0,) + (1000,) * 10 + (0,)
    return make_baseline(
        numeric("age", edges, counts, nulls=100, mean=5.0, std=2.9),
        categorical("country", ("DE", "FR", "US"), (5000, 3000, 2000, 0)),
        numeric("income", edges, counts, nulls=100, mean=5.0, std=2.9),
        numeric("__prediction__", (0.0, 0.5, 1.0), (0, 5000, 5000, 0), mean=0.5, std=0.29,
                role="prediction"),
        model_id="fraud-scorer",
    )  # fmt: skip


def _events(seed: int, n: int, drift: bool) -> list[tuple[dict[str, object], object]]:
    rng = random.Random(seed)
    out: list[tuple[dict[str, object], object]] = []
    for _ in range(n):
        age = rng.uniform(0, 10) + (3.0 if drift else 0.0)
        countries = (
            ["DE", "DE", "FR", "US", "NL"] if drift else ["DE"] * 5 + ["FR"] * 3 + ["US"] * 2
        )
        features: dict[str, object] = {"age": age, "country": rng.choice(countries)}
        if rng.random() < 0.01:
            features["new_col"] = rng.random()
        out.append((features, rng.random()))
    return out


def _hist(baseline: Baseline, events: list[tuple[dict[str, object], object]]) -> WindowHistogram:
    h = WindowHistogram.empty(baseline)
    for features, prediction in events:
        h.add_event(features, prediction)
    return h


def _typed(events: list[tuple[dict[str, object], object]], **kw: object) -> WindowResult:
    bl = _baseline()
    hist = _hist(bl, events)
    ev = evaluate_window(bl, hist, DriftConfig().for_model(bl.model_id))
    return WindowResult.of(bl, ev, SPAN, hist=hist, emitted_at=EMITTED, **kw)  # type: ignore[arg-type]


def _result(events: list[tuple[dict[str, object], object]], **kw: object) -> dict[str, Any]:
    return window_result_document(_typed(events, **kw))


def drift_event(doc_of: WindowResult) -> dict[str, Any] | None:
    event = doc_of.drift_event()
    return None if event is None else drift_event_document(event)


def _document(bl: Baseline, hist: WindowHistogram, rules: Any) -> dict[str, Any]:
    return window_result_document(
        WindowResult.of(bl, evaluate_window(bl, hist, rules), SPAN, hist=hist, emitted_at=EMITTED)
    )


def test_ids_follow_the_contract() -> None:
    bl = _baseline()
    key = f"fraud-scorer|{bl.baseline_id}|1795762800000|3600"
    assert (
        window_id("fraud-scorer", bl.baseline_id, SPAN)
        == "win-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    )
    assert alert_id("fraud-scorer", bl.baseline_id, SPAN) == (
        "alert-" + hashlib.sha256(("alert|" + key).encode()).hexdigest()[:16]
    )
    assert window_id("fraud-scorer", bl.baseline_id, WindowSpan(SPAN.start_ms, 60)) != window_id(
        "fraud-scorer", bl.baseline_id, SPAN
    )


def test_times() -> None:
    assert format_rfc3339_ms(0) == "1970-01-01T00:00:00Z"
    assert format_rfc3339_ms(1_795_762_801_250) == "2026-11-27T07:00:01.250Z"
    assert span_document(SPAN) == {
        "start": "2026-11-27T07:00:00Z",
        "end": "2026-11-27T08:00:00Z",
        "start_ms": 1_795_762_800_000,
        "end_ms": 1_795_766_400_000,
        "size_seconds": 3600,
    }
    with pytest.raises(ValueError):
        WindowSpan(0, 0)


def test_a_drifted_window_and_its_event_validate_against_the_schemas() -> None:
    offsets = [SourceOffsets("predictions", 1, 5, 9), SourceOffsets("predictions", 0, 10, 99)]
    result = _typed(_events(1, 3000, drift=True), source_offsets=offsets, late_events=2)
    doc = window_result_document(result)
    validate("window-result", orjson.loads(to_json(doc)))
    assert doc["status"] == "drift" and doc["late_events"] == 2
    assert [o["partition"] for o in doc["source_offsets"]] == [0, 1]
    names = [f["name"] for f in doc["features"]]
    assert names == sorted(names) == ["__prediction__", "age", "country", "income", "new_col"]
    assert doc["contract"] == {
        "unavailable": ["income"],
        "unknown": ["new_col"],
        "unknown_truncated": False,
        "type_changed": [],
    }
    assert doc["smoothing"] == {"method": "additive", "epsilon": 0.5}
    event = drift_event(result)
    assert event is not None
    assert [f["name"] for f in event["drifted_features"]] == ["age", "country", "income"]
    assert event["window_id"] == doc["window_id"] and event["alert_id"].startswith("alert-")
    validate("drift-event", orjson.loads(to_json(event)))


def test_more_unknown_features_than_kept_are_reported_as_truncated() -> None:
    events = _events(1, 200, drift=False)
    for i, (features, _) in enumerate(events):
        features[f"extra_{i:03d}"] = 1.0  # 200 names the baseline never saw
    doc = _result(events)
    validate("window-result", orjson.loads(to_json(doc)))
    contract = doc["contract"]
    assert isinstance(contract, dict)
    assert contract["unknown_truncated"] is True
    # The smallest names are kept: extra_000 .. extra_031 sort before new_col.
    assert contract["unknown"] == [f"extra_{i:03d}" for i in range(32)]


def test_a_feature_drifted_by_its_null_rate_alone_validates_in_a_drift_event() -> None:
    event = drift_event(_typed(_events(1, 3000, drift=False)))  # "income" never arrives
    assert event is not None
    assert event["drifted_features"] == [
        {
            "name": "income",
            "role": "feature",
            "type": "numeric",
            "test": None,
            "p_value_adjusted": None,
            "effect": None,
            "findings": [
                {
                    "kind": "null_rate",
                    "baseline_null_rate": 100 / 10_100,
                    "null_rate": 1.0,
                    "change": 1.0 - 100 / 10_100,
                    "threshold": 0.02,
                    "p_value_adjusted": 0.0,
                    "alpha": 0.05,
                    "nulls": 0,
                    "missing": 3000,
                    "mismatched": 0,
                }
            ],
            "summary": "income: no usable value in any event (null rate 1.0% -> 100%)",
        }
    ]
    validate("drift-event", orjson.loads(to_json(event)))


def test_calm_and_small_windows_validate_and_emit_no_event() -> None:
    bl = _baseline()
    calm = [({**f, "income": f["age"]}, p) for f, p in _events(2, 3000, drift=False)]
    result = _typed(calm)
    doc = window_result_document(result)
    validate("window-result", orjson.loads(to_json(doc)))
    assert doc["status"] == "ok" and doc["severity"] == "none" and drift_event(result) is None
    small_result = _typed(calm[:10])
    small = window_result_document(small_result)
    validate("window-result", orjson.loads(to_json(small)))
    assert small["status"] == "insufficient_data" and drift_event(small_result) is None
    with pytest.raises(ValueError, match="no drift event for a window with status 'ok'"):
        DriftEvent(result)
    empty = _document(bl, WindowHistogram.empty(bl), DriftConfig().for_model("x"))
    validate("window-result", orjson.loads(to_json(empty)))
    assert empty["n_events"] == 0


def test_output_is_byte_identical_whatever_the_order_and_partitioning() -> None:
    events = _events(3, 4000, drift=True)
    bl = _baseline()
    rules = DriftConfig().for_model(bl.model_id)
    one = to_json(_document(bl, _hist(bl, events), rules))
    shuffled = list(events)
    random.Random(9).shuffle(shuffled)
    parts = [_hist(bl, shuffled[i::3]) for i in range(3)]
    merged = merge(merge(parts[2], parts[0]), parts[1])
    restored = WindowHistogram.from_dict(bl, orjson.loads(orjson.dumps(merged.to_dict())))
    two = to_json(_document(bl, restored, rules))
    assert one == to_json(_document(bl, merged, rules))
    assert one == two


@st.composite
def _random_case(draw: st.DrawFn) -> tuple[Baseline, WindowHistogram]:
    count = st.one_of(st.just(0), st.integers(0, 3), st.integers(0, 10**7))
    features: list[FeatureBaseline] = []
    for i in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            k = draw(st.integers(1, 6))
            lo = draw(st.floats(-1e6, 1e6))
            steps = draw(st.lists(st.floats(0, 1e3), min_size=k, max_size=k))
            edges = [lo]
            for s in steps:
                edges.append(edges[-1] + s)
            if len(set(edges)) != len(edges):
                edges = [lo, lo]
            counts = draw(st.lists(count, min_size=len(edges) + 1, max_size=len(edges) + 1))
            std = draw(st.sampled_from([0.0, 1.0, 1e-300, 1e6]))
            nulls = draw(count)
            role: FeatureRole = "prediction" if i == 0 and draw(st.booleans()) else "feature"
            name = "__prediction__" if role == "prediction" else f"n{i}"
            features.append(
                numeric(
                    name, tuple(edges), tuple(counts), nulls=nulls, mean=0.0, std=std, role=role
                )
            )
        else:
            cats = tuple(f"c{j}" for j in range(draw(st.integers(0, 4))))
            counts = draw(st.lists(count, min_size=len(cats) + 1, max_size=len(cats) + 1))
            features.append(categorical(f"c{i}", cats, tuple(counts), nulls=draw(count)))
    baseline = make_baseline(*features)
    hist = WindowHistogram.empty(baseline)
    for i, f in enumerate(baseline.features):
        hist.cells[i][:] = draw(st.lists(count, min_size=f.n_bins, max_size=f.n_bins))
        hist.nulls[i], hist.unseen[i], hist.mismatched[i] = draw(st.tuples(count, count, count))
    hist.n_events = max(hist.present(i) for i in range(len(baseline.features))) + draw(count)
    return baseline, hist


@settings(max_examples=300, deadline=None)
@given(_random_case(), st.sampled_from([{}, {"defaults": {"n_min": 1, "feature_n_min": 1}}]))
def test_any_counts_give_a_valid_document_without_nan_or_infinity(
    case: tuple[Baseline, WindowHistogram], raw_config: dict[str, Any]
) -> None:
    baseline, hist = case
    rules = parse_config(raw_config).for_model(baseline.model_id)
    result = WindowResult.of(
        baseline, evaluate_window(baseline, hist, rules), SPAN, hist=hist, emitted_at=EMITTED
    )
    doc = window_result_document(result)
    text = to_json(doc)
    validate("window-result", orjson.loads(text))
    for f in doc["features"]:
        assert all(math.isfinite(v) for v in f["stats"].values())
    event = drift_event(result)
    assert (event is not None) == (doc["status"] == "drift")
    if event is not None:
        validate("drift-event", orjson.loads(to_json(event)))
