"""A bad DRIFTLINE_* value is one line on stderr naming the variable, its value and what it
expects, with exit code 2, for every command that reads settings (and the worker)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.cli.conftest import Run

# Each command stops at its settings before touching Kafka or its files.
COMMANDS = [
    ["topics", "create"],
    ["worker"],
    ["replay", "--from", "earliest"],
    ["baseline", "publish", "missing-baseline.json"],
    ["analyze", "--input", "missing.jsonl", "--baseline", "missing-baseline.json"],
    ["evaluate", "--input", "missing.jsonl", "--baseline", "missing-baseline.json"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_non_integer_window_size_is_one_line_in_every_command(
    run_cli: Run, args: list[str]
) -> None:
    out = run_cli(args, {"DRIFTLINE_WINDOW_SECONDS": "abc"})
    assert (out.code, out.stdout) == (2, "")
    assert out.stderr == (
        "driftline: error: DRIFTLINE_WINDOW_SECONDS='abc': expected an integer >= 1\n"
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DRIFTLINE_WINDOW_SECONDS", "0", "expected an integer >= 1"),
        ("DRIFTLINE_ALLOWED_LATENESS_SECONDS", "-5", "expected an integer >= 0"),
        ("DRIFTLINE_PARTITIONS", "1.5", "expected an integer >= 1"),
        ("DRIFTLINE_WEB_PORT", "70000", "expected an integer from 1 to 65535"),
        ("DRIFTLINE_WEB_PORT", "http", "expected an integer from 1 to 65535"),
        (
            "DRIFTLINE_INSTANCE_ID",
            "worker/1",
            "expected 1 to 249 characters of A-Z, a-z, 0-9, '.', '_' or '-'",
        ),
        ("DRIFTLINE_SESSION_TIMEOUT_SECONDS", "3", "expected an integer from 6 to 300"),
        (
            "DRIFTLINE_DRIFT_CONFIG",
            "/nonexistent/drift.toml",
            "expected the path of an existing drift.toml file",
        ),
    ],
)
def test_each_kind_of_bad_value_names_variable_value_and_expectation(
    run_cli: Run, variable: str, value: str, expected: str
) -> None:
    out = run_cli(["topics", "create"], {variable: value})
    assert out.code == 2
    assert out.stderr == f"driftline: error: {variable}={value!r}: {expected}\n"


def test_a_data_dir_that_is_a_file_is_refused(run_cli: Run, tmp_path: Path) -> None:
    afile = tmp_path / "state"
    afile.write_text("not a directory\n")
    out = run_cli(["worker"], {"DRIFTLINE_DATA_DIR": str(afile)})
    assert out.code == 2
    assert out.stderr == (
        f"driftline: error: DRIFTLINE_DATA_DIR={str(afile)!r}: "
        "expected a directory (created when missing), not a file\n"
    )


def test_several_bad_variables_are_reported_together_on_one_line(run_cli: Run) -> None:
    out = run_cli(["topics", "create"], {"DRIFTLINE_WEB_PORT": "0", "DRIFTLINE_IDLE_SECONDS": "x"})
    assert out.code == 2
    assert out.stderr == (
        "driftline: error: DRIFTLINE_IDLE_SECONDS='x': expected an integer >= 1; "
        "DRIFTLINE_WEB_PORT='0': expected an integer from 1 to 65535\n"
    )


def test_a_bad_option_value_names_the_option_not_the_variable(run_cli: Run, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.toml")
    out = run_cli(
        ["analyze", "--input", "x.jsonl", "--baseline", "b.json", "--config", missing], {}
    )
    assert out.code == 2
    assert out.stderr == (
        f"driftline: error: --config={missing!r}: expected the path of an existing "
        "drift.toml file\n"
    )


def test_the_installed_command_prints_no_traceback() -> None:
    # The console script, as a new user runs it (the in-process runs above share main()).
    script = Path(sys.executable).with_name("driftline")
    argv = [str(script)] if script.is_file() else [sys.executable, "-m", "app"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    done = subprocess.run(
        [*argv, "worker"],
        env={**env, "DRIFTLINE_WINDOW_SECONDS": "abc"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "driftline: error: DRIFTLINE_WINDOW_SECONDS='abc': expected an integer >= 1\n"
    )
