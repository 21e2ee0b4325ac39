"""``driftline baseline migrate``: give every version on the baselines topic its own key.

Before issue 10 a version was keyed by its ``model_id``, so compaction kept one version
per model (the last published), and a tombstone or garbage message keyed by the model's
id would erase it. Workers and replay read such messages as before (the value is what
counts), so a topic works unmigrated. What migration adds: each legacy-keyed version the
topic still holds (every one not yet compacted away, not only the last) is published
again, value byte for byte, under its per-version key (``app.baseline.topic_key``), so
nothing written under the old key can erase it any more.

The legacy messages are left in place: a worker reads each version twice and registers
it once (the registry keeps (effective_from_ms, baseline_id) pairs). Running it again
publishes nothing: a version whose key already holds it is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from app.baseline.topic_key import VersionKey, decode_key, encode_key
from app.config import Settings
from app.stream import kafka
from app.stream.admin import MAX_BASELINE_REQUEST_BYTES
from app.stream.baseline_feed import parse_publication
from app.stream.tail import read_to_end


@dataclass
class MigrationPlan:
    copies: list[tuple[bytes, bytes]] = field(default_factory=list)  # (new key, value)
    models: set[str] = field(default_factory=set)  # models with a version to copy
    keyed: int = 0  # messages that already hold the version their key names
    invalid: int = 0  # messages that are not valid baselines (left as they are)


def plan_migration(records: Iterable[tuple[bytes | None, bytes | None]]) -> MigrationPlan:
    """What to publish, from the topic's (key, value) records in offset order."""
    plan = MigrationPlan()
    # Versions whose own key's last message holds them (what compaction will keep).
    present: set[VersionKey] = set()
    legacy: list[tuple[VersionKey, bytes]] = []
    for key, value in records:
        own = decode_key(key)
        try:
            held = None if value is None else _version(value)
        except Exception:  # the workers reject it too, and log why
            plan.invalid += 1
            held = None
        if own is not None:
            # A tombstone, garbage or another version under a version's key: after
            # compaction that key no longer holds the version it names.
            if held == own:
                present.add(own)
                plan.keyed += 1
            else:
                present.discard(own)
        elif held is not None and value is not None:
            legacy.append((held, value))
    for version, value in legacy:
        if version not in present:
            present.add(version)  # two legacy copies of one version: published once
            key = encode_key(version.model_id, version.baseline_id, version.effective_from_ms)
            plan.copies.append((key, value))
            plan.models.add(version.model_id)
    return plan


def _version(value: bytes) -> VersionKey:
    baseline, effective = parse_publication(value)
    return VersionKey(baseline.model_id, baseline.baseline_id, effective)


async def migrate(settings: Settings) -> MigrationPlan:
    """Read the whole topic, then publish the plan's copies (each acknowledged)."""
    records = await read_to_end(settings, settings.topic_baselines)
    plan = plan_migration((r.key, r.value) for r in records)
    if plan.copies:
        big = kafka.producer(settings, max_request_size=MAX_BASELINE_REQUEST_BYTES)
        async with kafka.started(big, settings) as producer:
            for key, value in plan.copies:
                await producer.send_and_wait(settings.topic_baselines, value=value, key=key)
    return plan
