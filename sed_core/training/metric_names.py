"""The final metrics every run records (no torch here: study definitions check names against it)."""

# psds1/psds2: exact (threshold-free, sed_scores_eval); psds1_t50/psds2_t50: at the 50 operating points DCASE
# 2022 papers published (psds_eval's approximation, DESED_task's thresholds 0.01..0.99 step 0.02)
METRIC_NAMES = ("psds1", "psds2", "collar_f1", "intersection_f1", "psds1_t50", "psds2_t50")
