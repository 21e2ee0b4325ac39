"""What ``driftline topics create`` asks the broker for, per topic: cleanup policy and
retention (docs/operations.md, "Retention"). The broker test checks the broker applied it."""

from __future__ import annotations

from app.config import Settings
from app.stream.admin import topic_specs

DAY_MS = 86_400_000


def test_each_topic_states_its_cleanup_policy_and_retention() -> None:
    settings = Settings(app_id="ops", partitions=3)
    configs = {s.name: s.config for s in topic_specs(settings)}
    assert {s.partitions for s in topic_specs(settings)} == {3}
    assert configs == {
        "predictions": {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)},
        "driftline-baselines": {
            "cleanup.policy": "compact",
            "max.message.bytes": str(16 * 1024 * 1024),
        },
        "driftline-windows": {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)},
        "driftline-alerts": {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)},
        "driftline-deadletter": {
            "cleanup.policy": "delete",
            "retention.ms": str(7 * DAY_MS),
            "max.message.bytes": str(32 * 1024 * 1024),
        },
        "driftline-partials": {
            "cleanup.policy": "delete",
            "retention.ms": str(7 * DAY_MS),
            "max.message.bytes": str(32 * 1024 * 1024),
        },
        "ops-closed-windows": {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)},
        "ops-stage1-state": {
            "cleanup.policy": "compact",
            "max.message.bytes": configs["ops-stage1-state"]["max.message.bytes"],
        },
    }
