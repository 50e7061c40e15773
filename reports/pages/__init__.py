"""Stage 5 of a report: the Markdown and HTML pages, laid out from the section registry (`reports.sections`).
"""
