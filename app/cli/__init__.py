"""The ``driftline`` command. Thin: parses flags, builds Settings, calls into the packages."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from typing import Final

import click

from app import __version__
from app.errors import DriftlineError

# Each command's module, imported when the command runs (or help lists it): a command
# then pays only for its own imports (analyze needs no Kafka client, the worker no
# parquet reader), about 0.15 s of every start.
COMMANDS: dict[str, tuple[str, str]] = {
    "topics": ("app.cli.topics", "topics"),
    "worker": ("app.cli.worker", "worker"),
    "baseline": ("app.cli.baseline", "baseline"),
    "evaluate": ("app.cli.evaluate", "evaluate"),
    "analyze": ("app.cli.analyze", "analyze"),
    "demo": ("app.demo.run", "demo"),
    "replay": ("app.cli.replay", "replay"),
    "report": ("app.cli.report", "report"),
    "tail": ("app.cli.tail", "tail"),
    "status": ("app.cli.status", "status"),
    "ui": ("app.cli.ui", "ui"),
}


# What a command returns when the process may end at once: its work is done and its files
# are closed; the interpreter's teardown of all it imported (numpy, scipy, pydantic) took
# about 0.1 s of a 2 s analyze.
EXIT_NOW: Final = "driftline: exit now"


class LazyGroup(click.Group):
    """The top-level group, importing a command's module only when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="driftline")
def cli() -> None:
    """Driftline: event-time drift detection for ML models on Kafka.

    Settings come from DRIFTLINE_* environment variables (for example
    DRIFTLINE_KAFKA_BOOTSTRAP=127.0.0.1:9092); see README.md for the full list.
    """


def main() -> None:
    """Console entry point: user mistakes print one clear line and exit 2, never a traceback."""
    try:
        if cli.main(standalone_mode=False) == EXIT_NOW:
            _quick_exit()
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except DriftlineError as err:
        click.echo(f"driftline: error: {err}", err=True)
        # The error is said: a client's connection futures that failed with it (a TLS
        # alert) are collected at exit, and asyncio would log each with a traceback.
        logging.getLogger("asyncio").disabled = True
        sys.exit(2)


def _quick_exit() -> None:
    """Exit 0 now, without the interpreter's teardown: logs and the standard streams are
    flushed and other threads finished first."""
    logging.shutdown()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
