"""``driftline_ready``: what /ready answers, as a series an alert rule can watch."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from app.stream.metrics import DriftlineMetrics


def _ready(metrics: DriftlineMetrics) -> list[float]:
    text = metrics.render().decode()
    return [
        s.value
        for family in text_string_to_metric_families(text)
        if family.name == "driftline_ready"
        for s in family.samples
    ]


def test_a_worker_whose_check_is_not_wired_reports_not_ready() -> None:
    assert _ready(DriftlineMetrics()) == [0.0]


def test_the_gauge_follows_the_readiness_check_at_every_scrape() -> None:
    metrics = DriftlineMetrics()
    state = {"ready": False}
    metrics.readiness(lambda: state["ready"])
    assert _ready(metrics) == [0.0]
    state["ready"] = True
    assert _ready(metrics) == [1.0]
    state["ready"] = False
    assert _ready(metrics) == [0.0]
