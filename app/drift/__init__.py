"""Baselines, histograms, statistics, decision rule and result assembly. Pure: no Faust."""
