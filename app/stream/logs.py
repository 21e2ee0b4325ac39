"""The worker's log lines: text (default) or one JSON object per line.

``DRIFTLINE_LOG_FORMAT=json`` gives ``{"ts", "level", "logger", "message", ...fields}``
per line, where the fields are what a call passed as ``extra`` (``window closed`` lines
carry model, window_id, n_events, status). Faust's worker takes this configuration in
place of its own (``logging_config``), so its lines come out the same way.

Faust logs tables drawn with box characters (partition assignments, recovery offsets)
at INFO as multi-line messages; in a log collector each line of them is a fragment.
``FaustTables`` drops those records below WARNING; the worker's own progress lines say
what an operator needs (``stage 1: released partitions [...]``, ``baselines loaded``).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import orjson

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}
# A faust.utils.terminal table: on a terminal its borders are drawn with the DEC special
# graphics set (ESC ( 0 ... ESC ( B, shown as box-drawing lines), otherwise as ``+---+---+``
# lines (what a worker under a service manager writes); Unicode box lines count as well.
_DEC_GRAPHICS = "\x1b(0"
_BORDER = re.compile(r"^\s*[+┌├└╒╞╘][-+─═┬┼┴┐┤┘╤╪╧╕╡╛]{2,}\s*$", re.MULTILINE)


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` fields of a record, in the order given."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k[0] != "_"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in the message are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _rfc3339_ms(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in fields(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class TextFormatter(logging.Formatter):
    """``[ts] [pid] [LEVEL] logger: message key=value ...``."""

    def __init__(self) -> None:
        super().__init__("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = fields(record)
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return line


class FaustTables(logging.Filter):
    """Drops records below WARNING whose message is a box-drawn table (module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        message = record.getMessage()
        return _DEC_GRAPHICS not in message and _BORDER.search(message) is None


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict: one stderr handler in ``log_format``."""
    formatter = "json" if log_format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"()": TextFormatter},
        },
        "filters": {"faust_tables": {"()": FaustTables}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": formatter,
                "filters": ["faust_tables"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }


def _rfc3339_ms(created: float) -> str:
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
