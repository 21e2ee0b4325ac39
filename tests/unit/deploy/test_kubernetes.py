"""deploy/kubernetes/: every manifest is valid against the Kubernetes API schemas (the ones
kubernetes-validate bundles, strict: unknown fields fail) or, for the two custom resources,
against the vendored CRD schemas in crd_schemas/; and the pieces agree with each other, with
the image and with Driftline's settings (names, ports, paths, the stage-1 group, the
partition ceiling, the benchmark's memory). Nothing here talks to a cluster."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from app.config import Settings
from app.stats.rules import parse_config
from tests.dockerfile import REPO_ROOT, final_stage

K8S = REPO_ROOT / "deploy" / "kubernetes"
CRD_SCHEMAS = Path(__file__).resolve().parent / "crd_schemas"
KUBERNETES_VERSION = "1.33.0"
CRD_SCHEMA_FILES = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_v1alpha1_ScaledObject.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_v1_ServiceMonitor.json",
}

Doc = dict[str, Any]


def _documents() -> list[Doc]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs: list[Doc] = []
    for name in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text()) if d)
    return docs


def _one(kind: str, name: str | None = None) -> Doc:
    found = [d for d in _documents() if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''}"
    return found[0]


def _crd_validator(doc: Doc) -> jsonschema.Draft202012Validator:
    schema = json.loads(
        (CRD_SCHEMAS / CRD_SCHEMA_FILES[doc["apiVersion"], doc["kind"]]).read_text()
    )
    return jsonschema.Draft202012Validator(schema)


def _settings() -> Settings:
    """The settings a worker gets from the ConfigMap (drift config aside: a path in the pod)."""
    data = dict(_one("ConfigMap", "driftline-settings")["data"])
    data.pop("DRIFTLINE_DRIFT_CONFIG")
    fields = {k.removeprefix("DRIFTLINE_").lower(): v for k, v in data.items()}
    return Settings(**fields)


def _worker_container() -> Doc:
    [container] = _one("StatefulSet")["spec"]["template"]["spec"]["containers"]
    found: Doc = container
    return found


def test_kustomization_lists_every_manifest_in_the_directory() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    present = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == present


def test_every_manifest_is_valid_against_its_schema() -> None:
    kinds = []
    for doc in _documents():
        kinds.append(doc["kind"])
        if (doc["apiVersion"], doc["kind"]) in CRD_SCHEMA_FILES:
            errors = [e.message for e in _crd_validator(doc).iter_errors(doc)]
            assert errors == [], (doc["kind"], errors)
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    assert sorted(kinds) == [
        "ConfigMap",
        "ConfigMap",
        "Job",
        "PodDisruptionBudget",
        "ScaledObject",
        "Service",
        "Service",
        "ServiceMonitor",
        "StatefulSet",
    ]


def test_the_validators_reject_a_misspelled_field() -> None:
    statefulset = copy.deepcopy(_one("StatefulSet"))
    statefulset["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError, match="replica"):
        kubernetes_validate.validate(statefulset, KUBERNETES_VERSION, strict=True)
    scaled = copy.deepcopy(_one("ScaledObject"))
    scaled["spec"]["maxReplicas"] = 4
    errors = [e.message for e in _crd_validator(scaled).iter_errors(scaled)]
    assert errors == ["Additional properties are not allowed ('maxReplicas' was unexpected)"]
    monitor = copy.deepcopy(_one("ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["paht"] = "/metrics"
    errors = [e.message for e in _crd_validator(monitor).iter_errors(monitor)]
    assert errors == ["Additional properties are not allowed ('paht' was unexpected)"]


def test_no_secret_is_created_only_referenced_by_name() -> None:
    assert [d for d in _documents() if d["kind"] == "Secret"] == []
    refs = [
        source["secretRef"]
        for container in [
            _worker_container(),
            *_one("Job")["spec"]["template"]["spec"]["initContainers"],
            *_one("Job")["spec"]["template"]["spec"]["containers"],
        ]
        for source in container["envFrom"]
        if "secretRef" in source
    ]
    assert refs == [{"name": "driftline-kafka", "optional": True}] * 3


def test_each_worker_pod_keeps_its_identity_and_state() -> None:
    statefulset = _one("StatefulSet")
    container = _worker_container()
    env = {e["name"]: e for e in container["env"]}
    assert env["DRIFTLINE_INSTANCE_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    image_env = final_stage().env()
    assert env["DRIFTLINE_WEB_HOST"]["value"] == "0.0.0.0"
    assert env["DRIFTLINE_WEB_PORT"]["value"] == image_env["DRIFTLINE_WEB_PORT"]
    data_dir = env["DRIFTLINE_DATA_DIR"]["value"]
    assert data_dir == image_env["DRIFTLINE_DATA_DIR"]
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == data_dir
    # The governing Service is headless, so each pod gets a stable DNS name.
    governing = _one("Service", statefulset["spec"]["serviceName"])
    assert governing["spec"]["clusterIP"] == "None"
    # The pod runs as the image's user.
    uid, _, gid = final_stage().last("USER").args.partition(":")
    pod_security = statefulset["spec"]["template"]["spec"]["securityContext"]
    assert (pod_security["runAsUser"], pod_security["runAsGroup"]) == (int(uid), int(gid))
    assert pod_security["fsGroup"] == int(gid)


def test_probes_ask_ready_and_health_on_the_web_port() -> None:
    container = _worker_container()
    [port] = container["ports"]
    assert port == {"name": "http", "containerPort": int(final_stage().env()["DRIFTLINE_WEB_PORT"])}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}


def test_services_monitor_and_budget_select_the_worker_pods() -> None:
    pod_labels = _one("StatefulSet")["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in selector.items())

    for service in (_one("Service", "driftline-worker"), _one("Service", "driftline-metrics")):
        assert selects(service["spec"]["selector"], pod_labels)
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert selects(_one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"], pod_labels)
    assert _one("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    monitor = _one("ServiceMonitor")["spec"]
    metrics = _one("Service", "driftline-metrics")
    matched = [
        d["metadata"]["name"]
        for d in _documents()
        if d["kind"] == "Service"
        and selects(monitor["selector"]["matchLabels"], d["metadata"]["labels"])
    ]
    assert matched == ["driftline-metrics"]
    [endpoint] = monitor["endpoints"]
    assert endpoint["port"] in [p["name"] for p in metrics["spec"]["ports"]]
    assert endpoint["path"] == "/metrics"


def test_memory_request_covers_the_benchmarks_peak() -> None:
    # README, Benchmarks: "one Driftline worker on that backlog | ... peak RSS 259 MiB".
    readme = (REPO_ROOT / "README.md").read_text()
    match = re.search(
        r"\| one Driftline worker on that backlog \|[^|\n]*peak RSS (\d+) MiB", readme
    )
    assert match, "README's Benchmarks table no longer states one worker's peak RSS"
    peak_mib = int(match.group(1))
    resources = _worker_container()["resources"]
    request = int(resources["requests"]["memory"].removesuffix("Mi"))
    limit = int(resources["limits"]["memory"].removesuffix("Mi"))
    assert peak_mib <= request < limit


def test_lag_autoscaling_targets_stage_1s_group_and_stops_at_the_partition_count() -> None:
    settings = _settings()
    scaled = _one("ScaledObject")["spec"]
    target = _one("StatefulSet")
    assert scaled["scaleTargetRef"] == {
        "apiVersion": target["apiVersion"],
        "kind": target["kind"],
        "name": target["metadata"]["name"],
    }
    assert scaled["maxReplicaCount"] == settings.partitions == 4
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    assert meta["consumerGroup"] == settings.stage1_group() == "driftline-stage1"
    assert meta["topic"] == settings.topic_predictions
    assert meta["bootstrapServers"] == settings.kafka_bootstrap
    assert int(meta["lagThreshold"]) > 0
    assert meta["allowIdleConsumers"] == "false"


def test_setup_job_creates_topics_then_publishes_mounted_baselines() -> None:
    job = _one("Job")["spec"]["template"]["spec"]
    [init] = job["initContainers"]
    assert init["args"][:2] == ["topics", "create"]
    [publisher] = job["containers"]
    assert "driftline baseline publish" in publisher["args"][0]
    [volume] = job["volumes"]
    assert volume["configMap"] == {"name": "driftline-baselines", "optional": True}
    assert job["restartPolicy"] == "OnFailure"


def test_the_drift_config_file_the_workers_are_told_to_read_is_mounted() -> None:
    path = Path(_one("ConfigMap", "driftline-settings")["data"]["DRIFTLINE_DRIFT_CONFIG"])
    mounts = {m["name"]: m["mountPath"] for m in _worker_container()["volumeMounts"]}
    volumes = _one("StatefulSet")["spec"]["template"]["spec"]["volumes"]
    [volume] = [v for v in volumes if v["name"] == "drift-config"]
    assert mounts["drift-config"] == str(path.parent)
    config_map = _one("ConfigMap", volume["configMap"]["name"])
    # Driftline's own parser accepts it (unknown keys or bad values would stop the worker).
    config = parse_config(tomllib.loads(config_map["data"][path.name]))
    assert config == parse_config({"defaults": {"alpha": 0.05, "n_min": 1000}})
