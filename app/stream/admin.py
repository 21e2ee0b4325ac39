"""Topic administration with aiokafka's admin client (idempotent create, describe)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka.admin import NewTopic

from app.config import Settings
from app.errors import DriftlineError
from app.stream import kafka, security
from app.stream.snapshots import MAX_SNAPSHOT_BYTES

TOPIC_ALREADY_EXISTS = 36
TOPIC_AUTHORIZATION_FAILED = 29
MAX_DEAD_LETTER_BYTES = 32 * 1024 * 1024
# Partials and stage 2's table values (app.stream.merge_stage): a window's partial of a
# feature with a KS grid holds up to ~2,000 sparse cells (~15 kB a feature, ~750 kB for 50
# features), and stage 2 keeps one per source partition in a table value, past the
# broker's default of about 1 MB. The topics' max.message.bytes and the producers'
# max_request_size are set to this.
MAX_STATE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


@dataclass(frozen=True)
class TopicOutcome:
    name: str
    created: bool
    partitions: int
    cleanup_policy: str


DAY_MS = 24 * 60 * 60 * 1000
# The largest baseline message the CLI's producer sends, and the baselines topic's
# max.message.bytes as `topics create` sets it: a baseline with a KS grid carries about
# 40 kB per numeric feature (docs/baselines.md), so 25 such features pass the broker's
# default of about 1 MB. A topic created elsewhere keeps its own limit (publish names it).
MAX_BASELINE_REQUEST_BYTES = 16 * 1024 * 1024
# Time-based retention of the topics that are deleted, not compacted (docs/operations.md,
# "Retention"). Stated on each topic so the broker's default (log.retention.hours, 7 days
# unless changed) does not decide it. Input, partials and dead letters: a week, the horizon
# for replays, for a stopped stage 2 to catch up on partials, and for reading dead letters.
# Results and alerts are small and are the record consumers act on: 30 days.
INPUT_RETENTION_MS = 7 * DAY_MS
PARTIALS_RETENTION_MS = 7 * DAY_MS
DEADLETTER_RETENTION_MS = 7 * DAY_MS
RESULTS_RETENTION_MS = 30 * DAY_MS


def _deleted_after(retention_ms: int) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(retention_ms)}


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Driftline's own topics, with their cleanup and retention settings.

    The baselines topic and stage 1's snapshots are compacted (the latest record per key
    is kept for good, whatever its age); every other topic is deleted after its retention.
    Every baselines record has its own key, one per baseline version
    (app.baseline.topic_key), so compaction keeps every version.
    """
    n = settings.partitions
    return [
        TopicSpec(settings.topic_predictions, n, _deleted_after(INPUT_RETENTION_MS)),
        TopicSpec(
            settings.topic_baselines,
            n,
            {"cleanup.policy": "compact", "max.message.bytes": str(MAX_BASELINE_REQUEST_BYTES)},
        ),
        TopicSpec(settings.topic_windows, n, _deleted_after(RESULTS_RETENTION_MS)),
        TopicSpec(settings.topic_alerts, n, _deleted_after(RESULTS_RETENTION_MS)),
        # A dead letter carries the original bytes in base64 (4/3 of their size): room for
        # inputs well past the broker's default 1 MB, should the input topic allow them.
        TopicSpec(
            settings.topic_deadletter,
            n,
            {
                **_deleted_after(DEADLETTER_RETENTION_MS),
                "max.message.bytes": str(MAX_DEAD_LETTER_BYTES),
            },
        ),
        # Partials are applied by stage 2 within seconds; kept as long as the input so a
        # stage 2 stopped for days still finds what stage 1 sent (stage 1 has committed past
        # those input offsets and will not send them again).
        TopicSpec(
            settings.topic_partials,
            n,
            {
                **_deleted_after(PARTIALS_RETENTION_MS),
                "max.message.bytes": str(MAX_STATE_BYTES),
            },
        ),
        # Stage 1 snapshots, co-partitioned with the input (one per app id): compacted, and
        # large enough for one snapshot of many models' open windows.
        TopicSpec(
            settings.topic_stage1_state(),
            n,
            {"cleanup.policy": "compact", "max.message.bytes": str(MAX_SNAPSHOT_BYTES)},
        ),
        # Stage 2's closed windows and progress for stage 3 (drift incidents): applied within
        # seconds; kept like the partials, so a stopped stage 3 catches up.
        TopicSpec(settings.topic_closed_windows(), n, _deleted_after(PARTIALS_RETENTION_MS)),
    ]


async def describe_topics(
    settings: Settings, names: list[str], timeout_s: float = 15.0
) -> dict[str, tuple[int, str]]:
    """Partition count and cleanup.policy per existing topic name."""
    # aiokafka 0.14 does not re-export these from aiokafka.admin.
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    async with kafka.started(kafka.admin(settings), settings, timeout_s) as admin:
        # Only topics that exist are described: a metadata request naming a missing topic
        # makes a broker with auto.create.topics.enable create it (one partition, no policy).
        present = set(await admin.list_topics())
        wanted = [name for name in names if name in present]
        if not wanted:
            return {}
        described = await admin.describe_topics(wanted)
        partitions = {
            t["topic"]: len(t["partitions"]) for t in described if t.get("error_code", 0) == 0
        }
        resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in partitions]
        policies: dict[str, str] = {}
        for response in await admin.describe_configs(resources):
            for _err, _msg, _type, name, entries in response.resources:
                for entry in entries:
                    if entry[0] == "cleanup.policy":
                        policies[name] = entry[1]
        return {name: (p, policies.get(name, "delete")) for name, p in partitions.items()}


async def create_topics(settings: Settings, timeout_s: float = 30.0) -> list[TopicOutcome]:
    """Create Driftline's topics; topics that exist already are left as they are (idempotent)."""
    specs = topic_specs(settings)
    created: set[str] = set()
    async with kafka.started(kafka.admin(settings), settings, timeout_s) as admin:
        # Only the missing ones are asked for: with ACLs on, a worker may describe Driftline's
        # topics but not create them, and the broker answers "not authorized" (not "exists")
        # to a create of a topic the client may not create.
        present = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in present]
        response = (
            await admin.create_topics(
                [
                    NewTopic(
                        s.name,
                        num_partitions=s.partitions,
                        replication_factor=settings.replication_factor,
                        topic_configs=s.config,
                    )
                    for s in missing
                ]
            )
            if missing
            else None
        )
        for name, code, *rest in response.topic_errors if response else []:
            if code == 0:
                created.add(name)
            elif code == TOPIC_AUTHORIZATION_FAILED:
                raise DriftlineError(
                    f"topic {name!r} does not exist and {security.identity(settings)} may not "
                    "create it: create the topics as the admin identity (`driftline topics "
                    'create`; README "Permissions")'
                )
            elif code != TOPIC_ALREADY_EXISTS:
                message = rest[0] if rest else ""
                raise DriftlineError(f"creating topic {name!r} failed: error {code} {message}")
    await _wait_for_leaders(settings, [s.name for s in specs], timeout_s)
    existing = await describe_topics(settings, [s.name for s in specs], timeout_s)
    return [
        TopicOutcome(s.name, s.name in created, *existing.get(s.name, (0, "unknown")))
        for s in specs
    ]


async def _wait_for_leaders(settings: Settings, names: list[str], timeout_s: float) -> None:
    """New topics are usable once every partition has a leader."""
    deadline = time.monotonic() + timeout_s
    async with kafka.started(kafka.admin(settings), settings, timeout_s) as admin:
        while True:
            described = await admin.describe_topics(names)
            ready = all(
                t.get("error_code", 0) == 0
                and t["partitions"]
                and all(p["leader"] >= 0 for p in t["partitions"])
                for t in described
            )
            if ready:
                return
            if time.monotonic() > deadline:
                raise DriftlineError(f"topics {names} have no partition leaders after {timeout_s}s")
            await asyncio.sleep(0.2)


async def ensure_topics(settings: Settings, names: list[str], timeout_s: float = 30.0) -> None:
    """Create these topics (settings.partitions, no special config) if they are missing."""
    async with kafka.started(kafka.admin(settings), settings, timeout_s) as admin:
        response = await admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=settings.partitions,
                    replication_factor=settings.replication_factor,
                )
                for name in names
            ]
        )
        for name, code, *rest in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                message = rest[0] if rest else ""
                raise DriftlineError(f"creating topic {name!r} failed: error {code} {message}")
    await _wait_for_leaders(settings, names, timeout_s)


async def topic_config(
    settings: Settings, topic: str, key: str, timeout_s: float = 15.0
) -> str | None:
    """A topic's effective value of config ``key`` (the broker's default when the topic does
    not set it), or None when the topic does not exist or the broker does not say."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    async with kafka.started(kafka.admin(settings), settings, timeout_s) as admin:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic, {key: None})
        for response in await admin.describe_configs([resource]):
            for error_code, _msg, _type, _name, entries in response.resources:
                if error_code != 0:
                    return None
                for entry in entries:
                    if entry[0] == key:
                        value: str | None = entry[1]
                        return value
        return None
