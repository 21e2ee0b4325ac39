"""Stage 3 of a live worker: drift incidents, a Faust agent on the closed-windows topic.

Stage 2 closes a model's consecutive windows on different partials partitions, in any order
(README "Drift incidents"). Each stage-2 partition reports its closed windows and its
progress per model to the closed-windows topic, keyed by model, so one partition r of it
holds every report about a model; this stage keeps each model's ``ModelLifecycle``
(app.pipeline.live_incidents) in the ``stage3`` table, applies the model's windows in
order once every stage-2 partition has passed them, and sends the lifecycle events to the
alerts topic.

Restarts. A record is applied at most once to the state (the table keeps the offset of r
applied last, written after the model's state), and the state's updates are idempotent
anyway (live_incidents), so a record redelivered after a SIGKILL changes nothing. The
lifecycle events a record gives are acknowledged by the broker before the state that
applied it is written: a SIGKILL between the two loses the state, not the events, and
the redelivered record gives the same events again (same ids, sequences and
``emitted_at``, which comes from the window's report). Faust's stream drops records
fetched while flow is suspended (faust-pitfalls); as in stage 2, a gap between the applied
offset and the record's is read with a plain consumer first.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
import orjson

from app.codecs.incident import encode_incident_event
from app.codecs.lifecycle import (
    ClosedReport,
    decode_report,
    lifecycle_from_bytes,
    lifecycle_to_bytes,
)
from app.config import Settings
from app.pipeline.incidents import IncidentEvent
from app.pipeline.live_incidents import ModelLifecycle, on_closed, on_progress
from app.stream.gap_reader import GapReader
from app.stream.metrics import DriftlineMetrics

log = logging.getLogger(__name__)

RAW: faust.Schema[bytes, bytes] = faust.Schema(
    key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)


class IncidentStage:
    def __init__(self, app: faust.App, settings: Settings, metrics: DriftlineMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.partitions = settings.partitions  # of the partials topic: stage 2's partitions
        self.resolve_after = settings.resolve_after_windows
        self.reports = app.topic(
            settings.topic_closed_windows(), schema=RAW, partitions=self.partitions
        )
        self.alerts = app.topic(settings.topic_alerts, schema=RAW)
        self.stage3 = app.Table(
            "stage3", default=None, partitions=self.partitions, key_type=bytes, value_type=bytes
        )
        self.reader = GapReader(settings, settings.topic_closed_windows())
        self.applied: dict[int, int | None] = {}  # partition r -> offset applied last

    @staticmethod
    def _offset_key(r: int) -> bytes:
        return orjson.dumps([r, "o"])

    @staticmethod
    def _model_key(r: int, model_id: str) -> bytes:
        return orjson.dumps([r, "m", model_id])

    def _applied(self, r: int) -> int | None:
        if r not in self.applied:
            raw = self.stage3.get(self._offset_key(r))
            self.applied[r] = None if raw is None else int(raw)
        return self.applied[r]

    async def on_report_event(self, event: faust.types.EventT[Any]) -> None:
        msg = event.message
        r = msg.partition
        applied = self._applied(r)
        if applied is not None:
            expected = applied + 1
        elif msg.offset > 0:
            # No state for this partition: every report still in the log is unapplied.
            expected = await self.reader.beginning(r)
        else:
            expected = 0
        if msg.offset > expected:
            log.warning(
                "stage 3 partition %d: offset %d arrived, %d expected: reading the gap",
                r,
                msg.offset,
                expected,
            )
            try:
                async for rec in self.reader.read(r, expected, msg.offset):
                    await self._apply(r, rec.offset, rec.value)
            except TimeoutError as err:
                log.error("stage 3 partition %d: %s; those reports are missing", r, err)
        await self._apply(r, msg.offset, msg.value)

    async def _apply(self, r: int, offset: int, value: bytes | None) -> None:
        applied = self._applied(r)
        if applied is not None and offset <= applied:
            return  # applied already (redelivery)
        if value is not None:
            report = decode_report(value)
            model = report.window.model_id if isinstance(report, ClosedReport) else report.model_id
            key = self._model_key(r, model)
            raw = self.stage3.get(key)
            state = ModelLifecycle() if raw is None else lifecycle_from_bytes(raw)
            if isinstance(report, ClosedReport):
                state, events = on_closed(state, report.window, self.partitions, self.resolve_after)
            else:
                state, events = on_progress(
                    state,
                    report.source,
                    report.closed_through_ms,
                    self.partitions,
                    self.resolve_after,
                )
            await self._send(events)
            self.stage3[key] = lifecycle_to_bytes(state)
        self.applied[r] = offset
        self.stage3[self._offset_key(r)] = str(offset).encode()

    async def _send(self, events: list[IncidentEvent]) -> None:
        """Send the events in order, and wait until the broker has them (see above)."""
        delivered = []
        for e in events:
            self.metrics.incident_event(e.model_id, e.event)  # counted before it can be seen
            delivered.append(
                await self.alerts.send(key=e.model_id.encode(), value=encode_incident_event(e))
            )
            log.info(
                "drift incident",
                extra={
                    "model": e.model_id,
                    "incident_id": e.incident_id,
                    "event": e.event,
                    "sequence": e.sequence,
                    "window_id": e.window_id,
                },
            )
        if delivered:
            await asyncio.gather(*delivered)

    def forget_all(self) -> None:
        """On revocation: drop the cached offsets; the next owner reads the table."""
        self.applied.clear()
