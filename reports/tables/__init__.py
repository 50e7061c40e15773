"""Stage 3 of a report: typed tables (`model.Table`) built from the statistics, and their one renderer.

Imports fetch and stats only.
"""
