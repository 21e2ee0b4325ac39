"""Faust glue for the two stages. The logic lives in app.windows and app.drift; this module
moves bytes between Kafka and those state machines and persists their snapshots.

Stage 1 (predictions + ticks, per source partition p):
  decode -> dead letter, or fold into p's PartitionBinner -> partials and watermarks out.
  The binner's snapshot is written to the ``stage1`` table (key = p) at most every
  ``flush_events`` events / ``flush_seconds`` (faust-pitfalls §2: one changelog message
  per table write -- so we write per batch, not per event); then the producer is flushed
  and the input offset the snapshot covers is committed by us, never by Faust's ack
  tracking, so the committed offset never passes the changelog.
Stage 2 (partials, per partials partition q):
  partials replace per source partition; watermarks complete windows; each complete
  window is evaluated and its result (and drift event) emitted.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, cast

import faust
import orjson

from app.config import Settings
from app.contracts import DeadLetterReason
from app.contracts.deadletter import dead_letter
from app.contracts.decode import DecodeLimits
from app.stream.gap_reader import GapReader, Record
from app.stream.metrics import DriftlineMetrics
from app.windows.baselines import BaselineRegistry
from app.windows.binner import PartitionBinner, WatermarkAdvanced
from app.windows.fold import Rejected, fold_record
from app.windows.merger import CompleteWindow, WindowMerger
from app.windows.partial import AccumulatorOps, Partial
from app.windows.spec import WindowSpec, route

log = logging.getLogger(__name__)

RAW: faust.Schema[bytes, bytes] = faust.Schema(
    key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)

# (complete window, emitted-at ms) -> (window result bytes, drift event bytes or None, summary)
Closer = Callable[[CompleteWindow, int], tuple[bytes, bytes | None, dict[str, Any]]]


class Pipeline:
    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        registry: BaselineRegistry,
        ops: AccumulatorOps,
        closer: Closer,
        metrics: DriftlineMetrics,
        *,
        live: bool = True,
        flush_events: int = 2000,
        flush_seconds: float = 1.0,
    ) -> None:
        self.app = app
        self.settings = settings
        self.registry = registry
        self.ops = ops
        self.closer = closer
        self.metrics = metrics
        self.live = live
        self.flush_events = flush_events
        self.flush_seconds = flush_seconds
        self.spec = WindowSpec.from_seconds(
            settings.window_seconds, settings.allowed_lateness_seconds
        )
        self.n = settings.partitions
        self.limits = DecodeLimits()
        self.ticks_name = settings.topic_ticks()

        # acks=False: stage 1 commits its own offsets after each snapshot (see _flush).
        self.source = app.topic(settings.topic_predictions, self.ticks_name, schema=RAW, acks=False)
        self.ticks = app.topic(self.ticks_name, schema=RAW, partitions=self.n)
        self.partials = app.topic(settings.topic_partials, schema=RAW, partitions=self.n)
        self.windows = app.topic(settings.topic_windows, schema=RAW)
        self.alerts = app.topic(settings.topic_alerts, schema=RAW)
        self.deadletter = app.topic(settings.topic_deadletter, schema=RAW)
        # bytes key and value types make Faust use the raw codec for table keys and values.
        self.stage1 = app.Table(
            "stage1", default=None, partitions=self.n, key_type=bytes, value_type=bytes
        )
        self.stage2 = app.Table(
            "stage2", default=None, partitions=self.n, key_type=bytes, value_type=bytes
        )

        self.binners: dict[int, PartitionBinner] = {}
        self.pending: dict[int, int] = defaultdict(int)  # events since p's last snapshot
        self.gap_reader = GapReader(settings, settings.topic_predictions)
        self.partials_reader = GapReader(settings, settings.topic_partials)
        self.last_flush: dict[int, float] = {}
        self.last_activity: dict[int, float] = {}
        self.last_offset: dict[int, int] = {}  # last input offset processed, per partition
        self.running = False  # set once stage 1 iterates (baselines loaded)
        self.mergers: dict[int, WindowMerger] = {}

    # -- stage 1 -----------------------------------------------------------------------
    def _binner(self, p: int) -> PartitionBinner:
        binner = self.binners.get(p)
        if binner is None:
            binner = PartitionBinner(p, self.spec, self.ops, self.registry.choose)
            raw = self.stage1.get(str(p).encode())
            if raw is not None:
                binner.restore(raw, self.registry.by_id)
            log.info(
                "stage 1 partition %d: state restored at applied offset %s (%d open windows)",
                p,
                binner.applied_offset,
                binner.open_windows,
            )
            self.binners[p] = binner
            self.last_flush[p] = time.monotonic()
        return binner

    async def _fill_gap(self, p: int, binner: PartitionBinner, offset: int, gen: int) -> None:
        """Stage 1 must see every input offset of p in order. Faust's stream drops messages
        it fetched while flow was suspended (rebalance, table recovery) and moves on, and
        its commits can pass them; a seek inside Faust did not bring them back. So when an
        offset arrives beyond the one the state needs next, the missing range is read
        here with a plain consumer and processed first, in order."""
        if binner.applied_offset is not None:
            expected = binner.applied_offset + 1
        else:
            expected = await self.gap_reader.first_offset(p)
        if offset <= expected:
            return
        log.warning(
            "stage 1 partition %d: offset %d arrived, %d expected: reading %d missed records",
            p,
            offset,
            expected,
            offset - expected,
        )
        try:
            async for rec in self.gap_reader.read(p, expected, offset):
                await self._process(p, binner, rec, gen)
        except TimeoutError as err:  # never stall the partition; say what was not counted
            log.error("stage 1 partition %d: %s; those records are not counted", p, err)

    async def on_source_event(self, event: faust.types.EventT[Any]) -> None:
        msg = event.message
        p = msg.partition
        binner = self._binner(p)
        now = time.monotonic()
        self.last_activity[p] = now
        if msg.topic == self.ticks_name:
            await self._emit(binner.on_tick(int(msg.value or b"0")))
            await self._flush(p, int(msg.generation_id or 0))
            return
        gen = int(msg.generation_id or 0)
        await self._fill_gap(p, binner, msg.offset, gen)
        rec = Record(msg.topic, p, msg.offset, msg.key, msg.value, int(msg.timestamp * 1000))
        await self._process(p, binner, rec, gen)

    async def _process(self, p: int, binner: PartitionBinner, rec: Record, gen: int) -> None:
        now = time.monotonic()
        self.last_offset[p] = rec.offset
        if binner.already_applied(rec.offset):
            return  # redelivered; its effect is already in the restored snapshot
        self.pending[p] += 1
        result = fold_record(binner, self.registry, self.limits, rec.offset, rec.value)
        if result is None:
            return
        if isinstance(result, Rejected):
            if result.model_id is not None:
                self.metrics.events_in.inc(model=result.model_id)
            await self._dead_letter(rec, result.reason, result.error, result.model_id)
            await self._maybe_flush(p, now, gen)
            return
        self.metrics.events_in.inc(model=result.model_id)
        if result.late:
            self.metrics.late.inc(model=result.model_id)
        else:
            self.metrics.events_valid.inc(model=result.model_id)
        outputs = result.outputs
        if outputs:
            await self._emit(outputs)
            await self._flush(p, gen)
        else:
            await self._maybe_flush(p, now, gen)

    async def _maybe_flush(self, p: int, now: float, generation: int) -> None:
        due = now - self.last_flush[p] >= self.flush_seconds
        if due or self.pending[p] >= self.flush_events:
            await self._flush(p, generation)

    def _fenced(self, generation: int) -> bool:
        """True when this worker may no longer own what it is processing: a rebalance has
        begun or the event came from an older group generation. A snapshot or commit
        written then could land after the next owner restored p, and would move the
        committed offset past the state it restored."""
        return bool(self.app.rebalancing) or generation != self.app.consumer_generation_id

    async def _flush(self, p: int, generation: int) -> None:
        """Write p's snapshot, then commit the input offset it covers.

        Driftline commits stage-1 offsets itself (the source channel has Faust's acks
        off): Faust's own commit logic can move past events it believes are absent
        ("gaps") and so past the last snapshot, which loses events on a rebalance.
        Here the commit is applied_offset + 1 of a snapshot that is already flushed to
        the changelog, so a new owner never starts beyond its state.
        """
        binner = self.binners.get(p)
        if binner is None or self._fenced(generation):
            log.info("stage 1 partition %d: rebalancing; snapshot left to the next owner", p)
            return
        self.stage1[str(p).encode()] = binner.to_bytes()
        self.pending[p] = 0
        self.last_flush[p] = time.monotonic()
        if binner.applied_offset is None:
            return
        tp = faust.types.TP(self.settings.topic_predictions, p)
        try:
            await self.app.producer.flush()
            if self._fenced(generation):
                return
            await cast(Any, self.app.consumer)._commit({tp: binner.applied_offset + 1})
        except Exception as err:
            log.info("stage 1 partition %d: commit skipped (%r)", p, err)

    async def _emit(self, outputs: list[Partial | WatermarkAdvanced]) -> None:
        # One producer, sent in order: a watermark reaches each partials partition after the
        # partials it completes (the merger relies on it).
        for out in outputs:
            if isinstance(out, Partial):
                q = route(out.model_id, out.window_start_ms, self.n)
                value = orjson.dumps({"type": "partial", **out.to_dict()})
                await self.partials.send(key=out.model_id.encode(), value=value, partition=q)
            else:
                value = orjson.dumps(
                    {
                        "type": "wm",
                        "source": out.source_partition,
                        "closed_upto_ms": out.closed_upto_ms,
                    }
                )
                self.metrics.watermark.set(
                    out.closed_upto_ms / 1000, partition=str(out.source_partition)
                )
                for q in range(self.n):
                    await self.partials.send(key=None, value=value, partition=q)

    async def _dead_letter(
        self,
        msg: Record,
        reason: DeadLetterReason,
        error: str | BaseException,
        model_id: str | None,
    ) -> None:
        self.metrics.invalid.inc(reason=reason)
        doc = dead_letter(
            reason,
            error,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            timestamp_ms=msg.timestamp_ms if msg.timestamp_ms > 0 else None,
            key=msg.key,
            value=msg.value if msg.value is not None else b"",
            model_id=model_id,
            received_at_ms=int(time.time() * 1000),
        )
        await self.deadletter.send(key=msg.key, value=orjson.dumps(doc))

    async def tick_idle_partitions(self) -> None:
        """Live mode: a source partition quiet for idle_seconds advances by wall clock.

        Only a partition that is caught up (every message up to its end offset processed)
        counts as quiet, so a backlog of old events is never overtaken by the wall clock.
        The tick goes through the ticks topic (co-partitioned with the input), so the
        advance -- and any close it causes -- happens inside stream iteration of p.
        """
        if not self.live or not self.running or self.app.rebalancing:
            return
        try:
            await self._tick_idle()
        except Exception as err:
            log.debug("idle tick skipped: %r", err)

    async def _tick_idle(self) -> None:
        now = time.monotonic()
        # Only partitions quiet for idle_seconds are candidates; asking the broker for
        # end offsets is left to them, so a busy worker makes no extra requests.
        quiet = [
            tp
            for tp in self.app.consumer.assignment()
            if tp.topic == self.settings.topic_predictions
            and now - self.last_activity.setdefault(tp.partition, now) >= self.settings.idle_seconds
        ]
        if not quiet:
            return
        ends = await self.app.consumer.highwaters(*quiet)
        for tp in quiet:
            p = tp.partition
            end = ends.get(tp, 0)
            last = self.last_offset.get(p)
            if last is None:
                caught_up = (await self.app.consumer.position(tp) or 0) >= end
            else:
                caught_up = last >= end - 1
            self.last_activity[p] = time.monotonic()
            if caught_up:  # a backlog must never be overtaken by the wall clock
                wall_ms = str(int(time.time() * 1000)).encode()
                await self.ticks.send(key=None, value=wall_ms, partition=p)

    # -- stage 2 -----------------------------------------------------------------------
    def _merger(self, q: int) -> WindowMerger:
        merger = self.mergers.get(q)
        if merger is None:
            merger = WindowMerger(self.n, self.spec.size_ms)
            for key, raw in list(self.stage2.items()):
                kq, kind = orjson.loads(key)[:2]
                if kq != q or raw is None:
                    continue
                if kind == "wm":
                    merger.restore_watermarks(raw)
                else:
                    merger.restore_pending(raw)
            self.mergers[q] = merger
        return merger

    async def on_partials_event(self, event: faust.types.EventT[Any]) -> None:
        msg = event.message
        q = msg.partition
        merger = self._merger(q)
        # Same transport gap as stage 1 (see _fill_gap): a skipped partial would be merged
        # as missing, so records between the state's offset and this one are read first.
        if merger.applied_offset is not None and msg.offset > merger.applied_offset + 1:
            log.warning(
                "stage 2 partition %d: offset %d arrived, %d expected: reading the gap",
                q,
                msg.offset,
                merger.applied_offset + 1,
            )
            try:
                start = merger.applied_offset + 1
                async for rec in self.partials_reader.read(q, start, msg.offset):
                    await self._merge_record(q, merger, rec.offset, rec.value)
            except TimeoutError as err:
                log.error("stage 2 partition %d: %s; those partials are missing", q, err)
        await self._merge_record(q, merger, msg.offset, msg.value)

    async def _merge_record(
        self, q: int, merger: WindowMerger, offset: int, value: bytes | None
    ) -> None:
        if merger.applied_offset is not None and offset <= merger.applied_offset:
            return  # already in the state (redelivery)
        merger.applied_offset = offset
        d = orjson.loads(value) if value is not None else {"type": "none"}
        if d["type"] == "partial":
            partial = Partial.from_dict(d)
            key = (partial.model_id, partial.window_start_ms)
            if merger.on_partial(partial):
                self.stage2[orjson.dumps([q, "p", *key])] = merger.pending_to_bytes(key)
            else:
                self.metrics.duplicates.inc()
            self.stage2[orjson.dumps([q, "wm"])] = merger.watermarks_to_bytes()
            return
        done: list[CompleteWindow] = []
        if d["type"] == "wm":
            done = merger.on_watermark(int(d["source"]), int(d["closed_upto_ms"]))
        self.stage2[orjson.dumps([q, "wm"])] = merger.watermarks_to_bytes()
        for window in done:
            await self._close(window)
            del self.stage2[orjson.dumps([q, "p", window.model_id, window.window_start_ms])]

    async def _close(self, window: CompleteWindow) -> None:
        emitted_ms = int(time.time() * 1000)
        result, alert, summary = self.closer(window, emitted_ms)
        key = window.model_id.encode()
        await self.windows.send(key=key, value=result)
        if alert is not None:
            await self.alerts.send(key=key, value=alert)
            self.metrics.alerts.inc(model=window.model_id)
        m = window.model_id
        self.metrics.windows_closed.inc(model=m, status=str(summary.get("status", "")))
        lag_s = (emitted_ms - window.window_start_ms - self.spec.size_ms) / 1000
        self.metrics.close_lag.set(lag_s, model=m)
        for feature, stats in summary.get("features", {}).items():
            for stat, value in stats.items():
                if stat == "drifted":
                    self.metrics.feature_drifted.set(float(value), model=m, feature=feature)
                elif isinstance(value, int | float):
                    self.metrics.feature_stat.set(value, model=m, feature=feature, statistic=stat)

    # -- rebalance -----------------------------------------------------------------------
    def forget_all(self) -> None:
        """On revocation: drop in-memory state; the next owner restores from the changelog.
        Unacked events are redelivered (their offsets were never committed)."""
        self.binners.clear()
        self.pending.clear()

        self.mergers.clear()
        self.last_activity.clear()
        self.last_offset.clear()
