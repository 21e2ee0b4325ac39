"""Stage 2 of a live worker, a Faust agent on the partials topic (per partials partition q).

Partials replace per source partition; watermarks complete windows; each complete window
is evaluated and its result (and drift event) emitted. When a window waits for partitions
that have not shown its model, the input's end offsets are read here (``InputEnds``) and
the window closes once those partitions' positions reach them (app.windows.merger). The
state of q (pending partials and watermarks, with the partials offset applied last) lives
in the ``stage2`` table.

For drift incidents (stage 3, app.stream.incident_stage), q also reports each window it
closes and, after those, its progress per model (``closed_through``: it will emit no more
results of the model for windows ending at or before it) to the closed-windows topic,
keyed by model. The state that records a close is written only once the broker has
acknowledged the close's outputs, so a SIGKILL can repeat a close (same result, the
incident stage drops the copy) but not lose one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import faust
import orjson

from app.codecs.drift_event import encode_drift_event
from app.codecs.lifecycle import encode_closed, encode_progress
from app.codecs.partials import decode_output
from app.codecs.stage2_state import (
    pending_to_bytes,
    restore_pending,
    restore_watermarks,
    watermarks_to_bytes,
)
from app.codecs.window_result import encode_window_result
from app.config import Settings
from app.contracts.deadletter import dead_letter
from app.pipeline.incidents import ClosedWindow
from app.pipeline.results import WindowResult, window_id
from app.stream.admin import MAX_STATE_BYTES
from app.stream.gap_reader import GapReader
from app.stream.input_ends import InputEnds
from app.stream.metrics import DriftlineMetrics
from app.windows.binner import SourcePosition, SourceReady, WatermarkAdvanced
from app.windows.merger import CompleteWindow, WindowMerger
from app.windows.partial import Partial

log = logging.getLogger(__name__)

RAW: faust.Schema[bytes, bytes] = faust.Schema(
    key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)

# (complete window, emitted-at ms) -> its result (WindowCloser.close)
Closer = Callable[[CompleteWindow, int], WindowResult]


class MergeStage:
    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        closer: Closer,
        metrics: DriftlineMetrics,
    ) -> None:
        self.app = app
        self.settings = settings
        self.closer = closer
        self.metrics = metrics
        self.spec = settings.window_spec()
        self.n = settings.partitions
        self.partials = app.topic(settings.topic_partials, schema=RAW, partitions=self.n)
        self.windows = app.topic(settings.topic_windows, schema=RAW)
        self.alerts = app.topic(settings.topic_alerts, schema=RAW)
        self.deadletter = app.topic(settings.topic_deadletter, schema=RAW)
        self.closed_windows = app.topic(settings.topic_closed_windows(), schema=RAW)
        # bytes key and value types make Faust use the raw codec for table keys and values.
        self.stage2 = app.Table(
            "stage2",
            default=None,
            partitions=self.n,
            key_type=bytes,
            value_type=bytes,
            # A pending window keeps every source's partial (KS grids make them large).
            extra_topic_configs={"max.message.bytes": str(MAX_STATE_BYTES)},
        )
        self.partials_reader = GapReader(settings, settings.topic_partials)
        self.input_ends = InputEnds(settings)
        self.mergers: dict[int, WindowMerger] = {}

    def _merger(self, q: int) -> WindowMerger:
        merger = self.mergers.get(q)
        if merger is None:
            # No source is ready until its stage 1 says so (or the stored state does).
            merger = WindowMerger(self.n, self.spec, all_ready=False, live=True)
            pending = []
            for key, raw in list(self.stage2.items()):
                kq, kind = orjson.loads(key)[:2]
                if kq != q or raw is None:
                    continue
                if kind == "wm":
                    restore_watermarks(merger, raw)
                else:
                    pending.append(raw)
            for raw in pending:  # after the progress (see restore_watermarks)
                restore_pending(merger, raw)
            merger.want_barriers()
            self.mergers[q] = merger
        return merger

    async def on_partials_event(self, event: faust.types.EventT[Any]) -> None:
        msg = event.message
        q = msg.partition
        merger = self._merger(q)
        # Faust's stream drops records fetched while flow is suspended (rebalance,
        # table recovery; faust-pitfalls). A skipped partial would be merged
        # as missing, so records between the state's offset and this one are read first.
        if merger.applied_offset is not None:
            expected = merger.applied_offset + 1
        elif msg.offset > 0:
            # No state for this partition: nothing of it was merged yet, so every record
            # still in the log is this merger's, and the dropped ones may be the first
            # (seen when a worker's stage 1 sends partials while its stage 2 recovers).
            expected = await self.partials_reader.beginning(q)
        else:
            expected = 0
        if msg.offset > expected:
            log.warning(
                "stage 2 partition %d: offset %d arrived, %d expected: reading the gap",
                q,
                msg.offset,
                expected,
            )
            try:
                async for rec in self.partials_reader.read(q, expected, msg.offset):
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
        out = decode_output(value) if value is not None else None
        if isinstance(out, Partial):
            key = (out.model_id, out.window_start_ms)
            fate = merger.on_partial(out)
            if fate == "merged":
                self.stage2[orjson.dumps([q, "p", *key])] = pending_to_bytes(merger, key)
            elif fate == "duplicate":
                self.metrics.duplicates.inc()
            else:
                await self._late_partial(out)
            if not merger.wanted:
                self.stage2[orjson.dumps([q, "wm"])] = watermarks_to_bytes(merger)
                return
        done: list[CompleteWindow] = []
        before = set(merger.pending_keys())
        if isinstance(out, WatermarkAdvanced) and out.model_id is not None:
            models = [out.model_id]
        else:  # readiness or the old format's progress: any model may move
            models = sorted(set(merger.clocks) | set(merger.emitted_upto))
        through = {m: merger.closed_through(m) for m in models}
        if isinstance(out, WatermarkAdvanced):
            done = merger.on_watermark(out.source_partition, out.model_id, out.closed_upto_ms)
        elif isinstance(out, SourceReady):
            done = merger.on_ready(out.source_partition, out.ready)
        elif isinstance(out, SourcePosition):
            done = merger.on_position(out.source_partition, out.offset)
        if merger.wanted:
            done.extend(await self._barriers(q, merger))
        gone = before - set(merger.pending_keys())
        sent: list[Awaitable[Any]] = []
        for window in done:
            sent.extend(await self._close(q, window))
        for model in models:
            now = merger.closed_through(model)
            if now is not None and now != through[model]:
                report = encode_progress(q, model, now)
                sent.append(await self.closed_windows.send(key=model.encode(), value=report))
        if sent:
            await asyncio.gather(*sent)  # acknowledged before the state says they went out
        self.stage2[orjson.dumps([q, "wm"])] = watermarks_to_bytes(merger)
        for model, start in sorted(gone):
            del self.stage2[orjson.dumps([q, "p", model, start])]

    async def _barriers(self, q: int, merger: WindowMerger) -> list[CompleteWindow]:
        """Windows the carriers passed wait for partitions that have not shown their model:
        read the input's end offsets now (after that progress was applied) and hand them to
        the merger. On failure the models stay wanted and the next record here retries."""
        try:
            ends = await self.input_ends.read()
        except Exception as err:
            log.warning("stage 2 partition %d: input end offsets not read (%r); retrying", q, err)
            return []
        done: list[CompleteWindow] = []
        for model in sorted(merger.wanted):
            done.extend(merger.on_barrier(model, ends))
        return done

    async def _late_partial(self, partial: Partial) -> None:
        """A partition that first showed the model after this window's result went out
        (app.windows.merger): its events are reported on the side output, not added."""
        baseline_id = partial.baseline_id
        wid = window_id(partial.model_id, baseline_id, self.spec.span(partial.window_start_ms))
        doc = dead_letter(
            "late",
            f"{partial.n_events} events of model {partial.model_id!r} at offsets "
            f"{partial.first_offset}..{partial.last_offset} of this partition were first read "
            "after their window's result went out without this partition",
            topic=self.settings.topic_predictions,
            partition=partial.source_partition,
            offset=partial.first_offset or 0,
            timestamp_ms=None,
            key=None,
            value=b"",
            model_id=partial.model_id,
            received_at_ms=int(time.time() * 1000),
            window_id=wid,
        )
        await self.deadletter.send(key=partial.model_id.encode(), value=orjson.dumps(doc))
        self.metrics.invalid.labels("late").inc()
        self.metrics.model_event(self.metrics.late, partial.model_id, partial.n_events)
        log.warning("stage 2: %s", doc["error"])

    async def _close(self, q: int, window: CompleteWindow) -> list[Awaitable[Any]]:
        """Send the window's result, drift event and closed-window report; return their
        deliveries."""
        emitted_ms = int(time.time() * 1000)
        result = self.closer(window, emitted_ms)
        key = window.model_id.encode()
        sent = [await self.windows.send(key=key, value=encode_window_result(result))]
        alert = result.drift_event()
        window_fields = {
            "model": result.model_id,
            "window_id": result.window_id,
            "n_events": result.n_events,
            "status": result.status,
        }
        log.info("window closed", extra=window_fields)
        if alert is not None:
            sent.append(await self.alerts.send(key=key, value=encode_drift_event(alert)))
            self.metrics.model_event(self.metrics.alerts, result.model_id)
            drifted = [f.name for f in alert.drifted_features]
            log.info(
                "drift alert",
                extra={
                    "model": result.model_id,
                    "window_id": result.window_id,
                    "alert_id": alert.alert_id,
                    "drifted_features": drifted,
                },
            )
        report = encode_closed(q, ClosedWindow.of(result))
        sent.append(await self.closed_windows.send(key=key, value=report))
        lag_s = (emitted_ms - window.window_start_ms - self.spec.size_ms) / 1000
        self.metrics.window_closed(result, lag_s)
        return sent

    # -- rebalance -----------------------------------------------------------------------
    def forget_all(self) -> None:
        """On revocation: drop in-memory state; the next owner restores from the changelog."""
        self.mergers.clear()
