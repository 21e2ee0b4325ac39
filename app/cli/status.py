"""``driftline status``: workers, their partitions, input lag, and the baselines in use."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from app.cli.options import setting
from app.cli.output import echo_json, json_option, table
from app.config import load_settings
from app.contracts.timestamps import format_rfc3339_ms


def _partitions(assignment: dict[str, list[int]]) -> str:
    return " ".join(f"{t}[{','.join(map(str, ps))}]" for t, ps in assignment.items()) or "-"


@click.command()
@json_option
@setting("kafka_bootstrap")
def status(as_json: bool, kafka_bootstrap: str | None) -> None:
    """Workers (consumer group members), partitions, input lag per partition, baselines."""
    from app.stream.status import gather_status

    settings = load_settings(kafka_bootstrap=kafka_bootstrap)
    st = asyncio.run(gather_status(settings))
    doc: dict[str, Any] = {
        "groups": [
            {
                "group": g.group_id,
                "role": g.role,
                "state": g.state,
                "members": [
                    {
                        "member_id": m.member_id,
                        "client_id": m.client_id,
                        "host": m.host,
                        "assignment": m.assignment,
                    }
                    for m in g.members
                ],
            }
            for g in st.groups
        ],
        "lag": {
            "topic": st.input_topic,
            "group": settings.stage1_group(),
            "total": sum(p.lag for p in st.lag),
            "partitions": [
                {
                    "partition": p.partition,
                    "owner": p.owner,
                    "committed": p.committed,
                    "end": p.end,
                    "lag": p.lag,
                }
                for p in st.lag
            ],
        },
        "baselines": {
            "topic": st.baselines_topic,
            "rejected": st.rejected_baselines,
            "latest": [
                {
                    "model_id": b.model_id,
                    "baseline_id": b.baseline_id,
                    "created_at": b.created_at,
                    "effective_from": format_rfc3339_ms(b.effective_from_ms),
                    "effective_from_ms": b.effective_from_ms,
                }
                for b in st.baselines
            ],
        },
    }
    if as_json:
        echo_json(doc)
        return
    sections = []
    for g in st.groups:
        rows = [(m.client_id, m.host, _partitions(m.assignment)) for m in g.members]
        sections.append(
            f"{g.role} workers: group {g.group_id} ({g.state}, {len(g.members)} members)\n"
            + table(("client", "host", "partitions"), rows)
        )
    rows_lag = [(p.partition, p.owner, p.committed, p.end, p.lag) for p in st.lag]
    sections.append(
        f"input lag: {st.input_topic}, group {settings.stage1_group()} "
        f"(total {doc['lag']['total']:,})\n"
        + table(("partition", "owner", "committed", "end", "lag"), rows_lag)
    )
    rows_bl = [
        (b.model_id, b.baseline_id, b.created_at, format_rfc3339_ms(b.effective_from_ms))
        for b in st.baselines
    ]
    rejected = f", {st.rejected_baselines} rejected" if st.rejected_baselines else ""
    sections.append(
        f"baselines: {st.baselines_topic} (latest per model{rejected})\n"
        + table(("model", "baseline", "created", "effective from"), rows_bl)
    )
    click.echo("\n\n".join(sections))
