"""What a Driftline deployment is doing: its workers (consumer group members and their
partitions), stage 1's lag per input partition, and the baselines workers load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from app.config import Settings
from app.errors import DriftlineError
from app.stream import kafka
from app.stream.baseline_feed import parse_publication
from app.stream.tail import read_to_end, topic_partitions
from app.stream.topic_info import partition_offsets


@dataclass(frozen=True)
class Member:
    member_id: str
    client_id: str
    host: str
    assignment: dict[str, list[int]]  # topic -> partitions


@dataclass(frozen=True)
class Group:
    group_id: str
    role: str  # "stage 1" or "stage 2"
    state: str  # Kafka's group state: Stable, Empty, Dead (unknown group), ...
    members: list[Member]


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    owner: str | None  # client id of the stage-1 member that holds it
    committed: int | None  # None: the group never committed this partition
    end: int
    lag: int  # records not yet applied (from the beginning when nothing is committed)


@dataclass(frozen=True)
class LoadedBaseline:
    model_id: str
    baseline_id: str
    created_at: str
    effective_from_ms: int


@dataclass(frozen=True)
class Status:
    groups: list[Group]
    input_topic: str
    lag: list[PartitionLag]
    baselines_topic: str
    baselines: list[LoadedBaseline]
    rejected_baselines: int


def _assignment(raw: bytes) -> dict[str, list[int]]:
    if not raw:  # a member between assignments
        return {}
    decoded = ConsumerProtocolMemberAssignment.decode(raw)
    return {topic: sorted(parts) for topic, parts in sorted(decoded.assignment)}


async def _groups(settings: Settings) -> list[Group]:
    wanted = [(settings.app_id, "stage 2"), (settings.stage1_group(), "stage 1")]
    groups: list[Group] = []
    async with kafka.started(kafka.admin(settings), settings) as admin:
        for group_id, role in wanted:
            [response] = await admin.describe_consumer_groups([group_id])
            [group] = response.to_object()["groups"]
            if group["error_code"] != 0:
                raise DriftlineError(
                    f"describing consumer group {group_id!r} failed: error {group['error_code']}"
                )
            members = [
                Member(
                    m["member_id"],
                    m["client_id"],
                    m["client_host"],
                    _assignment(m["member_assignment"]),
                )
                for m in group["members"]
            ]
            members.sort(key=lambda m: (m.client_id, m.host, m.member_id))
            groups.append(Group(group_id, role, group["state"], members))
    return groups


async def _committed(settings: Settings, group_id: str) -> dict[tuple[str, int], int]:
    async with kafka.started(kafka.admin(settings), settings) as admin:
        offsets: dict[Any, Any] = await admin.list_consumer_group_offsets(group_id)
    return {
        (tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0
    }


async def _lag(settings: Settings, stage1: Group) -> list[PartitionLag]:
    topic = settings.topic_predictions
    tps = await topic_partitions(settings, topic)
    offsets = (await partition_offsets(settings, {topic: len(tps)}))[topic]
    committed = await _committed(settings, stage1.group_id)
    owners = {p: m.client_id for m in stage1.members for p in m.assignment.get(topic, [])}
    out = []
    for o in offsets:
        done = committed.get((topic, o.partition))
        out.append(
            PartitionLag(
                o.partition,
                owners.get(o.partition),
                done,
                o.end,
                o.end - (done if done is not None else o.beginning),
            )
        )
    return out


async def _baselines(settings: Settings) -> tuple[list[LoadedBaseline], int]:
    """Per model, the version the newest windows use: the greatest (effective_from_ms,
    baseline_id), the registry's own order. Not the last one published: versions have
    their own keys (and may sit on different partitions), and a version copied by
    ``driftline baseline migrate`` is published after newer ones."""
    latest: dict[str, LoadedBaseline] = {}
    rejected = 0
    for rec in await read_to_end(settings, settings.topic_baselines):
        if rec.value is None:
            continue
        try:
            baseline, effective = parse_publication(rec.value)
        except Exception:  # the workers reject it too (and log why)
            rejected += 1
            continue
        known = latest.get(baseline.model_id)
        if known is None or (known.effective_from_ms, known.baseline_id) < (
            effective,
            baseline.baseline_id,
        ):
            latest[baseline.model_id] = LoadedBaseline(
                baseline.model_id, baseline.baseline_id, baseline.created_at, effective
            )
    return [latest[m] for m in sorted(latest)], rejected


async def gather_status(settings: Settings) -> Status:
    groups = await _groups(settings)
    lag = await _lag(settings, groups[1])
    baselines, rejected = await _baselines(settings)
    return Status(
        groups, settings.topic_predictions, lag, settings.topic_baselines, baselines, rejected
    )
