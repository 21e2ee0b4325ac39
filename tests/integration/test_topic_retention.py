"""``driftline topics create`` sets each topic's cleanup policy and retention on the real
broker (read back with our own admin client), and leaves an existing topic's settings alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

if TYPE_CHECKING:
    from tests.integration.conftest import DriftlineCLI

DAY_MS = 86_400_000
KEYS = ("cleanup.policy", "retention.ms")


async def _configs(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, name, dict.fromkeys(KEYS)) for name in names
    ]
    found: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            assert resource["error_code"] == 0, resource
            found[resource["resource_name"]] = {
                e["config_names"]: e["config_value"]
                for e in resource["config_entries"]
                if e["config_names"] in KEYS
            }
    return found


async def test_topics_create_sets_cleanup_and_retention_per_topic(
    driftline: DriftlineCLI,
    topic_env: dict[str, str],
    unique_prefix: str,
    kafka_admin: AIOKafkaAdminClient,
) -> None:
    env = {**topic_env, "DRIFTLINE_APP_ID": unique_prefix}
    # An input topic that exists already, created by someone else with a 1-hour retention:
    # topics create must not change it.
    existing = env["DRIFTLINE_TOPIC_PREDICTIONS"]
    await kafka_admin.create_topics(
        [NewTopic(existing, 4, 1, topic_configs={"retention.ms": "3600000"})]
    )
    done = driftline.run(["topics", "create"], env=env)
    assert done.returncode == 0, done.stderr

    t = {key: env[key] for key in env if key.startswith("DRIFTLINE_TOPIC_")}
    state = f"{unique_prefix}-stage1-state"
    closed = f"{unique_prefix}-closed-windows"
    week, month = str(7 * DAY_MS), str(30 * DAY_MS)
    configs = await _configs(kafka_admin, [*t.values(), state, closed])
    # Compacted topics keep the latest record per key whatever its age; their retention.ms
    # is the broker default (not set by Driftline, not used by compaction).
    broker_default = configs[t["DRIFTLINE_TOPIC_BASELINES"]]["retention.ms"]
    assert configs == {
        existing: {"cleanup.policy": "delete", "retention.ms": "3600000"},
        t["DRIFTLINE_TOPIC_BASELINES"]: {
            "cleanup.policy": "compact",
            "retention.ms": broker_default,
        },
        t["DRIFTLINE_TOPIC_WINDOWS"]: {"cleanup.policy": "delete", "retention.ms": month},
        t["DRIFTLINE_TOPIC_ALERTS"]: {"cleanup.policy": "delete", "retention.ms": month},
        t["DRIFTLINE_TOPIC_DEADLETTER"]: {"cleanup.policy": "delete", "retention.ms": week},
        t["DRIFTLINE_TOPIC_PARTIALS"]: {"cleanup.policy": "delete", "retention.ms": week},
        state: {"cleanup.policy": "compact", "retention.ms": broker_default},
        closed: {"cleanup.policy": "delete", "retention.ms": week},
    }
    assert done.stdout.splitlines()[0].split()[:2] == ["exists", existing]
