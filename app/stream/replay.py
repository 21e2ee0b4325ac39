"""``driftline replay``: re-run a time range of the input topic into separate topics.

No consumer group and no commits: partitions are assigned by hand and read between
offsets fixed at start (offsets for ``--from``; end offsets now, or offsets for ``--to``),
so a replay never disturbs live workers, can run beside them, and can be interrupted and
run again. Event time only (no idle ticks); at the end of input every open window closes.
``--workers N`` splits the partitions over N processes; the results do not depend on N
(see app.pipeline.replay).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import multiprocessing
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from app.baseline.codec import baseline_from_dict, baseline_to_dict
from app.baseline.model import Baseline
from app.baseline.registry import BaselineRegistry
from app.codecs.drift_event import encode_drift_event
from app.codecs.incident import encode_incident_event
from app.codecs.partition_run import runs_from_bytes, runs_to_bytes
from app.codecs.window_result import encode_window_result
from app.config import Settings
from app.contracts.decode import DecodeLimits
from app.errors import DriftlineError
from app.native.folder import NativeRun, fold_records
from app.pipeline.close import WindowCloser, histogram_ops
from app.pipeline.fold import Rejected, SourceRecord
from app.pipeline.incidents import IncidentTracker
from app.pipeline.replay import PartitionRun, merge_runs
from app.stream import kafka, record_runs
from app.stream.admin import MAX_DEAD_LETTER_BYTES, describe_topics
from app.stream.allocator import quiet_collector
from app.stream.baseline_feed import BaselineFeed
from app.stream.record_runs import RecordRun
from app.windows.binner import PartitionBinner


@dataclass(frozen=True)
class Range:
    partition: int
    start: int  # first offset to read
    stop: int  # one past the last offset to read
    earliest: int  # the partition's first offset at plan time
    end: int  # the partition's end offset at plan time


@dataclass
class ReplaySummary:
    events: int = 0
    windows: int = 0
    partial_windows: int = 0
    alerts: int = 0
    incident_events: int = 0
    late: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    return kafka.consumer(settings, max_partition_fetch_bytes=8 * 1024 * 1024)


async def plan(settings: Settings, topic: str, from_ms: int, to_ms: int | None) -> list[Range]:
    """Offsets to replay per partition, fixed now (later records are not replayed)."""
    async with kafka.started(_consumer(settings), settings) as consumer:
        parts = await _partitions(settings, topic)
        tps = [TopicPartition(topic, p) for p in parts]
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        at_from = await consumer.offsets_for_times({tp: from_ms for tp in tps})
        at_to = await consumer.offsets_for_times({tp: to_ms for tp in tps}) if to_ms else {}
        ranges = []
        for tp in tps:
            start = at_from[tp].offset if at_from.get(tp) is not None else end[tp]
            stop = at_to[tp].offset if at_to.get(tp) is not None else end[tp]
            ranges.append(Range(tp.partition, start, max(start, stop), begin[tp], end[tp]))
        return ranges


async def _partitions(settings: Settings, topic: str) -> list[int]:
    described = await describe_topics(settings, [topic])
    if topic not in described or described[topic][0] == 0:
        raise DriftlineError(f"topic {topic!r} does not exist")
    return list(range(described[topic][0]))


async def load_registry(settings: Settings) -> BaselineRegistry:
    """Every baseline version on the baselines topic (the same set live workers use)."""
    registry = BaselineRegistry()
    feed = BaselineFeed(settings, registry)
    task = asyncio.create_task(feed.run())
    ready = asyncio.create_task(feed.ready.wait())
    try:
        await asyncio.wait({task, ready}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # the feed failed (no broker, no topic): its one-line error
        if not ready.done():
            raise DriftlineError(f"{settings.topic_baselines} not read within 60 s")
    finally:
        ready.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):  # the feed is done
            await task
    return registry


@dataclass(frozen=True)
class Job:
    """One replay process's share: picklable, for spawned processes."""

    settings: dict[str, Any]
    topic: str
    ranges: list[Range]
    baselines: list[tuple[dict[str, Any], int]]  # (baseline document, effective_from_ms)
    models: list[str]
    deadletter_topic: str


def _registry_from(job: Job) -> BaselineRegistry:
    registry = BaselineRegistry()
    for doc, effective in job.baselines:
        registry.add(baseline_from_dict(doc), effective)
    return registry


async def bin_partitions(job: Job, progress: Synchronized[int] | None) -> list[PartitionRun]:
    """Stage 1 over this process's partitions, exactly as a live worker bins them."""
    settings = Settings(**job.settings)
    registry = _registry_from(job)
    spec = settings.window_spec()
    ops = histogram_ops()
    limits = DecodeLimits()
    models = frozenset(job.models)
    runs = []
    async with (
        kafka.started(_consumer(settings), settings) as consumer,
        # Dead letters of inputs past 1 MB fit (see MAX_DEAD_LETTER_BYTES).
        kafka.started(
            kafka.producer(settings, idempotent=False, max_request_size=MAX_DEAD_LETTER_BYTES),
            settings,
        ) as producer,
    ):
        record_runs.install(consumer)
        for r in job.ranges:
            binner = PartitionBinner(r.partition, spec, ops, registry.choose)
            run = PartitionRun(
                r.partition, [], truncated_start=r.start > r.earliest, truncated_end=r.stop < r.end
            )
            runs.append(run)
            if r.stop <= r.start:
                run.outputs.extend(binner.on_end())
                continue
            tp = TopicPartition(job.topic, r.partition)
            consumer.assign([tp])
            consumer.seek(tp, r.start)
            done = False
            pending = 0
            while not done:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
                got = record_runs.runs(tp, batch.get(tp, []))
                # Offsets rise: the records before the range's end are a prefix.
                cut = bisect.bisect_left(got.offsets, r.stop)
                todo = got if cut == len(got) else got.sliced(0, cut)
                done = cut < len(got) or (cut > 0 and got.offsets[cut - 1] >= r.stop - 1)
                pending += len(todo)
                for rejected, msg in _fold(todo, binner, run, registry, limits, models):
                    run.invalid[rejected.reason] = run.invalid.get(rejected.reason, 0) + 1
                    doc = rejected.letter(msg, received_at_ms=int(time.time() * 1000))
                    await producer.send(job.deadletter_topic, orjson.dumps(doc), key=msg.key)
                if progress is not None and pending:
                    with progress.get_lock():
                        progress.value += pending
                    pending = 0
            run.outputs.extend(binner.on_end())
            run.late = binner.late_total
        await producer.flush()
    return runs


def _fold(
    msgs: RecordRun,
    binner: PartitionBinner,
    run: PartitionRun,
    registry: BaselineRegistry,
    limits: DecodeLimits,
    models: frozenset[str],
) -> Iterator[tuple[Rejected, SourceRecord]]:
    """Fold records in (in order); yields each dead letter's rejection with its record."""
    # "When read": the record's own timestamp (when it was written, so about when a live
    # worker that kept up read it), so replay applies the future bound as live did.
    wall_ms = int(time.time() * 1000)
    nows = [t if t > 0 else wall_ms for t in msgs.timestamps]
    for item in fold_records(
        binner, registry, limits, msgs.offsets, msgs.values, models, now_ms=nows
    ):
        if isinstance(item, NativeRun):
            n = sum(item.events.values())
            if n:
                run.events += n
                if run.first_ts_ms is None:
                    run.first_ts_ms = item.first_ts_ms
                run.last_ts_ms = item.last_ts_ms
            continue
        i, result = item
        if result is None:
            continue
        if isinstance(result, Rejected):
            yield result, msgs.record(i)
            continue
        run.outputs.extend(result.outputs)
        run.events += 1
        if run.first_ts_ms is None:
            run.first_ts_ms = result.timestamp_ms
        run.last_ts_ms = result.timestamp_ms


def _child(job: Job, progress: Synchronized[int], out: Any) -> None:
    quiet_collector()
    runs = asyncio.run(bin_partitions(job, progress))
    out.put(runs_to_bytes(runs))


def run_jobs(jobs: list[Job], progress: Synchronized[int]) -> list[PartitionRun]:
    """Bin in this process (one job) or in one spawned process per job."""
    if len(jobs) == 1:
        quiet_collector()
        return asyncio.run(bin_partitions(jobs[0], progress))
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_child, args=(job, progress, queue)) for job in jobs]
    for proc in procs:
        proc.start()
    runs: list[PartitionRun] = []
    try:
        for _ in procs:
            runs.extend(runs_from_bytes(queue.get()))
        for proc in procs:
            proc.join()
            if proc.exitcode != 0:
                raise DriftlineError(f"a replay process failed (exit {proc.exitcode})")
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
    return runs


async def emit(
    settings: Settings,
    runs: list[PartitionRun],
    partitions: int,
    closer: WindowCloser,
    windows_topic: str,
    alerts_topic: str,
    summary: ReplaySummary,
) -> None:
    """Stage 2: merge, evaluate and produce every window (partial ones flagged, no alert),
    and each model's drift incidents from its windows in order, as live (the replay starts
    with no open incident, as a worker does on a new topic)."""
    windows, flagged = merge_runs(runs, partitions, closer.spec)
    closer.partial_windows = frozenset(flagged)
    incidents = IncidentTracker(settings.resolve_after_windows)
    async with kafka.started(kafka.producer(settings), settings) as producer:
        for window in windows:
            result = closer.close(window, int(time.time() * 1000))
            key = window.model_id.encode()
            await producer.send(windows_topic, encode_window_result(result), key=key)
            summary.windows += 1
            alert = result.drift_event()
            if result.partial:
                summary.partial_windows += 1
            elif alert is not None:
                await producer.send(alerts_topic, encode_drift_event(alert), key=key)
                summary.alerts += 1
            incident = incidents.on_result(result)  # windows close per model in order
            if incident is not None:
                await producer.send(alerts_topic, encode_incident_event(incident), key=key)
                summary.incident_events += 1
        await producer.flush()


def baselines_for_job(
    registry: BaselineRegistry, models: list[str]
) -> list[tuple[dict[str, Any], int]]:
    out = []
    for model in registry.models():
        if models and model not in models:
            continue
        for effective, baseline_id in registry.versions(model):
            baseline = registry.by_id(baseline_id)
            assert baseline is not None
            out.append((baseline_to_dict(baseline), effective))
    return out


def single_baseline(baseline: Baseline) -> BaselineRegistry:
    registry = BaselineRegistry()
    registry.add(baseline, 0)
    return registry
