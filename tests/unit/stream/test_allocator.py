"""The worker's fixed mmap threshold: applied through glibc's mallopt, or left to the
environment when it names one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.stream import allocator

PROBE = "from app.stream.allocator import fix_mmap_threshold; print(fix_mmap_threshold())"


def test_glibc_accepts_the_threshold() -> None:
    # A fresh interpreter: mallopt changes the process for good.
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"  # this machine's libc is glibc


def test_an_environment_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert allocator.fix_mmap_threshold() is False
