"""The Faust app: transport, state and web surface around the pure packages."""

from __future__ import annotations

import logging
from typing import Any, cast

import faust
from faust.web import Request, Response, View

from app.baseline.registry import BaselineRegistry
from app.config import Settings
from app.pipeline.close import WindowCloser, histogram_ops
from app.stream import kafka
from app.stream.admin import MAX_STATE_BYTES
from app.stream.baseline_feed import BaselineFeed
from app.stream.bin_stage import BinStage
from app.stream.incident_stage import IncidentStage
from app.stream.merge_stage import MergeStage
from app.stream.metrics import CONTENT_TYPE, DriftlineMetrics
from app.stream.web import stream_response

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, live: bool = True) -> faust.App:
    """Build the Faust app from settings.

    Faust's own ``/table`` and ``/router`` pages are off: they would serve table contents
    to anyone who can reach the port (faust-pitfalls §9). The web server binds to
    ``settings.web_host`` (127.0.0.1 unless configured).
    """
    app = faust.App(
        settings.app_id,
        **kafka.faust_broker(settings),
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_tables_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        # Stage 2 records the partials offset it applied in its table, so a revocation need
        # not wait for in-flight events: the next owner resumes from the table.
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
        # Stage 2's table values and results (app.stream.admin.MAX_STATE_BYTES).
        producer_max_request_size=MAX_STATE_BYTES,
        table_standby_replicas=0,
        # Static membership: a restarted worker gets its partitions back without a rebalance.
        **kafka.faust_membership(settings),
    )
    registry = BaselineRegistry()
    metrics = DriftlineMetrics(statistics=settings.exported_statistics())
    feed = BaselineFeed(settings, registry, listener=metrics)
    closer = WindowCloser.from_path(
        registry, settings.window_spec(), settings.topic_predictions, settings.drift_config
    )
    # Stage 1 runs on its own batch consumer (see app.stream.bin_stage for why), stage 2 as an
    # agent; both in this worker process.
    first = BinStage(settings, registry, histogram_ops(), metrics, live=live)
    second = MergeStage(app, settings, closer.close, metrics)
    # Stage 3: each model's drift incidents from the windows stage 2 closes, in order.
    third = IncidentStage(app, settings, metrics)

    @app.task  # type: ignore[untyped-decorator]  # faust's decorator is untyped
    async def stage1() -> None:
        await feed.ready.wait()
        await first.run_forever()

    @app.agent(second.partials)
    async def stage2(stream: Any) -> None:
        await feed.ready.wait()
        async for event in stream.events():
            await second.on_partials_event(event)

    @app.agent(third.reports)
    async def stage3(stream: Any) -> None:
        async for event in stream.events():
            await third.on_report_event(event)

    @app.task  # type: ignore[untyped-decorator]  # faust's decorator is untyped
    async def baselines() -> None:
        await feed.run()

    @app.on_partitions_revoked.connect
    def on_revoked(sender: Any, /, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        second.forget_all()
        third.forget_all()

    @app.on_before_shutdown.connect
    async def on_shutdown(sender: Any, /, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        await second.input_ends.close()

    @app.page("/health")
    async def health(web: View, request: Request) -> Response:
        return web.text("ok\n")

    def is_ready() -> bool:
        recovered = cast(Any, app.tables).recovery.completed.is_set()
        return bool(
            feed.ready.is_set() and first.joined.is_set() and recovered and not app.rebalancing
        )

    metrics.readiness(is_ready)

    @app.page("/ready")
    async def ready(web: View, request: Request) -> Response:
        ok = is_ready()
        return web.text("ready\n" if ok else "not ready\n", status=200 if ok else 503)

    @app.page("/metrics")
    async def metrics_page(web: View, request: Request) -> Any:
        # Rendered on the loop in slices of cached text, then written chunk by chunk: with
        # 1,000 models of 50 features the text is tens of MB, and a render in a thread
        # still stalled the loop (GIL, garbage collection) by 13-230 ms (README, "Metrics").
        chunks = await metrics.render_async()
        return await stream_response(cast(Any, request), chunks, CONTENT_TYPE)

    app.driftline_stages = (first, second)  # type: ignore[attr-defined]
    return app
