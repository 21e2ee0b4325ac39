"""deploy/grafana/: the dashboard JSON is a well-formed current-schema Grafana dashboard whose
every query names the provisioned Prometheus data source and a series the worker exports, and
the provisioning files point where deploy/docker-compose.yml mounts them. Grafana itself is
not installed where Driftline is developed; tests/integration/test_prometheus_scrape.py runs
every query on a real Prometheus scraping a real worker."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability import (
    DASHBOARD,
    DATASOURCES,
    GRAFANA,
    PROVIDERS,
    REPO_ROOT,
    dashboard,
    metric_names,
    panel_queries,
    panels,
    substitute,
    variable_queries,
    variables,
)

COMPOSE = REPO_ROOT / "deploy" / "docker-compose.yml"
GRID_WIDTH = 24
BUILTIN_VARIABLES = {"__rate_interval", "__range", "__interval"}
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")


def _yaml(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def _datasource() -> dict[str, Any]:
    sources = _yaml(DATASOURCES)["datasources"]
    assert len(sources) == 1
    source: dict[str, Any] = sources[0]
    return source


def _grafana_mounts() -> dict[str, str]:
    """Container path -> host path (relative to the repository) of the grafana service."""
    grafana = _yaml(COMPOSE)["services"]["grafana"]
    mounts = {}
    for volume in grafana["volumes"]:
        host, container, *_ = volume.split(":")
        if host.startswith("./"):
            mounts[container] = str((COMPOSE.parent / host).resolve().relative_to(REPO_ROOT))
    return mounts


def _readme_metrics() -> set[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("## Metrics\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(driftline_[a-z_]+)`", table, flags=re.MULTILINE))


def test_the_dashboard_is_current_schema_json_with_unique_ids_and_a_tiled_grid() -> None:
    doc = dashboard()
    assert doc["schemaVersion"] >= 39
    assert doc["uid"] == "driftline-overview"
    assert doc["title"] == "Driftline"
    all_panels = list(panels(doc))
    assert len(all_panels) == 16
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids)), ids
    assert {p["type"] for p in all_panels} == {"timeseries", "stat"}
    cells: set[tuple[int, int]] = set()
    for p in all_panels:
        grid = p["gridPos"]
        assert set(grid) == {"h", "w", "x", "y"}, p["title"]
        assert all(isinstance(v, int) and v >= 0 for v in grid.values()), p["title"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= GRID_WIDTH
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, f"panel {p['title']} overlaps another"
        cells |= mine
        assert p["title"] and p["description"], p["id"]


def test_every_panel_and_target_uses_the_provisioned_datasource_uid() -> None:
    source = _datasource()
    expected = {"type": "prometheus", "uid": source["uid"]}
    assert source["uid"] == "driftline-prometheus"
    doc = dashboard()
    for p in panels(doc):
        assert p["datasource"] == expected, p["title"]
        assert p["targets"], p["title"]
        ref_ids = [t["refId"] for t in p["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), p["title"]
        for target in p["targets"]:
            assert target["datasource"] == expected, p["title"]
            assert target["expr"].strip(), p["title"]
    for variable in doc["templating"]["list"]:
        assert variable["datasource"] == expected, variable["name"]


def test_every_query_selects_series_the_worker_exports() -> None:
    exported = _readme_metrics() | {"up"}
    # The source of truth behind the README table (a histogram's _bucket series aside).
    source = (REPO_ROOT / "app" / "stream" / "metrics.py").read_text()
    source += (REPO_ROOT / "app" / "stream" / "feature_metrics.py").read_text()
    source += (REPO_ROOT / "app" / "stream" / "feature_families.py").read_text()
    doc = dashboard()
    seen: set[str] = set()
    for query in [*panel_queries(doc), *variable_queries(doc)]:
        names = metric_names(query.expr)
        assert names, query.where
        for name in names:
            base = re.sub(r"_(bucket|total)$", "", name)
            assert name in exported or f"{base}_total" in exported or base in exported, (
                query.where,
                name,
            )
            assert name == "up" or f'"{base}"' in source, (query.where, name)
        seen |= names
    # Each panel family the issue asks for is there.
    for wanted in (
        "driftline_events_in_total",
        "driftline_events_invalid_total",
        "driftline_feature_drifted",
        "driftline_feature_divergence",
        "driftline_feature_pvalue",
        "driftline_window_close_latency_seconds_bucket",
        "driftline_input_lag_records",
        "driftline_ready",
    ):
        assert wanted in seen, wanted


def test_template_variables_are_label_values_queries_the_panels_use() -> None:
    doc = dashboard()
    defined = {v["name"]: v for v in doc["templating"]["list"]}
    assert set(defined) == {"model", "feature"}
    model = LABEL_VALUES.match(defined["model"]["query"])
    feature = LABEL_VALUES.match(defined["feature"]["query"])
    assert model and model["label"] == "model"
    assert feature and feature["label"] == "feature"
    for v in defined.values():
        assert v["multi"] and v["includeAll"] and v["allValue"] == ".*"
    used: set[str] = set()
    for query in panel_queries(doc):
        names = variables(query.expr)
        assert names <= set(defined) | BUILTIN_VARIABLES, query.where
        used |= names
        # A multi-value variable is a regex alternation: only =~ may take it.
        assert not re.search(r'[^=!]="\$', query.expr), query.where
    assert {"model", "feature"} <= used


def test_every_query_parses_as_promql(tmp_path: Path) -> None:
    # promtool parses the queries (variables substituted as Grafana would) as recording rules.
    promtool = REPO_ROOT / ".tools" / "promtool"
    if not promtool.exists():
        pytest.fail(f"{promtool} is missing: run `make setup`")
    values = {"model": "fraud-scorer|churn", "feature": ".*", "__rate_interval": "1m"}
    values["__range"] = "6h"
    rules = [
        {"record": f"dashboard:q{i}", "expr": substitute(q.expr, values)}
        for i, q in enumerate(panel_queries(dashboard()))
    ]
    path = tmp_path / "dashboard.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run(
        [str(promtool), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def test_provisioning_points_at_the_paths_compose_mounts() -> None:
    mounts = _grafana_mounts()
    assert mounts == {
        "/etc/grafana/provisioning": "deploy/grafana/provisioning",
        "/var/lib/grafana/dashboards": "deploy/grafana/dashboards",
    }
    assert DATASOURCES.parent == GRAFANA / "provisioning" / "datasources"
    assert PROVIDERS.parent == GRAFANA / "provisioning" / "dashboards"
    providers = _yaml(PROVIDERS)
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    container_path = provider["options"]["path"]
    assert container_path in mounts
    assert REPO_ROOT / mounts[container_path] / DASHBOARD.name == DASHBOARD
    assert sorted(p.name for p in (REPO_ROOT / mounts[container_path]).iterdir()) == [
        "driftline.json"
    ]

    sources = _yaml(DATASOURCES)
    assert sources["apiVersion"] == 1
    source = _datasource()
    assert source["type"] == "prometheus" and source["access"] == "proxy"
    # The compose service and the port Prometheus listens on inside its container.
    assert source["url"] == "http://prometheus:9090"
    compose = _yaml(COMPOSE)["services"]
    assert "prometheus" in compose
    assert "127.0.0.1:9090:9090" in compose["prometheus"]["ports"]
    scrape = _yaml(REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml")
    assert source["jsonData"]["timeInterval"] == scrape["global"]["scrape_interval"]
