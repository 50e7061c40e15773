"""Adaptive seeds: a study that adds seeds in steps to the cells whose contrast with the baseline is undecided.

Written in the study YAML as `seeds: {initial, step, max, ...}` (validated here), recorded on the parent run's
`sedstudy.seeds.sequential` tag, read back by the report. The decisions themselves are `reports.stats.sequential`.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from reports.contract import SEQUENTIAL_SEEDS_TAG
from reports.fetch.tagged_spec import TaggedSpec

MAX_SEED = 2**32 - 1  # what numpy and torch seed generators take (sed_core.config.schema.MAX_SEED)


def schedule(initial: int, step: int, maximum: int) -> tuple[int, ...]:
    """The seed counts of the looks: initial, initial + step, ..., and `maximum` last."""
    if not 0 < initial <= maximum or step < 1:
        raise ValueError(f"expected 0 < initial <= max and step >= 1, but got initial {initial}, step {step}, max "
                         f"{maximum}")
    looks = list(range(initial, maximum, step))
    return (*looks, maximum)


class SequentialSeeds(TaggedSpec):
    """`initial` seeds per cell first; then `step` more to each undecided cell (and the baseline) per look, up to
    `max`; seeds are first, first + 1, ... Each contrast with the baseline on the analysis plan's metric is decided
    at a look when its repeated confidence interval (alpha spent by `spending`) excludes 0 (better or worse) or
    lies within +-`min_effect` (equivalent). `budget_gpu_hours`: no new look once the trials have used that much
    (their wall time x resources.gpu)."""

    TAG, WHAT = SEQUENTIAL_SEEDS_TAG, "a sequential seed design"

    initial: int = Field(ge=2)
    step: int = Field(1, ge=1)
    max: int = Field(ge=2, le=10_000)
    first: int = Field(1, ge=0, le=MAX_SEED)
    min_effect: float = Field(gt=0)
    spending: Literal["obrien_fleming", "pocock"] = "obrien_fleming"
    budget_gpu_hours: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> SequentialSeeds:
        if self.initial > self.max:
            raise ValueError(f"initial ({self.initial}) must not exceed max ({self.max})")
        if self.first + self.max - 1 > MAX_SEED:
            raise ValueError(f"seeds first .. first + max - 1 must stay <= {MAX_SEED}, but reach "
                             f"{self.first + self.max - 1}")
        return self

    @property
    def seeds(self) -> list[int]:
        """Every seed a cell may run, in the order the looks add them."""
        return list(range(self.first, self.first + self.max))

    @property
    def looks(self) -> tuple[int, ...]:
        return schedule(self.initial, self.step, self.max)

    def describe(self) -> str:
        spending = {"obrien_fleming": "O'Brien-Fleming", "pocock": "Pocock"}[self.spending]
        budget = f", budget {self.budget_gpu_hours:g} GPU hours" if self.budget_gpu_hours else ""
        return (f"sequential seeds: looks at {', '.join(map(str, self.looks))} seeds, {spending}-type alpha "
                f"spending (Lan-DeMets), equivalence margin ±{self.min_effect:g}{budget}")

