"""Event-time windows: window math, per-partition binning with watermarks (stage 1), and
the merge of partials per (model, window) that decides when a window is complete (stage 2).

Pure: no Faust, no Kafka. The stream layer feeds messages in and persists the snapshots.
"""
