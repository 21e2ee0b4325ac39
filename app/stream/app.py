"""The Faust app: transport, state and web surface around the pure packages."""

from __future__ import annotations

from typing import Any

import faust
from aiohttp.web import Response

from app.config import Settings


def create_app(settings: Settings) -> faust.App:
    """Build the Faust app from settings.

    Faust's own ``/table`` and ``/router`` pages are off: they would serve table contents
    to anyone who can reach the port (faust-pitfalls §9). The web server binds to
    ``settings.web_host`` (127.0.0.1 unless configured).
    """
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url(),
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
        # One event at a time per agent: concurrency>1 breaks at-least-once commits (faust #606).
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
    )

    predictions = app.topic(settings.topic_predictions, value_serializer="raw")

    @app.agent(predictions)
    async def consume(stream: Any) -> None:
        # Placeholder until the stream issue: joins the group and drains the input topic.
        async for _ in stream:
            pass

    @app.page("/health")
    async def health(web: Any, request: Any) -> Response:
        return Response(text="ok\n", content_type="text/plain")

    return app
