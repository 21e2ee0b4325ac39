"""``driftline worker``: run one Faust worker process."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import TYPE_CHECKING

import click

from app.cli.options import setting
from app.config import Settings, env_name, load_settings
from app.errors import DriftlineError

if TYPE_CHECKING:
    import faust


@click.command()
@setting("kafka_bootstrap")
@setting("window_seconds")
@setting("allowed_lateness_seconds")
@setting("drift_config")
@setting("web_port")
@setting("instance_id")
@setting("session_timeout_seconds")
@setting("data_dir")
@setting("log_level")
@setting("log_format")
def worker(**overrides: object) -> None:
    """Start a Driftline worker: joins the group, serves /health on DRIFTLINE_WEB_HOST (127.0.0.1
    by default); SIGTERM stops it."""
    from app.stream.admin import create_topics
    from app.stream.allocator import fix_mmap_threshold, quiet_collector
    from app.stream.app import create_app

    settings = load_settings(**overrides)
    check_web_port(settings.web_host, settings.web_port)
    fix_mmap_threshold()  # RSS stays flat under floods of dead letters (app.stream.allocator)
    # Topics first (idempotent): Faust would otherwise auto-create the partials topic with
    # the broker's default partition count, and stage 1's snapshot topic must be compacted.
    asyncio.run(create_topics(settings))
    app = create_app(settings)
    quiet_collector()
    # The web port and bind address are app settings (create_app); faust's Worker takes neither.
    faust_worker(app, settings).execute_from_commandline()


def check_web_port(host: str, port: int) -> None:
    """Fail in one line, before any Kafka work, when the web port cannot be bound.

    Faust would find out only after joining the group, and die with two tracebacks. The
    probe binds as aiohttp will (SO_REUSEADDR), so a port in TIME_WAIT still passes. A
    process that takes the port between this probe and the worker's bind is not caught.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.create_server((host, port), family=family):
            pass
    except OSError as err:
        # create_server rewords the error; the errno's own text is the short one.
        reason = os.strerror(err.errno) if err.errno else str(err)
        raise DriftlineError(
            f"cannot serve the web pages on {host}:{port}: {reason}; "
            f"choose another port with {env_name('web_port')} (or --web-port)"
        ) from None


def faust_worker(app: faust.App, settings: Settings) -> faust.Worker:
    """Faust's worker for ``app``, logging as ``settings`` say (``app.stream.logs``)."""
    from faust import Worker

    from app.stream.logs import logging_config

    # quiet: no startup banner (a box-drawn table on stdout); our logging config replaces
    # Faust's (text or JSON lines on stderr, app.stream.logs).
    worker = Worker(
        app,
        loglevel=settings.log_level,
        quiet=True,
        logging_config=logging_config(settings.log_format, settings.log_level),
    )
    # No terminal spinner: to spin on every log record it sets the root logger to DEBUG, so
    # each debug call in aiokafka and Faust built a record and ran the handlers (2.5% of a
    # worker at full rate).
    worker.spinner = None
    return worker
