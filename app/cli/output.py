"""How commands print results: an aligned text table for people, JSON for programs."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click
import orjson

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON, not a table.")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def cell(value: object) -> str:
    """A table cell: ``-`` for nothing, yes/no for flags, thousands separators for counts."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; number columns right-aligned. No trailing
    spaces, so the output diffs and greps cleanly."""
    texts = [list(headers), *([cell(v) for v in row] for row in rows)]
    widths = [max(len(r[i]) for r in texts) for i in range(len(headers))]
    right = [
        bool(rows) and all(_is_number(r[i]) or r[i] is None for r in rows)
        for i in range(len(headers))
    ]
    lines = [
        "  ".join(
            t.rjust(w) if r else t.ljust(w) for t, w, r in zip(row, widths, right, strict=True)
        ).rstrip()
        for row in texts
    ]
    return "\n".join(lines)


def echo_json(doc: Any) -> None:
    """One indented JSON document on stdout."""
    sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def echo_json_line(raw: bytes) -> None:
    """One JSON document, already encoded, as one line of JSON Lines on stdout."""
    sys.stdout.buffer.write(raw.strip() + b"\n")
    sys.stdout.flush()
