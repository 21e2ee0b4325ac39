"""A source partition's stage-1 state (its ``PartitionBinner``) on the stage-1 snapshot
topic: clocks, applied offset and open windows, one JSON object."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from app.baseline.model import Baseline
from app.codecs.partials import partial_document, partial_from_document
from app.windows.binner import PartitionBinner

SNAPSHOT_VERSION = 1


def snapshot_to_bytes(binner: PartitionBinner) -> bytes:
    return orjson.dumps(
        {
            "v": SNAPSHOT_VERSION,
            "partition": binner.partition,
            "max_ts_ms": binner.max_ts_ms,
            "applied_offset": binner.applied_offset,
            "closed_upto_ms": binner.closed_upto_ms,
            "late_total": binner.late_total,
            "open": [partial_document(p) for p in binner.open_partials()],
        }
    )


def restore_snapshot(
    binner: PartitionBinner, raw: bytes, baselines_by_id: Callable[[str], Baseline | None]
) -> None:
    """Resume ``binner`` from a snapshot; raises KeyError when an open window's baseline is
    unknown (ValueError when its counts do not fit that baseline)."""
    d = orjson.loads(raw)
    open_windows = []
    for pd in d["open"]:
        partial = partial_from_document(pd)
        baseline = baselines_by_id(partial.baseline_id)
        if baseline is None:
            raise KeyError(f"baseline {partial.baseline_id} of a restored window is unknown")
        acc = binner.ops.load(baseline, partial.hist.to_dict())
        open_windows.append((partial, acc, baseline))
    binner.resume(
        max_ts_ms=d["max_ts_ms"],
        applied_offset=d["applied_offset"],
        closed_upto_ms=d["closed_upto_ms"],
        late_total=d["late_total"],
        open_windows=open_windows,
    )
