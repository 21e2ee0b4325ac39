"""Options backed by settings are the same option in every command: same name, same help,
same bounds; and the commands that use a setting all offer it."""

from __future__ import annotations

from collections.abc import Iterator

import click

from app.cli import cli
from app.config import Settings


def commands(group: click.Group = cli, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the top group loads its commands on demand
        command = group.get_command(ctx, name)
        assert command is not None, name
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from commands(command, f"{path} ")
        else:
            yield path, command


def setting_options() -> dict[str, dict[str, click.Option]]:
    """For each settings field: the command (path) -> its option overriding that field."""
    found: dict[str, dict[str, click.Option]] = {}
    for path, command in commands():
        for param in command.params:
            if isinstance(param, click.Option) and param.name in Settings.model_fields:
                found.setdefault(param.name, {})[path] = param
    return found


def test_commands_that_use_a_setting_offer_its_option() -> None:
    offered = {field: sorted(by_command) for field, by_command in setting_options().items()}
    assert offered["window_seconds"] == ["analyze", "baseline publish", "replay", "worker"]
    assert offered["allowed_lateness_seconds"] == ["analyze", "replay", "worker"]
    assert offered["drift_config"] == ["analyze", "evaluate", "replay", "worker"]
    # Every command that talks to Kafka can be pointed at a broker the same way.
    assert offered["kafka_bootstrap"] == [
        "baseline migrate",
        "baseline publish",
        "replay",
        "report",
        "status",
        "tail",
        "topics create",
        "topics list",
        "ui",
        "worker",
    ]


def option_of(path: str, spelling: str) -> click.Option | None:
    """The option of command ``path`` that accepts ``spelling``, if any."""
    command = dict(commands())[path]
    found = [p for p in command.params if isinstance(p, click.Option) and spelling in p.opts]
    return found[0] if found else None


def test_the_input_format_is_spelled_the_same_in_every_command_that_reads_a_file() -> None:
    for path in ("analyze", "baseline build", "evaluate"):
        option = option_of(path, "--input-format")
        assert option is not None and option.opts[0] == "--input-format", path
    build_format = option_of("baseline build", "--format")  # the older spelling still works
    assert build_format is not None and build_format.opts[0] == "--input-format"


def test_commands_that_print_a_table_offer_json() -> None:
    for path in ("baseline show", "status", "tail", "topics list"):
        option = option_of(path, "--json")
        assert option is not None and option.is_flag, path


def test_a_settings_option_is_spelled_and_explained_the_same_everywhere() -> None:
    for field, by_command in setting_options().items():
        shapes = {
            (tuple(o.opts), tuple(o.secondary_opts), o.help, repr(o.type), o.default)
            for o in by_command.values()
        }
        assert len(shapes) == 1, (field, shapes)


def test_help_names_the_variable_and_its_default() -> None:
    options = setting_options()
    window = options["window_seconds"]["replay"]
    assert window.opts == ["--window-seconds"]
    assert window.help == (
        "Tumbling window size, seconds (default: DRIFTLINE_WINDOW_SECONDS, else 300)."
    )
    assert isinstance(window.type, click.IntRange) and window.type.min == 1
    port = options["web_port"]["worker"]
    assert isinstance(port.type, click.IntRange) and (port.type.min, port.type.max) == (1, 65535)
    assert options["drift_config"]["evaluate"].opts == ["--config"]
    assert options["kafka_bootstrap"]["worker"].opts == ["--bootstrap"]
    assert options["log_level"]["worker"].opts == ["--log-level", "--loglevel"]


LOADED = (
    "import sys, atexit\n"
    "atexit.register(lambda: print(' '.join(sorted(m for m in ('faust', 'aiokafka', "
    "'app.demo.run', 'app.cli.worker', 'app.cli.analyze', 'pyarrow', 'scipy.special', "
    "'prometheus_client') if m in sys.modules))))\n"
    "sys.argv = ['driftline', 'analyze', '--help']\n"
    "from app.cli import main\n"
    "main()\n"
)


def test_a_command_imports_its_own_module_only() -> None:
    # analyze starts without the Kafka clients, Faust or the demo (lazy commands), without
    # pyarrow until a CSV or Parquet file is read, without scipy.special (imported on
    # another thread while it folds: app.stats.special) and without prometheus_client.
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", LOADED], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "app.cli.analyze"
