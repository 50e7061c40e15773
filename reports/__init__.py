"""reports: read a study's runs from the MLflow tracking store and write tables, figures and one HTML page.

Entry points: `reports.build.build_report` (everything: Markdown, HTML, LaTeX, CSV, PNG/PDF figures),
`reports.load.load_study` (tidy runs, read column by column from SQL stores and cached locally),
`reports.analysis.analyze` (per-cell statistics, paired comparisons with the baseline, factorial ANOVA),
`reports.bootstrap.paired_clip_bootstrap` (resampling evaluation clips, for stored frame scores).
This package reads the tracking store only; it never imports Ray, `studies` or the trainer.
"""
