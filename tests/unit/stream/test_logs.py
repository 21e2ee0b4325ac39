"""Log line formats and the filter of Faust's box-drawn tables."""

from __future__ import annotations

import logging

import orjson
import pytest
from faust.utils import terminal

from app.stream.logs import FaustTables, JsonFormatter, TextFormatter


def _record(msg: str, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("app.x", level, __file__, 1, msg, None, None)
    record.created = 1_767_225_600.25
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_time_level_logger_message_and_the_extra_fields_in_order() -> None:
    line = JsonFormatter().format(_record("window\nclosed", model="m", n_events=3))
    assert "\n" not in line
    assert orjson.loads(line) == {
        "ts": "2026-01-01T00:00:00.250Z",
        "level": "info",
        "logger": "app.x",
        "message": "window\nclosed",
        "model": "m",
        "n_events": 3,
    }
    assert list(orjson.loads(line))[4:] == ["model", "n_events"]


def test_a_text_line_ends_with_the_extra_fields_as_key_value() -> None:
    line = TextFormatter().format(_record("window closed", model="m", status="ok"))
    assert line.endswith("[INFO] app.x: window closed model=m status=ok")


@pytest.mark.parametrize("tty", [False, True], ids=["ascii", "box-drawing"])
def test_fausts_tables_are_dropped_below_warning_and_other_lines_kept(tty: bool) -> None:
    rows = [["topic", "0-3"]]
    table = terminal.logtable(rows, title="Topic Partition Set", headers=["a", "b"], tty=tty)
    assert ("\x1b(0" in table) is tty  # DEC line drawing on a terminal, +---+ otherwise
    keep = FaustTables()
    assert keep.filter(_record(f"[^---Consumer]: assigned \n{table}")) is False
    assert keep.filter(_record(table, logging.WARNING)) is True
    assert keep.filter(_record("stage 1: released partitions [0, 1]")) is True
    assert keep.filter(_record("[^---Recovery]: Resuming flow... +---+")) is True
