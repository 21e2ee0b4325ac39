"""Benchmarks (``make bench``). Each ``bench_*.py`` module has ``run() -> None`` that prints
its conditions and results. Timings are printed, never asserted."""
