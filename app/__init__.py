"""Driftline: event-time drift detection for ML models on Kafka.

Pure packages (no Faust import): ``contracts``, ``drift``, ``windows``, ``offline``.
Only ``stream`` imports Faust.
"""

__version__ = "0.1.0"
