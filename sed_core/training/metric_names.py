"""The final metrics every run records (no torch here: study definitions check names against it)."""

METRIC_NAMES = ("psds1", "psds2", "collar_f1", "intersection_f1")
