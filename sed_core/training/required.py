"""Which splits a run reads (no torch here: the launcher, provenance and the dry run ask before any compute)."""
from __future__ import annotations

from sed_core.config.schema import ExperimentConfig


def required_splits(config: ExperimentConfig) -> list[str]:
    """The splits a run reads: its training sources, then the selection and test splits (no repeats)."""
    names = [*config.data.batch.sources(), config.evaluation.selection_split, config.evaluation.test_split]
    return list(dict.fromkeys(names))
