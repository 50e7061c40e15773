"""Stage 4 of a report: its sections, each declared once (statistics, tables, data files, heading, LaTeX) in its
own module and listed in `registry.REPORT_LAYOUT`, which build.py and every page iterate.

Imports fetch, stats, tables and figures; never pages or build.
"""
