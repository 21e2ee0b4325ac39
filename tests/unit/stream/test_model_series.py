"""By-model families as plain numbers: the same text prometheus_client writes, cached per
model until its next update, bounded by the models given."""

from __future__ import annotations

import asyncio
import dataclasses
import random

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from app.stream.feature_families import DRIFTED, FAMILY_OF, WASSERSTEIN
from app.stream.feature_metrics import (
    FAMILIES,
    FeatureRow,
    _exposition,
    _family,
    _render_model,
)
from app.stream.metrics import SLICE_MODELS, DriftlineMetrics
from app.stream.model_series import ModelFamily
from tests.unit.stream.test_metrics import _baseline, _result

# Label values the text format must escape: backslash, newline and double quote.
ODD = ["plain", 'a"quoted"', "back\\slash", "new\nline", "ünï"]
BUCKETS = (0.5, 1.0, 2.5)


def _reference(kind: str, labels: list[str]) -> tuple[CollectorRegistry, object]:
    r = CollectorRegistry()
    if kind == "counter":
        return r, Counter("x", "help \\ with\nnewline", ["model", *labels], registry=r)
    if kind == "gauge":
        return r, Gauge("x", "help \\ with\nnewline", ["model", *labels], registry=r)
    return r, Histogram(
        "x", "help \\ with\nnewline", ["model", *labels], buckets=BUCKETS, registry=r
    )


def _ours(family: ModelFamily) -> bytes:
    return family.header + b"".join(family.model_text(m) for m in family.models())


def test_a_counter_renders_as_prometheus_client_renders_it() -> None:
    r, ref = _reference("counter", ["status"])
    ours = ModelFamily("x", "help \\ with\nnewline", "counter", ["status"])
    for model in sorted(ODD):
        for status, n in (("ok", 3.0), ('d"r', 0.5)):
            ref.labels(model, status).inc(n)  # type: ignore[attr-defined]
            ours.inc(model, (status,), n)
    assert _ours(ours) == generate_latest(r)


def test_a_gauge_renders_as_prometheus_client_renders_it() -> None:
    r, ref = _reference("gauge", ["partition"])
    ours = ModelFamily("x", "help \\ with\nnewline", "gauge", ["partition"])
    for model in sorted(ODD):
        for p, v in (("0", 1_767_225_660.0), ("1", 1e-7)):
            ref.labels(model, p).set(v)  # type: ignore[attr-defined]
            ours.set(model, (p,), v)
    assert _ours(ours) == generate_latest(r)


def test_a_histogram_renders_as_prometheus_client_renders_it() -> None:
    r, ref = _reference("histogram", [])
    ours = ModelFamily("x", "help \\ with\nnewline", "histogram", buckets=BUCKETS)
    rng = random.Random(2)
    for model in sorted(ODD):
        for _ in range(50):
            v = rng.choice([0.0, 0.5, 0.7, 1.0, 2.0, 2.5, 3.0, 100.0])
            ref.labels(model).observe(v)  # type: ignore[attr-defined]
            ours.observe(model, v)
    assert _ours(ours) == generate_latest(r)


def test_a_models_text_is_cached_until_its_next_update_and_removal_forgets_it() -> None:
    f = ModelFamily("x", "h", "counter")
    f.inc("a", (), 2)
    f.inc("b", (), 1)
    first = f.model_text("a")
    assert f.model_text("a") is first  # cached
    f.inc("b", (), 1)
    assert f.model_text("a") is first  # another model's update leaves it
    f.inc("a", (), 1)
    assert f.model_text("a") == b'x_total{model="a"} 3.0\n'
    f.remove_model("a")
    assert f.models() == ["b"] and len(f) == 1
    assert f.model_text("a") == b""


def _old_render_model(model: str, rows: list[FeatureRow]) -> dict[str, bytes]:
    """The per-feature text as it was made before: through prometheus_client's families."""
    families: dict[str, GaugeMetricFamily] = {name: _family(name) for name in FAMILIES}
    for row in rows:
        for key, value in row.stats:
            family = families[FAMILY_OF[key]]
            if family.name == WASSERSTEIN:
                family.add_metric([model, row.feature], value)
            else:
                family.add_metric([model, row.feature, key], value)
        families[DRIFTED].add_metric([model, row.feature], 1.0 if row.drifted else 0.0)
    return {
        name: _exposition(family).split(b"\n", 2)[2]
        for name, family in families.items()
        if family.samples
    }


def test_a_models_feature_text_is_what_prometheus_client_writes() -> None:
    rows = [
        FeatureRow(
            feature,
            tuple((key, value) for key, value in zip(FAMILY_OF, values, strict=False)),
            drifted,
        )
        for feature, values, drifted in [
            (
                "age",
                [0.5, 1e-300, 0.0, 3.25, 1234567.0, 0.1, 2.0, 1e21, 0.0, 0.3, 0.2, -0.1, 0.0, 1.0],
                True,
            ),
            ('we"ird\\na\nme', [float("nan"), float("inf"), 1.0], False),
        ]
    ]
    for model in ODD:
        assert _render_model(model, rows) == _old_render_model(model, rows)


def test_unknown_model_ids_leave_one_series_per_by_model_family() -> None:
    metrics = DriftlineMetrics()
    metrics.baseline_added(_baseline())
    rng = random.Random(1)
    for _ in range(100):
        metrics.count(metrics.events_in, {f"m-{rng.getrandbits(64):x}": 1 for _ in range(100)})
        metrics.model_event(metrics.late, f"m-{rng.getrandbits(64):x}")
        metrics.set_watermark(0, f"m-{rng.getrandbits(64):x}", 60.0)
    assert metrics.events_in.models() == ["unknown"]
    assert metrics.late.models() == ["unknown"]
    assert metrics.watermark.models() == ["unknown"]
    assert metrics.render().count(b'model="unknown"') == 3


def test_the_sliced_render_is_the_whole_render() -> None:
    metrics = DriftlineMetrics()
    template = _baseline()
    result = _result(template)
    for m in range(SLICE_MODELS * 2 + 1):
        model = f"model-{m:04d}"
        metrics.baseline_added(dataclasses.replace(template, model_id=model))
        metrics.count(metrics.events_in, {model: m})
        metrics.window_closed(dataclasses.replace(result, model_id=model), 3.0)
    steps = list(metrics.render_steps())
    # the registry; ceil(201 / 100) = 3 slices of each family with series (events_in,
    # windows_closed, close_latency; the other four have none here); the features
    assert len(steps) == 1 + 3 * 3 + 1
    # The first chunk is the registry's (process metrics change between two renders).
    assert asyncio.run(metrics.render_async())[1:] == metrics.render_chunks()[1:]
