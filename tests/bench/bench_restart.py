"""Restart gap against the local broker: two workers, live-paced traffic, one worker
SIGKILLed and restarted at once (same web port, state directory and so instance id); the
time from the kill to the first window result of a window that ended after the kill.

Every window result needs every source partition's progress (stage 2 merges the partials
of all of them), so no window can close while the killed worker's partitions wait; the gap
is how long its partitions sat unprocessed. Each worker is killed once (the Faust group's
leader and a follower; which is which is the broker's choice). Printed, never asserted.
Environment: DRIFTLINE_BENCH_RESTARTS (kills, default 2).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from app.stream.admin import create_topics
from app.stream.publish import produce_events
from tests.bench.bench_stream import (
    BOOTSTRAP,
    MODEL,
    PARTITIONS,
    _cli,
    _env,
    _events,
    _free_port,
    _settings,
    _training_csv,
    http_get_safe,
)

WINDOW_S, LATENESS_S, IDLE_S = 2, 1, 2
RATE = 1000  # events/s, event time = wall time


class Worker:
    """One worker process; restarted with the same port and state directory."""

    def __init__(self, name: str, env: dict[str, str], work: Path) -> None:
        self.name = name
        self.port = _free_port()
        self.env = {**env, "DRIFTLINE_WEB_PORT": str(self.port),
                    "DRIFTLINE_DATA_DIR": str(work / name)}  # fmt: skip
        self.log = work / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "app", "worker"], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT)  # fmt: skip

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    async def ready(self, timeout_s: float = 120) -> float:
        """Seconds until /ready answers 200."""
        t0 = time.monotonic()
        while http_get_safe(f"http://127.0.0.1:{self.port}/ready") != 200:
            if time.monotonic() - t0 > timeout_s:
                raise TimeoutError(f"{self.name} not ready; see {self.log}")
            await asyncio.sleep(0.1)
        return time.monotonic() - t0


async def _traffic(settings: Any, stop: asyncio.Event) -> None:
    while not stop.is_set():
        now = int(time.time() * 1000)
        batch = _events(RATE // 10, now, 100 / (RATE // 10), seed=now % 1000)
        await produce_events(settings, settings.topic_predictions, [(None, b) for b in batch],
                             partition_of=lambda i: i % PARTITIONS)  # fmt: skip
        await asyncio.sleep(0.1)


async def _results(topic: str, out: list[tuple[int, int]], stop: asyncio.Event) -> None:
    """(emitted ms, window end ms) of every result, as they come."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest",
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for r in records:
                    doc = orjson.loads(r.value)
                    out.append((r.timestamp, doc["window"]["end_ms"]))
    finally:
        await consumer.stop()


async def _measure(work: Path, prefix: str, kills: int) -> None:
    app_id = f"{prefix}-restart"
    env = _env(prefix, app_id, DRIFTLINE_WINDOW_SECONDS=str(WINDOW_S),
               DRIFTLINE_ALLOWED_LATENESS_SECONDS=str(LATENESS_S),
               DRIFTLINE_IDLE_SECONDS=str(IDLE_S))  # fmt: skip
    settings = _settings(env)
    await create_topics(settings)
    _training_csv(work / "train.csv", 5_000)
    baseline = work / "baseline.json"
    train = str(work / "train.csv")
    _cli(["baseline", "build", "--input", train, "--model-id", MODEL, "--prediction-column",
          "score", "--out", str(baseline), "--no-progress"], env)  # fmt: skip
    _cli(["baseline", "publish", str(baseline)], env)
    workers = [Worker("a", env, work), Worker("b", env, work)]
    stop = asyncio.Event()
    seen: list[tuple[int, int]] = []
    tasks = [asyncio.create_task(_traffic(settings, stop)),
             asyncio.create_task(_results(settings.topic_windows, seen, stop))]  # fmt: skip
    try:
        for w in workers:
            w.start()
        for w in workers:
            await w.ready()
        await asyncio.sleep(15)  # both in the group, results flowing
        steady = [e - end - LATENESS_S * 1000 for e, end in seen if e > time.time() * 1000 - 8000]
        gaps: list[tuple[float, float]] = []
        for k in range(kills):
            w = workers[k % 2]
            kill_ms = int(time.time() * 1000)
            w.kill()
            w.start()
            ready_s = await w.ready()
            deadline = time.monotonic() + 240
            first: int | None = None
            while first is None and time.monotonic() < deadline:
                first = min((e for e, end in seen if end > kill_ms), default=None)
                await asyncio.sleep(0.1)
            if first is None:
                raise TimeoutError("no result after the kill within 240 s")
            gaps.append(((first - kill_ms) / 1000, ready_s))
            await asyncio.sleep(8)  # back to steady state before the next kill
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for w in workers:
            w.stop()
    print(f"conditions: 2 workers (separate processes, RocksDB state), {PARTITIONS} partitions, "
          f"~{RATE:,} events/s live-paced (event time = wall time), {WINDOW_S} s windows, "
          f"{LATENESS_S} s lateness, one worker SIGKILLed and restarted at once with the same "
          f"web port and state directory; local single-node Kafka on this machine "
          f"({os.cpu_count()} cores)")  # fmt: skip
    if steady:
        steady.sort()
        print(f"steady state before the kills: window closable -> result p50 "
              f"{steady[len(steady) // 2] / 1000:.2f} s")  # fmt: skip
    for k, (gap, ready_s) in enumerate(gaps):
        print(f"kill {k + 1} (worker {workers[k % 2].name}): SIGKILL -> first result of a window "
              f"that ended after the kill: {gap:.1f} s (restarted worker /ready after "
              f"{ready_s:.1f} s)")  # fmt: skip


def run() -> None:
    kills = int(os.environ.get("DRIFTLINE_BENCH_RESTARTS", "2"))
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_measure(Path(tmp), prefix, kills))
