"""Stage 1 of a report: read a study from the MLflow store (runs, params, artifacts, provenance) into typed frames.

Imports no later stage (stats, tables, figures, pages); tests/test_import_directions.py checks it.
"""
