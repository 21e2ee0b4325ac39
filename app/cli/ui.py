"""``driftline ui``: a live page of the windows and alerts topics, served on 127.0.0.1
by default. The building is in ``app.ui``."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from datetime import UTC, datetime

import click

from app.cli.options import setting
from app.config import Settings, load_settings
from app.errors import DriftlineError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_lookback(text: str) -> int:
    """``90s``, ``30m``, ``24h``, ``7d`` as seconds."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if found is None:
        raise DriftlineError(f"--since {text!r}: expected a duration such as 30m, 24h or 7d")
    return int(found.group(1)) * _UNITS[found.group(2)]


@click.command()
@setting("ui_host")
@setting("ui_port")
@click.option("--since", default="24h", show_default=True,
              help="How far back to read the topics (record time): 30m, 24h, 7d...")  # fmt: skip
@click.option("--topic", default=None,
              help="The windows topic (default: DRIFTLINE_TOPIC_WINDOWS).")  # fmt: skip
@click.option("--alerts-topic", default=None,
              help="The alerts topic (default: DRIFTLINE_TOPIC_ALERTS).")  # fmt: skip
@setting("kafka_bootstrap")
def ui(
    ui_host: str | None,
    ui_port: int | None,
    since: str,
    topic: str | None,
    alerts_topic: str | None,
    kafka_bootstrap: str | None,
) -> None:
    """Serve a live page of the window results and alerts: models, each model's timeline,
    each window's histograms and statistics, open incidents. New windows appear as they
    close. No consumer group, no commits. Ctrl-C stops it."""
    settings = load_settings(ui_host=ui_host, ui_port=ui_port, kafka_bootstrap=kafka_bootstrap)
    since_ms = int(time.time() * 1000) - parse_lookback(since) * 1000
    windows = topic or settings.topic_windows
    alerts = alerts_topic or settings.topic_alerts
    asyncio.run(_serve(settings, windows, alerts, since_ms))
    click.echo("ui: stopped", err=True)


async def _serve(settings: Settings, windows: str, alerts: str, since_ms: int) -> None:
    from aiohttp import web

    from app.ui.feed import FeedStatus, open_feed, run_feed
    from app.ui.server import make_app
    from app.ui.state import LiveState

    state = LiveState()
    status = FeedStatus()
    consumer, end = await open_feed(settings, windows, alerts, since_ms, status)
    since_text = datetime.fromtimestamp(since_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    about = {"windows_topic": windows, "alerts_topic": alerts, "since": since_text}
    runner = web.AppRunner(make_app(state, status, about), access_log=None)
    feed = asyncio.create_task(run_feed(consumer, end, state, status))
    try:
        await runner.setup()
        site = web.TCPSite(runner, settings.ui_host, settings.ui_port)
        try:
            await site.start()
        except OSError as err:
            raise DriftlineError(
                f"cannot serve on {settings.ui_host}:{settings.ui_port}: {err.strerror}"
            ) from None
        host, port = _bound(site, settings)
        click.echo(
            f"ui: http://{host}:{port}/ ({windows}"
            f"{f' and {alerts}' if status.alerts else f', no topic {alerts}'} since "
            f"{since_text}); Ctrl-C stops",
            err=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        done = asyncio.create_task(stop.wait())
        await asyncio.wait({feed, done}, return_when=asyncio.FIRST_COMPLETED)
        done.cancel()
        if feed.done():
            feed.result()  # the feed failed: its error, one line
    finally:
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed
        await runner.cleanup()


def _bound(site: object, settings: Settings) -> tuple[str, int]:
    """The address the site listens on (the port the system chose, for port 0)."""
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    for sock in sockets:
        host, port = sock.getsockname()[:2]
        return str(host), int(port)
    return settings.ui_host, settings.ui_port
