"""`sedstudy model-info`: a config's model built on the meta device, its parameter counts and frame grid."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sed_core.config import ExperimentConfig
from sed_core.models.build import build_model
from sed_core.models.summary import model_summary


def model_info(config: ExperimentConfig) -> dict[str, Any]:
    return {"preset": config.preset, **model_summary(build_model(config, device="meta"), config)}


def model_info_lines(info: Mapping[str, Any]) -> Iterator[str]:
    """`key: value` per fact; the parameter counts per part as a table."""
    for key, value in info.items():
        if key == "parts":
            yield f"{'part':<10} {'parameters':>12} {'trainable@1':>12} {'trainable@end':>14} {'frozen@end':>11}"
            for part, c in value.items():
                yield (f"{part:<10} {c['parameters']:>12,} {c['trainable_first_epoch']:>12,} "
                       f"{c['trainable_last_epoch']:>14,} {c['frozen_last_epoch']:>11,}")
        else:
            yield f"{key}: {value}"
