"""The project's own errors: every message says what was expected, what was found, and the fix."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class SedStudyError(Exception):
    """Base class of every error sedstudy raises for bad input."""


class ConfigError(SedStudyError, ValueError):
    """A configuration (experiment, study, search space) is invalid."""


class DataError(SedStudyError, ValueError):
    """A dataset file (TSV, audio, manifest) is invalid."""


class CheckpointError(SedStudyError, ValueError):
    """A checkpoint does not match the model it is loaded into."""


def close_match_hint(name: str, candidates: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the closest candidate, or '' when none is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""
