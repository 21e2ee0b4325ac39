"""The ``driftline`` command. Thin: parses flags, builds Settings, calls into the packages."""

from __future__ import annotations

import logging
import sys

import click

from app import __version__
from app.cli.analyze import analyze
from app.cli.baseline import baseline
from app.cli.evaluate import evaluate
from app.cli.migrate import migrate
from app.cli.publish import publish
from app.cli.replay import replay
from app.cli.report import report
from app.cli.status import status
from app.cli.tail import tail
from app.cli.topics import topics
from app.cli.ui import ui
from app.cli.worker import worker
from app.demo.run import demo
from app.errors import DriftlineError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="driftline")
def cli() -> None:
    """Driftline: event-time drift detection for ML models on Kafka.

    Settings come from DRIFTLINE_* environment variables (for example
    DRIFTLINE_KAFKA_BOOTSTRAP=127.0.0.1:9092); see README.md for the full list.
    """


baseline.add_command(publish)
baseline.add_command(migrate)
cli.add_command(topics)
cli.add_command(worker)
cli.add_command(baseline)
cli.add_command(evaluate)
cli.add_command(analyze)
cli.add_command(demo)
cli.add_command(replay)
cli.add_command(report)
cli.add_command(tail)
cli.add_command(status)
cli.add_command(ui)


def main() -> None:
    """Console entry point: user mistakes print one clear line and exit 2, never a traceback."""
    try:
        cli.main(standalone_mode=False)
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
