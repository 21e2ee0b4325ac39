"""``driftline evaluate``: one file as one window against a baseline (offline engine door)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import click

from app.baseline.codec import load_baseline
from app.cli.options import setting
from app.codecs import to_json
from app.config import load_settings
from app.contracts.events import PREDICTION_FEATURE
from app.contracts.timestamps import format_rfc3339_ms
from app.files.readers import FORMATS, detect_format, rejected_lines
from app.pipeline.evaluate import evaluate_file
from app.stats.decision import WindowEvaluation
from app.stats.rules import load_config


@click.command()
@click.option("--baseline", "baseline_path", required=True, help="Baseline JSON file.")
@click.option(
    "--input",
    "input_path",
    required=True,
    help="Events or records: .csv, .jsonl/.ndjson, .parquet/.pq (the whole file is one window).",
)
@setting("drift_config")
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["json", "table"]),
    default="json",
    show_default=True,
    help="json: the window result document; table: one row per feature.",
)
@click.option(
    "--input-format",
    type=click.Choice(FORMATS),
    default=None,
    help="Input format (default: from the extension).",
)
@click.option(
    "--prediction-column",
    default=None,
    help=f"Column holding the model's output (default: {PREDICTION_FEATURE}, as prediction-event "
    "JSONL has, else the column the baseline was built from: baseline build "
    "--prediction-column).",
)
@click.option(
    "--exclude",
    multiple=True,
    help="Column to leave out (repeatable, or comma-separated), e.g. the label or an id.",
)
@click.option("--fail-on-drift", is_flag=True, help="Exit with status 1 when the window drifted.")
def evaluate(
    baseline_path: str,
    input_path: str,
    drift_config: str | None,
    out_format: str,
    input_format: str | None,
    prediction_column: str | None,
    exclude: tuple[str, ...],
    fail_on_drift: bool,
) -> None:
    """Evaluate a whole file as one window against a baseline and print the result."""
    settings = load_settings(drift_config=drift_config)
    baseline = load_baseline(baseline_path)
    config = load_config(settings.drift_config) if settings.drift_config else None
    excluded = {c.strip() for item in exclude for c in item.split(",") if c.strip()}
    result = evaluate_file(
        baseline,
        input_path,
        emitted_at=format_rfc3339_ms(time.time_ns() // 1_000_000),
        config=config,
        fmt=input_format,
        prediction_column=prediction_column,
        exclude=excluded,
    )
    lines = rejected_lines(input_path, detect_format(input_path, input_format), result.rejected)
    for line in lines[:-1]:
        click.echo(line, err=True)
    if lines:
        click.echo(f"evaluate: {lines[-1]}", err=True)
    doc = result.document
    if out_format == "json":
        sys.stdout.buffer.write(to_json(doc) + b"\n")
        sys.stdout.flush()
    else:
        why = tuple(f.summary for f in result.result.findings())
        click.echo(format_table(doc, result.evaluation, why))
    if fail_on_drift and doc["status"] == "drift":
        sys.exit(1)


def _num(value: object, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def format_table(
    doc: Mapping[str, Any], evaluation: WindowEvaluation, why: Sequence[str] = ()
) -> str:
    """A readable summary: the window, one row per feature with the tests that fired, then
    why each drifted feature drifted (the drift event's summaries)."""
    fired = {f.name: ",".join(f.reasons) for f in evaluation.features}
    ds = doc["dataset"]
    window = doc["window"]
    contract = doc["contract"]
    lines = [
        f"model     {doc['model_id']}"
        + (f" {doc['model_version']}" if doc["model_version"] else "")
        + f"  baseline {doc['baseline_id']}",
        f"window    {window['start']} .. {window['end']}  ({doc['n_events']:,} events)",
        f"status    {doc['status']}  severity {doc['severity']}  drifted "
        f"{ds['n_drifted']}/{ds['n_tested']} tested of {ds['n_features']} features"
        + ("  prediction drifted" if ds["prediction_drift"] else ""),
    ]
    for key in ("unavailable", "unknown", "type_changed"):
        if contract[key]:
            lines.append(f"{key:<9} {', '.join(contract[key])}")
    header = ("feature", "type", "n", "test", "p", "p_adj", "effect", "status", "flagged by")
    rows = [header]
    for f in doc["features"]:
        effect = f["effect"]
        effect_text = (
            f"{effect['name']} {_num(effect['value'])} / {_num(effect['threshold'])}"
            if effect is not None
            else "-"
        )
        rows.append(
            (
                f["name"],
                f["type"] or "-",
                f"{f['n']:,}",
                f["test"] or "-",
                _num(f["p_value"]),
                _num(f["p_value_adjusted"]),
                effect_text,
                f["status"],
                fired.get(f["name"]) or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    right = {2, 4, 5}
    lines.append("")
    for r in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    if why:
        lines.append("")
        lines.extend(f"why       {sentence}" for sentence in why)
    lines.append("")
    lines.append(
        "effect: value / bar (the threshold plus sampling noise at this n); flagged by: "
        "distribution (KS or chi-square), null_rate (share without a usable value), "
        "unseen (categories never seen in training)"
    )
    return "\n".join(lines)
