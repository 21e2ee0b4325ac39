"""A real Prometheus server scrapes a real worker: the series the Grafana dashboard and the
alert rules use exist with their labels, the rules load and evaluate, and every PromQL
expression of the dashboard (deploy/grafana/dashboards/driftline.json) and of the rules
(deploy/prometheus/rules/driftline.yml) parses and returns data.

The server is `.tools/prometheus` (`make setup`, deploy/prometheus/promtool.sh); without it
the test fails saying so. Traffic comes in two phases, so counters and the close-latency
histogram exist at one scrape and have grown at a later one (rate, increase and
histogram_quantile need two samples of a series): windows 0-1 first, then windows 2-3 (the
drift is planted in window 2), each phase closed by one event per partition past it, with a
few unreadable messages and events for a model with no baseline.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.integration.conftest import REPO_ROOT, DriftlineCLI, _free_port
from tests.integration.stream_scenario import (
    MODEL,
    PER_WINDOW,
    PLANTED,
    closing_events,
    scenario_events,
)
from tests.integration.streamkit import http_get, produce, wait_http
from tests.integration.test_stream_e2e import prepare
from tests.observability import (
    RULES,
    alert_rules,
    dashboard,
    metric_names,
    panel_queries,
    squash,
    substitute,
    variable_queries,
)

PROMETHEUS = REPO_ROOT / ".tools" / "prometheus"
UNKNOWN_MODEL = "no-baseline-model"
FEATURE = "amount"  # numeric: every per-feature family of the dashboard has it
# Grafana's values for the dashboard's variables: a real model and feature, and ranges that
# span the whole run (it is well under two minutes).
VARIABLES = {"model": MODEL, "feature": FEATURE, "__rate_interval": "2m", "__range": "10m"}

# What each alert is exercised with: fragments of its expression, verbatim (whitespace
# aside; the test checks that), each of which must return data from a healthy worker, where
# the alert itself rightly returns nothing. A comparison is stripped (its left-hand side is
# queried); the operands of `and`/`unless` are queried one by one. Seconds: when to evaluate
# the fragment, relative to now.
PROBES: dict[str, list[tuple[str, float]]] = {
    "DriftlineModelDrifting": [
        ('sum by (model) (increase(driftline_alerts_total{model!="unknown"}[15m]))', 0),
    ],
    "DriftlineWorkerDown": [('up{job=~"driftline.*"}', 0)],
    "DriftlineWorkerNotReady": [("driftline_ready", 0)],
    "DriftlineInputLagGrowing": [
        ("driftline_input_lag_records", 0),
        ("deriv(driftline_input_lag_records[10m])", 0),
    ],
    # The `offset 30m` operand looks 30 minutes back, before this run: evaluated 30 minutes
    # ahead it looks at now. The whole `(A and B) unless C` cannot return data within one
    # run (A and B need data 30 minutes apart, and C, windows closing, removes it).
    "DriftlineWindowsNotClosing": [
        ('sum by (model) (increase(driftline_events_valid_total{model!="unknown"}[30m]))', 0),
        ('sum by (model) (driftline_events_valid_total{model!="unknown"} offset 30m)', 1800),
        ("sum by (model) (increase(driftline_windows_closed_total[30m]))", 0),
    ],
    "DriftlineWindowCloseLatencyHigh": [
        (
            "histogram_quantile(0.95, sum by (model, le) "
            "(rate(driftline_window_close_latency_seconds_bucket[15m])) )",
            0,
        ),
    ],
    "DriftlineDeadLettersRising": [
        (
            "sum by (reason) (rate(driftline_events_invalid_total[10m])) "
            "/ ignoring (reason) group_left () "
            "(sum(rate(driftline_events_in_total[10m])) or vector(0))",
            0,
        ),
    ],
    "DriftlineModelWithoutBaseline": [
        ('sum(rate(driftline_events_in_total{model="unknown"}[10m]))', 0),
    ],
}


class PromAPI:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, **params: str | list[str]) -> dict[str, Any]:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params, doseq=True)}"
        code, body = http_get(url)
        doc: dict[str, Any] = json.loads(body)
        assert doc["status"] == "success", (url, code, doc)
        return doc

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        at = time.time() if at is None else at
        result: list[dict[str, Any]] = self.get("/api/v1/query", query=expr, time=str(at))["data"][
            "result"
        ]
        return result

    def series(self, selector: str) -> list[dict[str, str]]:
        data: list[dict[str, str]] = self.get("/api/v1/series", **{"match[]": selector})["data"]
        return data

    def wait(self, what: str, check: Callable[[], bool], timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus: {what} not seen within {timeout_s:.0f} s")
            time.sleep(0.5)


def _value(result: list[dict[str, Any]]) -> float:
    return sum(float(r["value"][1]) for r in result)


def _all_metric_names() -> set[str]:
    queries = [q.expr for q in [*panel_queries(dashboard()), *variable_queries(dashboard())]]
    return {name for expr in [*queries, *alert_rules().values()] for name in metric_names(expr)}


def _equals(api: PromAPI, expr: str, expected: float) -> bool:
    return _value(api.query(expr)) == expected


@pytest.fixture
def prometheus(tmp_path: Path) -> tuple[PromAPI, Path]:
    """The API of a Prometheus server on a free port and where its config goes; the test
    starts it (``_start_prometheus``) once the worker's port is known and stops it by PID."""
    if not PROMETHEUS.exists():
        pytest.fail(
            f"{PROMETHEUS} is missing: run `make setup` (deploy/prometheus/promtool.sh)",
            pytrace=False,
        )
    return PromAPI(_free_port()), tmp_path / "prometheus.yml"


def _start_prometheus(api: PromAPI, config: Path, worker_port: int) -> subprocess.Popen[bytes]:
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": [
                    {
                        "job_name": "driftline",
                        "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
                    }
                ],
            }
        )
    )
    log = (config.parent / "prometheus.log").open("wb")
    port = api.base.rsplit(":", 1)[1]
    proc = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={config.parent / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _extras(model: str, n: int) -> list[bytes]:
    """``n`` unreadable messages and ``n`` events of a model with no baseline."""
    event = orjson.loads(scenario_events(windows=1, per_window=1)[0])
    event["model_id"] = model
    return [b"{not json"] * n + [orjson.dumps(event)] * n


@pytest.mark.timeout(150)
async def test_prometheus_scrapes_a_worker_and_every_dashboard_and_rule_query_returns_data(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
    prometheus: tuple[PromAPI, Path],
) -> None:
    env = stream_env
    api, config = prometheus
    topic = env["DRIFTLINE_TOPIC_PREDICTIONS"]
    prepare(driftline, env, tmp_path)
    worker_port = int(env["DRIFTLINE_WEB_PORT"])
    driftline.start(["worker"], tmp_path / "worker", env)
    server = _start_prometheus(api, config, worker_port)
    try:
        await _run(api, kafka_bootstrap, topic, worker_port)
    finally:
        _stop(server)
    assert server.returncode == 0, (config.parent / "prometheus.log").read_text()[-2000:]


async def _run(api: PromAPI, bootstrap: str, topic: str, worker_port: int) -> None:
    wait_http(f"http://127.0.0.1:{worker_port}/ready", timeout_s=90)
    wait_http(f"{api.base}/-/ready", timeout_s=30)
    api.wait("the worker up and ready", lambda: _value(api.query("driftline_ready")) == 1.0)

    values = scenario_events()
    first, second = values[: 2 * PER_WINDOW], values[2 * PER_WINDOW :]
    closed = f'sum(driftline_windows_closed_total{{model="{MODEL}"}})'
    for batch, windows in ((first, 2), (second, 4)):
        await produce(bootstrap, topic, batch, partitions=[i % 4 for i in range(len(batch))])
        await produce(bootstrap, topic, _extras(UNKNOWN_MODEL, 5), partitions=[0] * 10)
        await produce(bootstrap, topic, closing_events(values, windows), partitions=[0, 1, 2, 3])
        api.wait(f"{windows} windows closed", partial(_equals, api, closed, float(windows)))
    # One event of window 0, closed long ago: late.
    await produce(bootstrap, topic, [values[0]], partitions=[1])
    api.wait("the late event", lambda: bool(api.query("driftline_events_late_total")))
    # rate() and deriv() need two samples of a series: every series the dashboard and the
    # rules select, including those the last phase created, scraped at least three times.
    for name in sorted(_all_metric_names()):
        api.wait(
            f"three samples of every {name} series",
            partial(_equals, api, f"min(count_over_time({name}[2m])) >= bool 3", 1.0),
        )
    # Every rule evaluated (evaluation_interval 1s), not merely loaded.
    api.wait("every rule evaluated", lambda: _all_rules_evaluated(api))

    _check_series(api, worker_port)
    _check_rules_loaded(api)
    _check_dashboard_queries(api)
    _check_rule_expressions(api)


def _check_series(api: PromAPI, worker_port: int) -> None:
    instance = {"instance": f"127.0.0.1:{worker_port}", "job": "driftline"}

    def labels(selector: str, *keep: str) -> set[tuple[str, ...]]:
        found = api.series(selector)
        for s in found:
            assert {k: s[k] for k in instance} == instance, s
        return {tuple(s[k] for k in keep) for s in found}

    for name in _all_metric_names():
        assert api.series(name), f"no {name} series"
    assert labels("driftline_events_in_total", "model") == {(MODEL,), ("unknown",)}
    assert labels("driftline_events_valid_total", "model") == {(MODEL,)}
    assert labels("driftline_events_late_total", "model") == {(MODEL,)}
    assert {("invalid_json",), ("late",)} <= labels("driftline_events_invalid_total", "reason")
    assert labels("driftline_alerts_total", "model") == {(MODEL,)}
    assert labels("driftline_windows_closed_total", "model", "status") == {
        (MODEL, "ok"),
        (MODEL, "drift"),
    }
    assert labels("driftline_input_lag_records", "partition") == {(str(p),) for p in range(4)}
    assert labels("driftline_watermark_timestamp_seconds", "model", "partition") == {
        (MODEL, str(p)) for p in range(4)
    }
    buckets = labels("driftline_window_close_latency_seconds_bucket", "model", "le")
    assert (MODEL, "+Inf") in buckets and (MODEL, "600.0") in buckets
    features = {f for (_, f) in labels("driftline_feature_drifted", "model", "feature")}
    assert PLANTED | {FEATURE} <= features
    assert labels("driftline_ready") == {()}
    assert labels('up{job="driftline"}') == {()}
    # The latest window (3) is clean; window 2's drift is in the alert counter.
    assert _value(api.query(f'driftline_alerts_total{{model="{MODEL}"}}')) == 1.0


def _all_rules_evaluated(api: PromAPI) -> bool:
    groups = api.get("/api/v1/rules")["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    return bool(rules) and all(r["health"] != "unknown" for r in rules)


def _check_rules_loaded(api: PromAPI) -> None:
    groups = api.get("/api/v1/rules")["data"]["groups"]
    assert [(g["name"], g["file"]) for g in groups] == [("driftline", str(RULES))]
    rules = groups[0]["rules"]
    assert {r["name"] for r in rules} == set(alert_rules())
    for rule in rules:
        assert rule["type"] == "alerting"
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
        assert not rule["lastEvaluation"].startswith("0001-"), rule["name"]


def _check_dashboard_queries(api: PromAPI) -> None:
    doc = dashboard()
    for q in panel_queries(doc):
        result = api.query(substitute(q.expr, VARIABLES))
        assert result, f"{q.where}: no data for {q.expr}"
        assert all(not math.isnan(float(r["value"][1])) for r in result), (q.where, result)
    # Template variables: label_values(selector, label) is Grafana's call of the label
    # values API with the selector as match[].
    found = {}
    for q in variable_queries(doc):
        inner = substitute(q.expr, VARIABLES).removeprefix("label_values(").removesuffix(")")
        selector, label = (s.strip() for s in inner.rsplit(",", 1))
        found[q.where] = set(
            api.get(f"/api/v1/label/{label}/values", **{"match[]": selector})["data"]
        )
    assert found["variable model"] == {MODEL, "unknown"}
    assert PLANTED | {FEATURE} <= found["variable feature"]


def _check_rule_expressions(api: PromAPI) -> None:
    rules = alert_rules()
    assert set(PROBES) == set(rules)
    for name, expr in rules.items():
        # The alert itself parses and evaluates (status success; healthy: no data).
        api.query(expr)
        probed: set[str] = set()
        for fragment, ahead_s in PROBES[name]:
            assert squash(fragment) in squash(expr), (name, fragment)
            result = api.query(fragment, at=time.time() + ahead_s)
            assert result, f"{name}: no data for {fragment}"
            assert all(not math.isnan(float(r["value"][1])) for r in result), (name, result)
            probed |= metric_names(fragment)
        assert probed == metric_names(expr), name
    # Values the run fixes exactly.
    dead = api.query(PROBES["DriftlineDeadLettersRising"][0][0])
    assert {r["metric"]["reason"] for r in dead} >= {"invalid_json", "late"}
    latency = api.query(PROBES["DriftlineWindowCloseLatencyHigh"][0][0])
    assert [r["metric"] for r in latency] == [{"model": MODEL}]
