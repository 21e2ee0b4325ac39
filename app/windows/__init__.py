"""Event-time windows: window math (``spec``), per-source-partition binning with
a clock per model (``binner``, the bin stage), partial histograms (``partial``) and the merge of
partials per (model, window) that decides when a window is complete (``merger``, the merge
stage).

Pure: no Faust, no Kafka. The stream layer feeds messages in and persists the snapshots.
"""
