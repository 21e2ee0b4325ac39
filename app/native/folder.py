"""Stage 1's fold over a batch of records: stretches of sure events through the extension,
every other record through ``app.pipeline.fold.fold_record`` (the reference), in order.

Live stage 1 and replay call ``fold_records``; ``driftline analyze`` drives the same
``NativeFolder`` over a file's lines (``app.native.jsonl``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

from app.baseline.registry import BaselineRegistry
from app.binning.histogram import WindowHistogram
from app.contracts.decode import DecodeLimits
from app.native.loader import NativeModule, load
from app.native.plans import plan_for
from app.native.spans import SpanValues
from app.pipeline.fold import Folded, Rejected, fold_record
from app.windows.binner import PartitionBinner

# Records left to the Python path after the extension could not take one, at most: a
# stream of records it never takes (all invalid, say) costs one failed call per 64.
MAX_BACKOFF = 64


@dataclass(slots=True)
class NativeRun:
    """Records [begin, stop) taken by the extension: valid events folded into open windows
    (no outputs, no dead letters) or skipped (a model outside the run's filter)."""

    begin: int
    stop: int
    stop_at: int = 0  # where the next record starts: ``stop``, or its byte for lines
    events: dict[str, int] = field(default_factory=dict)  # folded, per model
    skipped: dict[str, int] = field(default_factory=dict)  # outside the filter, per model
    first_ts_ms: int | None = None  # of the folded events, in record order
    last_ts_ms: int | None = None
    min_ts_ms: int | None = None
    max_ts_ms: int | None = None


class NativeFolder:
    """The extension bound to one partition's binner (its state is read at every call)."""

    def __init__(
        self,
        module: NativeModule,
        binner: PartitionBinner,
        registry: BaselineRegistry,
        limits: DecodeLimits,
        models: frozenset[str] = frozenset(),
    ) -> None:
        self.module = module
        self.binner = binner
        self.registry = registry
        self.limits = (
            limits.max_bytes,
            limits.max_features,
            limits.min_timestamp_ms,
            limits.max_timestamp_ms,
        )
        self.models = models

    def fold(
        self,
        values: Sequence[bytes | None] | bytes,
        offsets: Sequence[int],
        begin: int,
        now_ms: int,
        record_now: Sequence[int] | None = None,
        line0: int = 0,
        split_from: int | None = None,
    ) -> NativeRun | None:
        """Fold from ``values[begin]`` on, read at wall time ``now_ms`` (or each record at
        ``record_now[i]``, then ``now_ms`` is at most the smallest of those ahead, so the
        future bound never passes an event the Python path would stop). None when the
        extension took no record.

        ``values`` may be ``bytes`` of whole lines instead (``app.native.jsonl``): then
        ``begin`` is a line's first byte, records are numbered from ``line0``, the run's
        ``begin``/``stop`` are such numbers and ``stop_at`` the byte after its last line;
        ``split_from`` bytes or more of lines are folded on two threads (see ``fold_split``
        in ``app/native/src/lib.rs``)."""
        binner = self.binner
        spec = binner.spec
        models = self.models
        rows: list[tuple[str, int, int | None]] = []
        index: dict[str, int] = {}
        for row in binner.model_clocks():
            if not models or row[0] in models:
                index[row[0]] = len(rows)
                rows.append(row)
        windows: list[tuple[int, int, object, object]] = []
        hists: list[WindowHistogram] = []
        choose = self.registry.choose
        for model_id, start, acc in binner.open_entries():
            pos = index.get(model_id)
            # fold_record dead-letters an event whose model the registry no longer has.
            if (
                pos is None
                or not isinstance(acc, WindowHistogram)
                or choose(model_id, start) is None
            ):
                continue
            plan = plan_for(self.module, acc.layout)
            if plan is not None:
                windows.append((pos, start, plan, acc.native_counts()))
                hists.append(acc)
        if not windows and not models:
            return None
        start_index = line0 if isinstance(values, bytes) else begin
        stop, maxes, outs, stats, skipped, stop_at = self.module.fold(
            values.packed if isinstance(values, SpanValues) else values,
            begin,
            self.limits,
            (spec.size_ms, spec.lateness_ms, spec.max_future_ms, now_ms),
            rows,
            windows,
            sorted(models) if models else None,
            line0,
            *(() if split_from is None else (split_from,)),
        )
        if stop == start_index:
            return None
        run = NativeRun(start_index, stop, stop_at, skipped=dict(skipped))
        if stats is not None:
            run.first_ts_ms, run.last_ts_ms, run.min_ts_ms, run.max_ts_ms = stats
        folded: list[tuple[str, int, int, int, int]] = []
        last_of: dict[str, int] = {}
        for (pos, start, _, _), hist, out in zip(windows, hists, outs, strict=True):
            if out is None:
                continue
            n, first, last = out
            hist.n_events += n  # its counts are in hist.native_counts() already
            model_id = rows[pos][0]
            folded.append((model_id, start, n, offsets[first], offsets[last]))
            run.events[model_id] = run.events.get(model_id, 0) + n
            last_of[model_id] = max(last, last_of.get(model_id, last))
        clocks = [
            (m, maxes[index[m]], now_ms if record_now is None else record_now[last])
            for m, last in last_of.items()
        ]
        binner.add_folded(folded, clocks, offsets[stop - 1])
        return run


def fold_records(
    binner: PartitionBinner,
    registry: BaselineRegistry,
    limits: DecodeLimits,
    offsets: Sequence[int],
    values: Sequence[bytes | None],
    models: frozenset[str] = frozenset(),
    *,
    now_ms: int | Sequence[int],
    native: NativeModule | bool | None = True,
) -> Iterator[tuple[int, Folded | Rejected | None] | NativeRun]:
    """Fold ``values`` (at ``offsets``, none applied yet) in order: a ``NativeRun`` for
    each stretch the extension took, (index, ``fold_record``'s answer) for every other
    record. ``now_ms``: the wall time the batch was read, or each record's (replay).
    ``native``: True for the extension when it is loaded, False for the Python path."""
    module = load() if native is True else (native or None)
    folder = None if module is None else NativeFolder(module, binner, registry, limits, models)
    per_record = None if isinstance(now_ms, int) else now_ms
    floor: list[int] = []
    if per_record is not None and folder is not None:
        # floor[i]: the earliest read time from record i on (see NativeFolder.fold).
        floor = list(accumulate(reversed(per_record), min))
        floor.reverse()
    n = len(values)
    i = 0
    wait = 0
    backoff = 1
    while i < n:
        if folder is not None and wait == 0:
            at = now_ms if per_record is None else floor[i]
            assert isinstance(at, int)
            run = folder.fold(values, offsets, i, at, per_record)
            if run is not None:
                yield run
                i = run.stop
                backoff = 1
                if i >= n:
                    break
            else:
                wait = backoff
                backoff = min(backoff * 2, MAX_BACKOFF)
        now = now_ms if per_record is None else per_record[i]
        assert isinstance(now, int)
        yield i, fold_record(binner, registry, limits, offsets[i], values[i], models, now_ms=now)
        i += 1
        if wait:
            wait -= 1
