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


QUIET = (
    "import gc\n"
    "keep = [[i] for i in range(1000)]\n"
    "from app.stream.allocator import quiet_collector, YOUNG_THRESHOLD\n"
    "quiet_collector()\n"
    "print(gc.get_freeze_count() >= 1000, gc.get_threshold()[0] == YOUNG_THRESHOLD)\n"
    "a = []; a.append(a); del a\n"  # a cycle made after the freeze is still collected
    "print(gc.collect() >= 1)\n"
)


def test_the_quiet_collector_freezes_what_lives_at_start_and_still_collects_cycles() -> None:
    # A fresh interpreter: the freeze and the thresholds are for the process.
    out = subprocess.run([sys.executable, "-c", QUIET], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True"]
