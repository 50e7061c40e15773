"""`sedstudy train`: one run from an experiment YAML, in this process, without Ray or MLflow."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sed_core.config import load_config
from studies.definition import resolve_paths

if TYPE_CHECKING:
    from sed_core.training.trainer import FitResult


def train_single_run(config_path: Path, overrides: Sequence[str], workdir: Path, *, restart: bool) -> FitResult:
    """Train the config (relative paths resolved against `workdir`); `restart` ignores a checkpoint in output_dir."""
    config = resolve_paths(load_config(config_path, overrides), workdir)  # a bad file or --set fails before torch
    from sed_core.training.reporter import LoggingReporter
    from sed_core.training.trainer import fit

    if not config.output_dir.is_absolute():
        config = config.model_copy(update={"output_dir": workdir / config.output_dir})
    return fit(config, LoggingReporter(), resume=not restart, embedding_cache_dir=workdir / "embedding_cache")
