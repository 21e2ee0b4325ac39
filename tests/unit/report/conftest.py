"""Shared by the report tests: the golden analyze output, variants of it, the CLI runner."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tests.unit.cli.conftest import Run, run_cli

__all__ = ["GOLDEN", "Run", "golden_docs", "run_cli", "shifted", "write_jsonl"]

# `driftline analyze` output for seeded windows (tests/unit/codecs/test_golden.py): three
# windows of fraud-scorer, drift (low), drift (medium), insufficient_data, and the two
# drift events.
GOLDEN = Path(__file__).resolve().parents[1] / "codecs" / "golden" / "analyze.jsonl"


def golden_docs() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in GOLDEN.read_bytes().splitlines() if line.strip()]


def _rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shifted(
    doc: dict[str, Any], index: int, *, status: str, size_ms: int = 60_000
) -> dict[str, Any]:
    """A copy of a golden window result as window ``index`` (0 = 2026-11-27T07:00Z) with
    ``status`` (its severity made to match), a window id of its own."""
    out = copy.deepcopy(doc)
    start = 1_795_762_800_000 + index * size_ms
    out["window"].update(
        start=_rfc3339(start), end=_rfc3339(start + size_ms), start_ms=start, end_ms=start + size_ms
    )
    out["window_id"] = f"win-{index:016x}"
    out["status"] = status
    if status == "drift":
        out["severity"] = out["severity"] if out["severity"] != "none" else "low"
    else:
        out["severity"] = "none"
        for feature in out["features"]:
            feature["drifted"] = False
    return out


def write_jsonl(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return path
