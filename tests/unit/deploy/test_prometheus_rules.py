"""deploy/prometheus/rules/driftline.yml: `promtool check rules` accepts it and `promtool test
rules` passes deploy/prometheus/tests/driftline_test.yml (each alert fires on its scenario with
exact labels and annotations, and stays silent on the near miss). promtool is .tools/promtool
(`make setup`, deploy/prometheus/promtool.sh)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.dockerfile import REPO_ROOT

PROM = REPO_ROOT / "deploy" / "prometheus"
RULES = PROM / "rules" / "driftline.yml"
TESTS = PROM / "tests" / "driftline_test.yml"
EXPECTED_ALERTS = {
    "DriftlineModelDrifting",
    "DriftlineWorkerDown",
    "DriftlineWorkerNotReady",
    "DriftlineInputLagGrowing",
    "DriftlineWindowsNotClosing",
    "DriftlineWindowCloseLatencyHigh",
    "DriftlineDeadLettersRising",
    "DriftlineModelWithoutBaseline",
}


def _promtool() -> str:
    tool = REPO_ROOT / ".tools" / "promtool"
    if tool.exists():
        return str(tool)
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: `make setup` puts it at .tools/promtool")
    return found


def _run(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def _alerts(path: Path) -> list[dict[str, object]]:
    doc = yaml.safe_load(path.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_promtool_check_rules_accepts_the_rules_file() -> None:
    done = _run("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in done.stdout


def test_every_alert_has_a_severity_a_runbook_entry_and_unit_tests() -> None:
    alerts = _alerts(RULES)
    assert {a["alert"] for a in alerts} == EXPECTED_ALERTS
    runbook = (REPO_ROOT / "docs" / "operations.md").read_text()
    tested = TESTS.read_text()
    for alert in alerts:
        name = str(alert["alert"])
        labels = alert["labels"]
        annotations = alert["annotations"]
        assert isinstance(labels, dict) and isinstance(annotations, dict)
        assert labels["severity"] in {"critical", "warning", "info"}
        assert annotations["runbook"] == f"docs/operations.md#{name.lower()}"
        assert f"### {name}\n" in runbook, f"no runbook entry for {name}"
        # A firing case (exp_alerts with labels) and a silent case for each alert.
        assert tested.count(f"alertname: {name}\n") >= 2, name


def test_promtool_test_rules_passes_the_alert_unit_tests() -> None:
    done = _run("test", "rules", str(TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_unit_tests_reject_a_rule_that_never_fires(tmp_path: Path) -> None:
    # The tests can fail: the same tests against rules whose drift threshold is out of reach.
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    broken = RULES.read_text().replace(
        '(increase(driftline_alerts_total{model!="unknown"}[15m])) > 0',
        '(increase(driftline_alerts_total{model!="unknown"}[15m])) > 5',
    )
    assert broken != RULES.read_text()
    (tmp_path / "rules" / "driftline.yml").write_text(broken)
    (tmp_path / "tests" / "driftline_test.yml").write_text(TESTS.read_text())
    done = _run("test", "rules", "tests/driftline_test.yml", cwd=tmp_path)
    assert done.returncode == 1
    assert "alertname: DriftlineModelDrifting, time: 10m" in done.stderr + done.stdout
