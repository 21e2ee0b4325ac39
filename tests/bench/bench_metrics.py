"""/metrics benchmark: render cost at 1,000 models x 50 features, and worker memory under
a flood of unknown model ids.

1. In process: a registry holding the latest window of 1,000 models, each with 50 numeric
   features (a real evaluation of a 50-feature window, relabelled per model). Reported:
   render time, exposition size and series count; the longest the event loop went without
   running (a 1 ms ticker) while one render ran as the web page runs it (in slices on the
   loop), and for comparison in a thread (before) and on the loop in one go; each right
   after every model was updated (its text re-rendered) and with nothing changed; and
   what one model's window close costs the loop.
2. Against the local broker: one worker with one model's baseline reads 300,000 events of
   random model ids (each dead-lettered as unknown_model). Reported: the worker's RSS
   before and after, the /metrics size after, and the /health time while /metrics renders.
Environment: DRIFTLINE_BENCH_FLOOD (events of part 2, default 300000; 0 skips part 2),
DRIFTLINE_BENCH_RENDER=0 skips part 1, DRIFTLINE_BENCH_TRACEMALLOC=1 runs the worker with
tracemalloc and prints what grew over each flood.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import orjson
import prometheus_client

from app.baseline.model import Baseline, FeatureBaseline, NumericProfile
from app.binning.histogram import WindowHistogram
from app.config import Settings
from app.pipeline.results import WindowResult
from app.stats.decision import evaluate_window
from app.stats.rules import DriftConfig
from app.stream.admin import create_topics
from app.stream.feature_families import DEFAULT_STATISTICS, FAMILY_OF
from app.stream.metrics import DriftlineMetrics
from app.stream.publish import produce_events
from app.windows.spec import WindowSpan
from tests.bench.bench_stream import _env, _free_port, _settings, http_get_safe
from tests.factories import make_baseline
from tests.integration.streamkit import http_get, metric

MODELS, FEATURES, RENDERS = 1_000, 50, 5


def _baseline(model: str) -> Baseline:
    edges = tuple(float(e) for e in range(11))
    counts = (0,) + (1000,) * 10 + (0,)
    prof = NumericProfile(edges, counts, 0, 10_000, 0.0, 10.0, 5.0, 2.9)
    features = [
        FeatureBaseline(f"f{i:02d}", "numeric", "feature", numeric=prof) for i in range(FEATURES)
    ]
    return make_baseline(*features, model_id=model)


def _window_close_part(metrics: DriftlineMetrics, result: WindowResult) -> None:
    """What a window close costs the event loop for the metrics: the model's counters and
    its per-feature text (50 features)."""
    times = []
    for m in range(MODELS):
        r = dataclasses.replace(result, model_id=f"model-{m:04d}")
        t = time.perf_counter()
        metrics.window_closed(r, 3.0)
        times.append(time.perf_counter() - t)
    times.sort()
    print(
        f"  one model's window close (status, latency, {FEATURES} features' text), "
        f"{MODELS} closes: median {statistics.median(times) * 1000:.2f} ms, "
        f"max {times[-1] * 1000:.2f} ms"
    )


def _loaded_metrics(
    exported: Iterable[str] = DEFAULT_STATISTICS,
) -> tuple[DriftlineMetrics, WindowResult]:
    template = _baseline("model-0000")
    rng = np.random.default_rng(3)
    hist = WindowHistogram.empty(template)
    for row in rng.uniform(2, 12, size=(2000, FEATURES)):
        hist.add_event({f"f{i:02d}": float(v) for i, v in enumerate(row)}, None)
    evaluation = evaluate_window(template, hist, DriftConfig().for_model(template.model_id))
    result = WindowResult.of(template, evaluation, WindowSpan(0, 60), hist=hist, emitted_at="x")
    metrics = DriftlineMetrics(statistics=exported)
    for m in range(MODELS):
        model = f"model-{m:04d}"
        metrics.baseline_added(dataclasses.replace(template, model_id=model))
        metrics.count(metrics.events_in, {model: 2000})
        metrics.count(metrics.events_valid, {model: 2000})
        metrics.set_watermark(m % 8, model, 1_767_225_660.0)
        metrics.window_closed(dataclasses.replace(result, model_id=model), 3.0)
    return metrics, result


async def _max_loop_stall_ms(work: str, metrics: DriftlineMetrics) -> tuple[float, float]:
    """(seconds of one render, longest gap in ms between 1 ms ticks of the loop meanwhile)."""
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    done = False

    async def ticker() -> None:
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    gaps.clear()
    t0 = time.perf_counter()
    if work == "async":
        await metrics.render_async()
    elif work == "thread":
        await loop.run_in_executor(None, metrics.render_chunks)
    else:
        metrics.render_chunks()
    took = time.perf_counter() - t0
    await asyncio.sleep(0.01)
    done = True
    await tick
    return took, max(gaps) * 1000


def _render_part(label: str, exported: Iterable[str]) -> None:
    t0 = time.perf_counter()
    metrics, result = _loaded_metrics(exported)
    built = time.perf_counter() - t0
    times = []
    t = time.perf_counter()
    body = metrics.render()
    times.append(time.perf_counter() - t)
    series = sum(1 for line in body.splitlines() if not line.startswith(b"#"))
    for _ in range(RENDERS):
        t = time.perf_counter()
        metrics.render()
        times.append(time.perf_counter() - t)
    print(
        f"conditions: {label}; {MODELS} models x {FEATURES} numeric features, latest window "
        f"set (built in {built:.1f} s), prometheus_client {_version()}, "
        f"Python {platform.python_version()}, switch interval "
        f"{sys.getswitchinterval() * 1000:.0f} ms, {os.cpu_count()} cores shared, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    first = times.pop(0)
    print(
        f"  render: first {first:.2f} s (every model rendered), then median "
        f"{statistics.median(times):.2f} s of {len(times)} (cached); "
        f"{len(body) / 1e6:.1f} MB, "
        f"{series:,} series"
    )
    wheres = {
        "async": "in slices on the loop (/metrics)",
        "thread": "in a thread",
        "loop": "on the loop in one go",
    }
    for work, where in wheres.items():
        for fresh in (True, False):
            if fresh:  # every model updated since the last scrape: all text re-rendered
                for m in range(MODELS):
                    model = f"model-{m:04d}"
                    metrics.count(metrics.events_in, {model: 1})
                    metrics.count(metrics.events_valid, {model: 1})
                    metrics.set_watermark(m % 8, model, 1_767_225_720.0)
            took, stall = asyncio.run(_max_loop_stall_ms(work, metrics))
            state = "after updates" if fresh else "unchanged"
            print(
                f"  render {where:33s} {state:13s} {took:5.2f} s; "
                f"longest event-loop stall {stall:6.1f} ms"
            )
    _window_close_part(metrics, result)


def _version() -> str:
    from importlib.metadata import version

    return version(prometheus_client.__name__)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _flood(count: int, seed: int = 5) -> list[bytes]:
    rng = np.random.default_rng(seed)
    ts = 1_767_225_600_000
    ids = rng.integers(0, 2**63, size=count)
    doc = {"timestamp": ts, "features": {"f00": 1.0}, "prediction": 0.5}
    return [orjson.dumps({"model_id": f"m-{int(x):016x}", **doc}) for x in ids]


def _health_ms_during_render(port: int) -> tuple[float, float]:
    """(ms of one /metrics, ms of a /health sent 5 ms after it started)."""
    took: dict[str, float] = {}

    def get(path: str) -> None:
        t = time.perf_counter()
        http_get(f"http://127.0.0.1:{port}{path}")
        took[path] = (time.perf_counter() - t) * 1000

    scrape = threading.Thread(target=get, args=("/metrics",))
    scrape.start()
    time.sleep(0.005)
    get("/health")
    scrape.join()
    return took["/metrics"], took["/health"]


def _flood_part(count: int) -> None:
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = _env(prefix, f"{prefix}-flood")
        settings = _settings(env)
        asyncio.run(create_topics(settings))
        baseline = work / "baseline.json"
        from app.baseline.codec import baseline_to_dict, compute_baseline_id

        doc = baseline_to_dict(_baseline("known-model"))
        doc["baseline_id"] = compute_baseline_id(doc)  # publish checks it against the content
        baseline.write_bytes(orjson.dumps(doc))
        subprocess.run([sys.executable, "-m", "app", "baseline", "publish", str(baseline)],
                       env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        port = _free_port()
        log = (work / "worker.log").open("wb")
        traced = os.environ.get("DRIFTLINE_BENCH_TRACEMALLOC") == "1"
        snap = str(work / "snapshot")
        command = ["-m", "tests.bench.traced_worker"] if traced else ["-m", "app", "worker"]
        proc = subprocess.Popen([sys.executable, *command],
                                env={**env, "DRIFTLINE_WEB_PORT": str(port),
                                     "DRIFTLINE_DATA_DIR": str(work / "data"),
                                     "DRIFTLINE_BENCH_SNAPSHOT": snap},
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while http_get_safe(f"http://127.0.0.1:{port}/ready") != 200:
                if time.monotonic() > deadline:
                    raise TimeoutError("worker not ready")
                time.sleep(0.2)
            # Warm up: scrape once, then a first batch of unknown ids, so the RSS below is a
            # steady state (imports, buffers, the first dead letters) and not a cold start.
            warm = _flood(10_000)
            _produce(settings, warm)
            _wait_counted(port, len(warm))
            http_get(f"http://127.0.0.1:{port}/metrics")
            before = _rss_mib(proc.pid)
            snapshots = [_snapshot(snap, 0)] if traced else []
            # Two floods of fresh random ids: growth that stops after the first is a
            # high-water mark (buffers, allocator arenas); growth that repeats is a leak.
            rss: list[float] = []
            took = 0.0
            counted = len(warm)
            for seed in (6, 7):
                t0 = time.perf_counter()
                values = _flood(count, seed)
                _produce(settings, values)
                counted += count
                _wait_counted(port, counted)
                took += time.perf_counter() - t0
                del values
                rss.append(_rss_mib(proc.pid))
                if traced:
                    snapshots.append(_snapshot(snap, len(snapshots)))
            body = http_get(f"http://127.0.0.1:{port}/metrics")[1]
            scrape_ms, health_ms = _health_ms_during_render(port)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
    if snapshots:
        _print_growth(snapshots)
    print(
        f"conditions: 1 worker, 4 partitions, 1 model with a baseline; {count:,} events of "
        f"random model ids (each dead-lettered as unknown_model) after a 10,000-event warm-up, "
        f"then the same again with other ids; {took:.0f} s to produce and read both"
    )
    print(
        f"  worker RSS {before:.1f} MiB before, {rss[0]:.1f} MiB after the first flood "
        f"({rss[0] - before:+.1f} MiB; goal: within 10 MB), {rss[1]:.1f} MiB after the "
        f"second ({rss[1] - rss[0]:+.1f} MiB)"
    )
    print(
        f"  /metrics after: {len(body) / 1e3:.1f} kB, {series} series; "
        f"/metrics took {scrape_ms:.0f} ms, /health meanwhile {health_ms:.0f} ms"
    )


def _snapshot(base: str, n: int) -> tracemalloc.Snapshot:
    """Have the traced worker dump a snapshot (tests/bench/traced_worker.py) and load it."""
    Path(f"{base}.req").touch()
    deadline = time.monotonic() + 300
    while not Path(f"{base}.{n}.done").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("no snapshot from the worker")
        time.sleep(0.2)
    return tracemalloc.Snapshot.load(f"{base}.{n}")


def _print_growth(snapshots: list[tracemalloc.Snapshot]) -> None:
    for i, label in ((1, "first flood"), (2, "second flood")):
        diff = snapshots[i].compare_to(snapshots[i - 1], "traceback")
        total = sum(d.size_diff for d in diff)
        print(f"  traced Python memory over the {label}: {total / 2**20:+.1f} MiB; largest:")
        for d in sorted(diff, key=lambda d: -d.size_diff)[:6]:
            frames = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in d.traceback[:4])
            print(f"    {d.size_diff / 2**20:+.2f} MiB in {d.count_diff:+,} blocks at {frames}")


def _produce(settings: Settings, values: list[bytes]) -> None:
    asyncio.run(produce_events(settings, settings.topic_predictions, [(None, v) for v in values]))


def _wait_counted(port: int, n: int) -> None:
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            body = http_get(f"http://127.0.0.1:{port}/metrics")[1]
        except OSError:  # a 2 s timeout while the worker is busy (traced, it is slow)
            continue
        if metric(body, "driftline_events_in_total", model="unknown") >= n:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the worker did not read {n} events")


def run() -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start")
    if os.environ.get("DRIFTLINE_BENCH_RENDER", "1") != "0":
        print("### render with 1,000 models x 50 features")
        _render_part("default statistics (5 series per feature)", DEFAULT_STATISTICS)
        _render_part("DRIFTLINE_METRICS_FEATURE_STATISTICS=all (12 per feature)", FAMILY_OF)
    flood = int(os.environ.get("DRIFTLINE_BENCH_FLOOD", "300000"))
    if flood:
        print("\n### worker memory under random unknown model ids")
        _flood_part(flood)


if __name__ == "__main__":
    run()
