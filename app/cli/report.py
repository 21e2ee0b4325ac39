"""``driftline report``: window results (and drift events) from a JSONL file to one
self-contained HTML page. The building is in ``app.report``."""

from __future__ import annotations

import contextlib
import os
import tempfile

import click

from app.errors import InputError


@click.command()
@click.argument("input_path", metavar="INPUT")
@click.option("-o", "--out", required=True, help="The HTML file to write (replaced whole).")
@click.option("--title", default=None, help="Page title (default: Driftline report: INPUT).")
def report(input_path: str, out: str, title: str | None) -> None:
    """Write an HTML report of the window results in INPUT.

    INPUT is JSON Lines: `driftline analyze` output, or `driftline tail windows --json`
    (and `tail alerts --json`) of a replay's topics. The page works offline: plotly.js is
    inside it.
    """
    from app.report.load import load_report_input
    from app.report.page import plural, render_page

    data = load_report_input(input_path)
    page, stats = render_page(
        data, title=title or f"Driftline report: {os.path.basename(input_path)}"
    )
    _write(out, page.encode())
    skipped = f", {data.n_skipped:,} other documents left out" if data.n_skipped else ""
    click.echo(
        f"report: {plural(stats.n_models, 'model')}, {plural(stats.n_windows, 'window')} "
        f"({stats.n_drifted:,} drifted, {plural(stats.n_incidents, 'incident')}, "
        f"{stats.n_detailed:,} detailed), {plural(data.n_events, 'drift event')}{skipped} "
        f"-> {out}",
        err=True,
    )


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
