"""Run every benchmark module in this package (or those named on the command line)."""

from __future__ import annotations

import importlib
import pkgutil
import platform
import sys

import tests.bench as pkg


def main(argv: list[str]) -> None:
    names = sorted(
        m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("bench_")
    )
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    cpu = platform.processor() or platform.machine()
    print(f"# Driftline benchmarks on {platform.node()}: {cpu}, Python {platform.python_version()}")
    for name in names:
        print(f"\n## {name}")
        importlib.import_module(f"tests.bench.{name}").run()


if __name__ == "__main__":
    main(sys.argv[1:])
