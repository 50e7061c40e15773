"""Errors raised while building a report."""
from __future__ import annotations

from sed_core.errors import SedStudyError


class ReportError(SedStudyError):
    """The tracking store does not hold what a report needs (study, parent run, contract tags)."""


class StudyNotFoundError(ReportError, LookupError):
    """The named study has no experiment or no parent run in the tracking store."""
