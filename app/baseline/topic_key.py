"""The key of a message on the baselines topic: one key per published version.

The topic is compacted, and compaction keeps only the last message of each key. Keyed by
``model_id`` (as before issue 10), a model's older versions were erased by its next one,
so a replay of an old range could no longer use the version live used, and a tombstone or
garbage message under a model's id erased the model. Keyed per publication, every
version stays, and a message can only ever replace the message with its own key.

The key is a JSON object, readable in any console consumer, with its fields in this order:
``{"model_id":"fraud-scorer","baseline_id":"bl-5464e2a2e084207b","effective_from_ms":1796105100000}``.
The effective time is part of it because publishing the same baseline again with another
effective time (a rollback to an earlier version) is another version in force for other
windows: keyed without it, the rollback would erase the first publication, and with it
the version the earliest windows were measured against. Publishing the same baseline with
the same effective time twice gives the same key: a no-op after compaction.

The key says where a version lives, not what it is: workers read the value (the baseline
document with ``effective_from_ms``), whatever the key. Messages keyed by the bare
``model_id`` (``LEGACY``) are read as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True)
class VersionKey:
    model_id: str
    baseline_id: str
    effective_from_ms: int


def encode_key(model_id: str, baseline_id: str, effective_from_ms: int) -> bytes:
    """The key of this publication (the module docstring shows the format)."""
    return orjson.dumps(
        {
            "model_id": model_id,
            "baseline_id": baseline_id,
            "effective_from_ms": effective_from_ms,
        }
    )


def decode_key(key: bytes | None) -> VersionKey | None:
    """The version a key names, or None for any other key (a legacy ``model_id`` key,
    no key, or bytes that are not this format)."""
    if not key or not key.startswith(b"{"):
        return None
    try:
        doc = orjson.loads(key)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or set(doc) != {"model_id", "baseline_id", "effective_from_ms"}:
        return None
    model, baseline, effective = doc["model_id"], doc["baseline_id"], doc["effective_from_ms"]
    if not (isinstance(model, str) and isinstance(baseline, str)):
        return None
    if type(effective) is not int:
        return None
    return VersionKey(model, baseline, effective)
