"""``driftline report``: window results (and drift events) from a JSONL file, or a time
range of the windows (and alerts) topic, to one self-contained HTML page. The building is
in ``app.report``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from app.cli.options import setting
from app.cli.replay import parse_time
from app.config import Settings, load_settings
from app.errors import DriftlineError, InputError

if TYPE_CHECKING:
    from app.report.load import ReportInput


@click.command()
@click.argument("input_path", metavar="[INPUT]", required=False)
@click.option("-o", "--out", required=True, help="The HTML file to write (replaced whole).")
@click.option("--title", default=None, help="Page title (default: Driftline report: INPUT).")
@click.option("--from", "from_", default=None,
              help="Read the windows topic instead of INPUT: windows starting at or after "
              "this time (RFC 3339, epoch ms or earliest).")  # fmt: skip
@click.option("--to", default=None,
              help="With --from: only windows starting before this time "
              "(default: no end).")  # fmt: skip
@click.option("--topic", default=None,
              help="With --from: the windows topic "
              "(default: DRIFTLINE_TOPIC_WINDOWS).")  # fmt: skip
@click.option("--alerts-topic", default=None,
              help="With --from: the drift events' topic (default: --topic's name with the "
              "windows topic's replaced by the alerts topic's, e.g. driftline-alerts.replay "
              "beside driftline-windows.replay; left out when it does not exist).")  # fmt: skip
@setting("kafka_bootstrap")
@click.option("--no-progress", is_flag=True, help="No progress line while reading topics.")
def report(
    input_path: str | None,
    out: str,
    title: str | None,
    from_: str | None,
    to: str | None,
    topic: str | None,
    alerts_topic: str | None,
    kafka_bootstrap: str | None,
    no_progress: bool,
) -> None:
    """Write an HTML report of the window results in INPUT, or of a time range of the
    windows topic (--from, --to).

    INPUT is JSON Lines: `driftline analyze` output, or `driftline tail windows --json`
    (and `tail alerts --json`) of a replay's topics. With --from, the windows (and alerts)
    topic is read up to its end at the start, without a consumer group. The page works
    offline: plotly.js is inside it.
    """
    from app.report.load import load_report_input
    from app.report.page import plural, render_page

    if (input_path is None) == (from_ is None):
        raise DriftlineError("give INPUT (a JSONL file) or --from (read the windows topic)")
    if input_path is None and from_ is not None:
        settings = load_settings(kafka_bootstrap=kafka_bootstrap)
        from_ms = parse_time(from_, "--from")
        to_ms = parse_time(to, "--to") if to else None
        windows_topic = topic or settings.topic_windows
        data = read_report_topics(
            settings,
            windows_topic,
            alerts_topic,
            from_ms,
            to_ms,
            progress=not no_progress,
        )
        default_title = f"Driftline report: {windows_topic} from {from_} to {to or 'end'}"
    else:
        if to or topic or alerts_topic:
            raise DriftlineError("--to, --topic and --alerts-topic go with --from, not INPUT")
        assert input_path is not None
        data = load_report_input(input_path)
        default_title = f"Driftline report: {os.path.basename(input_path)}"
    page, stats = render_page(data, title=title or default_title)
    _write(out, page.encode())
    skipped = f", {data.n_skipped:,} other documents left out" if data.n_skipped else ""
    click.echo(
        f"report: {plural(stats.n_models, 'model')}, {plural(stats.n_windows, 'window')} "
        f"({stats.n_drifted:,} drifted, {plural(stats.n_incidents, 'incident')}, "
        f"{stats.n_detailed:,} detailed), {plural(data.n_events, 'drift event')}{skipped} "
        f"-> {out}",
        err=True,
    )


def paired_alerts_topic(settings: Settings, windows_topic: str) -> str:
    """The alerts topic written beside ``windows_topic``: a replay's suffix carried over."""
    if windows_topic.startswith(settings.topic_windows):
        return settings.topic_alerts + windows_topic[len(settings.topic_windows) :]
    return settings.topic_alerts


def read_report_topics(
    settings: Settings,
    windows_topic: str,
    alerts_topic: str | None,
    from_ms: int,
    to_ms: int | None,
    *,
    progress: bool,
) -> ReportInput:
    """The window results (and drift events) whose window starts in [from_ms, to_ms).

    The whole topic is read up to its end offsets at the start: a result's record time is
    when it was written (a replay writes old windows now), not its window's time, so
    offsets for times would miss results."""
    from app.report.load import build_report_input
    from app.stream.tail import TopicMissing

    def in_range(doc: Mapping[str, Any]) -> bool:
        start = int(doc["window"]["start_ms"])
        return start >= from_ms and (to_ms is None or start < to_ms)

    explicit = alerts_topic is not None
    alerts = alerts_topic or paired_alerts_topic(settings, windows_topic)
    records = asyncio.run(_read(settings, windows_topic, progress))
    try:
        records += asyncio.run(_read(settings, alerts, progress))
    except TopicMissing:
        if explicit:
            raise
        click.echo(f"report: no topic {alerts}: no drift events in the report", err=True)
    items = ((f"{r.topic}[{r.partition}]@{r.offset}", None, r.value or b"") for r in records)
    return build_report_input(
        items,
        keep=in_range,
        empty_hint=f"with a window starting in this range (read {len(records):,} records)",
        source=windows_topic,
    )


async def _read(settings: Settings, topic: str, progress: bool) -> list[Any]:
    from tqdm import tqdm

    from app.stream.tail import read_to_end

    with tqdm(
        unit="rec", disable=not progress, desc=f"report: reading {topic}", dynamic_ncols=True
    ) as bar:

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        return await read_to_end(settings, topic, update)


def _write(out: str, data: bytes) -> None:
    """Replace ``out`` atomically, so a failed run never leaves half a page."""
    target = os.path.abspath(out)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".tmp", dir=os.path.dirname(target))
    except OSError as err:
        raise InputError(f"cannot write: {err.strerror}", path=out) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would create it (mkstemp makes it 0600)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
