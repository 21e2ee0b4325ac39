"""The worker's logging: the configured level on the root logger, so that debug calls in
aiokafka and Faust cost a level check, not a log record each (Faust's terminal spinner
set the root logger to DEBUG)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import faust
import pytest

from app.cli.worker import faust_worker
from app.config import Settings


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("level", ["warning", "info"])
def test_the_root_logger_keeps_the_configured_level(restored_logging: None, level: str) -> None:
    settings = Settings(log_level=level)
    app = faust.App("driftline-logging-test", broker="kafka://127.0.0.1:1")
    worker = faust_worker(app, settings)
    worker._setup_logging()
    root = logging.getLogger()
    assert worker.spinner is None
    assert root.level == logging.getLevelName(level.upper())
    assert not logging.getLogger("aiokafka.conn").isEnabledFor(logging.DEBUG)
    assert [type(h).__name__ for h in root.handlers] == ["StreamHandler"]
