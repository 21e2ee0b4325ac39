"""``driftline baseline ...``: build a training baseline from a file, show one.

(``publish`` joins this group later.)
"""

from __future__ import annotations

from collections import Counter

import click

from app.baseline.build import (
    DEFAULT_BINS,
    DEFAULT_KS_CELLS,
    DEFAULT_TOLERANCE,
    DEFAULT_TOP_K,
    BuildOptions,
    FeatureSpec,
    build_baseline,
    load_feature_spec,
)
from app.baseline.codec import dump_baseline, load_baseline
from app.baseline.model import Baseline, FeatureBaseline
from app.cli.migrate import migrate
from app.cli.output import echo_json
from app.cli.publish import publish
from app.contracts.events import PREDICTION_FEATURE
from app.files.readers import FORMATS


@click.group()
def baseline() -> None:
    """Build, show and publish training baselines."""


@baseline.command()
@click.option(
    "--input",
    "input_path",
    required=True,
    help="Training data: .csv, .jsonl/.ndjson, .parquet/.pq.",
)
@click.option("--model-id", required=True, help="The model_id its prediction events carry.")
@click.option("--model-version", default=None, help="Model version (stored, informational).")
@click.option(
    "--prediction-column",
    default=None,
    help=f"Column holding the model's output, profiled as {PREDICTION_FEATURE} (default: the "
    f"{PREDICTION_FEATURE} column when the input has one, as prediction-event JSONL does).",
)
@click.option(
    "--exclude",
    multiple=True,
    help="Column to leave out (repeatable, or comma-separated), e.g. the label or an id.",
)
@click.option(
    "--feature-spec",
    default=None,
    help='JSON: {"features": {"col": {"type": "numeric|categorical|boolean", "bins": 30, '
    '"top_k": 20}}, "exclude": ["col"]}.',
)
@click.option(
    "--bins",
    type=click.IntRange(min=1),
    default=DEFAULT_BINS,
    show_default=True,
    help="Quantile bins per numeric feature.",
)
@click.option(
    "--ks-cells",
    type=click.IntRange(min=0),
    default=DEFAULT_KS_CELLS,
    show_default=True,
    help="Quantile cells of each numeric feature's KS grid, finer than its bins so the KS "
    "p-value follows the raw samples' (0: KS on the bins).",
)
@click.option(
    "--top-k",
    type=click.IntRange(min=1),
    default=DEFAULT_TOP_K,
    show_default=True,
    help="Categories kept per categorical feature (the rest: other).",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0.0, 0.5),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Share of a column's values that may be of another type (counted as nulls).",
)
@click.option(
    "--input-format",
    "--format",  # the older spelling; --input-format as in evaluate and analyze
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Input format (default: from the extension).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@click.option("--out", required=True, help="Where to write the baseline JSON.")
def build(
    input_path: str,
    model_id: str,
    model_version: str | None,
    prediction_column: str | None,
    exclude: tuple[str, ...],
    feature_spec: str | None,
    bins: int,
    ks_cells: int,
    top_k: int,
    tolerance: float,
    fmt: str | None,
    no_progress: bool,
    out: str,
) -> None:
    """Profile a training file into a baseline: quantile bins, top-K categories, counts."""
    specs: dict[str, FeatureSpec] = {}
    excluded = {c.strip() for item in exclude for c in item.split(",") if c.strip()}
    if feature_spec is not None:
        specs, spec_excluded = load_feature_spec(feature_spec)
        excluded |= spec_excluded
    options = BuildOptions(
        model_id=model_id,
        model_version=model_version,
        fmt=fmt,
        prediction_column=prediction_column,
        exclude=frozenset(excluded),
        features=specs,
        bins=bins,
        ks_cells=ks_cells,
        top_k=top_k,
        tolerance=tolerance,
        progress=not no_progress,
    )
    result = build_baseline(input_path, options)
    dump_baseline(result.baseline, out)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    b = result.baseline
    click.echo(
        f"{b.baseline_id}: {_kinds(b)} from {result.rows:,} rows in {result.seconds:.1f} s "
        f"({result.rows / max(result.seconds, 1e-9):,.0f} rows/s) -> {out}",
        err=True,
    )


@baseline.command()
@click.argument("path")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary as JSON (one row per feature)."
)
def show(path: str, as_json: bool) -> None:
    """Validate a baseline file and print a readable summary."""
    b = load_baseline(path)
    if as_json:
        echo_json(summary_doc(b))
    else:
        click.echo(summary(b))


def _kinds(b: Baseline) -> str:
    kinds = Counter(f.type for f in b.features if f.role == "feature")
    parts = [f"{kinds[k]} {k}" for k in ("numeric", "categorical", "boolean") if kinds[k]]
    pred = b.feature(PREDICTION_FEATURE)
    text = ", ".join(parts) + " features"
    return text + (f" + {pred.type} prediction" if pred is not None else ", no prediction")


def summary_doc(b: Baseline) -> dict[str, object]:
    """The summary as one JSON document: the header fields, then one object per feature."""
    features: list[dict[str, object]] = []
    for f in b.features:
        row: dict[str, object] = {"name": f.name, "type": f.type, "role": f.role}
        if f.numeric is not None:
            n = f.numeric
            row |= {
                "count": n.count,
                "nulls": n.null_count,
                "bins": len(n.edges) - 1,
                "min": n.min,
                "max": n.max,
                "mean": n.mean,
                "std": n.std,
            }
        elif f.categorical is not None:
            c = f.categorical
            row |= {
                "count": c.count,
                "nulls": c.null_count,
                "categories": len(c.categories),
                "other": c.counts[-1],
            }
        features.append(row)
    return {
        "baseline_id": b.baseline_id,
        "model_id": b.model_id,
        "model_version": b.model_version,
        "created_at": b.created_at,
        "prediction_column": b.prediction_column,
        "source": dict(b.source),
        "features": features,
    }


def summary(b: Baseline) -> str:
    """Several lines: the header, then one line per feature."""
    src = b.source
    lines = [
        f"baseline    {b.baseline_id}",
        f"model       {b.model_id}" + (f" {b.model_version}" if b.model_version else ""),
        f"created     {b.created_at}",
        f"source      {src.get('path', '?')} ({src.get('format', '?')}, "
        f"{src.get('rows', '?')} rows)",
        f"features    {_kinds(b)}",
        "",
    ]
    width = max(len(f.name) for f in b.features)
    for f in b.features:
        role = ""
        if f.role == "prediction":
            column = b.prediction_column
            role = f"  (prediction, from column {column!r})" if column else "  (prediction)"
        lines.append(f"  {f.name:<{width}}  {_describe(f)}{role}")
    return "\n".join(lines)


def _describe(f: FeatureBaseline) -> str:
    if f.numeric is not None:
        n = f.numeric
        return (
            f"{f.type:<11} n={n.count:,} nulls={n.null_count:,} bins={len(n.edges) - 1} "
            f"min={n.min:.6g} max={n.max:.6g} mean={n.mean:.6g} std={n.std:.6g}"
        )
    assert f.categorical is not None
    c = f.categorical
    top = ", ".join(f"{cat}:{cnt:,}" for cat, cnt in zip(c.categories[:5], c.counts, strict=False))
    more = f", ... {len(c.categories) - 5} more" if len(c.categories) > 5 else ""
    return (
        f"{f.type:<11} n={c.count:,} nulls={c.null_count:,} categories={len(c.categories)} "
        f"other={c.counts[-1]:,} [{top}{more}]"
    )


# Subcommands with their own modules.
baseline.add_command(publish)
baseline.add_command(migrate)
