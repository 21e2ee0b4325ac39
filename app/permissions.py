"""The Kafka ACLs a Driftline deployment needs, per identity (pure; no Kafka import).

Three identities, each with only what its job needs:

- the **admin** creates the topics (``driftline topics create``): CREATE and DESCRIBE_CONFIGS
  on Driftline's topics (a cluster-wide admin or super user also does);
- the **publisher** puts baselines on the baselines topic (``driftline baseline publish``):
  the only identity that may WRITE it. Whoever can write that topic decides what every
  worker compares with, and so can silence every alert;
- the **worker** reads input and baselines, and writes results, internal and state topics.
  It may READ the baselines topic but never WRITE it.

READ and WRITE imply DESCRIBE in Kafka, so DESCRIBE is not listed separately. Every topic
name is literal (never a prefix): the default app id ``driftline`` is also the prefix of
``driftline-baselines``, so a prefixed grant for the worker's internal topics would give it
the baselines topic too. ``README.md`` "Permissions" shows the same list as kafka-acls
commands, and the secured-broker tests grant exactly this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.config import Settings

Role = Literal["admin", "publisher", "worker"]
ResourceType = Literal["topic", "group"]
Operation = Literal["READ", "WRITE", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS"]


@dataclass(frozen=True, order=True)
class Grant:
    """ALLOW ``operation`` on one resource (literal name) to the identity of ``role``."""

    role: Role
    resource_type: ResourceType
    name: str
    operation: Operation


def faust_topics(settings: Settings) -> list[str]:
    """Topics Faust itself creates and uses for this app id: the table changelogs of stage 2
    and stage 3 (faust ``Table.changelog_topic`` = ``<app id>-<table>-changelog``) and the
    leader assignor's topic (``<app id>-__assignor-__leader``)."""
    return [
        f"{settings.app_id}-stage2-changelog",
        f"{settings.app_id}-stage3-changelog",
        f"{settings.app_id}-__assignor-__leader",
    ]


def required_grants(settings: Settings) -> list[Grant]:
    """Every ACL the three identities need, for these settings' topic names and app id."""
    grants: list[Grant] = []

    def allow(role: Role, kind: ResourceType, names: list[str], *ops: Operation) -> None:
        grants.extend(Grant(role, kind, name, op) for name in names for op in ops)

    ours = settings.topic_names()
    allow("admin", "topic", ours, "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS")
    allow("publisher", "topic", [settings.topic_baselines], "WRITE")
    # describe_configs: publish reports the topic's max.message.bytes when a baseline is too
    # large for it.
    allow("publisher", "topic", [settings.topic_baselines], "DESCRIBE_CONFIGS")

    allow("worker", "topic", [settings.topic_predictions, settings.topic_baselines], "READ")
    internal = [
        settings.topic_partials,
        settings.topic_stage1_state(),
        settings.topic_closed_windows(),
    ]
    allow("worker", "topic", internal, "READ", "WRITE")
    outputs = [settings.topic_windows, settings.topic_alerts, settings.topic_deadletter]
    allow("worker", "topic", outputs, "WRITE")
    # Faust creates these on first start (an admin may create them instead).
    allow("worker", "topic", faust_topics(settings), "READ", "WRITE", "CREATE")
    # Faust's group (stage 2) and stage 1's own group.
    allow("worker", "group", [settings.app_id, settings.stage1_group()], "READ")
    return grants


def acl_commands(settings: Settings, principals: dict[Role, str], bootstrap: str) -> list[str]:
    """The grants as ``kafka-acls.sh`` commands, one per identity and resource."""
    lines: list[str] = []
    by_resource: dict[tuple[Role, ResourceType, str], list[Operation]] = {}
    for grant in required_grants(settings):
        by_resource.setdefault((grant.role, grant.resource_type, grant.name), []).append(
            grant.operation
        )
    for (role, kind, name), ops in by_resource.items():
        operations = " ".join(f"--operation {op.title().replace('_', '')}" for op in ops)
        lines.append(
            f"kafka-acls.sh --bootstrap-server {bootstrap} --command-config admin.properties "
            f"--add --allow-principal {principals[role]} {operations} --{kind} {name}"
        )
    return lines
