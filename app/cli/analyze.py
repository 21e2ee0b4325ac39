"""``driftline analyze``: a file through the stream's event-time windows, without Kafka.

Output: JSON Lines, one document per line, in close order (windows oldest first, then by
model); each window result (``"kind": "window_result"``) is followed at once by its drift
event (``"kind": "drift_event"``) when the window drifted, then by the drift incident's
lifecycle event (``"kind": "incident"``: opened, updated, resolved) when its close gave
one. Invalid input lines and the summary go to stderr. See ``app.pipeline.analyze`` for the rules.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

import click

from app.baseline.codec import load_baseline
from app.cli import EXIT_NOW
from app.cli.options import setting
from app.config import load_settings
from app.contracts import DeadLetterReason
from app.contracts.events import PREDICTION_FEATURE
from app.contracts.timestamps import parse_rfc3339_ms
from app.errors import InputError
from app.files.readers import FORMATS, detect_format, input_size, where
from app.pipeline.analyze import AnalysisSummary, AnalyzeOptions, iter_analysis
from app.stats.rules import load_config
from app.stats.special import prefetch
from app.stream.allocator import quiet_collector

if TYPE_CHECKING:
    from tqdm import tqdm


@click.command()
@click.option(
    "--input",
    "input_path",
    required=True,
    help="Prediction events (.jsonl/.ndjson, one per line) or flat records with a timestamp "
    "column (.csv, .parquet/.pq).",
)
@click.option("--baseline", "baseline_path", required=True, help="Baseline JSON file.")
@setting("drift_config")
@click.option("--out", default=None, help="Write the JSONL here (default: stdout).")
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["jsonl"]),
    default="jsonl",
    show_default=True,
    help="Output format: one window result or drift event per line, in close order.",
)
@setting("window_seconds")
@setting("allowed_lateness_seconds")
@setting("resolve_after_windows")
@click.option(
    "--timestamp-column",
    default=None,
    help="CSV/Parquet: the event-time column, RFC 3339 text or epoch ms (default: timestamp).",
)
@click.option(
    "--model-id",
    default=None,
    help="CSV/Parquet: the model the records belong to (default: the baseline's).",
)
@click.option(
    "--prediction-column",
    default=None,
    help=f"CSV/Parquet: the model's output column (default: {PREDICTION_FEATURE} when present, "
    "else the column the baseline was built from, when present).",
)
@click.option(
    "--exclude",
    multiple=True,
    help="CSV/Parquet: column to leave out (repeatable, or comma-separated), e.g. an id.",
)
@click.option(
    "--input-format",
    type=click.Choice(FORMATS),
    default=None,
    help="Input format (default: from the extension).",
)
@click.option(
    "--emitted-at",
    default=None,
    help="RFC 3339 time written as every document's emitted_at (reproducible output; "
    "default: the wall clock at each close).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
def analyze(
    input_path: str,
    baseline_path: str,
    drift_config: str | None,
    out: str | None,
    out_format: str,
    window_seconds: int | None,
    allowed_lateness_seconds: int | None,
    resolve_after_windows: int | None,
    timestamp_column: str | None,
    model_id: str | None,
    prediction_column: str | None,
    exclude: tuple[str, ...],
    input_format: str | None,
    emitted_at: str | None,
    no_progress: bool,
) -> str:
    """Window a file by event time and evaluate every window, as the stream would."""
    # scipy.special is first needed when a window closes: imported meanwhile, while the
    # extension folds without the GIL.
    prefetch()
    settings = load_settings(
        window_seconds=window_seconds,
        allowed_lateness_seconds=allowed_lateness_seconds,
        drift_config=drift_config,
        resolve_after_windows=resolve_after_windows,
    )
    emitted_ms: int | None = None
    if emitted_at is not None:
        emitted_ms = parse_rfc3339_ms(emitted_at)
        if emitted_ms is None or emitted_ms < 0:
            raise click.BadParameter(
                f"{emitted_at!r} is not an RFC 3339 time (e.g. 2026-01-01T00:00:00Z)",
                param_hint="--emitted-at",
            )
    baseline = load_baseline(baseline_path)
    quiet_collector()
    excluded = {c.strip() for item in exclude for c in item.split(",") if c.strip()}
    options = AnalyzeOptions(
        window=settings.window_spec(),
        fmt=input_format,
        config=load_config(settings.drift_config) if settings.drift_config else None,
        emitted_at_ms=emitted_ms,
        timestamp_column=timestamp_column,
        prediction_column=prediction_column,
        model_id=model_id,
        exclude=frozenset(excluded),
        resolve_after=settings.resolve_after_windows,
    )
    fmt = detect_format(input_path, input_format)
    total, unit = input_size(input_path, fmt)

    def report(line: int, reason: DeadLetterReason, message: str) -> None:
        text = f"{input_path}, {where(fmt, line)}: {reason}: {message}"
        if bars:  # tqdm.write keeps the progress bar below the message, not broken by it
            type(bars[0]).write(text, file=sys.stderr)
        else:
            click.echo(text, err=True)

    summary = AnalysisSummary()
    bars: list[tqdm[None]] = []  # the bar, once the input has passed the checks

    def progress(position: int) -> None:
        for bar in bars:
            bar.update(min(position, total or position) - bar.n)

    # Checks the input and the options before anything is written.
    documents = iter_analysis(
        input_path, baseline, options, summary, on_invalid=report, on_progress=progress
    )
    with _output(out) as sink, contextlib.ExitStack() as stack:
        if not no_progress:  # tqdm is imported only for a bar (30 ms of a start)
            from tqdm import tqdm

            bars.append(
                stack.enter_context(
                    tqdm(
                        total=total or None,
                        unit=unit,
                        unit_scale=True,
                        desc=f"analyzing {os.path.basename(input_path)}",
                        file=sys.stderr,
                        leave=False,
                    )
                )
            )
        for doc in documents:
            sink.write(doc.data + b"\n")
    click.echo(
        f"analyze: {summary.line()}" + (f" -> {out}" if out else ""),
        err=True,
    )
    return EXIT_NOW


@contextlib.contextmanager
def _output(out: str | None) -> Iterator[IO[bytes]]:
    """stdout, or a file replaced atomically when the analysis completes (never half)."""
    if out is None:
        yield sys.stdout.buffer
        sys.stdout.flush()
        return
    target = os.path.abspath(out)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".analyze-", suffix=".tmp", dir=os.path.dirname(target))
    except OSError as err:
        raise InputError(f"cannot write: {err.strerror}", path=out) from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would create it (mkstemp makes it 0600)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
