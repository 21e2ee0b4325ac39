"""The PromQL Driftline's operators rely on, read from the files that ship it: the Grafana
dashboard (deploy/grafana/dashboards/driftline.json) and the alert rules
(deploy/prometheus/rules/driftline.yml). Shared by the offline structure tests and the
integration test that runs every expression on a real Prometheus scraping a real worker."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
GRAFANA = REPO_ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "driftline.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "driftline.yml"
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules" / "driftline.yml"

# A Grafana variable in a query: $name, ${name} or ${name:format}.
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@dataclass(frozen=True)
class Query:
    where: str  # "panel 3 (Title) A" or "variable model"
    expr: str


def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return doc


def panels(doc: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in doc["panels"]:
        yield panel
        yield from panel.get("panels", [])


def panel_queries(doc: Mapping[str, Any]) -> list[Query]:
    return [
        Query(f"panel {p['id']} ({p['title']}) {t['refId']}", t["expr"])
        for p in panels(doc)
        for t in p.get("targets", [])
    ]


def variable_queries(doc: Mapping[str, Any]) -> list[Query]:
    return [
        Query(f"variable {v['name']}", v["query"])
        for v in doc["templating"]["list"]
        if v["type"] == "query"
    ]


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """``expr`` with every Grafana variable replaced by ``values[name]`` (KeyError when a
    variable has no value: a query must not reach Prometheus with a ``$`` left in it)."""
    return _VARIABLE.sub(lambda m: values[m.group(1) or m.group(2)], expr)


def variables(expr: str) -> set[str]:
    return {m.group(1) or m.group(2) for m in _VARIABLE.finditer(expr)}


def alert_rules() -> dict[str, str]:
    """Alert name -> its expression."""
    doc = yaml.safe_load(RULES.read_text())
    return {
        str(rule["alert"]): str(rule["expr"])
        for group in doc["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def metric_names(expr: str) -> set[str]:
    """The driftline_* and up series an expression selects (histogram suffixes kept)."""
    names = set(re.findall(r"\bdriftline_[a-z_]+", expr))
    if re.search(r"\bup\{", expr):
        names.add("up")
    return names


def squash(expr: str) -> str:
    """Whitespace-normalised PromQL, for comparing fragments with a rule's text."""
    return re.sub(r"\s+", " ", expr).strip()
