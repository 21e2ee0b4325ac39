"""Driftline: event-time drift detection for ML models on Kafka.

Pure packages (no Faust import): ``contracts``, ``drift``, ``windows``, ``offline``.
Only ``stream`` imports Faust.
"""

import os

__version__ = "0.1.0"

# One OpenBLAS thread. Driftline's vectors are small, and numpy's and scipy's OpenBLAS
# each keep a thread per core spinning after use: perf put 5.5% of an analyze run there,
# taken from the same two cores the worker and the broker share. Set before numpy loads;
# an explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
