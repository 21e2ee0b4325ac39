"""A source partition's stage-1 state (its ``PartitionBinner``) on the stage-1 snapshot
topic: per-model clocks, applied offset and open windows, one JSON object.

Versions. 2 (written now): ``clocks`` lists each model's clock as
``[model, max_ts_ms, closed_upto_ms, read_at_ms, read_ts_ms]`` in the order the models
were first seen. 1 (written before per-model clocks): one ``max_ts_ms`` and
``closed_upto_ms`` for the whole partition. A version-1 snapshot restores with its
partition watermark as the floor every model's clock starts from (windows it closed stay
closed) and a clock for each model with an open window.

Repair. A clock further ahead of the wall clock at restore than the future bound
(``WindowSpec.max_future_ms``) can only come from an event the bound now rejects (a
producer's broken clock, saved before the bound existed); it would make every later event
late. It is pulled back to the wall clock at restore (its closed windows to the wall clock
minus the allowed lateness), with a warning that says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson

from app.baseline.model import Baseline
from app.codecs.partials import partial_document, partial_from_document
from app.contracts.decode import format_rfc3339_ms
from app.windows.binner import PartitionBinner

log = logging.getLogger(__name__)

SNAPSHOT_VERSION = 2


def snapshot_to_bytes(binner: PartitionBinner) -> bytes:
    return orjson.dumps(
        {
            "v": SNAPSHOT_VERSION,
            "partition": binner.partition,
            "applied_offset": binner.applied_offset,
            "late_total": binner.late_total,
            "floor_ms": binner.floor_ms,
            "clocks": [[m, *state] for m, state in binner.clock_states()],
            "open": [partial_document(p) for p in binner.open_partials()],
        }
    )


def restore_snapshot(
    binner: PartitionBinner,
    raw: bytes,
    baselines_by_id: Callable[[str], Baseline | None],
    *,
    now_ms: int,
) -> None:
    """Resume ``binner`` from a snapshot read at wall time ``now_ms``; raises KeyError when
    an open window's baseline is unknown (ValueError when its counts do not fit that
    baseline, or the version is unknown)."""
    d = orjson.loads(raw)
    open_windows = []
    for pd in d["open"]:
        partial = partial_from_document(pd)
        baseline = baselines_by_id(partial.baseline_id)
        if baseline is None:
            raise KeyError(f"baseline {partial.baseline_id} of a restored window is unknown")
        acc = binner.ops.load(baseline, partial.hist.to_dict())
        open_windows.append((partial, acc, baseline))
    version = d.get("v")
    clocks: list[tuple[str, tuple[int, int | None, int, int]]]
    if version == 1:
        floor = d["closed_upto_ms"]
        max_ts = d["max_ts_ms"]
        clocks = []
        if max_ts is not None:
            for model in dict.fromkeys(p.model_id for p, _, _ in open_windows):
                clocks.append((model, (max_ts, floor, now_ms, max_ts)))
    elif version == 2:
        floor = d["floor_ms"]
        clocks = [(c[0], (c[1], c[2], c[3], c[4])) for c in d["clocks"]]
    else:
        raise ValueError(f"stage-1 snapshot version {version!r} is not known")
    floor, clocks = _repaired(binner, floor, clocks, now_ms)
    binner.resume(
        applied_offset=d["applied_offset"],
        late_total=d["late_total"],
        floor_ms=floor,
        clocks=clocks,
        open_windows=open_windows,
    )


def _repaired(
    binner: PartitionBinner,
    floor: int | None,
    clocks: list[tuple[str, tuple[int, int | None, int, int]]],
    now_ms: int,
) -> tuple[int | None, list[tuple[str, tuple[int, int | None, int, int]]]]:
    spec = binner.spec
    bound = now_ms + spec.max_future_ms
    wall_closed = spec.closed_upto(now_ms - spec.lateness_ms)
    out = []
    for model, (max_ts, closed, read_at, read_ts) in clocks:
        if max_ts > bound:
            log.warning(
                "stage 1 partition %d: model %r's event time %s was more than %d s ahead of "
                "the wall clock (%s), from an event the future bound now rejects; repaired "
                "to the wall clock",
                binner.partition,
                model,
                format_rfc3339_ms(max_ts),
                spec.max_future_ms // 1000,
                format_rfc3339_ms(now_ms),
            )
            max_ts = read_ts = now_ms
            closed = _lower(closed, wall_closed)
        out.append((model, (max_ts, closed, read_at, min(read_ts, max_ts))))
    if floor is not None and wall_closed is not None and floor > wall_closed + spec.max_future_ms:
        log.warning(
            "stage 1 partition %d: its watermark %s was ahead of the wall clock (%s) by more "
            "than %d s; repaired to the wall clock minus the allowed lateness",
            binner.partition,
            format_rfc3339_ms(floor),
            format_rfc3339_ms(now_ms),
            spec.max_future_ms // 1000,
        )
        floor = wall_closed
    return floor, out


def _lower(closed: int | None, limit: int | None) -> int | None:
    if closed is None or limit is None:
        return closed
    return min(closed, limit)
