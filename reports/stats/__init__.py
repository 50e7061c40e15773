"""Stage 2 of a report: the statistics of a loaded study (per-cell intervals, paired tests, ANOVA, bootstraps).

Imports fetch only (no tables, figures or pages).
"""
