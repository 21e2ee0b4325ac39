"""Binning values into a baseline's fixed cells: the per-feature binning plans (``plans``)
and the mergeable histograms they fill (``histogram``). Shared by the baseline builder,
the windows and the statistics. Pure: no Faust, no Kafka."""
