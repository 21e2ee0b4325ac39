"""``driftline topics create`` on the real broker: idempotent, exact partitions and policies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.integration.streamkit import TOPIC_POLICIES

if TYPE_CHECKING:
    from tests.integration.conftest import DriftlineCLI


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    described: list[dict[str, Any]] = await admin.describe_topics(names)
    return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}


async def _cleanup_policies(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, str]:
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, name, {"cleanup.policy": None}) for name in names
    ]
    policies: dict[str, str] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            assert resource["error_code"] == 0, resource
            for entry in resource["config_entries"]:
                if entry["config_names"] == "cleanup.policy":
                    policies[resource["resource_name"]] = entry["config_value"]
    return policies


async def test_create_twice_is_idempotent_with_exact_partitions_and_policies(
    driftline: DriftlineCLI,
    topic_env: dict[str, str],
    unique_prefix: str,
    kafka_admin: AIOKafkaAdminClient,
) -> None:
    env = {**topic_env, "DRIFTLINE_PARTITIONS": "3", "DRIFTLINE_APP_ID": unique_prefix}
    state = f"{env['DRIFTLINE_APP_ID']}-stage1-state"
    names = [env[key] for key in TOPIC_POLICIES] + [state]

    first = driftline.run(["topics", "create"], env=env)
    assert first.returncode == 0, first.stderr
    second = driftline.run(["topics", "create"], env=env)
    assert second.returncode == 0, second.stderr

    for name in names:
        first_line = next(line for line in first.stdout.splitlines() if f" {name} " in line)
        second_line = next(line for line in second.stdout.splitlines() if f" {name} " in line)
        assert first_line.startswith("created"), first.stdout
        assert second_line.startswith("exists"), second.stdout

    # Checked with our own client, not the app's helper that did the creating.
    assert await _partition_counts(kafka_admin, names) == dict.fromkeys(names, 3)
    assert await _cleanup_policies(kafka_admin, names) == {
        **{env[key]: policy for key, policy in TOPIC_POLICIES.items()},
        state: "compact",
    }


def test_unreachable_broker_is_one_line_error_without_traceback(
    driftline: DriftlineCLI, topic_env: dict[str, str], free_port: int
) -> None:
    unreachable = f"127.0.0.1:{free_port}"  # nobody listens there
    result = driftline.run(
        ["topics", "create", "--timeout", "2"],
        env={**topic_env, "DRIFTLINE_KAFKA_BOOTSTRAP": unreachable},
        timeout_s=30,
    )

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert unreachable in lines[0]
    assert lines[0].startswith("driftline: error:")
    assert result.stdout == ""
