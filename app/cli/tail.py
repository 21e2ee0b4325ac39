"""``driftline tail windows|alerts|deadletter``: follow a result topic, one line a message."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import click
import orjson

from app.cli.options import setting
from app.cli.output import echo_json_line
from app.config import Settings, load_settings


def _num(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _effect(effect: Mapping[str, Any] | None) -> str:
    if not effect:  # no distribution test ran: it drifted by its null rate (e.g. stopped)
        return "null rate"
    return f"{effect['name']} {_num(effect['value'])} > {_num(effect['threshold'])}"


def describe_window(doc: Mapping[str, Any]) -> str:
    """model, window start, events, status, drifted features."""
    drifted = [f["name"] for f in doc["features"] if f.get("drifted")]
    return "  ".join(
        [
            doc["model_id"],
            doc["window"]["start"],
            f"n={doc['n_events']}",
            doc["status"] + (" (partial)" if doc.get("partial") else ""),
            f"drifted: {', '.join(drifted) if drifted else '-'}",
        ]
    )


def _why(f: Mapping[str, Any]) -> str:
    """A drifted feature's summary (version 2), else its effect against its bar."""
    summary = f.get("summary")
    if isinstance(summary, str):
        return summary
    return f"{f['name']} {_effect(f.get('effect'))}"


def describe_incident(doc: Mapping[str, Any]) -> str:
    """model, incident id and event (#sequence), window, severity, drifted features."""
    return "  ".join(
        [
            doc["model_id"],
            f"incident {doc['incident_id']} {doc['event']} #{doc['sequence']}",
            f"{doc['window']['start']}..{doc['window']['end']}",
            f"severity={doc['severity']}",
            ", ".join(f["name"] for f in doc["drifted_features"]) or "-",
        ]
    )


def describe_alert(doc: Mapping[str, Any]) -> str:
    """model, window, severity, each drifted feature's summary (version 1: its effect
    against its bar); an incident lifecycle event (same topic) in its own line."""
    if doc.get("kind") == "incident":
        return describe_incident(doc)
    separator = " | " if doc.get("schema_version", 1) >= 2 else "; "
    features = separator.join(_why(f) for f in doc["drifted_features"])
    return "  ".join(
        [
            doc["model_id"],
            f"{doc['window']['start']}..{doc['window']['end']}",
            f"severity={doc['severity']}",
            features or "-",
        ]
    )


def describe_dead_letter(doc: Mapping[str, Any]) -> str:
    """reason, where the input was (topic[partition]@offset), the error message."""
    src = doc["source"]
    where = f"{src['topic']}[{src['partition']}]@{src['offset']}"
    return "  ".join([doc["reason"], where, doc["error"]])


KINDS: dict[str, tuple[Callable[[Settings], str], Callable[[Mapping[str, Any]], str]]] = {
    "windows": (lambda s: s.topic_windows, describe_window),
    "alerts": (lambda s: s.topic_alerts, describe_alert),
    "deadletter": (lambda s: s.topic_deadletter, describe_dead_letter),
}


async def _tail(
    settings: Settings,
    kind: str,
    from_beginning: bool,
    limit: int | None,
    idle_s: float | None,
    as_json: bool,
) -> None:
    from app.stream.tail import follow

    topic_of, describe = KINDS[kind]
    topic = topic_of(settings)
    records = follow(settings, topic, from_beginning=from_beginning, limit=limit, idle_s=idle_s)
    async with contextlib.aclosing(records):
        async for rec in records:
            where = f"{rec.topic}[{rec.partition}]@{rec.offset}"
            try:
                doc = orjson.loads(rec.value) if rec.value is not None else None
                if not isinstance(doc, dict):
                    raise ValueError("not a JSON object")
                line = None if as_json else describe(doc)
            except (ValueError, KeyError, TypeError) as err:
                # Someone else's message on our topic: say so, and keep following.
                click.echo(f"driftline: skipped {where}: not a {kind} message ({err})", err=True)
                continue
            if line is None:
                echo_json_line(rec.value or b"")
            else:
                click.echo(line)


@click.command()
@click.argument("kind", type=click.Choice(sorted(KINDS)))
@click.option("--from-beginning", is_flag=True, help="Start at the oldest message, not the end.")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=None,
              help="Stop after this many messages.")  # fmt: skip
@click.option("--timeout", "idle_s", type=click.FloatRange(min=0), default=None,
              help="Stop after this many seconds without a message.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Each message's JSON, one per line.")
@setting("kafka_bootstrap")
def tail(
    kind: str,
    from_beginning: bool,
    limit: int | None,
    idle_s: float | None,
    as_json: bool,
    kafka_bootstrap: str | None,
) -> None:
    """Follow the windows, alerts or dead-letter topic (no consumer group, no commits)."""
    settings = load_settings(kafka_bootstrap=kafka_bootstrap)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_tail(settings, kind, from_beginning, limit, idle_s, as_json))
