"""``driftline worker``: run one Faust worker process."""

from __future__ import annotations

import asyncio

import click

from app.config import load_settings


@click.command()
@click.option("--web-port", type=int, default=None, help="Web port (DRIFTLINE_WEB_PORT, 6066).")
@click.option("--data-dir", default=None, help="State directory (DRIFTLINE_DATA_DIR).")
@click.option("--loglevel", default=None, help="Log level (DRIFTLINE_LOG_LEVEL, info).")
def worker(web_port: int | None, data_dir: str | None, loglevel: str | None) -> None:
    """Start a Driftline worker: joins the group, serves /health on 127.0.0.1; SIGTERM stops it."""
    from faust import Worker

    from app.stream.admin import create_topics
    from app.stream.app import create_app

    settings = load_settings(web_port=web_port, data_dir=data_dir, log_level=loglevel)
    # Topics first (idempotent): Faust would otherwise auto-create the partials topic with
    # the broker's default partition count, and stage 1's snapshot topic must be compacted.
    asyncio.run(create_topics(settings))
    app = create_app(settings)
    # The web port and bind address are app settings (create_app); faust's Worker takes neither.
    Worker(app, loglevel=settings.log_level).execute_from_commandline()
