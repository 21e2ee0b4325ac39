"""What a replay process binned (a ``PartitionRun``) on replay's multiprocessing queue.

Its outputs are written as partials-topic messages (``app.codecs.partials``), so a run
that crossed the queue merges exactly as one kept in process.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.codecs.partials import output_document, output_from_document
from app.pipeline.replay import PartitionRun


def runs_to_bytes(runs: list[PartitionRun]) -> bytes:
    return orjson.dumps([_run_document(r) for r in runs])


def runs_from_bytes(raw: bytes) -> list[PartitionRun]:
    return [_run_from_document(d) for d in orjson.loads(raw)]


def _run_document(run: PartitionRun) -> dict[str, Any]:
    return {
        "partition": run.partition,
        "outputs": [output_document(o) for o in run.outputs],
        "truncated_start": run.truncated_start,
        "truncated_end": run.truncated_end,
        "first_ts_ms": run.first_ts_ms,
        "last_ts_ms": run.last_ts_ms,
        "events": run.events,
        "invalid": run.invalid,
        "late": run.late,
    }


def _run_from_document(d: dict[str, Any]) -> PartitionRun:
    outputs = [out for o in d["outputs"] if (out := output_from_document(o)) is not None]
    return PartitionRun(
        d["partition"],
        outputs,
        d["truncated_start"],
        d["truncated_end"],
        d["first_ts_ms"],
        d["last_ts_ms"],
        d["events"],
        dict(d["invalid"]),
        d["late"],
    )
