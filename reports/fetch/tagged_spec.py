"""A spec a study writes in its YAML and its parent run records as JSON on one tag, read back by reports."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import Self


class TaggedSpec(BaseModel):
    """Frozen, unknown keys refused; `TAG` is the parent-run tag holding it, `WHAT` how a message names it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TAG: ClassVar[str]
    WHAT: ClassVar[str]

    def record(self) -> str:
        """The tag's value."""
        return json.dumps(self.model_dump(), sort_keys=True)

    @classmethod
    def of(cls, tags: Mapping[str, str]) -> Self | None:
        """The spec recorded in a parent run's tags, None without the tag; ValueError naming the tag when it does
        not hold a valid one."""
        raw = tags.get(cls.TAG)
        if raw is None:
            return None
        try:
            return cls.model_validate(json.loads(raw))
        except (json.JSONDecodeError, TypeError, ValidationError) as error:
            raise ValueError(f"tag {cls.TAG!r} must hold the JSON of {cls.WHAT}, but got {raw!r} ({error})") from error
