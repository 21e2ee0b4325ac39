"""Bench only: ``python -m app worker`` with tracemalloc on, for finding what the worker's
memory holds. Touching ``$DRIFTLINE_BENCH_SNAPSHOT.req`` makes it collect garbage and dump
a snapshot to ``$DRIFTLINE_BENCH_SNAPSHOT.<n>`` (n = 0, 1, ...), then touch ``.<n>.done``."""

from __future__ import annotations

import gc
import os
import runpy
import sys
import threading
import time
import tracemalloc
from pathlib import Path


def _watch(base: str) -> None:
    n = 0
    while True:
        req = Path(f"{base}.req")
        if req.exists():
            req.unlink()
            gc.collect()
            tracemalloc.take_snapshot().dump(f"{base}.{n}")
            Path(f"{base}.{n}.done").touch()
            n += 1
        time.sleep(0.2)


if __name__ == "__main__":
    tracemalloc.start(8)
    threading.Thread(
        target=_watch, args=(os.environ["DRIFTLINE_BENCH_SNAPSHOT"],), daemon=True
    ).start()
    sys.argv = ["app", "worker"]
    runpy.run_module("app", run_name="__main__", alter_sys=True)
