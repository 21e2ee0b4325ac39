"""Static group membership (KIP-345): telling a restart from a second worker with one id.

A worker joins its groups with ``group_instance_id = DRIFTLINE_INSTANCE_ID``. Restarted
within the session timeout, it gets its partitions back without a rebalance, and a worker
that stops sends no LeaveGroup (checked against the broker with aiokafka 0.14: README,
"Restarts"). When a second live worker joins with the same id, the broker hands the id to
the newcomer and the one already running is fenced. aiokafka 0.14 heartbeats without the
instance id, so the broker answers "unknown member", not FENCED_INSTANCE_ID, and aiokafka
rejoins at once, fencing the newcomer in turn: the two would take the partitions from
each other every second, forever, each processing them meanwhile.

So when a static member loses its membership, before it rejoins, it looks at the group: if
a member now holds its instance id, another live worker has it, and this one stops at once
(``exit_fenced``), writing nothing more, exactly as if it had been SIGKILLed, the failure
the stream's snapshots already make safe. If nobody holds the id (its own session expired,
say after a long pause), it rejoins as usual.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import Any, NoReturn

from app.config import Settings, env_name
from app.errors import DriftlineError
from app.stream import kafka

# The broker names a static member ``<group instance id>-<UUID>`` (a dynamic one
# ``<client id>-<UUID>``). DescribeGroups up to v3, all aiokafka 0.14 sends, has no
# instance id field, so the member id is where it shows.
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def holder(instance_id: str, member_ids: Iterable[str]) -> str | None:
    """The member id of the group member that holds ``instance_id``, if one does."""
    pattern = re.compile(re.escape(instance_id) + "-" + _UUID)
    return next((m for m in member_ids if pattern.fullmatch(m)), None)


def taken_over(instance_id: str, ours: str, member_ids: Iterable[str]) -> bool:
    """True when another member (not ``ours``, our last member id) holds our instance id."""
    current = holder(instance_id, member_ids)
    return current is not None and current != ours


class InstanceIdTaken(DriftlineError):
    """Another live worker joined a group with this worker's instance id."""

    def __init__(self, settings: Settings, group: str) -> None:
        super().__init__(
            f"another worker joined group {group} with this worker's instance id "
            f"{settings.instance_id!r}, so this one stopped; give each worker its own "
            f"{env_name('instance_id')} (the default, <host name>-<web port>, is unique "
            "per host and port)"
        )


async def group_member_ids(settings: Settings, group: str) -> list[str]:
    """The member ids of ``group`` as the broker describes it now."""
    async with kafka.started(kafka.admin(settings), settings) as admin:
        responses: list[Any] = await admin.describe_consumer_groups([group])
    ids: list[str] = []
    for response in responses:
        for described in response.groups:
            # (error_code, group_id, state, protocol_type, protocol, members, ...); each
            # member is (member_id, client_id, client_host, metadata, assignment).
            ids.extend(str(member[0]) for member in described[5])
    return ids


def exit_fenced(err: DriftlineError) -> NoReturn:
    """Stop this worker process now, in one line: nothing more is written (no checkpoint,
    no commit, no rejoin that would take the partitions back), as after a SIGKILL."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    # To file descriptor 2 itself: Faust's worker replaces sys.stderr with a logger.
    os.write(2, f"driftline: error: {err}\n".encode())
    os._exit(2)
