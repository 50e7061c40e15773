"""reports: read a study's runs from the MLflow tracking store and write tables, figures and one HTML page.

Stages, in data-flow order (a stage imports only earlier ones; tests/test_import_directions.py):
`fetch` (the store -> `fetch.load.StudyRuns`, read column by column from SQL stores and cached locally),
`stats` (`stats.analysis.analyze`: per-cell statistics, paired comparisons with the baseline, factorial ANOVA;
`stats.bootstrap.paired_clip_bootstrap`: resampling evaluation clips, for stored frame scores),
`tables` and `figures`, `sections` (the report's sections, each declared once and registered), `pages`
(Markdown, HTML). `reports.build.build_report` is the one entry point: Markdown, HTML, LaTeX, CSV, PNG/PDF.
This package reads the tracking store only; it never imports Ray, `studies` or the trainer.
"""
