"""The project's own errors: every message says what was expected, what was found, and the fix."""
from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable

MESSAGE_VALUE_CHARS = 200  # a value quoted in a message: enough to recognise it, never a whole alias-expanded tree
_REPR = reprlib.Repr()  # Python 3.10/3.11 take its limits as attributes only
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 4, 8, 8, 8, 8
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 120, 120, 40


class SedStudyError(Exception):
    """Base class of every error sedstudy raises for bad input."""


class ConfigError(SedStudyError, ValueError):
    """A configuration (experiment, study, search space) is invalid."""


class DataError(SedStudyError, ValueError):
    """A dataset file (TSV, audio, manifest) is invalid."""


class CheckpointError(SedStudyError, ValueError):
    """A checkpoint does not match the model it is loaded into."""


def bounded_repr(value: object, limit: int = MESSAGE_VALUE_CHARS) -> str:
    """repr() of a value for an error message: nesting, containers and text cut with '...', at most `limit`
    characters, so a huge value (a YAML alias bomb, a 3-million-seed list) cannot flood a message or its memory."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


def close_match_hint(name: str, candidates: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the closest candidate, or '' when none is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""
