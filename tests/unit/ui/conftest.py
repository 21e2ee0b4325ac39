"""The in-process CLI runner of tests/unit/cli, for the ui commands' tests."""

from __future__ import annotations

from tests.unit.cli.conftest import run_cli

__all__ = ["run_cli"]
