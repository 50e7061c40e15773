"""reports: read a study's runs from the MLflow tracking store and write tables and figures.

Entry points: `reports.build.build_report` (everything), `reports.load.load_study` (tidy runs),
`reports.summary.summarize`, `reports.tables.markdown_table`, `reports.figures.save_metrics_by_factor`.
This package reads the tracking store only; it never imports Ray, `studies` or the trainer.
"""
