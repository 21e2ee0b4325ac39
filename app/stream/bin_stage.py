"""Stage 1 of a live worker: input records, in batches, into per-source-partition binners.

Why not a Faust agent: measured against the real broker, Faust 0.15.3's per-message
transport capped a worker at about 9,000 events/s (2% of a bare consumer), and its stream
drops records fetched while flow is suspended (rebalance, table recovery) while its
commits can pass them (faust-pitfalls; README "Exactness"). Here one aiokafka consumer in
its own group (``<app id>-stage1``) reads the input topic with ``getmany`` and folds each
batch through the same ``fold_record`` that replay uses; Faust still runs stage 2, the
tables, the timer-free web surface and the worker lifecycle.

Exactness. Each source partition's whole state (open windows, watermark, applied offset)
is one snapshot on a compacted topic whose partition p holds source partition p. A
checkpoint first waits for every partial and dead letter sent so far, then writes the
snapshot and waits for it, then commits applied_offset + 1 (the commit only informs lag
monitoring: a new owner seeks to the snapshot's applied offset + 1 itself). Redelivered
records at or below the applied offset are skipped; partials replace at stage 2. On a
rebalance the revoke callback checkpoints under the processing lock, so the next owner
reads a snapshot that covers everything the previous one emitted. The decisions (what is
due, what is refused, where to resume, when a partition is idle) are pure functions in
``app.windows.checkpoint``; this module does the I/O they call for.

Positions: at the same check, each owned partition whose position moved tells stage 2
(``SourcePosition``, after the outputs of every record below it), so stage 2 can close a
window of a model this partition never showed once it has read what it held when the
carriers passed that window (``app.windows.merger``).

Idle models: on a partition that is caught up (position at the high watermark), a model
quiet for ``idle_seconds`` advances its event time by the wall time since its last event
was read, never to the wall clock (``PartitionBinner.on_idle``), inside this loop, so the
close happens in stream iteration as any other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from app.baseline.registry import BaselineRegistry
from app.codecs.partials import encode_output
from app.codecs.stage1_snapshot import restore_snapshot, snapshot_to_bytes
from app.config import Settings
from app.contracts.decode import DecodeLimits
from app.errors import DriftlineError
from app.native import status_line as native_status_line
from app.native.folder import NativeRun, fold_records
from app.pipeline.fold import Rejected, SourceRecord
from app.stream import kafka, membership, record_runs
from app.stream.admin import MAX_DEAD_LETTER_BYTES
from app.stream.metrics import DriftlineMetrics
from app.stream.record_runs import RecordRun
from app.stream.snapshots import read_latest_retrying, snapshot_key
from app.windows.binner import Output, PartitionBinner, SourcePosition, SourceReady
from app.windows.checkpoint import (
    caught_up,
    checkpoint_due,
    checkpoint_refusal,
    idle_tick_due,
    input_lag,
    next_offset,
)
from app.windows.partial import AccumulatorOps, Partial
from app.windows.spec import route

log = logging.getLogger(__name__)

IDLE_CHECK_S = 0.5  # how often idle models are looked for (idle_seconds is the threshold)
# A position that has not moved is told again this often: a stage 2 whose state starts
# afresh (or whose partials log lost the last one to retention) learns it all the same.
POSITION_REPEAT_S = 30.0


@dataclass
class Owned:
    """A source partition this worker owns, and when it was last checkpointed."""

    binner: PartitionBinner
    last_checkpoint: float
    pending: int = 0  # records folded since the last checkpoint
    closed: bool = False  # partials or a watermark went out since the last checkpoint
    ready: bool = False  # the backlog it came with is read (stage 2 was told)
    position_sent: int | None = None  # the last position stage 2 was told (SourcePosition)
    position_sent_at: float = 0.0  # monotonic time it was told


@dataclass
class BinStage:
    settings: Settings
    registry: BaselineRegistry
    ops: AccumulatorOps
    metrics: DriftlineMetrics
    live: bool = True
    flush_events: int = 20_000
    flush_seconds: float = 1.0
    batch_records: int = 10_000
    owned: dict[int, Owned] = field(default_factory=dict)
    # Set once the consumer has joined its group and restored what it was given.
    joined: asyncio.Event = field(default_factory=asyncio.Event)
    # Called when another live worker took this one's instance id (never returns).
    on_taken_over: Callable[[DriftlineError], None] = membership.exit_fenced

    def __post_init__(self) -> None:
        s = self.settings
        self.topic = s.topic_predictions
        self.state_topic = s.topic_stage1_state()
        self.n = s.partitions
        self.spec = s.window_spec()
        self.limits = DecodeLimits()
        # Processing a batch, a checkpoint and a rebalance callback never interleave.
        self.lock = asyncio.Lock()
        self.inflight: list[asyncio.Future[Any]] = []  # deliveries since the last checkpoint
        self.torn = False  # a batch is being folded, or was cut short (see run)
        self.generation: int | None = None  # the group generation the partitions came with
        self.member_id: str | None = None  # this member's id when the partitions came
        self.lag_reported = 0.0  # monotonic time of the last input-lag update
        self.idle_checked = 0.0  # monotonic time of the last idleness check
        # aiokafka clients bind to the running loop, so they are made in run().
        self.consumer: AIOKafkaConsumer
        self.producer: AIOKafkaProducer

    # -- lifecycle ---------------------------------------------------------------------
    async def run(self) -> None:
        s = self.settings
        log.info("stage 1: decode and bin %s", native_status_line())
        self.consumer = kafka.consumer(
            s,
            group_id=s.stage1_group(),
            client_id=f"{s.app_id}-stage1",
            **kafka.membership(s),
            # A fetch is folded whole (record_runs) while the next is on its way: 2 MB a
            # partition held a worker's peak RSS at 211 MiB on the bench (8 MB: 278 MiB,
            # 4% faster).
            max_partition_fetch_bytes=2 * 1024 * 1024,
            fetch_max_bytes=8 * 1024 * 1024,
        )
        self.producer = kafka.producer(
            s,
            client_id=f"{s.app_id}-stage1",
            # The largest of its messages: a dead letter of a big input, or a snapshot.
            max_request_size=MAX_DEAD_LETTER_BYTES,
            linger_ms=5,
        )
        await self.producer.start()
        await self.consumer.start()
        record_runs.install(self.consumer)
        self.consumer.subscribe([self.topic], listener=_Rebalance(self))
        try:
            while True:
                batch = await self.consumer.getmany(timeout_ms=200, max_records=self.batch_records)
                async with self.lock:
                    # A batch cut short (error, cancellation) may have advanced a binner
                    # past outputs it never sent: from then on nothing is checkpointed, and
                    # the next owner (or restart) resumes from the last whole snapshot.
                    self.torn = True
                    for tp, records in batch.items():
                        await self._fold(tp.partition, record_runs.runs(tp, records))
                    await self._tick_idle()
                    self.torn = False
                    await self._report_lag()
                    try:
                        await self.checkpoint(list(self.owned), due_only=True)
                    except Exception as err:  # still due: retried after the next batch
                        log.error("stage 1: checkpoint failed (%r); retrying", err)
        finally:
            await self._shutdown()

    async def run_forever(self) -> None:
        """run(), restarted after an unexpected error: a worker never stays up without its
        stage 1 (its partitions would sit in the group unprocessed)."""
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stage 1 failed; restarting it in 5 s from the last snapshots")
                await asyncio.sleep(5)

    async def _shutdown(self) -> None:
        try:
            async with self.lock:
                await self.checkpoint(list(self.owned), due_only=False)
        except Exception as err:  # the next owner resumes from the last good snapshot
            log.warning("stage 1: final checkpoint failed (%r)", err)
        finally:
            self.owned.clear()
            self.inflight = []
            self.torn = False
        await self.consumer.stop()
        await self.producer.stop()

    # -- records -----------------------------------------------------------------------
    async def _fold(self, p: int, records: RecordRun) -> None:
        owned = self.owned.get(p)
        if owned is None:
            # Not restored (see _Rebalance): uncommitted, so the next owner reads them.
            log.warning("stage 1 partition %d: %d records of an unowned partition", p, len(records))
            return
        binner = owned.binner
        # Counted per batch, then added to the metrics once: a labelled metric update per
        # event costs about as much as binning one feature.
        seen: Counter[str] = Counter()
        valid: Counter[str] = Counter()
        late: Counter[str] = Counter()
        now_ms = int(time.time() * 1000)  # "when read", for the future bound and idleness
        # Offsets rise within a batch: the records already applied are a prefix.
        first = 0
        offsets = records.offsets
        while first < len(offsets) and binner.already_applied(offsets[first]):
            first += 1  # redelivered; its effect is already in the restored snapshot
        todo = records.sliced(first) if first else records
        owned.pending += len(todo)
        for item in fold_records(
            binner, self.registry, self.limits, todo.offsets, todo.values, now_ms=now_ms
        ):
            if isinstance(item, NativeRun):  # valid events folded, nothing to emit
                seen.update(item.events)
                valid.update(item.events)
                continue
            i, result = item
            if result is None:
                continue
            if isinstance(result, Rejected):
                if result.model_id is not None:
                    seen[result.model_id] += 1
                await self._dead_letter(todo.record(i), result, now_ms)
                if result.reason == "late" and result.model_id is not None:
                    late[result.model_id] += 1
                continue
            seen[result.model_id] += 1
            valid[result.model_id] += 1
            if result.outputs:
                await self._emit(result.outputs)
                owned.closed = True
        self.metrics.count(self.metrics.events_in, seen)
        self.metrics.count(self.metrics.events_valid, valid)
        self.metrics.count(self.metrics.late, late)

    async def _send(self, topic: str, value: bytes, key: bytes | None, partition: int) -> None:
        self.inflight.append(await self.producer.send(topic, value, key=key, partition=partition))

    async def _emit(self, outputs: Sequence[Output]) -> None:
        # One producer, sent in order: a model's progress reaches each partials partition
        # after the partials it completes (the merger relies on it).
        partials = self.settings.topic_partials
        for out in outputs:
            value = encode_output(out)
            if isinstance(out, Partial):
                q = route(out.model_id, out.window_start_ms, self.n)
                await self._send(partials, value, out.model_id.encode(), q)
            elif isinstance(out, SourceReady | SourcePosition):
                for q in range(self.n):
                    await self._send(partials, value, None, q)
            else:
                self.metrics.set_watermark(
                    out.source_partition, out.model_id, out.closed_upto_ms / 1000
                )
                for q in range(self.n):
                    await self._send(partials, value, None, q)

    async def _dead_letter(self, rec: SourceRecord, rejected: Rejected, now_ms: int) -> None:
        self.metrics.invalid.labels(rejected.reason).inc()
        doc = rejected.letter(rec, received_at_ms=now_ms)
        # The dead-letter topic is keyed like the input; its partition is the producer's.
        self.inflight.append(
            await self.producer.send(self.settings.topic_deadletter, orjson.dumps(doc), key=rec.key)
        )

    # -- idle models -------------------------------------------------------------------
    async def _tick_idle(self) -> None:
        """Per model, on caught-up partitions: a model quiet for idle_seconds advances by the
        wall time since its last event was read (PartitionBinner.on_idle), never to the
        wall clock. Checked at most every IDLE_CHECK_S, not on every batch."""
        now = time.monotonic()
        if not idle_tick_due(idle_for_s=now - self.idle_checked, idle_seconds=IDLE_CHECK_S):
            return
        self.idle_checked = now
        now_ms = int(time.time() * 1000)
        idle_ms = self.settings.idle_seconds * 1000
        for p, owned in self.owned.items():
            tp = TopicPartition(self.topic, p)
            end = self.consumer.highwater(tp)
            position = None if end is None else await self.consumer.position(tp)
            if position is not None and (
                position != owned.position_sent or now - owned.position_sent_at >= POSITION_REPEAT_S
            ):
                # Every record below it was folded under this lock and its outputs sent:
                # stage 2 releases windows of models this partition has not shown once it
                # has read what it held when their carriers passed them (app.windows.merger).
                owned.position_sent = position
                owned.position_sent_at = now
                await self._emit([SourcePosition(p, position)])
            if not caught_up(position, end):
                continue  # a backlog is never overtaken: its events would all turn late
            if not owned.ready:  # its backlog is read: it no longer holds unseen models
                owned.ready = True
                await self._emit([SourceReady(p, True)])
            if not self.live:
                continue  # event time only
            outputs = owned.binner.on_idle(now_ms, idle_ms)
            if outputs:
                await self._emit(outputs)
                owned.closed = True

    async def _report_lag(self) -> None:
        now = time.monotonic()
        if now - self.lag_reported < 1.0:
            return
        self.lag_reported = now
        for p in self.owned:
            tp = TopicPartition(self.topic, p)
            end = self.consumer.highwater(tp)
            if end is not None:
                lag = input_lag(await self.consumer.position(tp), end)
                self.metrics.input_lag.labels(str(p)).set(lag)

    # -- checkpoints -------------------------------------------------------------------
    async def checkpoint(self, partitions: list[int], *, due_only: bool) -> None:
        """Snapshot these partitions (only those due, when due_only), then commit."""
        now = time.monotonic()
        due = []
        for p in partitions:
            owned = self.owned.get(p)
            if owned is not None and checkpoint_due(
                pending=owned.pending,
                closed=owned.closed,
                since_checkpoint_s=now - owned.last_checkpoint,
                due_only=due_only,
                flush_events=self.flush_events,
                flush_seconds=self.flush_seconds,
            ):
                due.append(p)
        if not due:
            return
        # A torn batch or a lost group generation (see checkpoint_refusal): writing now
        # could lose outputs or overtake a new owner.
        refusal = checkpoint_refusal(
            torn=self.torn, joined=self.generation, current=self._generation()
        )
        if refusal is not None:
            log.warning("stage 1: %s; %s not checkpointed", refusal, due)
            return
        # Everything a snapshot covers must be on the broker before the snapshot is.
        await self._delivered(self.inflight)
        self.inflight = []
        snapshots = [
            await self.producer.send(
                self.state_topic,
                snapshot_to_bytes(self.owned[p].binner),
                key=snapshot_key(p),
                partition=p,
            )
            for p in due
        ]
        await self._delivered(snapshots, raise_first=True)
        offsets = {}
        for p in due:
            owned = self.owned[p]
            owned.pending = 0
            owned.closed = False
            owned.last_checkpoint = now
            commit = next_offset(owned.binner.applied_offset)
            if commit is not None:
                offsets[TopicPartition(self.topic, p)] = commit
        if offsets:
            try:
                await self.consumer.commit(offsets)
            except Exception as err:  # advisory: the snapshot, not the commit, sets the start
                log.info("stage 1: commit of %s skipped (%r)", sorted(offsets), err)

    @staticmethod
    async def _delivered(futures: list[asyncio.Future[Any]], *, raise_first: bool = False) -> None:
        results = await asyncio.gather(*futures, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for err in errors:
            log.error("stage 1: a message could not be delivered: %r", err)
        if errors and raise_first:
            raise errors[0]

    # -- rebalance ---------------------------------------------------------------------
    async def release(self, partitions: list[int]) -> None:
        async with self.lock:
            try:
                await self.checkpoint(partitions, due_only=False)
            finally:  # on failure the next owner resumes from the last good snapshot
                for p in partitions:
                    self.owned.pop(p, None)
                    self.metrics.forget_partition(p)
        if partitions:
            log.info("stage 1: released partitions %s", sorted(partitions))

    def _generation(self) -> int | None:
        # aiokafka keeps the group generation on its coordinator (no public accessor); it is
        # reset when the broker says this member is unknown or its generation is stale.
        coordinator = getattr(self.consumer, "_coordinator", None)
        generation = getattr(coordinator, "generation", None)
        return generation if isinstance(generation, int) else None

    def _member_id(self) -> str | None:
        # Also the coordinator's; "" once the broker no longer knows this member.
        member_id = getattr(getattr(self.consumer, "_coordinator", None), "member_id", None)
        return member_id if isinstance(member_id, str) else None

    async def check_membership(self) -> None:
        """Before a rejoin: if this member lost its membership because another live worker
        joined with its instance id, stop (see app.stream.membership); never returns then."""
        if not self.member_id or self._member_id() != "":
            return  # never joined, or still a member: an ordinary rebalance
        group = self.settings.stage1_group()
        try:
            members = await membership.group_member_ids(self.settings, group)
        except Exception as err:  # cannot tell: rejoin, and look again next time
            log.warning("stage 1: could not describe group %s (%r)", group, err)
            return
        if membership.taken_over(self.settings.instance_id, self.member_id, members):
            self.on_taken_over(membership.InstanceIdTaken(self.settings, group))

    async def acquire(self, partitions: list[int]) -> None:
        async with self.lock:
            self.generation = self._generation()
            self.member_id = self._member_id()
            new = [p for p in partitions if p not in self.owned]
            snapshots = await read_latest_retrying(self.settings, self.state_topic, new)
            now = time.monotonic()
            for p in new:
                binner = PartitionBinner(p, self.spec, self.ops, self.registry.choose)
                raw = snapshots.get(p)
                if raw is not None:
                    restore_snapshot(
                        binner, raw, self.registry.by_id, now_ms=int(time.time() * 1000)
                    )
                self.owned[p] = Owned(binner, last_checkpoint=now)
                # Stage 2 learns at once that this partition has a backlog to read (it
                # may hold any model) and which models it carries, not only at each
                # model's next event.
                await self._emit([SourceReady(p, False), *binner.progress()])
                start = next_offset(binner.applied_offset)
                if start is not None:
                    self.consumer.seek(TopicPartition(self.topic, p), start)
                log.info(
                    "stage 1 partition %d: state restored at applied offset %s (%d open windows)",
                    p,
                    binner.applied_offset,
                    binner.open_windows,
                )
        self.joined.set()


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped here
    def __init__(self, stage: BinStage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.stage.check_membership()
        await self.stage.release([tp.partition for tp in revoked if tp.topic == self.stage.topic])

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        try:
            await self.stage.acquire(
                [tp.partition for tp in assigned if tp.topic == self.stage.topic]
            )
        except Exception:  # aiokafka would only log it; say what it means here
            log.exception("stage 1: restoring %s failed; they are not processed", assigned)
