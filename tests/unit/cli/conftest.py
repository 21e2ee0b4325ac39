"""Runs ``driftline`` in-process through its console entry point (``app.cli.main``), so the
exit code and stderr are exactly what an operator sees, without a subprocess per case."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pytest

from app.cli import main


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


Run = Callable[[Sequence[str], Mapping[str, str]], Outcome]


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """``run_cli(args, env)``: the caller's DRIFTLINE_* variables are removed first, so
    each case states the settings it needs."""

    def run(args: Sequence[str], env: Mapping[str, str]) -> Outcome:
        for key in [k for k in os.environ if k.startswith("DRIFTLINE_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(sys, "argv", ["driftline", *args])
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        out = capsys.readouterr()
        return Outcome(code, out.out, out.err)

    return run
