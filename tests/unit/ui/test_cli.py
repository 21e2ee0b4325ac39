"""``driftline ui`` and ``report --from`` mistakes are one line, never a traceback."""

from __future__ import annotations

import socket

import pytest

from app.cli.ui import parse_lookback
from tests.unit.cli.conftest import Run


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800)]
)
def test_the_lookback_is_a_duration(text: str, seconds: int) -> None:
    assert parse_lookback(text) == seconds


def test_a_bad_lookback_is_one_line(run_cli: Run) -> None:
    out = run_cli(["ui", "--since", "yesterday"], {})
    assert (out.code, out.stderr) == (
        2,
        "driftline: error: --since 'yesterday': expected a duration such as 30m, 24h or 7d\n",
    )


def test_no_broker_is_one_line(run_cli: Run) -> None:
    port = _closed_port()
    out = run_cli(["ui", "--port", "0", "--bootstrap", f"127.0.0.1:{port}"], {})
    assert out.code == 2
    assert out.stderr.count("\n") == 1
    assert out.stderr.startswith(f"driftline: error: cannot reach Kafka at 127.0.0.1:{port}")


def test_report_takes_a_file_or_a_range_not_both(run_cli: Run) -> None:
    both = run_cli(["report", "x.jsonl", "--from", "earliest", "-o", "out.html"], {})
    neither = run_cli(["report", "-o", "out.html"], {})
    expected = "driftline: error: give INPUT (a JSONL file) or --from (read the windows topic)\n"
    assert (both.code, both.stderr) == (neither.code, neither.stderr) == (2, expected)
    to_alone = run_cli(["report", "x.jsonl", "--to", "earliest", "-o", "out.html"], {})
    assert to_alone.stderr == (
        "driftline: error: --to, --topic and --alerts-topic go with --from, not INPUT\n"
    )


def test_a_bad_time_is_one_line(run_cli: Run) -> None:
    out = run_cli(["report", "--from", "monday", "-o", "out.html"], {})
    assert out.code == 2
    assert out.stderr.startswith("driftline: error: --from 'monday': expected an RFC 3339 time")
