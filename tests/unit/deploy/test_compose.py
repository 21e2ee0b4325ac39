"""deploy/docker-compose.yml: valid against the compose specification (the schema that
check-jsonschema vendors, so no network), and wired the way the stack needs: the workers
reach the broker on its in-network listener, start after `topics create` succeeded, keep a
stable identity and state volume each, and Prometheus scrapes exactly those workers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dockerfile import REPO_ROOT, final_stage

DEPLOY = REPO_ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"


def _check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    tool = tool or shutil.which("check-jsonschema")
    if tool is None:
        pytest.fail("check-jsonschema not found: `pip install -e '.[dev]'` installs it")
    return subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def _workers(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in doc["services"].items() if svc.get("command") == ["worker"]}


def test_the_compose_file_is_valid_against_the_compose_specification(tmp_path: Path) -> None:
    # One run (the tool takes seconds to start) over ours and a file that breaks the
    # specification, to show the validator really rejects: only the broken one is reported.
    broken = tmp_path / "compose.yml"
    broken.write_text(
        "services:\n  worker:\n    image: driftline:dev\n"
        "    depends_on:\n      kafka:\n        condition: whenever\n"
    )
    done = _check_jsonschema(COMPOSE, broken)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Schema validation errors were encountered." in done.stdout
    assert f"{broken}::$.services.worker.depends_on" in done.stdout
    assert "'whenever' is not one of" in done.stdout
    assert str(COMPOSE) not in done.stdout


def test_the_stack_has_broker_topics_workers_prometheus_and_grafana() -> None:
    services = _compose()["services"]
    assert set(services) == {"kafka", "topics", "worker-1", "worker-2", "prometheus", "grafana"}
    assert services["kafka"]["image"] == "apache/kafka:3.9.2"
    assert services["topics"]["command"] == ["topics", "create", "--timeout", "60"]
    assert services["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}


def test_every_worker_is_built_from_the_dockerfile_and_reaches_the_broker_in_network() -> None:
    doc = _compose()
    kafka_env = doc["services"]["kafka"]["environment"]
    in_network = kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")[0]
    assert in_network == "PLAINTEXT://kafka:19092"
    workers = _workers(doc)
    assert len(workers) == 2
    for name, svc in [*workers.items(), ("topics", doc["services"]["topics"])]:
        context = (DEPLOY / svc["build"]["context"]).resolve()
        assert (context / svc["build"]["dockerfile"]).resolve() == REPO_ROOT / "Dockerfile"
        assert svc["environment"]["DRIFTLINE_KAFKA_BOOTSTRAP"] == "kafka:19092", name


def test_workers_have_their_own_identity_state_volume_and_host_port() -> None:
    doc = _compose()
    workers = _workers(doc)
    image_env = final_stage().env()
    ids, volumes, ports = set(), set(), set()
    for name, svc in workers.items():
        env = svc["environment"]
        assert env["DRIFTLINE_INSTANCE_ID"] == name
        ids.add(env["DRIFTLINE_INSTANCE_ID"])
        assert svc["depends_on"] == {"topics": {"condition": "service_completed_successfully"}}
        state = [v for v in svc["volumes"] if v.endswith(":" + image_env["DRIFTLINE_DATA_DIR"])]
        assert len(state) == 1, svc["volumes"]
        volume = state[0].split(":")[0]
        assert volume in doc["volumes"]
        volumes.add(volume)
        [port] = svc["ports"]
        host, host_port, container_port = port.split(":")
        assert host == "127.0.0.1"
        assert container_port == image_env["DRIFTLINE_WEB_PORT"]
        ports.add(host_port)
        # The drift config the workers are told to read is mounted from a file that exists.
        config = env["DRIFTLINE_DRIFT_CONFIG"]
        [mount] = [v for v in svc["volumes"] if v.split(":")[1] == config]
        assert (DEPLOY / mount.split(":")[0]).is_file()
    assert len(ids) == len(volumes) == len(ports) == len(workers)


def test_prometheus_scrapes_every_worker_and_loads_rules_from_the_mounted_directory() -> None:
    doc = _compose()
    prometheus = doc["services"]["prometheus"]
    [config_mount] = [v for v in prometheus["volumes"] if v.startswith("./prometheus:")]
    assert config_mount == "./prometheus:/etc/prometheus:ro"
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    [targets] = [c["targets"] for c in job["static_configs"]]
    port = final_stage().env()["DRIFTLINE_WEB_PORT"]
    assert sorted(targets) == sorted(f"{name}:{port}" for name in _workers(doc))
    assert config["rule_files"] == ["rules/*.yml"]
    grafana = doc["services"]["grafana"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
