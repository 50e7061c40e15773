"""Stage 3 of a report: the figures, in one style with byte-identical PNG and PDF files.

Imports fetch and stats only.
"""
