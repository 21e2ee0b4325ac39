"""The pure half of replay: per-partition outputs in, complete windows out.

Each source partition is binned on its own (by one of N replay processes) exactly as the
live stage 1 bins it (per-model clocks, the future bound, late events to the side output;
no idleness: event time only), and yields an ordered list of partials and progress ending
with each model's end-of-input progress. Merging those lists per
partition, in order, into one WindowMerger gives the same complete windows whatever N is
and whichever process binned which partition: the result depends only on each partition's events.

Partial windows. A replay that starts after a partition's first offset may have skipped
events of the windows it begins in; one that stops before a partition's end may miss the
rest of the window it ends in. Such windows are flagged ``partial`` and raise no alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.windows.binner import Output, SourceReady, WatermarkAdvanced
from app.windows.merger import CompleteWindow, WindowMerger
from app.windows.partial import Partial
from app.windows.spec import WindowSpec


@dataclass
class PartitionRun:
    """What replaying one source partition produced."""

    partition: int
    outputs: list[Output]
    truncated_start: bool  # records before the replay's first offset exist
    truncated_end: bool  # records after the replay's last offset existed at start
    first_ts_ms: int | None = None  # event time of the first valid event replayed
    last_ts_ms: int | None = None  # event time of the last valid event replayed
    events: int = 0
    invalid: dict[str, int] = field(default_factory=dict)
    late: int = 0


def partial_windows(runs: list[PartitionRun]) -> tuple[int | None, int | None]:
    """(windows starting before this are partial, windows ending after this are partial)."""
    starts = [r.first_ts_ms for r in runs if r.truncated_start and r.first_ts_ms is not None]
    ends = [r.last_ts_ms for r in runs if r.truncated_end and r.last_ts_ms is not None]
    # A window that starts before the first replayed event of a truncated partition may be
    # missing that partition's earlier events; symmetrically at the end.
    before = max(starts) if starts else None
    after = min(ends) if ends else None
    return before, after


def merge_runs(
    runs: list[PartitionRun], partitions: int, spec: WindowSpec
) -> tuple[list[CompleteWindow], set[tuple[str, int]]]:
    """Complete windows in close order, and the (model, start) keys of partial ones."""
    merger = WindowMerger(partitions, spec)
    done: list[CompleteWindow] = []
    by_partition = {r.partition: r for r in runs}
    ordered = []
    for p in range(partitions):
        run = by_partition.get(p)
        if run is None:
            raise ValueError(f"no replay output for partition {p}")
        ordered.append(run)
    # Every partition's models are known before merging: each model's windows wait for
    # every partition that carries it, as they do live once each has shown the model.
    for run in ordered:
        for out in run.outputs:
            if isinstance(out, WatermarkAdvanced) and out.model_id is not None:
                merger.expect(out.source_partition, out.model_id)
    for run in ordered:
        for out in run.outputs:
            if isinstance(out, Partial):
                merger.on_partial(out)
            elif isinstance(out, WatermarkAdvanced):
                done.extend(
                    merger.on_watermark(out.source_partition, out.model_id, out.closed_upto_ms)
                )
            elif isinstance(out, SourceReady):  # not written by replay; all sources ready
                done.extend(merger.on_ready(out.source_partition, out.ready))
    # Oldest first, then by model: closes come per model, this order does not depend on it.
    done.sort(key=lambda w: (w.window_start_ms, w.model_id))
    before, after = partial_windows(runs)
    flagged = {
        (w.model_id, w.window_start_ms)
        for w in done
        if (before is not None and w.window_start_ms < before)
        or (after is not None and spec.end_of(w.window_start_ms) > after)
    }
    return done, flagged
